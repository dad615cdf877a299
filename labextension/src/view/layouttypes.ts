/**
 * The layered layout's sizes and shapes, shared by its phases (layers.ts, order.ts, coords.ts,
 * layered.ts) and its entry point (layout.ts). Pure: no DOM.
 */
import { DepEdge } from './deps';

export const NODE_W = 156;
export const NODE_H = 40;
export const DUMMY_W = 10;
export const H_GAP = 22;
export const LAYER_GAP = 52;
export const WRAP_GAP = 16;
export const BLOCK_GAP = 40;
export const MARGIN = 16;
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

/** a node of the layered graph: a job, or a dummy point of a long edge */
export interface Item {
  id: number; // job id, or -1 for a dummy
  layer: number;
  w: number;
  up: number[]; // item indices in the layer above
  down: number[]; // item indices in the layer below
  order: number;
  x: number;
  y: number;
}

/** The most nodes in one row of a layer: from the node count and the space's aspect. */
export function defaultMaxRow(n: number, aspect: number): number {
  return Math.max(4, Math.round(Math.sqrt((n * (NODE_H + WRAP_GAP) * aspect) / (NODE_W + H_GAP)) * 1.15));
}

/** The space's aspect (width / height), 1.6 when unknown. */
export function aspectOf(input: LayoutInput): number {
  return input.aspect && isFinite(input.aspect) && input.aspect > 0 ? input.aspect : 1.6;
}
