/**
 * A layered (Sugiyama-style) layout of the dependency graph, top to bottom, written for speed:
 * a thousand jobs lay out in a few milliseconds.
 *
 * 1. Layers: longest path from the roots; a root is then pulled down next to its first child.
 * 2. Long edges get a dummy point in every layer they cross, so they bend around nodes.
 *    (1 and 2: layers.ts)
 * 3. Order within a layer: barycentre sweeps, down and up (fewer crossings). (order.ts)
 * 4. Wide layers wrap into several rows, so a 1,000-job queue stays a readable block, not a strip.
 * 5. x: each row placed as near as possible to its neighbours' mean, keeping the gaps (an exact
 *    isotonic regression per row, the pool-adjacent-violators algorithm), down, up and down.
 *    (4 and 5: coords.ts; one part, phase by phase, with routes and junctions: layered.ts)
 * 6. Each connected part of the graph is laid out on its own, and the parts are packed in
 *    shelves, oldest first (a queue of many small pipelines reads like a page, not a hairball);
 *    jobs with no edge at all go in a block of rows below, by id. (here)
 *
 * Pure: no DOM. Coordinates are of node centres (x) and tops (y).
 */
import { layoutOne } from './layered';
import { aspectOf, BLOCK_GAP, defaultMaxRow, H_GAP, Layout, LayoutInput, MARGIN, NODE_H, NODE_W, WRAP_GAP } from './layouttypes';

export { packIsotonic } from './coords';
export { JUNCTION_RISE, NODE_H, NODE_W } from './layouttypes';
export type { EdgeRoute, Junction, Layout, LayoutInput, NodePos } from './layouttypes';

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
  const aspect = aspectOf(input);
  const maxRow = input.maxRow ?? defaultMaxRow(n, aspect);
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


/**
 * Where a new job goes in a graph laid out already, before the next full layout: under its
 * parents (the mean x, below the lowest one), or below everything when it has none, moved right
 * until it overlaps no node. The layout gains node `id` and grows to hold it.
 */
export function placeNew(lay: Layout, id: number, parents: number[]): { x: number; y: number } {
  const taken = (x: number, y: number) => {
    for (const p of lay.nodes.values()) {
      if (Math.abs(p.x - x) < NODE_W + 8 && Math.abs(p.y - y) < NODE_H + 8) {
        return true;
      }
    }
    return false;
  };
  let x: number;
  let y: number;
  if (parents.length) {
    x = parents.reduce((sum, p) => sum + lay.nodes.get(p)!.x, 0) / parents.length;
    y = Math.max(...parents.map(p => lay.nodes.get(p)!.y)) + NODE_H + 52;
  } else {
    x = 16 + NODE_W / 2;
    y = lay.height + 8;
  }
  while (taken(x, y)) {
    x += NODE_W + 22;
  }
  lay.nodes.set(id, { id, x, y, layer: -1 });
  lay.width = Math.max(lay.width, x + NODE_W / 2 + 16);
  lay.height = Math.max(lay.height, y + NODE_H + 16);
  return { x, y };
}
