/**
 * The Flows view's pure logic (no DOM): run and task states as the job graph's state codes (so
 * the colours are core/states.json's), the run list kept newest first as `runs` events arrive,
 * durations, which buttons a run offers, and a run's tasks as graph nodes (ids by task order,
 * edges from `parents`, each edge's condition read from the task's dependency text).
 */
import { humanReason } from './dom';
import { Job, RunDetail, RunState, RunSummary, RunTask } from './types';

/** a run or task state's code, as the job graph colours it; Skipped is a job cancelled by its trigger rule */
const CODE: Record<string, string> = {
  Queued: 'PD',
  Held: 'H',
  Running: 'R',
  Finished: 'CD',
  Failed: 'F',
  Cancelled: 'CA',
  Timeout: 'TO',
  Skipped: 'CA'
};

export function stateCode(state: RunState): string {
  return CODE[state] ?? 'PD';
}

export const ACTIVE_RUN = new Set(['Queued', 'Running']);

export function runActive(run: { state: RunState }): boolean {
  return ACTIVE_RUN.has(run.state);
}

/** How long a run (or task) ran, or has been running, in seconds; null before it started. */
export function runSeconds(run: { state: RunState; started_at: number | null; ended_at: number | null }, now = Date.now() / 1000): number | null {
  if (!run.started_at) {
    return null;
  }
  const end = ACTIVE_RUN.has(run.state) || !run.ended_at ? now : run.ended_at;
  return Math.max(0, end - run.started_at);
}

/** Newest first (by creation time, then id, so that equal times keep one order). */
export function sortRuns<T extends RunSummary>(runs: T[]): T[] {
  return [...runs].sort((a, b) => b.created_at - a.created_at || (a.run_id < b.run_id ? 1 : a.run_id > b.run_id ? -1 : 0));
}

/**
 * The run list after one `runs` event: the run replaced (or added, if it is of this flow), newest
 * first, at most `limit` long. `flow` null: every flow's runs.
 */
export function mergeRun(runs: RunSummary[], run: RunSummary, flow: string | null, limit = 50): RunSummary[] {
  if (flow !== null && run.flow !== flow) {
    return runs;
  }
  const rest = runs.filter(r => r.run_id !== run.run_id);
  return sortRuns([run, ...rest]).slice(0, limit);
}

/**
 * A task's reason in words, as the job views say it (`ExitCode:1` -> "exit code 1"), a parent by
 * its task name where the reason names its job (`DependencyFailed:12` -> "train failed").
 */
export function taskReason(task: Pick<RunTask, 'state' | 'reason'>, tasks: RunTask[] = []): string {
  if (task.state === 'Skipped') {
    return 'skipped by its trigger rule';
  }
  if (!task.reason) {
    return '';
  }
  const k = task.reason.indexOf(':');
  const kind = k > 0 ? task.reason.slice(0, k) : task.reason;
  const arg = k > 0 ? task.reason.slice(k + 1) : '';
  if (kind === 'DependencyFailed' || kind === 'DependencyNeverSatisfied') {
    const parent = tasks.find(t => String(t.job_id) === arg)?.name;
    return parent ? `${parent} failed` : humanReason(kind, { job: arg }, task.reason);
  }
  const args: Record<string, unknown> = { ExitCode: { code: arg }, Signal: { signal: arg } }[kind] ?? {};
  return humanReason(kind, args, task.reason);
}

const RUN_REASON: Record<string, (task: string) => string> = {
  TaskFailed: t => `task ${t} failed`,
  TaskTimeout: t => `task ${t} timed out`,
  DependencyFailed: t => `task ${t} could not start: a task it needs failed`,
  TaskCancelled: t => `task ${t} was cancelled`
};

/** A run's reason in words (`TaskFailed:train` -> "task train failed"); the code stays in tooltips. */
export function runReason(reason: string | null): string {
  if (!reason) {
    return '';
  }
  if (reason === 'CancelledByUser') {
    return 'cancelled';
  }
  const k = reason.indexOf(':');
  const words = k > 0 ? RUN_REASON[reason.slice(0, k)] : undefined;
  return words ? words(reason.slice(k + 1)) : reason;
}

export interface RunButtons {
  cancel: boolean;
  resume: boolean;
}

/** What a run offers: Cancel while it is queued or running; Resume once it ended unfinished. */
export function runButtons(run: { state: RunState }): RunButtons {
  return { cancel: runActive(run), resume: !runActive(run) && run.state !== 'Finished' };
}

/** The body of `POST runs/{id}/resume` for a choice of the Resume menu. */
export function resumeBody(mode: 'failed' | 'from' | 'only', task: string | null): Record<string, string | boolean> {
  if (mode !== 'failed' && !task) {
    throw new Error(`pick a task to resume ${mode === 'from' ? 'from' : 'alone'}`);
  }
  return mode === 'failed' ? { as_new_run: false } : { [mode]: task!, as_new_run: false };
}

/**
 * Which dependency type links a task to `parent`, read from its dependency text (`afterok:train`,
 * `afternotok:a:b`, `afterok:train?afternotok:prep`); a bare name, or a parent not named in the
 * text (an `@` of a notebook), is afterok. `or`: the text's clauses are OR-ed (`?`).
 */
export function edgeTypeOf(depends: string | null, parent: string): { type: string; or: boolean } {
  const text = depends ?? '';
  const or = text.includes('?');
  for (const clause of text.split(/[?,]/)) {
    const [head, ...names] = clause.trim().split(':');
    if (names.length && names.some(n => n.replace(/[+@].*$/, '') === parent)) {
      return { type: head, or };
    }
  }
  return { type: 'afterok', or };
}

/**
 * A run's tasks as the jobs the graph draws: id = position + 1 (stable while the run's shape
 * stays), name = the task's name, state code and reason from the task, edges from `parents`.
 */
export function taskJobs(tasks: RunTask[]): Job[] {
  const index = new Map(tasks.map((t, i) => [t.name, i + 1]));
  return tasks.map((t, i) => {
    const parents = t.parents.filter(p => index.has(p));
    const edges = parents.map(p => {
      const { type, or } = edgeTypeOf(t.depends, p);
      return { parent: index.get(p)!, type, delay: null, group: or ? 0 : index.get(p)! };
    });
    const skipped = t.state === 'Skipped';
    return {
      id: i + 1,
      name: t.name,
      state: t.state,
      code: stateCode(t.state),
      // the node's second line: "CA · Skipped", "F · exit code 1"
      reason: skipped ? 'Skipped' : taskReason(t, tasks) || null,
      reason_kind: null,
      // the graph re-lays out when a task's dependency text changes, as for jobs
      dependency: parents.length ? `${t.depends ?? ''}|${parents.join(',')}` : null,
      edges,
      attempt: t.attempts,
      started_at: t.started_at,
      ended_at: t.ended_at
    } as Job;
  });
}

/** Whether two lists of tasks have the same shape (names and parents): a restyle, not a new layout. */
export function sameShape(a: RunTask[], b: RunTask[]): boolean {
  return a.length === b.length && a.every((t, i) => t.name === b[i].name && t.parents.join(',') === b[i].parents.join(','));
}

/** A task's tooltip in the run graph. */
export function taskTip(task: RunTask, tasks: RunTask[] = []): string {
  const why = taskReason(task, tasks);
  const lines = [`${task.name}: ${task.state}${why ? `, ${why}` : ''}`];
  if (task.job_id !== null) {
    lines.push(`job ${task.job_id}, attempt${task.attempts === 1 ? '' : 's'} ${task.attempts}`);
  }
  if (task.depends) {
    lines.push(`depends: ${task.depends}`);
  }
  return lines.join('\n');
}

/** The part of a run id (`<flow>__<type>__<timestamp>__<uuid>`) that tells two runs of one moment apart: `<uuid>`. */
export function shortRunId(run: Pick<RunDetail, 'run_id'>): string {
  const parts = run.run_id.split('__');
  return parts.length >= 4 ? parts[parts.length - 1] : run.run_id;
}
