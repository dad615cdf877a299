/**
 * One live connection to the scheduler, shared by every view on the page that uses the same
 * transport: the `jobs,gpus` event stream (resumed with `since` after a drop, so nothing is
 * missed), the job store and the GPU store it feeds, and the REST calls.
 */
import { GpuStore, JobStore } from './store';
import { ApiError, GpuView, LogMessage, StreamConnection, StreamMessage, Transport } from './types';

export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'offline';

export class Session {
  readonly store: JobStore;
  readonly gpus = new GpuStore();
  state: ConnectionState = 'connecting';
  /** why the last connection failed, for the status line */
  error: string | null = null;
  private conn: StreamConnection | null = null;
  private retry = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stateListeners = new Set<() => void>();
  private users = 0;
  private closeTimer: ReturnType<typeof setTimeout> | undefined;
  private stopped = true;
  private gotFirst = false;

  constructor(
    readonly transport: Transport,
    store?: JobStore
  ) {
    this.store = store ?? new JobStore();
  }

  onState(fn: () => void): () => void {
    this.stateListeners.add(fn);
    return () => this.stateListeners.delete(fn);
  }

  /** A view starts using the session; the returned function ends that use. */
  acquire(): () => void {
    this.users++;
    clearTimeout(this.closeTimer);
    if (this.stopped) {
      this.start();
    }
    let released = false;
    return () => {
      if (released) {
        return;
      }
      released = true;
      if (--this.users <= 0) {
        // a re-render (a display update, a moved output) comes back within moments: keep the socket
        this.closeTimer = setTimeout(() => this.stop(), 5000);
      }
    };
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.conn?.close();
    this.conn = null;
    this.setState('offline');
  }

  private setState(state: ConnectionState, error: string | null = this.error): void {
    this.state = state;
    this.error = error;
    for (const fn of this.stateListeners) {
      fn();
    }
  }

  private connect(): void {
    if (this.stopped) {
      return;
    }
    this.setState(this.gotFirst ? 'reconnecting' : 'connecting');
    let opened = false;
    this.conn = this.transport.connect(['jobs', 'gpus'], this.store.seq, {
      onOpen: () => {
        opened = true;
      },
      onMessage: (msg: StreamMessage) => {
        if (msg.type === 'snapshot') {
          this.store.applySnapshot(msg);
        } else if (msg.type === 'event') {
          this.store.applyEvent(msg);
        } else if (msg.type === 'gpus') {
          this.gpus.apply(msg as GpuView);
        } else {
          return;
        }
        if (this.state !== 'live') {
          this.gotFirst = true;
          this.retry = 0;
          this.setState('live', null);
        }
      },
      onClose: (error?: string) => {
        this.conn = null;
        if (this.stopped) {
          return;
        }
        const delay = Math.min(10000, 400 * 2 ** this.retry++) * (0.75 + Math.random() * 0.5);
        this.setState(opened || this.gotFirst ? 'reconnecting' : 'connecting', error ?? 'connection closed');
        this.timer = setTimeout(() => this.connect(), delay);
      }
    });
    // the GPU view right away (the stream sends it on change only)
    if (!this.gotFirst) {
      this.request<GpuView>('GET', 'gpus')
        .then(v => {
          if (!this.gpus.view) {
            this.gpus.apply(v);
          }
        })
        .catch(() => undefined);
    }
  }

  /** One REST call under the API (see `Transport.request`). */
  request<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    return this.transport.request<T>(method, path, body);
  }

  /** A second stream with only the log of job `id`; closing it leaves the main stream alone. */
  openLog(id: number, onLog: (msg: LogMessage) => void): StreamConnection {
    let closed = false;
    let conn: StreamConnection | null = null;
    let retry = 0;
    const open = () => {
      conn = this.transport.connect([`log:${id}`], null, {
        onMessage: msg => {
          retry = 0;
          if (msg.type === 'log') {
            onLog(msg);
          }
        },
        onClose: () => {
          if (!closed) {
            setTimeout(open, Math.min(10000, 500 * 2 ** retry++));
          }
        }
      });
    };
    open();
    return {
      close: () => {
        closed = true;
        conn?.close();
      }
    };
  }
}

export function errorText(err: unknown): string {
  if (err instanceof ApiError) {
    return err.message;
  }
  return err instanceof Error ? err.message : String(err);
}
