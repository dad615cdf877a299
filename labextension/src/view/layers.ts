/**
 * Phases 1 and 2 of the layered layout: the edges among the shown jobs, each job's layer (the
 * longest path from the roots; a root is then pulled down next to its first child), and the
 * items: one per connected job plus a dummy point in every layer a long edge crosses, so that it
 * bends around nodes. Jobs with no edge at all are `loose`.
 */
import { DepEdge } from './deps';
import { DUMMY_W, Item, LayoutInput, NODE_W } from './layouttypes';

/** The shown jobs by index, and the edges among them. */
export interface Graph {
  ids: number[];
  parentsOf: number[][];
  childrenOf: number[][];
  edgeList: { p: number; c: number; edge: DepEdge }[];
}

export function edgesAmong(input: LayoutInput): Graph {
  const ids = input.ids;
  const index = new Map<number, number>();
  ids.forEach((id, i) => index.set(id, i));
  const n = ids.length;

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
  return { ids, parentsOf, childrenOf, edgeList };
}

/** Each job's layer: longest path from the roots, roots pulled down next to their nearest child. */
export function assignLayers(g: Graph): number[] {
  const { parentsOf, childrenOf } = g;
  const n = g.ids.length;
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
  return layer;
}

/** The items of the connected jobs and of the dummies, and each edge's chain of items. */
export interface Layered {
  items: Item[];
  /** per edge of `edgeList`: item indices from parent to child */
  chains: number[][];
  connected: number[];
  loose: number[];
  layerCount: number;
}

export function addDummies(g: Graph, layer: number[]): Layered {
  const { ids, parentsOf, childrenOf, edgeList } = g;
  const n = ids.length;
  const connected: number[] = [];
  const loose: number[] = [];
  for (let i = 0; i < n; i++) {
    (parentsOf[i].length || childrenOf[i].length ? connected : loose).push(i);
  }
  const layerCount = connected.length ? Math.max(...connected.map(i => layer[i])) + 1 : 0;

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
  return { items, chains, connected, loose, layerCount };
}
