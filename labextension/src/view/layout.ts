/**
 * A layered (Sugiyama-style) layout of the dependency graph, top to bottom, written for speed:
 * a thousand jobs lay out in a few milliseconds.
 *
 * 1. Layers: longest path from the roots; a root is then pulled down next to its first child.
 * 2. Long edges get a dummy point in every layer they cross, so they bend around nodes.
 * 3. Order within a layer: barycentre sweeps, down and up (fewer crossings).
 * 4. Wide layers wrap into several rows, so a 1,000-job queue stays a readable block, not a strip.
 * 5. x: each row placed as near as possible to its neighbours' mean, keeping the gaps (an exact
 *    isotonic regression per row, the pool-adjacent-violators algorithm), down, up and down.
 * 6. Each connected part of the graph is laid out on its own, and the parts are packed in
 *    shelves, oldest first (a queue of many small pipelines reads like a page, not a hairball);
 *    jobs with no edge at all go in a block of rows below, by id.
 *
 * Pure: no DOM. Coordinates are of node centres (x) and tops (y).
 */
import { DepEdge } from './deps';

export const NODE_W = 156;
export const NODE_H = 40;
const DUMMY_W = 10;
const H_GAP = 22;
const LAYER_GAP = 52;
const WRAP_GAP = 16;
const BLOCK_GAP = 40;
const MARGIN = 16;
/** how far above a child its OR-group's edges meet */
export const JUNCTION_RISE = 16;

export interface LayoutInput {
  ids: number[];
  parents: (id: number) => DepEdge[];
  /** width / height of the space the graph is shown in (decides where wide layers wrap) */
  aspect?: number;
  /** most nodes in one row; default from the node count and the aspect */
  maxRow?: number;
}

export interface NodePos {
  id: number;
  x: number;
  y: number;
  layer: number;
}

export interface EdgeRoute {
  parent: number;
  child: number;
  edge: DepEdge;
  /** from the parent's bottom centre to the child's top centre (or to its OR junction) */
  points: [number, number][];
}

export interface Junction {
  child: number;
  x: number;
  y: number;
}

export interface Layout {
  nodes: Map<number, NodePos>;
  edges: EdgeRoute[];
  junctions: Junction[];
  width: number;
  height: number;
  layers: number;
}

interface Item {
  id: number; // job id, or -1 for a dummy
  layer: number;
  w: number;
  up: number[]; // item indices in the layer above
  down: number[]; // item indices in the layer below
  order: number;
  x: number;
  y: number;
}

function layoutOne(input: LayoutInput): Layout {
  const ids = input.ids;
  const index = new Map<number, number>();
  ids.forEach((id, i) => index.set(id, i));
  const n = ids.length;

  // -- edges among the shown jobs -------------------------------------------------------
  const parentsOf: number[][] = Array.from({ length: n }, () => []);
  const childrenOf: number[][] = Array.from({ length: n }, () => []);
  const edgeList: { p: number; c: number; edge: DepEdge }[] = [];
  for (let c = 0; c < n; c++) {
    for (const edge of input.parents(ids[c])) {
      const p = index.get(edge.parent);
      if (p === undefined || p === c) {
        continue;
      }
      edgeList.push({ p, c, edge });
      if (!parentsOf[c].includes(p)) {
        parentsOf[c].push(p);
        childrenOf[p].push(c);
      }
    }
  }

  // -- 1. layers ------------------------------------------------------------------------
  const layer = new Array<number>(n).fill(0);
  const indeg = parentsOf.map(ps => ps.length);
  const topo: number[] = [];
  for (let i = 0; i < n; i++) {
    if (indeg[i] === 0) {
      topo.push(i);
    }
  }
  for (let k = 0; k < topo.length; k++) {
    const v = topo[k];
    for (const c of childrenOf[v]) {
      layer[c] = Math.max(layer[c], layer[v] + 1);
      if (--indeg[c] === 0) {
        topo.push(c);
      }
    }
  }
  if (topo.length < n) {
    // a cycle (the engine refuses them; be safe): put the rest below what was placed
    const placed = new Set(topo);
    const deepest = topo.reduce((m, v) => Math.max(m, layer[v]), 0);
    for (let i = 0; i < n; i++) {
      if (!placed.has(i)) {
        layer[i] = deepest + 1;
        topo.push(i);
      }
    }
  }
  // pull roots down next to their nearest child (shorter edges, fewer dummies)
  for (let i = 0; i < n; i++) {
    if (parentsOf[i].length === 0 && childrenOf[i].length) {
      layer[i] = Math.max(0, Math.min(...childrenOf[i].map(c => layer[c])) - 1);
    }
  }
  const connected: number[] = [];
  const loose: number[] = [];
  for (let i = 0; i < n; i++) {
    (parentsOf[i].length || childrenOf[i].length ? connected : loose).push(i);
  }
  const layerCount = connected.length ? Math.max(...connected.map(i => layer[i])) + 1 : 0;

  // -- 2. items and dummies ---------------------------------------------------------------
  const items: Item[] = [];
  const itemOf = new Array<number>(n).fill(-1);
  for (const i of connected) {
    itemOf[i] = items.length;
    items.push({ id: ids[i], layer: layer[i], w: NODE_W, up: [], down: [], order: 0, x: 0, y: 0 });
  }
  const dummyBudget = 4 * n + 2000;
  const chains: number[][] = []; // per edgeList entry: item indices from parent to child
  const linked = new Set<string>();
  for (const { p, c } of edgeList) {
    const chain = [itemOf[p]];
    const span = layer[c] - layer[p];
    if (span > 1 && items.length - connected.length + span - 1 <= dummyBudget) {
      for (let l = layer[p] + 1; l < layer[c]; l++) {
        chain.push(items.length);
        items.push({ id: -1, layer: l, w: DUMMY_W, up: [], down: [], order: 0, x: 0, y: 0 });
      }
    }
    chain.push(itemOf[c]);
    chains.push(chain);
    for (let k = 0; k + 1 < chain.length; k++) {
      const a = chain[k];
      const b = chain[k + 1];
      const pair = `${a}>${b}`;
      if (items[a].layer < items[b].layer && !linked.has(pair)) {
        linked.add(pair);
        items[a].down.push(b);
        items[b].up.push(a);
      }
    }
  }

  // -- 3. order within layers -------------------------------------------------------------
  const layers: number[][] = Array.from({ length: layerCount }, () => []);
  for (let k = 0; k < items.length; k++) {
    layers[items[k].layer].push(k);
  }
  // initial order: layer 0 by id; below, by the parents' order
  layers[0]?.sort((a, b) => items[a].id - items[b].id);
  layers[0]?.forEach((k, o) => (items[k].order = o));
  for (let l = 1; l < layerCount; l++) {
    sortBy(layers[l], items, 'up');
  }
  for (let sweep = 0; sweep < 4; sweep++) {
    for (let l = layerCount - 2; l >= 0; l--) {
      sortBy(layers[l], items, 'down');
    }
    for (let l = 1; l < layerCount; l++) {
      sortBy(layers[l], items, 'up');
    }
  }

  // -- 4. rows: wide layers wrap ------------------------------------------------------------
  const aspect = input.aspect && isFinite(input.aspect) && input.aspect > 0 ? input.aspect : 1.6;
  const maxRow =
    input.maxRow !== undefined
      ? Math.max(1, input.maxRow)
      : Math.max(4, Math.round(Math.sqrt((n * (NODE_H + WRAP_GAP) * aspect) / (NODE_W + H_GAP)) * 1.15));
  const rows: number[][] = [];
  let y = MARGIN;
  for (let l = 0; l < layerCount; l++) {
    const real = layers[l].filter(k => items[k].id >= 0);
    const dummies = layers[l].filter(k => items[k].id < 0);
    if (real.length <= maxRow) {
      rows.push(layers[l]);
      layers[l].forEach(k => (items[k].y = y));
      y += NODE_H + LAYER_GAP;
      continue;
    }
    // chunks of the layer's real nodes in order, those that lead further down in the last chunk
    // (their edges down then cross no row of their own layer); its long edges pass by that chunk
    const leaves = real.filter(k => !items[k].down.length);
    const onward = real.filter(k => items[k].down.length);
    const ordered = [...leaves, ...onward];
    const firstChunk = ordered.length % maxRow || maxRow; // the short chunk goes first
    for (let start = 0; start < ordered.length; ) {
      const size = start === 0 ? firstChunk : maxRow;
      const row = ordered.slice(start, start + size).sort((a, b) => items[a].order - items[b].order);
      start += size;
      const last = start >= ordered.length;
      const withDummies = last ? [...row, ...dummies] : row;
      if (last) {
        withDummies.sort((a, b) => items[a].order - items[b].order);
      }
      rows.push(withDummies);
      withDummies.forEach(k => (items[k].y = y));
      y += NODE_H + (last ? LAYER_GAP : WRAP_GAP);
    }
  }

  // -- 5. x coordinates ---------------------------------------------------------------------
  for (const row of rows) {
    let x = 0;
    row.forEach((k, o) => {
      items[k].order = o;
      x += items[k].w / 2;
      items[k].x = x;
      x += items[k].w / 2 + H_GAP;
    });
  }
  const place = (dir: 'up' | 'down') => {
    const seq = dir === 'up' ? rows : [...rows].reverse();
    for (const row of seq) {
      const desired = row.map(k => {
        const ns = items[k][dir];
        if (!ns.length) {
          return items[k].x;
        }
        let s = 0;
        for (const m of ns) {
          s += items[m].x;
        }
        return s / ns.length;
      });
      const weights = row.map(k => (items[k].id >= 0 ? 1 : 0.4));
      const xs = packIsotonic(
        desired,
        row.map(k => items[k].w),
        weights
      );
      row.forEach((k, o) => (items[k].x = xs[o]));
    }
  };
  place('up');
  place('down');
  place('up');

  // -- 6. the loose jobs ------------------------------------------------------------------------
  let minX = Infinity;
  let maxX = -Infinity;
  for (const it of items) {
    minX = Math.min(minX, it.x - it.w / 2);
    maxX = Math.max(maxX, it.x + it.w / 2);
  }
  if (!items.length) {
    minX = 0;
    maxX = 0;
  }
  const shift = MARGIN - minX;
  const nodes = new Map<number, NodePos>();
  for (const it of items) {
    it.x += shift;
    if (it.id >= 0) {
      nodes.set(it.id, { id: it.id, x: it.x, y: it.y, layer: it.layer });
    }
  }
  let width = items.length ? maxX - minX + 2 * MARGIN : 0;
  let height = rows.length ? y - LAYER_GAP + MARGIN : 0;
  if (loose.length) {
    let ly = rows.length ? height + BLOCK_GAP - MARGIN : MARGIN;
    const perRow = Math.max(
      maxRow,
      Math.min(loose.length, Math.floor((width - 2 * MARGIN + H_GAP) / (NODE_W + H_GAP)))
    );
    loose.sort((a, b) => ids[a] - ids[b]);
    for (let k = 0; k < loose.length; k++) {
      const col = k % perRow;
      if (k && col === 0) {
        ly += NODE_H + WRAP_GAP;
      }
      const x = MARGIN + NODE_W / 2 + col * (NODE_W + H_GAP);
      nodes.set(ids[loose[k]], { id: ids[loose[k]], x, y: ly, layer: -1 });
      width = Math.max(width, x + NODE_W / 2 + MARGIN);
    }
    height = ly + NODE_H + MARGIN;
  }

  // -- edge routes and OR junctions -------------------------------------------------------------
  const edges: EdgeRoute[] = [];
  const junctions = new Map<number, Junction>();
  edgeList.forEach(({ p, c, edge }, e) => {
    const chain = chains[e];
    const a = items[chain[0]];
    const b = items[chain[chain.length - 1]];
    const points: [number, number][] = [[a.x, a.y + NODE_H]];
    for (let k = 1; k + 1 < chain.length; k++) {
      const d = items[chain[k]];
      points.push([d.x, d.y]);
      points.push([d.x, d.y + NODE_H]);
    }
    if (edge.or) {
      let j = junctions.get(ids[c]);
      if (!j) {
        j = { child: ids[c], x: b.x, y: b.y - JUNCTION_RISE };
        junctions.set(ids[c], j);
      }
      points.push([j.x, j.y]);
    } else {
      points.push([b.x, b.y]);
    }
    edges.push({ parent: ids[p], child: ids[c], edge, points });
  });
  return { nodes, edges, junctions: [...junctions.values()], width, height, layers: layerCount };
}

/** Order a layer by the mean order of each item's neighbours above (`up`) or below (`down`). */
function sortBy(layerItems: number[], items: Item[], dir: 'up' | 'down'): void {
  const key = new Map<number, number>();
  for (const k of layerItems) {
    const ns = items[k][dir];
    if (ns.length) {
      let s = 0;
      for (const m of ns) {
        s += items[m].order;
      }
      key.set(k, s / ns.length);
    } else {
      key.set(k, items[k].order); // no neighbour that way: stay where it is
    }
  }
  layerItems.sort((a, b) => key.get(a)! - key.get(b)! || items[a].order - items[b].order || items[a].id - items[b].id);
  layerItems.forEach((k, o) => (items[k].order = o));
}

/**
 * Positions as near as possible (least squares, weighted) to `desired`, in the given order, with
 * at least `(w[i] + w[i+1]) / 2 + H_GAP` between neighbours: isotonic regression of
 * `desired[i] - offset[i]` by pool-adjacent-violators, then the offsets added back.
 */
export function packIsotonic(desired: number[], widths: number[], weights: number[]): number[] {
  const n = desired.length;
  const offset = new Array<number>(n).fill(0);
  for (let i = 1; i < n; i++) {
    offset[i] = offset[i - 1] + (widths[i - 1] + widths[i]) / 2 + H_GAP;
  }
  // blocks of (mean, weight, count)
  const mean: number[] = [];
  const weight: number[] = [];
  const count: number[] = [];
  for (let i = 0; i < n; i++) {
    let m = desired[i] - offset[i];
    let w = weights[i];
    let c = 1;
    while (mean.length && mean[mean.length - 1] > m) {
      const pm = mean.pop()!;
      const pw = weight.pop()!;
      const pc = count.pop()!;
      m = (pm * pw + m * w) / (pw + w);
      w += pw;
      c += pc;
    }
    mean.push(m);
    weight.push(w);
    count.push(c);
  }
  const out = new Array<number>(n);
  let i = 0;
  for (let b = 0; b < mean.length; b++) {
    for (let k = 0; k < count[b]; k++, i++) {
      out[i] = mean[b] + offset[i];
    }
  }
  return out;
}

const PACK_GAP = 36;

/**
 * Lay out the graph: every connected part on its own (`layoutOne`), packed left to right in
 * shelves about as wide as the space is, oldest part first; lone jobs in rows below.
 */
export function layout(input: LayoutInput): Layout {
  const ids = input.ids;
  const shown = new Set(ids);
  const parentsIn = (id: number) => input.parents(id).filter(e => shown.has(e.parent) && e.parent !== id);
  // connected parts (union-find)
  const up = new Map<number, number>();
  const find = (x: number): number => {
    let r = x;
    while (up.get(r) !== r) {
      r = up.get(r)!;
    }
    let y = x;
    while (up.get(y) !== r) {
      const nxt = up.get(y)!;
      up.set(y, r);
      y = nxt;
    }
    return r;
  };
  for (const id of ids) {
    up.set(id, id);
  }
  const linked = new Set<number>();
  for (const id of ids) {
    for (const e of parentsIn(id)) {
      linked.add(id);
      linked.add(e.parent);
      const a = find(id);
      const b = find(e.parent);
      if (a !== b) {
        up.set(Math.max(a, b), Math.min(a, b));
      }
    }
  }
  const parts = new Map<number, number[]>();
  const loose: number[] = [];
  for (const id of [...ids].sort((a, b) => a - b)) {
    if (!linked.has(id)) {
      loose.push(id);
      continue;
    }
    const r = find(id);
    const list = parts.get(r) ?? [];
    list.push(id);
    parts.set(r, list);
  }
  const n = ids.length;
  const aspect = input.aspect && isFinite(input.aspect) && input.aspect > 0 ? input.aspect : 1.6;
  const maxRow = input.maxRow ?? Math.max(4, Math.round(Math.sqrt((n * (NODE_H + WRAP_GAP) * aspect) / (NODE_W + H_GAP)) * 1.15));
  // a part wraps its wide layers by its own size (a 20-arm sweep in rows of six, not one long row)
  const laid = [...parts.values()].map(partIds =>
    layoutOne({
      ids: partIds,
      parents: parentsIn,
      aspect,
      maxRow: input.maxRow ?? Math.min(maxRow, Math.max(6, Math.round(Math.sqrt((partIds.length * (NODE_H + WRAP_GAP) * aspect) / (NODE_W + H_GAP)) * 1.4)))
    })
  );
  if (laid.length === 1 && !loose.length) {
    return laid[0];
  }
  // shelves about as wide as the space's aspect asks for
  let area = loose.length * (NODE_W + H_GAP) * (NODE_H + WRAP_GAP);
  let widest = 0;
  for (const l of laid) {
    area += (l.width + PACK_GAP) * (l.height + PACK_GAP);
    widest = Math.max(widest, l.width);
  }
  const shelfWidth = Math.max(widest, NODE_W + 2 * MARGIN, Math.sqrt(area * aspect) * 1.25);
  const out: Layout = { nodes: new Map(), edges: [], junctions: [], width: 0, height: 0, layers: 0 };
  let x = 0;
  let y = 0;
  let shelfHeight = 0;
  for (const l of laid) {
    if (x > 0 && x + l.width > shelfWidth) {
      x = 0;
      y += shelfHeight + PACK_GAP - 2 * MARGIN;
      shelfHeight = 0;
    }
    const dx = x;
    const dy = y;
    for (const [id, p] of l.nodes) {
      out.nodes.set(id, { ...p, x: p.x + dx, y: p.y + dy });
    }
    for (const e of l.edges) {
      out.edges.push({ ...e, points: e.points.map(([px, py]) => [px + dx, py + dy] as [number, number]) });
    }
    for (const j of l.junctions) {
      out.junctions.push({ ...j, x: j.x + dx, y: j.y + dy });
    }
    out.width = Math.max(out.width, dx + l.width);
    out.layers = Math.max(out.layers, l.layers);
    shelfHeight = Math.max(shelfHeight, l.height);
    x += l.width + PACK_GAP - 2 * MARGIN;
  }
  let ly = laid.length ? y + shelfHeight + BLOCK_GAP - 2 * MARGIN + MARGIN : MARGIN;
  out.height = laid.length ? y + shelfHeight : 0;
  if (loose.length) {
    const perRow = Math.max(1, Math.floor((Math.max(shelfWidth, out.width) - 2 * MARGIN + H_GAP) / (NODE_W + H_GAP)));
    for (let k = 0; k < loose.length; k++) {
      const col = k % perRow;
      if (k && col === 0) {
        ly += NODE_H + WRAP_GAP;
      }
      const nx = MARGIN + NODE_W / 2 + col * (NODE_W + H_GAP);
      out.nodes.set(loose[k], { id: loose[k], x: nx, y: ly, layer: -1 });
      out.width = Math.max(out.width, nx + NODE_W / 2 + MARGIN);
    }
    out.height = ly + NODE_H + MARGIN;
  }
  return out;
}
