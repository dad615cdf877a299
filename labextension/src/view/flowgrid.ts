/**
 * The Flows view's grid of a flow's runs (pure, no DOM): one column per run ordered by
 * `execution_date` (the tick; a manual run's trigger time), one row per task, each cell the
 * task's state in that run as a state code (so the colours are core/states.json's, as the graph's).
 * Also the schedule's line and a backfill plan's summary, in words.
 */
import { stateCode } from './flowdata';
import { RunDetail, RunState, Schedule } from './types';

export interface GridColumn {
  run_id: string;
  execution_date: string;
  run_type: string;
  state: RunState;
  reason: string | null;
}

export interface GridCell {
  run_id: string;
  task: string;
  state: RunState;
  code: string;
}

export interface GridRow {
  task: string;
  /** one per column; null where that run has no such task (another version of the flow) */
  cells: (GridCell | null)[];
}

export interface Grid {
  columns: GridColumn[];
  rows: GridRow[];
}

/** A run's tick, or its creation time where the server gives none (an older server). */
function tickOf(run: RunDetail): string {
  return run.execution_date ?? new Date(run.created_at * 1000).toISOString();
}

/** Compare ISO 8601 times that may carry different offsets (Date.parse reads them all). */
function byTime(a: string, b: string): number {
  const ta = Date.parse(a);
  const tb = Date.parse(b);
  return Number.isNaN(ta) || Number.isNaN(tb) ? (a < b ? -1 : a > b ? 1 : 0) : ta - tb;
}

/**
 * The grid of `runs` (with their tasks): oldest tick on the left, at most `limit` columns (the
 * newest). Rows are the tasks in the newest run's order (a debug run, one task alone, comes last
 * here), then tasks only older runs had. A skipped
 * tick's tasks never ran: their cells say Skipped, whatever the stored task state.
 */
export function buildGrid(runs: RunDetail[], limit = 30): Grid {
  const ordered = [...runs]
    .sort((a, b) => byTime(tickOf(a), tickOf(b)) || a.created_at - b.created_at || (a.run_id < b.run_id ? -1 : 1))
    .slice(-limit);
  const names: string[] = [];
  const newestFirst = [...ordered].reverse();
  for (const run of [...newestFirst.filter(r => r.run_type !== 'debug'), ...newestFirst.filter(r => r.run_type === 'debug')]) {
    for (const t of run.tasks) {
      if (!names.includes(t.name)) {
        names.push(t.name);
      }
    }
  }
  const columns = ordered.map(r => ({ run_id: r.run_id, execution_date: tickOf(r), run_type: r.run_type, state: r.state, reason: r.reason }));
  const rows = names.map(task => ({
    task,
    cells: ordered.map(run => {
      const t = run.tasks.find(x => x.name === task);
      if (!t) {
        return null;
      }
      const state = run.state === 'Skipped' ? 'Skipped' : t.state;
      return { run_id: run.run_id, task, state, code: stateCode(state) };
    })
  }));
  return { columns, rows };
}

/** A column's heading: the tick's time of day (`02:00`), the date where the ticks span days. */
export function columnLabel(execution_date: string, withDate: boolean): string {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})/.exec(execution_date);
  if (!m) {
    return execution_date;
  }
  return withDate ? `${m[1].slice(5)} ${m[2]}` : m[2];
}

/** Whether a grid's ticks fall on more than one day (then each column shows its date). */
export function spansDays(columns: GridColumn[]): boolean {
  return new Set(columns.map(c => c.execution_date.slice(0, 10))).size > 1;
}

/** The schedule in one line: `"0 2 * * *" in UTC, next 2026-11-01T02:00+00:00` (or paused). */
export function scheduleLine(s: Schedule | null): string {
  if (!s) {
    return 'No schedule: `gpipe schedule NAME --cron EXPR` makes one.';
  }
  const flags = [s.catchup ? 'catch-up' : '', s.depends_on_past ? 'depends on past' : ''].filter(Boolean);
  const when = s.enabled ? (s.next_tick ? `next tick ${s.next_tick}` : 'no tick left') : 'paused';
  return `"${s.cron}" in ${s.tz}, ${when}${flags.length ? ` (${flags.join(', ')})` : ''}`;
}

/** A backfill plan in words: `3 runs to create, 1 tick skipped` (the dialog lists each tick too). */
export function backfillSummary(ticks: { action: string }[]): string {
  const create = ticks.filter(t => t.action === 'create').length;
  const skip = ticks.length - create;
  if (!ticks.length) {
    return 'No tick of the schedule in that range.';
  }
  return `${create} run${create === 1 ? '' : 's'} to create, ${skip} tick${skip === 1 ? '' : 's'} skipped`;
}
