/**
 * Straight from the browser to the server: `fetch` for REST and a WebSocket for the event stream,
 * at `{baseUrl}jobflow/api/`. Authentication as JupyterLab's ServerConnection does it: the token
 * as `Authorization: token …` when there is one, the `_xsrf` cookie echoed as `X-XSRFToken`,
 * cookies sent to the same origin; the WebSocket carries `?token=` only when asked to
 * (`appendToken`: a socket to another host, which cannot see the page's cookie).
 */
import { ApiError, StreamConnection, StreamHandler, Transport } from '../view/types';
import { followVisibility } from './visibility';

export interface DirectOptions {
  /** the server's base URL, absolute or from the root: `http://h:8888/`, `/user/ann/` */
  baseUrl: string;
  /** the WebSocket base URL; derived from `baseUrl` when absent */
  wsUrl?: string;
  token?: string;
  appendToken?: boolean;
  /** the REST call; default: `fetch` with the token and XSRF headers */
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
  /** what `kind` reports; `direct` by default */
  kind?: string;
}

export const API = 'jobflow/api/';

function slash(url: string): string {
  return url.endsWith('/') ? url : url + '/';
}

export function getCookie(name: string): string | undefined {
  if (typeof document === 'undefined') {
    return undefined;
  }
  const m = document.cookie.match('\\b' + name + '=([^;]*)\\b');
  return m ? decodeURIComponent(m[1]) : undefined;
}

/** A WebSocket URL for an http(s) or root-relative base URL. */
export function toWsUrl(baseUrl: string): string {
  if (/^https?:/i.test(baseUrl)) {
    return 'ws' + baseUrl.slice(4);
  }
  const loc = typeof location !== 'undefined' ? location : ({ protocol: 'http:', host: 'localhost' } as Location);
  return `${loc.protocol === 'https:' ? 'wss:' : 'ws:'}//${loc.host}${baseUrl.startsWith('/') ? '' : '/'}${baseUrl}`;
}

export class DirectTransport implements Transport {
  readonly kind: string;
  readonly apiUrl: string;
  readonly wsApiUrl: string;
  private fetchFn: (url: string, init: RequestInit) => Promise<Response>;

  constructor(private opts: DirectOptions) {
    this.kind = opts.kind ?? 'direct';
    this.apiUrl = slash(opts.baseUrl) + API;
    this.wsApiUrl = slash(opts.wsUrl || toWsUrl(slash(opts.baseUrl))) + (opts.wsUrl ? slashless(opts.baseUrl, opts.wsUrl) : '') + API;
    this.fetchFn = opts.fetch ?? ((url, init) => this.defaultFetch(url, init));
  }

  private defaultFetch(url: string, init: RequestInit): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.opts.token) {
      headers.set('Authorization', `token ${this.opts.token}`);
    }
    const xsrf = getCookie('_xsrf');
    if (xsrf) {
      headers.set('X-XSRFToken', xsrf);
    }
    if (!headers.has('Content-Type')) {
      headers.set('Content-Type', 'application/json');
    }
    return fetch(url, { cache: 'no-store', credentials: 'same-origin', ...init, headers });
  }

  async request<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    const init: RequestInit = { method };
    if (body !== undefined && method !== 'GET') {
      init.body = JSON.stringify(body);
    }
    let response: Response;
    try {
      response = await this.fetchFn(this.apiUrl + path, init);
    } catch (err) {
      throw new ApiError(`cannot reach the server (${(err as Error).message})`, 0);
    }
    const text = await response.text();
    let data: any = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!response.ok) {
      const message = data && typeof data.message === 'string' ? data.message : `HTTP ${response.status} ${response.statusText}`;
      throw new ApiError(message, response.status, data?.reason ?? null);
    }
    return data as T;
  }

  connect(topics: string[], since: number | null, handler: StreamHandler): StreamConnection {
    const params = new URLSearchParams({ topics: topics.join(',') });
    if (since !== null && since !== undefined) {
      params.set('since', String(since));
    }
    if (this.opts.appendToken && this.opts.token) {
      params.set('token', this.opts.token);
    }
    let closedByUs = false;
    let ws: WebSocket;
    try {
      ws = new WebSocket(`${this.wsApiUrl}events?${params}`);
    } catch (err) {
      setTimeout(() => handler.onClose?.((err as Error).message), 0);
      return { close: () => undefined };
    }
    // A hidden tab is not watching: say so, so the server stops keeping Slurm's poll at its fastest.
    let forget = () => undefined as void;
    ws.onopen = () => {
      forget = followVisibility(visible => {
        if (ws.readyState === WebSocket.OPEN) {
          ws.send(JSON.stringify({ visible }));
        }
      });
      handler.onOpen?.();
    };
    ws.onmessage = ev => {
      let msg: any;
      try {
        msg = JSON.parse(ev.data as string);
      } catch {
        return;
      }
      handler.onMessage(msg);
    };
    ws.onclose = ev => {
      forget();
      if (!closedByUs) {
        handler.onClose?.(ev.reason || `the event stream closed (code ${ev.code})`);
      }
    };
    return {
      close: () => {
        closedByUs = true;
        forget();
        ws.close();
      }
    };
  }

  /** Whether the API answers here (GET status), within `ms`. */
  async probe(ms = 4000): Promise<boolean> {
    const timeout = new Promise<boolean>(resolve => setTimeout(() => resolve(false), ms));
    const call = this.request('GET', 'status').then(
      () => true,
      () => false
    );
    return Promise.race([call, timeout]);
  }
}

/** When the WS base was given separately, keep the base URL's path under it (PageConfig's wsUrl is the host only). */
function slashless(baseUrl: string, wsUrl: string): string {
  try {
    const ws = new URL(wsUrl);
    const base = new URL(baseUrl, typeof location !== 'undefined' ? location.href : 'http://localhost/');
    if (ws.pathname === '/' && base.pathname !== '/') {
      return base.pathname.replace(/^\//, '');
    }
  } catch {
    // relative or odd: use the WS URL as given
  }
  return '';
}
