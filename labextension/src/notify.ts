/**
 * Job-end notifications in JupyterLab (its own `Notification` API): a job of one of this
 * JupyterLab's notebooks failed or timed out; with "all", also when every job a notebook submitted
 * has ended (its pipeline finished). Each carries an "Open log" button (the sidebar's log pane).
 *
 * "A job of a notebook": its `scope` is `kernel:<id>` (what `%%gbatch` sends) and that kernel is
 * one of this server's running notebook sessions. "Its pipeline finished": every job it submitted
 * while we watched has ended and its kernel is idle (no cell left that could submit more), for a
 * moment (between two cells of "run all" a kernel is idle for a few milliseconds). Only changes
 * seen live notify: the snapshot a page opens with (jobs that ended long ago) never does.
 */
import { Notification } from '@jupyterlab/apputils';

import { ACTIVE_CODES, reasonText } from './view/dom';
import { Change, JobStore } from './view/store';
import { Job } from './view/types';

export type NotifyLevel = 'off' | 'failures' | 'all';

export interface NotifierOptions {
  level(): NotifyLevel;
  /** the notebook a job belongs to (its path), or null when it is not one of ours */
  notebookOf(job: Job): string | null;
  openLog(id: number): void;
  /** whether the kernel of this scope is idle (true when not known: a notebook not open here) */
  idle(scope: string): boolean;
}

/** how long a notebook stays quiet (kernel idle, no job left) before its pipeline counts as done */
const SETTLE_MS = 1500;

const FAILED = new Set(['F', 'TO']);

/** What ended in one notebook's pipeline since it last had work going. */
interface Watch {
  active: Set<number>;
  ended: Map<number, string>;
}

export class JobNotifier {
  private codes = new Map<number, string>();
  private primed = false;
  private watches = new Map<string, Watch>();
  private timers = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(
    private store: JobStore,
    private opts: NotifierOptions
  ) {}

  apply(change: Change): void {
    const ids = change.reset ? [...this.store.jobs.keys()] : [...change.ids];
    if (!this.primed) {
      // the first snapshot: what is already over is not news
      if (!change.reset) {
        return;
      }
      for (const id of ids) {
        const job = this.store.get(id)!;
        this.codes.set(id, job.code);
        this.track(job, undefined);
      }
      this.primed = true;
      return;
    }
    for (const id of ids.sort((a, b) => a - b)) {
      const job = this.store.get(id);
      if (!job) {
        continue;
      }
      const before = this.codes.get(id);
      this.codes.set(id, job.code);
      if (before === job.code) {
        continue;
      }
      this.track(job, before);
    }
  }

  private track(job: Job, before: string | undefined): void {
    const notebook = this.opts.notebookOf(job);
    if (!notebook) {
      return;
    }
    let watch = this.watches.get(job.scope ?? '');
    if (ACTIVE_CODES.has(job.code)) {
      if (!watch) {
        watch = { active: new Set(), ended: new Map() };
        this.watches.set(job.scope ?? '', watch);
      }
      watch.active.add(job.id);
      return;
    }
    if (!this.primed || (before !== undefined && !ACTIVE_CODES.has(before))) {
      return; // ended before we looked, or a change between two ended states
    }
    const level = this.opts.level();
    if (FAILED.has(job.code) && level !== 'off') {
      const why = reasonText(job);
      const what = job.code === 'TO' ? 'timed out' : 'failed';
      Notification.error(`Job ${job.id} (${job.name}) ${what}${why && job.code === 'F' ? `: ${why}` : ''} · ${basename(notebook)}`, {
        autoClose: false,
        actions: [{ label: 'Open log', caption: `Show job ${job.id}'s log in the jobflow sidebar`, callback: () => this.opts.openLog(job.id) }]
      });
    }
    if (before === undefined && !watch) {
      // new since we looked and ended already (a short job: its Running fell in the same frame)
      watch = { active: new Set(), ended: new Map() };
      this.watches.set(job.scope ?? '', watch);
    }
    if (!watch || (before !== undefined && !watch.active.has(job.id))) {
      return;
    }
    watch.active.delete(job.id);
    watch.ended.set(job.id, job.code);
    this.settle(job.scope ?? '');
  }

  /** A notebook's kernel went idle: its pipeline may be over. */
  kernelIdle(scope: string): void {
    if (this.watches.has(scope)) {
      this.settle(scope);
    }
  }

  dispose(): void {
    for (const t of this.timers.values()) {
      clearTimeout(t);
    }
    this.timers.clear();
  }

  private settle(scope: string): void {
    clearTimeout(this.timers.get(scope));
    this.timers.set(
      scope,
      setTimeout(() => {
        this.timers.delete(scope);
        const watch = this.watches.get(scope);
        if (!watch || watch.active.size || !this.opts.idle(scope)) {
          return; // more work came, or a cell still runs (its idle event brings us back)
        }
        this.watches.delete(scope);
        const notebook = this.opts.notebookOf({ scope } as Job);
        if (notebook && this.opts.level() === 'all' && watch.ended.size) {
          this.pipelineDone(notebook, watch.ended);
        }
      }, SETTLE_MS)
    );
  }

  private pipelineDone(notebook: string, ended: Map<number, string>): void {
    const count = (codes: string[]) => [...ended.values()].filter(c => codes.includes(c)).length;
    const done = count(['CD']);
    const failed = count(['F', 'TO']);
    const cancelled = count(['CA']);
    const parts = [`${done} finished`];
    if (failed) {
      parts.push(`${failed} failed`);
    }
    if (cancelled) {
      parts.push(`${cancelled} cancelled`);
    }
    const ids = [...ended.keys()].sort((a, b) => a - b);
    // the log worth opening: the first that failed, else the last job
    const show = ids.find(id => FAILED.has(ended.get(id)!)) ?? ids[ids.length - 1];
    const text = `${basename(notebook)}: all ${ended.size} job${ended.size === 1 ? '' : 's'} ended (${parts.join(', ')})`;
    const options = {
      autoClose: failed || cancelled ? (false as const) : 8000,
      actions: [{ label: 'Open log', caption: `Show job ${show}'s log in the jobflow sidebar`, callback: () => this.opts.openLog(show) }]
    };
    if (failed || cancelled) {
      Notification.warning(text, options);
    } else {
      Notification.success(text, options);
    }
  }
}

function basename(path: string): string {
  return path.split('/').pop() || path;
}
