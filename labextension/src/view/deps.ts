/**
 * A job's dependency as the server sends it: `edges` (one per parent, with its condition type,
 * delay and AND-group), built by `wire.py` from the parsed dependency, so the view never parses
 * the grammar; `dependency` stays the text shown to people.
 */
import type { Job } from './types';

export type DepType = 'after' | 'afterok' | 'afternotok' | 'afterany' | 'aftercorr' | string;

export interface DepEdge {
  parent: number;
  type: DepType;
  /** seconds after the satisfying event (0 when none) */
  delay: number;
  /** part of an OR-group: any one satisfied parent is enough */
  or: boolean;
}

export interface ParsedDependency {
  op: 'and' | 'or';
  singleton: boolean;
  edges: DepEdge[];
}

const EMPTY: ParsedDependency = { op: 'and', singleton: false, edges: [] };

/**
 * The view's reading of a job's structured `edges`: an edge is `or` when its group holds more
 * than one parent (the server's groups are AND-ed, the edges of one group OR-ed).
 */
export function dependencyOf(job: Pick<Job, 'edges' | 'singleton'>): ParsedDependency {
  const wire = job.edges ?? [];
  if (!wire.length && !job.singleton) {
    return EMPTY;
  }
  const size = new Map<number, number>();
  for (const e of wire) {
    size.set(e.group, (size.get(e.group) ?? 0) + 1);
  }
  const edges = wire.map(e => ({ parent: e.parent, type: e.type, delay: e.delay ?? 0, or: size.get(e.group)! > 1 }));
  return { op: edges.some(e => e.or) ? 'or' : 'and', singleton: !!job.singleton, edges };
}

const TERMINAL = new Set(['CD', 'F', 'CA', 'TO']);
const STARTED = new Set(['R', 'CD', 'F', 'CA', 'TO']);

/**
 * Where one condition stands given its parent's state code: `met` (the condition holds),
 * `never` (it cannot hold any more) or `wait`.
 */
export function conditionStatus(type: DepType, parentCode: string | undefined): 'met' | 'never' | 'wait' {
  if (parentCode === undefined) {
    return 'wait';
  }
  switch (type) {
    case 'afterok':
      return parentCode === 'CD' ? 'met' : TERMINAL.has(parentCode) ? 'never' : 'wait';
    case 'afternotok':
      return parentCode === 'CD' ? 'never' : TERMINAL.has(parentCode) ? 'met' : 'wait';
    case 'afterany':
    case 'aftercorr':
      return TERMINAL.has(parentCode) ? 'met' : 'wait';
    case 'after':
      return STARTED.has(parentCode) ? 'met' : 'wait';
    default:
      return 'wait';
  }
}

/** A short human text of a delay: `+10m`, `+1h30m`, `+2d`. */
export function formatDelay(seconds: number): string {
  if (!seconds) {
    return '';
  }
  const parts: string[] = [];
  let s = Math.round(seconds);
  for (const [unit, size] of [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
    ['s', 1]
  ] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  return '+' + parts.join('');
}
