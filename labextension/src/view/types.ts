/**
 * The data the view works on: the job JSON of `jupyter_jobflow/wire.py`, the `gpus` route, the
 * event stream of docs/api.md, and the one small transport interface the view talks through.
 */

/** gflow's state codes, as `job.code` carries them. */
export type StateCode = 'PD' | 'H' | 'R' | 'CD' | 'F' | 'CA' | 'TO';

/** One job, as `wire.job_to_json` sends it (only the fields the view reads are typed). */
export interface Job {
  id: number;
  name: string;
  state: string;
  code: StateCode | string;
  reason: string | null;
  reason_kind: string | null;
  reason_args?: Record<string, unknown> | null;
  command?: string[];
  cwd?: string | null;
  user?: string;
  scope?: string;
  gpus?: number;
  gpu_ids?: number[] | null;
  allocated_gpus?: number[];
  /** the GPUs its latest attempt held, kept after it ends */
  used_gpus?: number[];
  time_limit?: number | null;
  time_limit_display?: string | null;
  priority?: number;
  group?: string | null;
  /** the canonical dependency text, for display; `edges` is the same, structured */
  dependency: string | null;
  edges?: WireEdge[];
  singleton?: boolean;
  auto_cancel?: boolean;
  retries?: number;
  attempt?: number;
  retry_count?: number;
  submitted_at?: number;
  first_started_at?: number | null;
  started_at?: number | null;
  ended_at?: number | null;
  retry_at?: number | null;
  exit_code?: number | null;
  signal?: number | null;
  redo_of?: number | null;
  stopping?: string | null;
  /** where it runs: `local` (this machine) or `slurm` */
  executor?: string;
  /** Slurm's id of its latest attempt; null until handed to Slurm, and for a local job */
  slurm_job_id?: number | null;
}

/** One parent of a job, as `wire.dependency_to_json` sends it. */
export interface WireEdge {
  parent: number;
  type: 'after' | 'afterok' | 'afternotok' | 'afterany' | 'aftercorr' | string;
  /** seconds after the satisfying event; null when none */
  delay: number | null;
  /** the AND-ed group it belongs to: the edges of one group are OR-ed */
  group: number;
}

export interface Attempt {
  attempt: number;
  started_at: number | null;
  ended_at: number | null;
  pid?: number | null;
  gpus?: number[];
  exit_code: number | null;
  signal: number | null;
  state: string | null;
  reason: string | null;
}

/** Who holds a GPU: a job of ours, a kernel of this server, or another process. */
export interface GpuHolder {
  kind: 'job' | 'kernel' | 'other' | string;
  id?: number | string;
  name?: string;
  memory_mib?: number | null;
  util?: number | null;
  pid?: number;
}

/** One GPU as the `gpus` route / topic describes it. Readings are optional: the view draws
 * what is there (the route without a sampler has only `index`, `simulated` and `jobs`). */
export interface GpuEntry {
  index: number;
  name?: string;
  simulated?: boolean;
  jobs?: number[];
  util?: number | null;
  memory_used_mib?: number | null;
  memory_total_mib?: number | null;
  holders?: GpuHolder[];
  /** optional recent history from the server: `[{ts, util, memory_used_mib}]` */
  history?: GpuSample[];
  error?: string | null;
  [key: string]: unknown;
}

export interface GpuSample {
  ts: number;
  util: number | null;
  memory_used_mib: number | null;
  memory_total_mib?: number | null;
}

export interface GpuView {
  gpus: GpuEntry[];
  reason?: string | null;
  ts?: number;
  [key: string]: unknown;
}

/** Flows (docs/api.md "Flows"): one line of `GET flows`. */
export interface FlowSummary {
  name: string;
  owner: string;
  version: number;
  /** how many tasks its latest version has */
  tasks: number;
  updated_at: number | null;
}

/** A run's and a task's states; a task skipped by its trigger rule is `Skipped`. */
export type RunState = 'Queued' | 'Running' | 'Finished' | 'Failed' | 'Cancelled' | string;

/** One run, as `GET runs` lists it and the `runs` topic sends it (`tasks`: a count). */
export interface RunSummary {
  run_id: string;
  flow: string;
  owner: string;
  run_type: 'manual' | 'debug' | 'scheduled' | 'backfill' | string;
  /** the tick of a scheduled or backfill run, a manual run's trigger time (ISO 8601; absent on older servers) */
  execution_date?: string;
  state: RunState;
  reason: string | null;
  created_at: number;
  started_at: number | null;
  ended_at: number | null;
  tasks: number;
}

/** A flow's schedule (`GET flows/{name}/schedule`, docs/schedules.md); times ISO 8601 in its zone. */
export interface Schedule {
  flow: string;
  cron: string;
  tz: string;
  enabled: boolean;
  next_tick: string | null;
  catchup: boolean;
  depends_on_past: boolean;
  max_active_runs: number;
  expired_limit?: number;
  /** The next 5 ticks from `next_tick` on (absent from older servers). */
  next_ticks?: string[];
}

/** One tick of a backfill's plan (`POST flows/{name}/backfill`): `create`, `skip: running`, ... */
export interface BackfillTick {
  execution_date: string;
  action: string;
}

/** One task of a run (`GET runs/{id}`): `parents` are task names, `depends` its dependency text. */
export interface RunTask {
  name: string;
  state: RunState;
  reason: string | null;
  job_id: number | null;
  attempts: number;
  depends: string | null;
  parents: string[];
  started_at: number | null;
  ended_at: number | null;
}

/** One run with its tasks (`GET runs/{id}`, and the reply of cancel, resume and run-task). */
export interface RunDetail extends Omit<RunSummary, 'tasks'> {
  tasks: RunTask[];
  warnings?: string[];
}

/** `GET runs/{id}/log`: every task's lines interleaved by time, each `[task attempt] `-prefixed. */
export interface RunLog {
  text: string;
  next_offset: number;
}

/** The `runs` topic: a run changed. */
export interface RunsMessage {
  type: 'run';
  topic: 'runs';
  run: RunSummary;
}

/** Messages of the `events` stream (docs/api.md). */
export interface SnapshotMessage {
  type: 'snapshot';
  seq: number;
  jobs: Job[];
  /** jobs the server keeps but left out of the snapshot (finished long ago; GET jobs pages them) */
  omitted?: number;
}
export interface EventMessage {
  type: 'event';
  seq: number;
  ts?: number;
  kind: string;
  job_id?: number | null;
  job?: Job | null;
  root?: number;
  cancelled?: number[];
  message?: string;
  /** kind 'purged': the jobs the server forgot (retention) */
  ids?: number[];
}
export interface LogMessage {
  type: 'log';
  job_id: number;
  attempt: number;
  /** the byte offset just after `text` */
  offset: number;
  text: string;
}
export interface GpusMessage extends GpuView {
  type: 'gpus';
}
export type StreamMessage = SnapshotMessage | EventMessage | LogMessage | GpusMessage | RunsMessage;

/** A REST reply that failed: the server's one-line message and its HTTP status. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly reason: string | null = null
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface StreamHandler {
  onOpen?(): void;
  onMessage(message: StreamMessage): void;
  /** the connection ended; `error` says why when it was not closed on purpose */
  onClose?(error?: string): void;
}

export interface StreamConnection {
  close(): void;
}

/**
 * What the view needs from the outside world: REST calls and the event stream. Two
 * implementations: straight from the browser to the server (`transport/direct.ts`), and through
 * the kernel (`transport/kernel.ts`, anywidget messages) when the server is not reachable.
 */
export interface Transport {
  /** `direct` or `kernel`: shown in the panel's status line. */
  readonly kind: string;
  /**
   * One REST call under `{base}jobflow/api/`: resolves to the decoded JSON, rejects with an
   * `ApiError` carrying the server's message.
   */
  request<T = any>(method: string, path: string, body?: unknown): Promise<T>;
  /** Open the event stream for `topics` (`jobs`, `gpus`, `runs`, `log:<id>`), resuming after `since`. */
  connect(topics: string[], since: number | null, handler: StreamHandler): StreamConnection;
}
