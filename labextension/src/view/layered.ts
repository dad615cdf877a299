/**
 * The layered (Sugiyama-style) layout of one connected part of the graph, top to bottom: the
 * phases in order (layers.ts, order.ts, coords.ts), then the loose jobs in rows below and the
 * edges' routes through their dummy points, with an OR junction above each OR-group's child.
 */
import { orderLayers } from './order';
import { addDummies, assignLayers, edgesAmong } from './layers';
import { placeX, wrapRows } from './coords';
import {
  aspectOf,
  BLOCK_GAP,
  defaultMaxRow,
  EdgeRoute,
  H_GAP,
  Junction,
  JUNCTION_RISE,
  LAYER_GAP,
  Layout,
  LayoutInput,
  MARGIN,
  NodePos,
  NODE_H,
  NODE_W,
  WRAP_GAP
} from './layouttypes';

export function layoutOne(input: LayoutInput): Layout {
  const g = edgesAmong(input);
  const { ids, edgeList } = g;
  const n = ids.length;
  const layer = assignLayers(g);
  const { items, chains, loose, layerCount } = addDummies(g, layer);
  const layers = orderLayers(items, layerCount);
  const maxRow = input.maxRow !== undefined ? Math.max(1, input.maxRow) : defaultMaxRow(n, aspectOf(input));
  const { rows, y } = wrapRows(items, layers, maxRow);
  placeX(items, rows);

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
