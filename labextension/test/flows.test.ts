/**
 * Unit tests of the Flows view's pure parts (flowdata.ts): the run list kept newest first as
 * `runs` events arrive, states as the job graph's colours (Skipped too), which buttons a run
 * offers, the resume body, a run's tasks as graph nodes and edges by task name, and the grid of a
 * flow's runs (flowgrid.ts: columns by execution date, rows by task, cells by state).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { conditionStatus } from '../src/view/deps';
import { edgeTypeOf, mergeRun, runReason, resumeBody, runButtons, runSeconds, sameShape, shortRunId, sortRuns, stateCode, taskJobs, taskTip } from '../src/view/flowdata';
import { nextTicksText, scheduleBody } from '../src/view/flowschedule';
import { backfillSummary, buildGrid, columnLabel, scheduleLine, spansDays } from '../src/view/flowgrid';
import { layout } from '../src/view/layout';
import { JobStore } from '../src/view/store';
import type { RunDetail, RunSummary, RunTask } from '../src/view/types';

function run(id: string, created: number, state = 'Running', flow = 'etl'): RunSummary {
  return { run_id: `${flow}__manual__${id}__abcd`, flow, owner: 'ann', run_type: 'manual', state, reason: null, created_at: created, started_at: created, ended_at: null, tasks: 3 };
}

function task(name: string, parents: string[] = [], state = 'Queued', depends: string | null = null): RunTask {
  return {
    name, state, reason: null, job_id: null, attempts: 0, parents,
    depends: depends ?? (parents.length ? `afterok:${parents.join(':')}` : null),
    started_at: null, ended_at: null
  };
}

test('runs are listed newest first and an event replaces its run in place', () => {
  const list = sortRuns([run('1', 100), run('3', 300), run('2', 200)]);
  assert.deepEqual(list.map(r => r.created_at), [300, 200, 100]);
  // the run that failed is updated, not added twice
  const failed = { ...run('2', 200), state: 'Failed', reason: 'task train failed' };
  const after = mergeRun(list, failed, 'etl');
  assert.equal(after.length, 3);
  assert.equal(after[1].state, 'Failed');
  // a new run comes first; another flow's run is not this list's
  assert.equal(mergeRun(after, run('4', 400), 'etl')[0].created_at, 400);
  assert.equal(mergeRun(after, run('9', 900, 'Running', 'other'), 'etl'), after);
  // the list stays at its limit
  assert.equal(mergeRun(after, run('4', 400), 'etl', 3).length, 3);
});

test("run and task states take the job graph's state codes (colours); Skipped reads as cancelled", () => {
  assert.deepEqual(
    ['Queued', 'Running', 'Finished', 'Failed', 'Cancelled', 'Skipped', 'Timeout'].map(stateCode),
    ['PD', 'R', 'CD', 'F', 'CA', 'CA', 'TO']
  );
});

test('Cancel while a run is active, Resume once it ended unfinished', () => {
  assert.deepEqual(runButtons({ state: 'Running' }), { cancel: true, resume: false });
  assert.deepEqual(runButtons({ state: 'Queued' }), { cancel: true, resume: false });
  assert.deepEqual(runButtons({ state: 'Failed' }), { cancel: false, resume: true });
  assert.deepEqual(runButtons({ state: 'Cancelled' }), { cancel: false, resume: true });
  assert.deepEqual(runButtons({ state: 'Finished' }), { cancel: false, resume: false });
});

test('the resume body: the failed tasks, from a task, only a task (which needs a picked task)', () => {
  assert.deepEqual(resumeBody('failed', null), { as_new_run: false });
  assert.deepEqual(resumeBody('from', 'train'), { from: 'train', as_new_run: false });
  assert.deepEqual(resumeBody('only', 'train'), { only: 'train', as_new_run: false });
  assert.throws(() => resumeBody('from', null), /pick a task/);
});

test('a duration runs on while the run is active and stops at its end', () => {
  assert.equal(runSeconds({ state: 'Running', started_at: 100, ended_at: null }, 160), 60);
  assert.equal(runSeconds({ state: 'Failed', started_at: 100, ended_at: 130 }, 999), 30);
  assert.equal(runSeconds({ state: 'Queued', started_at: null, ended_at: null }, 999), null);
});

test("a dependency's condition is read from the task's text, by task name", () => {
  assert.deepEqual(edgeTypeOf('afterok:train?afternotok:prep', 'prep'), { type: 'afternotok', or: true });
  assert.deepEqual(edgeTypeOf('afterok:train?afternotok:prep', 'train'), { type: 'afterok', or: true });
  assert.deepEqual(edgeTypeOf('afterany:a:b,afterok:c', 'b'), { type: 'afterany', or: false });
  // a name that only starts like another is not it; a parent the text does not name is afterok
  assert.deepEqual(edgeTypeOf('afterany:prep2', 'prep'), { type: 'afterok', or: false });
  assert.deepEqual(edgeTypeOf(null, 'prep'), { type: 'afterok', or: false });
});

test("a run's tasks become the graph's nodes, edges by parents, in the job graph's layout", () => {
  const tasks = [
    task('prep', [], 'Finished'),
    task('train', ['prep'], 'Failed'),
    task('report', ['train', 'prep'], 'Skipped', 'afterok:train?afternotok:prep'),
    task('lonely', [], 'Queued')
  ];
  tasks[1].reason = 'ExitCode:1';
  tasks[1].job_id = 12;
  tasks[2].state = 'Cancelled';
  tasks[2].reason = 'DependencyFailed:12';
  const jobs = taskJobs(tasks);
  assert.deepEqual(jobs.map(j => [j.id, j.name, j.code]), [[1, 'prep', 'CD'], [2, 'train', 'F'], [3, 'report', 'CA'], [4, 'lonely', 'PD']]);
  assert.equal(taskJobs([{ ...tasks[3], reason: 'Dependency' }])[0].reason, 'waiting for its dependencies');
  assert.equal(jobs[1].reason, 'exit code 1');
  assert.equal(jobs[2].reason, 'train failed', 'the parent by its task name, not its job id');
  assert.equal(taskJobs([{ ...tasks[2], state: 'Skipped' }])[0].reason, 'Skipped');
  const store = new JobStore(fn => fn());
  store.applySnapshot({ type: 'snapshot', seq: 0, jobs });
  assert.deepEqual(store.parents.get(2), [{ parent: 1, type: 'afterok', delay: 0, or: false }]);
  // report's two parents are OR-ed (the junction above it), each with its own condition
  assert.deepEqual(store.parents.get(3), [
    { parent: 2, type: 'afterok', delay: 0, or: true },
    { parent: 1, type: 'afternotok', delay: 0, or: true }
  ]);
  assert.equal(conditionStatus('afterok', store.get(2)!.code), 'never');
  const lay = layout({ ids: [1, 2, 3, 4], parents: id => store.parents.get(id) ?? [] });
  assert.ok(lay.nodes.get(1)!.y < lay.nodes.get(2)!.y && lay.nodes.get(2)!.y < lay.nodes.get(3)!.y, 'prep above train above report');
  assert.equal(lay.junctions.length, 1);
  assert.equal(lay.nodes.get(4)!.layer, -1, 'a task with no edge sits apart');
});

test('a parent missing from the run is left out; a state change keeps the shape (restyle, no layout)', () => {
  const jobs = taskJobs([task('train', ['gone'])]);
  assert.deepEqual(jobs[0].edges, []);
  assert.equal(jobs[0].dependency, null);
  const a = [task('prep'), task('train', ['prep'])];
  const b = [task('prep', [], 'Finished'), task('train', ['prep'], 'Running')];
  assert.ok(sameShape(a, b));
  assert.ok(!sameShape(a, [task('prep'), task('train')]));
});

test('tooltips and short run ids', () => {
  const t = { ...task('report', ['train'], 'Skipped'), job_id: 12, attempts: 1 };
  assert.equal(taskTip(t), 'report: Skipped, skipped by its trigger rule\njob 12, attempt 1\ndepends: afterok:train');
  assert.equal(shortRunId({ run_id: 'etl__manual__20261201T101500__a1b2c3d4' }), 'a1b2c3d4');
  assert.equal(shortRunId({ run_id: 'odd' }), 'odd');
});

test("a run's reason in words", () => {
  assert.equal(runReason('TaskFailed:train'), 'task train failed');
  assert.equal(runReason('TaskTimeout:train'), 'task train timed out');
  assert.equal(runReason('DependencyFailed:report'), 'task report could not start: a task it needs failed');
  assert.equal(runReason('CancelledByUser'), 'cancelled');
  assert.equal(runReason(''), '');
  assert.equal(runReason('SomethingNew:x'), 'SomethingNew:x');
});

// -- the grid of a flow's runs (flowgrid.ts) ------------------------------------------------------

function detail(tick: string, state: string, tasks: [string, string][], created = 0, type = 'scheduled'): RunDetail {
  return {
    run_id: `etl__${type}__${tick}__x`, flow: 'etl', owner: 'ann', run_type: type, execution_date: tick, state, reason: null,
    created_at: created, started_at: null, ended_at: null,
    tasks: tasks.map(([name, s]) => ({ ...task(name), state: s }))
  };
}

test('the grid has one column per run by execution date and one row per task, coloured by state', () => {
  const runs = [
    detail('2026-11-03T02:00:00+01:00', 'Queued', [['prep', 'Queued'], ['train', 'Queued']], 30),
    detail('2026-11-01T02:00:00+01:00', 'Failed', [['prep', 'Finished'], ['train', 'Failed']], 50, 'backfill'),
    detail('2026-11-02T02:00:00+01:00', 'Skipped', [['prep', 'Queued'], ['train', 'Queued']], 10)
  ];
  const grid = buildGrid(runs);
  // oldest tick on the left, whatever order (or time of creation) the runs come in
  assert.deepEqual(grid.columns.map(c => c.execution_date.slice(0, 10)), ['2026-11-01', '2026-11-02', '2026-11-03']);
  assert.deepEqual(grid.rows.map(r => r.task), ['prep', 'train']);
  const train = grid.rows[1].cells.map(c => c && [c.state, c.code]);
  // a skipped tick's tasks never ran: Skipped (CA's colour), not Queued
  assert.deepEqual(train, [['Failed', 'F'], ['Skipped', 'CA'], ['Queued', 'PD']]);
  assert.equal(grid.rows[0].cells[0]!.run_id, runs[1].run_id);
  // offsets differ: the instant decides (00:30Z comes before 02:00+01:00 = 01:00Z)
  const mixed = buildGrid([detail('2026-11-01T02:00:00+01:00', 'Finished', [['a', 'Finished']]), detail('2026-11-01T00:30:00+00:00', 'Finished', [['a', 'Finished']])]);
  assert.deepEqual(mixed.columns.map(c => c.execution_date), ['2026-11-01T00:30:00+00:00', '2026-11-01T02:00:00+01:00']);
});

test('the grid keeps the newest columns, and tasks only older runs had get empty cells elsewhere', () => {
  const runs = [1, 2, 3, 4].map(d => detail(`2026-11-0${d}T02:00:00+00:00`, 'Finished', d === 1 ? [['old', 'Finished']] : [['new', 'Finished']]));
  const grid = buildGrid(runs, 3);
  assert.deepEqual(grid.columns.map(c => c.execution_date.slice(8, 10)), ['02', '03', '04']);
  assert.deepEqual(grid.rows.map(r => r.task), ['new']);
  const all = buildGrid(runs);
  assert.deepEqual(all.rows.map(r => r.task), ['new', 'old']);
  assert.equal(all.rows[0].cells[0], null);
  assert.equal(all.rows[1].cells[1], null);
  // a debug run (one task alone) never decides the rows' order
  const debug = detail('2026-11-09T02:00:00+00:00', 'Finished', [['report', 'Finished']], 0, 'debug');
  const withDebug = buildGrid([detail('2026-11-08T02:00:00+00:00', 'Finished', [['prep', 'Finished'], ['report', 'Finished']]), debug]);
  assert.deepEqual(withDebug.rows.map(r => r.task), ['prep', 'report']);
});

test('columns, the schedule line and a backfill plan in words', () => {
  assert.equal(columnLabel('2026-11-01T02:00:00+01:00', false), '02:00');
  assert.equal(columnLabel('2026-11-01T02:00:00+01:00', true), '11-01 02:00');
  assert.equal(spansDays(buildGrid([detail('2026-11-01T02:00:00+00:00', 'Finished', [])]).columns), false);
  assert.match(scheduleLine(null), /No schedule/);
  const s = { flow: 'etl', cron: '0 2 * * *', tz: 'Europe/Berlin', enabled: true, next_tick: '2026-11-02T02:00:00+01:00', catchup: true, depends_on_past: false, max_active_runs: 1 };
  assert.equal(scheduleLine(s), '"0 2 * * *" in Europe/Berlin, next tick 2026-11-02T02:00:00+01:00 (catch-up)');
  assert.equal(scheduleLine({ ...s, enabled: false, catchup: false }), '"0 2 * * *" in Europe/Berlin, paused');
  assert.equal(backfillSummary([{ action: 'create' }, { action: 'create' }, { action: 'skip: exists (Finished)' }]), '2 runs to create, 1 tick skipped');
  assert.match(backfillSummary([]), /No tick/);
});

test("the schedule form's PUT body: every field typed, counts as numbers, empty counts left as they are", () => {
  const fields = { cron: ' 0 2 * * * ', tz: 'Europe/Berlin', catchup: true, depends_on_past: false, max_active_runs: '3', expired_limit: '0', enabled: false };
  assert.deepEqual(scheduleBody(fields), {
    body: { cron: '0 2 * * *', tz: 'Europe/Berlin', catchup: true, depends_on_past: false, max_active_runs: 3, expired_limit: 0, enabled: false }
  });
  assert.deepEqual(scheduleBody({ ...fields, tz: ' ', max_active_runs: '', expired_limit: '' }), {
    body: { cron: '0 2 * * *', catchup: true, depends_on_past: false, enabled: false }
  });
});

test('the schedule form refuses what the server would, in one line, before asking', () => {
  const fields = { cron: '0 2 * * *', tz: '', catchup: false, depends_on_past: false, max_active_runs: '1', expired_limit: '', enabled: true };
  assert.match((scheduleBody({ ...fields, cron: '  ' }) as { error: string }).error, /cron expression/);
  assert.match((scheduleBody({ ...fields, max_active_runs: '0' }) as { error: string }).error, /max_active_runs must be a whole number >= 1/);
  assert.match((scheduleBody({ ...fields, expired_limit: '-1' }) as { error: string }).error, /expired_limit must be a whole number >= 0/);
  assert.match((scheduleBody({ ...fields, max_active_runs: '2.5' }) as { error: string }).error, /not "2.5"/);
});

test("the schedule's next ticks: listed, an ended schedule says so, an older server shows none", () => {
  const s = { flow: 'etl', cron: '0 2 * * *', tz: 'UTC', enabled: true, next_tick: null, catchup: false, depends_on_past: false, max_active_runs: 1 };
  assert.deepEqual(nextTicksText({ ...s, next_ticks: ['2026-10-24T02:00:00+02:00'] }), ['2026-10-24T02:00:00+02:00']);
  assert.match(nextTicksText({ ...s, next_ticks: [] })[0], /ended/);
  assert.deepEqual(nextTicksText(s), []);
  assert.deepEqual(nextTicksText(null), []);
});
