/**
 * The anywidget front end of `jupyter_jobflow.widget.Panel` (bundled by esbuild into
 * `jupyter_jobflow/static/widget.js`).
 *
 * It connects from the browser straight to the server's event stream, so it keeps updating while
 * the kernel is busy and after a page reload. Where to: the page's own Jupyter server first
 * (`#jupyter-config-data`: base URL, token, and the `_xsrf` cookie), then the URL and token the
 * kernel passed in (`server_url`, `token`), and if neither answers, through the kernel itself
 * (`transport/kernel.ts`). It sends the kernel a summary of the shown jobs every few seconds at
 * most, from which the Python side writes the static HTML a saved notebook shows.
 */
import { DirectTransport } from './transport/direct';
import { KernelTransport, MessageModel } from './transport/kernel';
import { mount, PanelHandle, Session, Tab, ViewState } from './view';
import type { Job, Transport } from './view';

interface WidgetModel extends MessageModel {
  get(name: string): any;
  set(name: string, value: any): void;
}

interface PageConfig {
  baseUrl: string;
  wsUrl?: string;
  token?: string;
  appendToken?: boolean;
}

function pageConfig(): PageConfig | null {
  const el = typeof document !== 'undefined' ? document.getElementById('jupyter-config-data') : null;
  if (!el?.textContent) {
    return null;
  }
  try {
    const data = JSON.parse(el.textContent);
    const baseUrl = new URL(data.baseUrl || '/', location.origin).href;
    return {
      baseUrl,
      wsUrl: data.wsUrl || undefined,
      token: data.token || undefined,
      appendToken: String(data.appendToken ?? '').toLowerCase() === 'true'
    };
  } catch {
    return null;
  }
}

const sessions = new Map<string, Session>();
const kernelSessions = new WeakMap<object, Session>();
/** each widget's tab, selection and open log, kept when the output is re-rendered */
const viewStates = new WeakMap<object, ViewState>();

/** The session for this widget: a shared direct one when the server answers, else via the kernel. */
async function sessionFor(model: WidgetModel): Promise<Session> {
  const forced = String(model.get('transport') || 'auto');
  const url: string = model.get('server_url') || '';
  const token: string = model.get('token') || '';
  if (token) {
    // used below, then dropped from the browser's copy so that a saved widget state never holds it
    model.set('token', '');
  }
  if (forced !== 'kernel') {
    const candidates: DirectTransport[] = [];
    const page = pageConfig();
    if (page) {
      candidates.push(new DirectTransport(page));
    }
    if (url && (!page || new URL(url, location.href).href !== page.baseUrl)) {
      candidates.push(new DirectTransport({ baseUrl: url, token, appendToken: true }));
    }
    for (const t of candidates) {
      const cached = sessions.get(t.apiUrl);
      if (cached) {
        return cached;
      }
      if (await t.probe()) {
        const s = sessions.get(t.apiUrl) ?? new Session(t);
        sessions.set(t.apiUrl, s);
        return s;
      }
    }
  }
  let s = kernelSessions.get(model);
  if (!s) {
    s = new Session(new KernelTransport(model) as Transport);
    kernelSessions.set(model, s);
  }
  return s;
}

/** What the kernel keeps of each job for the saved notebook's HTML snapshot. */
function summary(j: Job) {
  return {
    id: j.id,
    name: j.name,
    state: j.state,
    code: j.code,
    reason: j.reason,
    dependency: j.dependency,
    group: j.group ?? null,
    started_at: j.started_at ?? null,
    ended_at: j.ended_at ?? null,
    exit_code: j.exit_code ?? null
  };
}

/**
 * While the widget is live, hide the static snapshot the kernel displays under it (the output a
 * saved notebook shows instead). One CSS rule per panel, so a rewritten snapshot stays hidden too.
 */
function hideSnapshot(key: string): void {
  if (!/^[0-9a-f]{8,64}$/.test(key) || document.getElementById(`jobflow-hide-${key}`)) {
    return;
  }
  const style = document.createElement('style');
  style.id = `jobflow-hide-${key}`;
  const cls = `.jobflow-snapshot-${key}`;
  style.textContent = `.jp-OutputArea-child:has(${cls}) { display: none !important; } ${cls} { display: none !important; }`;
  document.head.appendChild(style);
}

async function render({ model, el }: { model: WidgetModel; el: HTMLElement }): Promise<() => void> {
  el.classList.add('jobflow-widget');
  const waiting = document.createElement('div');
  waiting.className = 'jobflow-connecting';
  waiting.textContent = 'Connecting to the jobflow scheduler…';
  waiting.style.cssText = 'color:#666;font:13px sans-serif;padding:6px 2px';
  el.appendChild(waiting);
  const session = await sessionFor(model);
  waiting.remove();
  const ids: number[] = (model.get('job_ids') ?? []).map(Number);
  const compact = Boolean(model.get('compact'));
  let lastSent = '';
  let state = viewStates.get(model);
  if (!state) {
    state = {};
    viewStates.set(model, state);
  }
  const handle: PanelHandle = mount(el, session, {
    mode: compact ? 'compact' : 'cell',
    jobIds: ids.length ? ids : null,
    tab: (model.get('tab') || 'graph') as Tab,
    height: Number(model.get('height')) || undefined,
    state,
    onJobs: jobs => {
      const data = jobs.slice(-500).map(summary);
      const text = JSON.stringify(data);
      if (text !== lastSent) {
        lastSent = text;
        model.send({ type: 'jobs', jobs: data });
      }
    }
  });
  el.dataset.transport = session.transport.kind;
  hideSnapshot(String(model.get('snapshot_id') || ''));
  model.send({ type: 'connected', transport: session.transport.kind });
  return () => handle.dispose();
}

export default { render };

// for the browser benchmarks and tests (bench/ui/): the same view, without a widget model
export { mount, Session, DirectTransport, KernelTransport };
export { JobStore, layout } from './view';
