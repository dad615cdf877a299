/**
 * The view's state: every job by id (from the stream's snapshot and events), the dependency
 * edges read from each job's `dependency`, and each GPU's readings over the last ten minutes.
 * Pure data, no DOM: the parts of the view listen and redraw what changed.
 */
import { DepEdge, dependencyOf } from './deps';
import { EventMessage, GpuEntry, GpuSample, GpuView, Job, SnapshotMessage } from './types';

export interface Change {
  /** jobs whose fields changed (or that are new) */
  ids: Set<number>;
  /** the set of jobs or their edges changed: the graph must be laid out again */
  structure: boolean;
  /** a snapshot replaced everything */
  reset: boolean;
  /** the wall-clock time (s) of the newest scheduler event in this change, for latency figures */
  eventTs?: number;
}

export type Listener = (change: Change) => void;

export const HISTORY_SECONDS = 600;

export class JobStore {
  readonly jobs = new Map<number, Job>();
  /** parent edges of each job */
  readonly parents = new Map<number, DepEdge[]>();
  /** the ids of jobs that depend on each job */
  readonly children = new Map<number, Set<number>>();
  seq: number | null = null;
  /** the last message of a cascade, shown in the status line */
  lastCascade: string | null = null;
  private listeners = new Set<Listener>();
  private pending: Change | null = null;
  private flushScheduled = false;

  constructor(
    /** how batched changes are delivered: the next animation frame in a browser */
    private schedule: (fn: () => void) => void = defaultSchedule
  ) {}

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  get(id: number): Job | undefined {
    return this.jobs.get(id);
  }

  all(): Job[] {
    return [...this.jobs.values()].sort((a, b) => a.id - b.id);
  }

  applySnapshot(msg: SnapshotMessage): void {
    this.jobs.clear();
    this.parents.clear();
    this.children.clear();
    for (const job of msg.jobs) {
      this.put(job);
    }
    this.seq = msg.seq;
    this.mark({ ids: new Set(this.jobs.keys()), structure: true, reset: true });
  }

  /** Apply one stream event; returns false when it was already seen (its seq is not new). */
  applyEvent(msg: EventMessage): boolean {
    if (this.seq !== null && msg.seq <= this.seq) {
      return false;
    }
    this.seq = msg.seq;
    const change: Change = { ids: new Set(), structure: false, reset: false, eventTs: msg.ts };
    if (msg.job) {
      const before = this.jobs.get(msg.job.id);
      this.put(msg.job);
      change.ids.add(msg.job.id);
      if (!before || before.dependency !== msg.job.dependency) {
        change.structure = true;
      }
    }
    if (msg.kind === 'cascade' && msg.message) {
      this.lastCascade = msg.message;
    }
    if (msg.kind === 'purged') {
      for (const id of msg.ids ?? []) {
        if (this.forget(id)) {
          change.ids.add(id);
          change.structure = true;
        }
      }
    }
    this.mark(change);
    return true;
  }

  /** Drop a job the server purged, with its edges; false if it was not here. */
  private forget(id: number): boolean {
    if (!this.jobs.delete(id)) {
      return false;
    }
    for (const e of this.parents.get(id) ?? []) {
      this.children.get(e.parent)?.delete(id);
    }
    this.parents.delete(id);
    return true;
  }

  /** Put jobs fetched by REST (a reply to an action) without waiting for their events. */
  upsert(jobs: Job[]): void {
    const change: Change = { ids: new Set(), structure: false, reset: false };
    for (const job of jobs) {
      const before = this.jobs.get(job.id);
      this.put(job);
      change.ids.add(job.id);
      if (!before || before.dependency !== job.dependency) {
        change.structure = true;
      }
    }
    this.mark(change);
  }

  /** Deliver pending changes now (tests and benchmarks; normally once per frame). */
  flush(): void {
    this.flushScheduled = false;
    const change = this.pending;
    this.pending = null;
    if (change) {
      for (const fn of this.listeners) {
        fn(change);
      }
    }
  }

  private put(job: Job): void {
    const old = this.parents.get(job.id);
    if (old) {
      for (const e of old) {
        this.children.get(e.parent)?.delete(job.id);
      }
    }
    this.jobs.set(job.id, job);
    const edges = dependencyOf(job).edges;
    this.parents.set(job.id, edges);
    for (const e of edges) {
      let set = this.children.get(e.parent);
      if (!set) {
        set = new Set();
        this.children.set(e.parent, set);
      }
      set.add(job.id);
    }
  }

  private mark(change: Change): void {
    if (!this.pending) {
      this.pending = change;
    } else {
      for (const id of change.ids) {
        this.pending.ids.add(id);
      }
      this.pending.structure ||= change.structure;
      this.pending.reset ||= change.reset;
      if (change.eventTs !== undefined) {
        this.pending.eventTs = Math.max(this.pending.eventTs ?? 0, change.eventTs);
      }
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      this.schedule(() => this.flush());
    }
  }

  /** `ids` and every job they depend on or that depends on them, transitively. */
  related(ids: Iterable<number>): Set<number> {
    const out = new Set<number>();
    const up: number[] = [];
    const down: number[] = [];
    for (const id of ids) {
      out.add(id);
      up.push(id);
      down.push(id);
    }
    const seenUp = new Set(up);
    while (up.length) {
      const id = up.pop()!;
      for (const e of this.parents.get(id) ?? []) {
        if (!seenUp.has(e.parent)) {
          seenUp.add(e.parent);
          out.add(e.parent);
          up.push(e.parent);
        }
      }
    }
    const seenDown = new Set(down);
    while (down.length) {
      const id = down.pop()!;
      for (const c of this.children.get(id) ?? []) {
        if (!seenDown.has(c)) {
          seenDown.add(c);
          out.add(c);
          down.push(c);
        }
      }
    }
    return out;
  }
}

function defaultSchedule(fn: () => void): void {
  if (typeof requestAnimationFrame === 'function' && typeof document !== 'undefined' && !document.hidden) {
    // a frame, or 50 ms when frames are throttled (a background tab)
    let done = false;
    const run = () => {
      if (!done) {
        done = true;
        fn();
      }
    };
    requestAnimationFrame(run);
    setTimeout(run, 50);
  } else {
    setTimeout(fn, 0);
  }
}

export interface GpuSeries {
  entry: GpuEntry;
  samples: GpuSample[];
}

/** What the `gpus` route and topic said, and each GPU's readings of the last ten minutes. */
export class GpuStore {
  view: GpuView | null = null;
  readonly series = new Map<number, GpuSeries>();
  private listeners = new Set<() => void>();

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  apply(view: GpuView, now: number = Date.now() / 1000): void {
    this.view = view;
    const ts = typeof view.ts === 'number' ? view.ts : now;
    const seen = new Set<number>();
    const hist = columnHistory(view);
    for (const entry of view.gpus ?? []) {
      seen.add(entry.index);
      let s = this.series.get(entry.index);
      if (!s) {
        s = { entry, samples: [] };
        this.series.set(entry.index, s);
      }
      s.entry = entry;
      const fromColumns = hist.get(entry.index);
      if (fromColumns?.length) {
        const last = s.samples.length ? s.samples[s.samples.length - 1].ts : -Infinity;
        for (const h of fromColumns) {
          if (h.ts > last) {
            s.samples.push(h);
          }
        }
      }
      if (Array.isArray(entry.history) && entry.history.length) {
        const last = s.samples.length ? s.samples[s.samples.length - 1].ts : -Infinity;
        for (const h of entry.history) {
          if (h.ts > last) {
            s.samples.push(normalise(h));
          }
        }
      }
      const util = readingOf(entry, 'util');
      const mem = readingOf(entry, 'memory_used_mib');
      if (util !== null || mem !== null) {
        const last = s.samples[s.samples.length - 1];
        if (!last || ts > last.ts) {
          s.samples.push({ ts, util, memory_used_mib: mem, memory_total_mib: readingOf(entry, 'memory_total_mib') });
        }
      }
      const cutoff = now - HISTORY_SECONDS - 5;
      let drop = 0;
      while (drop < s.samples.length - 1 && s.samples[drop + 1].ts < cutoff) {
        drop++;
      }
      if (drop) {
        s.samples.splice(0, drop);
      }
    }
    for (const index of [...this.series.keys()]) {
      if (!seen.has(index)) {
        this.series.delete(index);
      }
    }
    for (const fn of this.listeners) {
      fn();
    }
  }
}

/**
 * The sampler's history, column-wise: `{ts: [..], gpus: [{index, util: [..], memory_used_mib: [..]}]}`
 * (gpumonitor.py), as samples per GPU index.
 */
function columnHistory(view: GpuView): Map<number, GpuSample[]> {
  const out = new Map<number, GpuSample[]>();
  const h = view.history as { ts?: unknown; gpus?: unknown } | undefined;
  if (!h || !Array.isArray(h.ts) || !Array.isArray(h.gpus)) {
    return out;
  }
  const ts = h.ts as number[];
  for (const g of h.gpus as { index: number; util?: (number | null)[]; memory_used_mib?: (number | null)[] }[]) {
    const samples: GpuSample[] = [];
    ts.forEach((t, i) => {
      samples.push({ ts: t, util: g.util?.[i] ?? null, memory_used_mib: g.memory_used_mib?.[i] ?? null });
    });
    out.set(g.index, samples);
  }
  return out;
}

function normalise(h: GpuSample): GpuSample {
  return {
    ts: h.ts,
    util: h.util ?? null,
    memory_used_mib: h.memory_used_mib ?? null,
    memory_total_mib: h.memory_total_mib ?? null
  };
}

/** A reading of a GPU entry under its name or a common alias (`utilization`, `memory_used`). */
export function readingOf(entry: GpuEntry, field: 'util' | 'memory_used_mib' | 'memory_total_mib'): number | null {
  const aliases: Record<string, string[]> = {
    util: ['util', 'utilization', 'utilization_gpu', 'gpu_util'],
    memory_used_mib: ['memory_used_mib', 'memory_used', 'mem_used_mib'],
    memory_total_mib: ['memory_total_mib', 'memory_total', 'mem_total_mib']
  };
  for (const key of aliases[field]) {
    const v = (entry as Record<string, unknown>)[key];
    if (typeof v === 'number' && isFinite(v)) {
      return v;
    }
    const reading = (entry as Record<string, unknown>).reading as Record<string, unknown> | undefined;
    if (reading && typeof reading[key] === 'number') {
      return reading[key] as number;
    }
  }
  return null;
}
