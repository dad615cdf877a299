/**
 * Unit tests of the pure parts of the view (no DOM): the dependency string, the layout, the
 * job store. Run: `jlpm test` (esbuild bundles this file for node, then `node --test`).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { conditionStatus, dependencyOf } from '../src/view/deps';
import { layout, NODE_H, NODE_W, packIsotonic, placeNew } from '../src/view/layout';
import { addDummies, assignLayers, edgesAmong } from '../src/view/layers';
import { orderLayers } from '../src/view/order';
import { placeX, wrapRows } from '../src/view/coords';
import { executorText, gpuText, reasonText } from '../src/view/dom';
import { JobStore } from '../src/view/store';
import type { Job } from '../src/view/types';

test("the server's structured edges: AND-ed groups, OR-groups, delays, singleton", () => {
  const and = dependencyOf({
    edges: [
      { parent: 1, type: 'afterok', delay: null, group: 0 },
      { parent: 2, type: 'afterok', delay: null, group: 1 },
      { parent: 3, type: 'afterany', delay: 5400, group: 2 }
    ],
    singleton: true
  });
  assert.deepEqual(and, {
    op: 'and',
    singleton: true,
    edges: [
      { parent: 1, type: 'afterok', delay: 0, or: false },
      { parent: 2, type: 'afterok', delay: 0, or: false },
      { parent: 3, type: 'afterany', delay: 5400, or: false }
    ]
  });
  const or = dependencyOf({
    edges: [
      { parent: 1, type: 'afterok', delay: null, group: 0 },
      { parent: 2, type: 'afternotok', delay: 60, group: 0 }
    ]
  });
  assert.equal(or.op, 'or');
  assert.deepEqual(
    or.edges.map(e => [e.parent, e.type, e.delay, e.or]),
    [
      [1, 'afterok', 0, true],
      [2, 'afternotok', 60, true]
    ]
  );
  // a job from an older server (no edges) or with no dependency: nothing to draw
  assert.deepEqual(dependencyOf({}).edges, []);
  assert.deepEqual(dependencyOf({ edges: [], singleton: false }).edges, []);
});

test('the store reads edges from the structured field, not from the text', () => {
  const s = store([job(1), job(2), { ...job(3), dependency: 'shown as is', edges: [{ parent: 2, type: 'afterany', delay: null, group: 0 }] }]);
  assert.deepEqual(s.parents.get(3), [{ parent: 2, type: 'afterany', delay: 0, or: false }]);
  assert.deepEqual([...s.children.get(2)!], [3]);
});

test('where a condition stands', () => {
  assert.equal(conditionStatus('afterok', 'CD'), 'met');
  assert.equal(conditionStatus('afterok', 'F'), 'never');
  assert.equal(conditionStatus('afternotok', 'F'), 'met');
  assert.equal(conditionStatus('afternotok', 'CD'), 'never');
  assert.equal(conditionStatus('afterany', 'CA'), 'met');
  assert.equal(conditionStatus('after', 'R'), 'met');
  assert.equal(conditionStatus('afterok', 'R'), 'wait');
});

/**
 * A job as wire.py sends it; `dependency` in the canonical form of the few shapes used here
 * (`afterok:1:2`, `afterok:1?afterok:2`), its edges written out as the server builds them.
 */
function job(id: number, dependency: string | null = null, code = 'PD'): Job {
  const or = !!dependency?.includes('?');
  const edges = (dependency ? dependency.split(or ? '?' : ',') : []).flatMap(clause => {
    const [type, ...parents] = clause.split(':');
    return parents.map(p => ({ parent: Number(p), type, delay: null, group: 0 }));
  });
  edges.forEach((e, i) => (e.group = or ? 0 : i));
  return { id, name: `j${id}`, state: 'Queued', code, reason: null, reason_kind: null, dependency, edges };
}

function store(jobs: Job[]): JobStore {
  const s = new JobStore(fn => fn());
  s.applySnapshot({ type: 'snapshot', seq: 1, jobs });
  return s;
}

function overlaps(lay: ReturnType<typeof layout>): number[][] {
  const out: number[][] = [];
  const nodes = [...lay.nodes.values()];
  for (let i = 0; i < nodes.length; i++) {
    for (let k = i + 1; k < nodes.length; k++) {
      const a = nodes[i];
      const b = nodes[k];
      if (Math.abs(a.x - b.x) < NODE_W && Math.abs(a.y - b.y) < NODE_H) {
        out.push([a.id, b.id]);
      }
    }
  }
  return out;
}

test('a chain is laid out top to bottom, parents above children, no overlap', () => {
  const s = store([job(1), job(2, 'afterok:1'), job(3, 'afterok:2'), job(4, 'afterany:1:3')]);
  const lay = layout({ ids: [1, 2, 3, 4], parents: id => s.parents.get(id) ?? [] });
  const y = (id: number) => lay.nodes.get(id)!.y;
  assert.ok(y(1) < y(2) && y(2) < y(3) && y(3) < y(4));
  assert.deepEqual(overlaps(lay), []);
  assert.equal(lay.edges.length, 4);
  // the long edge 1 -> 4 bends through points in the layers it crosses
  const long = lay.edges.find(e => e.parent === 1 && e.child === 4)!;
  assert.ok(long.points.length > 2);
});

test('OR-groups meet in one junction above the job', () => {
  const s = store([job(1), job(2), job(3, 'afterok:1?afterok:2')]);
  const lay = layout({ ids: [1, 2, 3], parents: id => s.parents.get(id) ?? [] });
  assert.equal(lay.junctions.length, 1);
  const j = lay.junctions[0];
  for (const e of lay.edges) {
    assert.deepEqual(e.points[e.points.length - 1], [j.x, j.y]);
  }
});

test('a thousand jobs: no overlap, every edge routed, quickly', () => {
  const jobs: Job[] = [];
  for (let i = 1; i <= 1000; i++) {
    const deps = i > 10 && i % 7 ? `afterok:${i - 1 - (i % 5)}` : null;
    jobs.push(job(i, deps));
  }
  const s = store(jobs);
  const t0 = performance.now();
  const lay = layout({ ids: jobs.map(j => j.id), parents: id => s.parents.get(id) ?? [] });
  const ms = performance.now() - t0;
  assert.equal(lay.nodes.size, 1000);
  assert.deepEqual(overlaps(lay), []);
  assert.equal(lay.edges.length, jobs.filter(j => j.dependency).length);
  assert.ok(ms < 400, `layout took ${ms} ms`);
});

test('layering: longest path from the roots, a root pulled down next to its child, dummies on long edges', () => {
  // 1 -> 2 -> 3 -> 4, 1 -> 4 (long), 5 -> 4 (a root whose only child is deep), 6 alone
  const s = store([job(1), job(2, 'afterok:1'), job(3, 'afterok:2'), job(4, 'afterok:1:3:5'), job(5), job(6)]);
  const g = edgesAmong({ ids: [1, 2, 3, 4, 5, 6], parents: id => s.parents.get(id) ?? [] });
  assert.equal(g.edgeList.length, 5);
  const layer = assignLayers(g);
  assert.deepEqual(layer, [0, 1, 2, 3, 2, 0]);
  const d = addDummies(g, layer);
  assert.deepEqual(d.loose.map(i => g.ids[i]), [6]);
  assert.equal(d.layerCount, 4);
  // the edge 1 -> 4 crosses layers 1 and 2: two dummy points, chained from parent to child
  const chain = d.chains[g.edgeList.findIndex(e => g.ids[e.p] === 1 && g.ids[e.c] === 4)];
  assert.deepEqual(chain.map(k => d.items[k].layer), [0, 1, 2, 3]);
  assert.deepEqual(chain.slice(1, -1).map(k => d.items[k].id), [-1, -1]);
});

test('ordering puts children under their parents, so two chains do not cross', () => {
  // two chains 1 -> 3 and 2 -> 4, listed crosswise: the sweeps uncross them
  const s = store([job(1), job(2), job(3, 'afterok:2'), job(4, 'afterok:1')]);
  const g = edgesAmong({ ids: [1, 2, 3, 4], parents: id => s.parents.get(id) ?? [] });
  const d = addDummies(g, assignLayers(g));
  const layers = orderLayers(d.items, d.layerCount);
  const order = (id: number) => d.items[layers.flat().find(k => d.items[k].id === id)!].order;
  assert.equal(order(1) < order(2), order(4) < order(3));
});

test('coordinates: a wide layer wraps into rows, and no two nodes of a row overlap', () => {
  const jobs = [job(1), ...Array.from({ length: 9 }, (_, i) => job(i + 2, 'afterok:1'))];
  const s = store(jobs);
  const g = edgesAmong({ ids: jobs.map(j => j.id), parents: id => s.parents.get(id) ?? [] });
  const d = addDummies(g, assignLayers(g));
  const layers = orderLayers(d.items, d.layerCount);
  const { rows } = wrapRows(d.items, layers, 4);
  assert.deepEqual(rows.map(r => r.length), [1, 1, 4, 4]); // 9 children in rows of 4, the short one first
  placeX(d.items, rows);
  for (const row of rows) {
    const xs = row.map(k => d.items[k].x);
    xs.slice(1).forEach((x, i) => assert.ok(x - xs[i] >= NODE_W + 22 - 1e-9));
    assert.ok(row.every(k => d.items[k].y === d.items[row[0]].y));
  }
});

test('a new job is put under its parents, on a free spot, and the layout grows to hold it', () => {
  const s = store([job(1), job(2, 'afterok:1')]);
  const lay = layout({ ids: [1, 2], parents: id => s.parents.get(id) ?? [] });
  const height = lay.height;
  const p = placeNew(lay, 3, [1]);
  assert.ok(p.y > lay.nodes.get(1)!.y);
  assert.deepEqual(overlaps(lay), []);
  assert.deepEqual(lay.nodes.get(3), { id: 3, x: p.x, y: p.y, layer: -1 });
  const lone = placeNew(lay, 4, []);
  assert.ok(lone.y >= height && lay.height >= lone.y + NODE_H);
});

test('isotonic packing keeps order and gaps, as close as possible', () => {
  const xs = packIsotonic([100, 100, 100], [156, 156, 156], [1, 1, 1]);
  assert.ok(xs[1] - xs[0] >= 178 - 1e-9 && xs[2] - xs[1] >= 178 - 1e-9);
  assert.ok(Math.abs(xs[1] - 100) < 1e-9); // centred on the wish
});

test('the store: events by seq, edges both ways, replays ignored, related jobs', () => {
  const s = store([job(1), job(2, 'afterok:1')]);
  const changes: number[][] = [];
  s.subscribe(c => changes.push([...c.ids]));
  assert.equal(s.applyEvent({ type: 'event', seq: 2, kind: 'submitted', job_id: 3, job: job(3, 'afterany:2') }), true);
  assert.equal(s.applyEvent({ type: 'event', seq: 2, kind: 'job', job_id: 3, job: job(3, null, 'R') }), false);
  assert.deepEqual([...s.children.get(2)!], [3]);
  assert.deepEqual([...s.related([2])].sort(), [1, 2, 3]);
  assert.deepEqual(changes, [[3]]);
});

test('the store: a purged job leaves, with its edges', () => {
  const s = store([job(1), job(2, 'afterok:1'), job(3)]);
  const changes: number[][] = [];
  s.subscribe(c => changes.push([...c.ids].sort()));
  assert.equal(s.applyEvent({ type: 'event', seq: 2, kind: 'purged', job_id: null, job: null, ids: [2, 9] }), true);
  s.flush();
  assert.deepEqual(s.all().map(j => j.id), [1, 3]);
  assert.equal(s.children.get(1)?.size ?? 0, 0);
  assert.deepEqual(changes, [[2]]);
});

test('reasons read as words, for every reason kind the server sends', () => {
  const job = (kind: string, args: Record<string, unknown>, reason: string, code = 'F'): Job =>
    ({ id: 5, name: 'fit', state: 'Failed', code, reason, reason_kind: kind, reason_args: args, dependency: null }) as Job;
  assert.equal(reasonText(job('ExitCode', { code: 1 }, 'ExitCode:1')), 'exit code 1');
  assert.equal(reasonText(job('DependencyFailed', { job: 2, condition: 'afterok:2' }, 'DependencyFailed:2', 'CA')), 'cancelled: job 2 failed');
  // where the view knows how the parent ended, it says so
  assert.equal(
    reasonText(job('DependencyFailed', { job: 2, condition: 'afterok:2' }, 'DependencyFailed:2', 'CA'), () => 'TO'),
    'cancelled: job 2 timed out'
  );
  assert.equal(reasonText(job('DependencyNeverSatisfied', { job: 3, condition: 'afternotok:3' }, 'x', 'PD')), 'can never start: job 3 finished');
  assert.equal(reasonText(job('Signal', { signal: 'SIGKILL' }, 'Signal:SIGKILL')), 'killed by SIGKILL');
  assert.equal(reasonText(job('SpawnError', { message: 'no such file' }, 'SpawnError:no such file')), 'could not start: no such file');
  assert.equal(reasonText(job('Lost', {}, 'Lost')), 'lost: its process was gone after a server restart');
  assert.equal(reasonText(job('TimeLimit', { limit: 90 }, 'TimeLimit:00:01:30', 'TO')), 'time limit reached (1:30)');
  assert.equal(reasonText(job('OutputNotSaved', {}, 'OutputNotSaved:gen (generator)')), 'output gen (generator) could not be saved');
  assert.equal(reasonText(job('RetryBackoff', { attempt: 2, of: 3 }, 'Retry 2/3', 'PD')), 'retry 2 of 3');
  assert.equal(reasonText(job('Resources', { resource: 'GPU' }, 'Resources(GPU)', 'PD')), 'waiting for a free GPU');
  assert.equal(reasonText(job('GroupLimit', { group: 'g', limit: 2 }, 'GroupLimit:g=2', 'PD')), 'waiting: group g runs 2 at a time');
  assert.equal(reasonText(job('CancelledByUser', { user: 'ann' }, 'Cancelled', 'CA')), 'cancelled by ann');
  assert.equal(reasonText(job('SomethingNew', {}, 'SomethingNew:7')), 'SomethingNew:7'); // unknown: as sent
  for (const kind of ['Dependency', 'DependencyReadyAfter', 'GroupPaused', 'Singleton', 'JobHeldUser']) {
    assert.notEqual(reasonText(job(kind, { at: 0, group: 'g', name: 'n' }, kind, 'PD')), kind);
  }
});

test('a finished job still says which GPU it used', () => {
  const j = { id: 1, name: 'x', state: 'Finished', code: 'CD', reason: null, reason_kind: null, dependency: null, allocated_gpus: [], used_gpus: [1], gpus: 1 } as Job;
  assert.equal(gpuText(j), 'used GPU 1');
  assert.equal(gpuText({ ...j, code: 'R', allocated_gpus: [1] }), 'GPU 1');
  assert.equal(gpuText({ ...j, used_gpus: [] }), '1 asked for');
});

test("a Slurm job's details say so, with Slurm's id once it has one; a local job's say nothing", () => {
  const j = { id: 1, name: 'x', state: 'Running', code: 'R', reason: null, reason_kind: null, dependency: null, executor: 'slurm', slurm_job_id: 812 } as Job;
  assert.equal(executorText(j), 'slurm · Slurm job 812');
  assert.equal(executorText({ ...j, slurm_job_id: null }), 'slurm');
  assert.equal(executorText({ ...j, executor: 'local', slurm_job_id: null }), '');
  assert.equal(executorText({ ...j, executor: undefined, slurm_job_id: undefined }), '');
});
