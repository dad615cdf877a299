/**
 * What the full panel (panel.ts) and the compact one-job view (compact.ts) share: the options and
 * the handle of `mount`, the connection's status line, the toasts, a throttle.
 */
import { HostAction } from './details';
import { h } from './dom';
import { Session } from './session';
import { Job } from './types';

export type Tab = 'graph' | 'jobs' | 'logs' | 'gpus' | 'flows';

export interface PanelOptions {
  /** `sidebar`: tall and narrow, the wheel zooms; `cell`: under a notebook cell; `compact`: one job per line */
  mode: 'sidebar' | 'cell' | 'compact';
  /** show these jobs and the jobs connected to them (compact: only these); all jobs when absent */
  jobIds?: number[] | null;
  tab?: Tab;
  /** pixel height of a `cell` panel */
  height?: number;
  /** extra buttons in a job's details (the sidebar's "Insert dependent cell") */
  hostActions?: HostAction[];
  /** called (at most every 2 s) with the shown jobs, for the widget's saved snapshot */
  onJobs?: (jobs: Job[]) => void;
  /** a line under the title, e.g. how the widget connects */
  note?: string;
  /** kept by the host across re-renders of the same widget: the tab, the selection, the open log */
  state?: ViewState;
}

export interface ViewState {
  tab?: Tab;
  selected?: number | null;
  logJob?: number | null;
}

export interface PanelHandle {
  readonly el: HTMLElement;
  readonly session: Session;
  showTab(tab: Tab): void;
  select(id: number | null): void;
  openLog(id: number): void;
  dispose(): void;
}

export function statusLine(session: Session): { el: HTMLElement; update(): void } {
  const dot = h('span', { class: 'jf-dot' });
  const text = h('span', { class: 'jf-conn-text' });
  const el = h('span', { class: 'jf-conn' }, dot, text);
  const update = () => {
    const s = session.state;
    const via = session.transport.kind === 'kernel' ? ' (through the kernel)' : '';
    const label = {
      connecting: 'connecting…',
      live: `live${via}`,
      reconnecting: 'reconnecting…',
      offline: 'offline'
    }[s];
    el.dataset.state = s;
    text.textContent = label;
    el.title =
      s === 'live'
        ? `Updates arrive as they happen${via}`
        : `${label}${session.error ? ` (${session.error})` : ''}; it retries on its own`;
  };
  update();
  return { el, update };
}

export function toaster(): { el: HTMLElement; show(text: string, kind?: 'ok' | 'error'): void } {
  const el = h('div', { class: 'jf-toasts', role: 'status', 'aria-live': 'polite' });
  return {
    el,
    show(text: string, kind: 'ok' | 'error' = 'ok') {
      const t = h('div', { class: `jf-toast ${kind}` }, text);
      el.appendChild(t);
      setTimeout(() => t.remove(), kind === 'error' ? 9000 : 5000);
      while (el.children.length > 3) {
        el.firstElementChild?.remove();
      }
    }
  };
}

export function throttled(fn: () => void, ms: number): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let last = 0;
  return () => {
    if (timer) {
      return;
    }
    const wait = Math.max(0, last + ms - Date.now());
    timer = setTimeout(() => {
      timer = undefined;
      last = Date.now();
      fn();
    }, wait);
  };
}
