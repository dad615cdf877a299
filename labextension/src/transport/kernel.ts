/**
 * Through the kernel, for when the browser cannot reach the server (VS Code, a Jupyter server
 * without the extension): anywidget custom messages to `jupyter_jobflow.widget.Panel`, which makes
 * the REST call or relays the event stream from the kernel's side.
 *
 *   view → kernel  {type: "request", rid, method, path, body}
 *                  {type: "subscribe", sid, topics, since}   {type: "unsubscribe", sid}
 *                  {type: "visible", sid, visible}  (the page hidden or shown: the kernel tells the stream)
 *   kernel → view  {type: "reply", rid, status, body}
 *                  {type: "stream", sid, data: "<one stream message, JSON>"}
 *                  {type: "stream-closed", sid, error}
 *
 * Slower than direct (every message goes through the kernel), and it waits while the kernel runs
 * a cell: the kernel handles widget messages between cells.
 */
import { ApiError, StreamConnection, StreamHandler, Transport } from '../view/types';
import { followVisibility } from './visibility';

/** The part of anywidget's model this needs. */
export interface MessageModel {
  send(content: any, callbacks?: any, buffers?: ArrayBuffer[]): void;
  on(event: 'msg:custom', fn: (content: any, buffers?: DataView[]) => void): void;
  off(event: 'msg:custom', fn: (content: any, buffers?: DataView[]) => void): void;
}

const TIMEOUT_MS = 60_000;

export class KernelTransport implements Transport {
  readonly kind = 'kernel';
  private rid = 0;
  private sid = 0;
  private replies = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }>();
  private streams = new Map<number, StreamHandler>();
  private hidings = new Map<number, () => void>(); // sid -> stop following the page's visibility
  private listener = (content: any) => this.onMessage(content);

  constructor(private model: MessageModel) {
    model.on('msg:custom', this.listener);
  }

  dispose(): void {
    this.model.off('msg:custom', this.listener);
    for (const [, r] of this.replies) {
      clearTimeout(r.timer);
      r.reject(new Error('the widget was closed'));
    }
    this.replies.clear();
  }

  private onMessage(msg: any): void {
    if (!msg || typeof msg !== 'object') {
      return;
    }
    if (msg.type === 'reply') {
      const r = this.replies.get(msg.rid);
      if (!r) {
        return;
      }
      this.replies.delete(msg.rid);
      clearTimeout(r.timer);
      if (msg.status >= 400 || msg.status === 0) {
        r.reject(new ApiError(msg.body?.message ?? `HTTP ${msg.status}`, msg.status, msg.body?.reason ?? null));
      } else {
        r.resolve(msg.body);
      }
    } else if (msg.type === 'stream') {
      const h = this.streams.get(msg.sid);
      if (!h) {
        return;
      }
      try {
        h.onMessage(typeof msg.data === 'string' ? JSON.parse(msg.data) : msg.data);
      } catch {
        // a malformed message: skip it
      }
    } else if (msg.type === 'stream-open') {
      this.streams.get(msg.sid)?.onOpen?.();
    } else if (msg.type === 'stream-closed') {
      const h = this.streams.get(msg.sid);
      this.streams.delete(msg.sid);
      this.forget(msg.sid);
      h?.onClose?.(msg.error ?? 'the kernel closed the stream');
    }
  }

  request<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    const rid = ++this.rid;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.replies.delete(rid);
        reject(new ApiError('the kernel did not answer (is it busy or stopped?)', 0));
      }, TIMEOUT_MS);
      this.replies.set(rid, { resolve, reject, timer });
      this.model.send({ type: 'request', rid, method, path, body: body ?? null });
    });
  }

  /** Stop telling a stream that is closed whether the page is seen. */
  private forget(sid: number): void {
    this.hidings.get(sid)?.();
    this.hidings.delete(sid);
  }

  connect(topics: string[], since: number | null, handler: StreamHandler): StreamConnection {
    const sid = ++this.sid;
    this.streams.set(sid, handler);
    this.model.send({ type: 'subscribe', sid, topics, since });
    this.hidings.set(sid, followVisibility(visible => this.model.send({ type: 'visible', sid, visible })));
    return {
      close: () => {
        this.forget(sid);
        if (this.streams.delete(sid)) {
          this.model.send({ type: 'unsubscribe', sid });
        }
      }
    };
  }
}
