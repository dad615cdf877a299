/**
 * The job's canonical `dependency` string (depspec.py's `str(spec)`) read back into edges.
 *
 *   afterok:1:2,afterany:3          AND of three conditions
 *   afterok:1?afternotok:2          OR of two (an OR-group)
 *   singleton,afterok:4             singleton plus one condition
 *   afterok:100+01:30:00:7          a delay after 100, none after 7 ([D-]HH:MM:SS)
 */

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

// a target: an id, then an optional delay: canonical [D-]HH:MM:SS, or a unit form (10m, 1h30m)
const TARGET = /^(\d+)(?:\+((?:\d+-)?\d+:\d{2}:\d{2}|\d+(?:[smhdw]\d*)*[smhdw]?|\d+))?(?::|$)/i;

/** Seconds of a delay text: `01:30:00`, `1-02:00:00`, `10m`, `1h30m`, or bare minutes (`10`). */
export function parseDelay(text: string | undefined): number {
  if (!text) {
    return 0;
  }
  const clock = /^(?:(\d+)-)?(\d+):(\d{2}):(\d{2})$/.exec(text);
  if (clock) {
    const [, d, h, m, s] = clock;
    return (Number(d ?? 0) * 24 + Number(h)) * 3600 + Number(m) * 60 + Number(s);
  }
  if (/^\d+$/.test(text)) {
    return Number(text) * 60;
  }
  const units: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  let total = 0;
  for (const [, n, u] of text.matchAll(/(\d+)([smhdw])/gi)) {
    total += Number(n) * units[u.toLowerCase()];
  }
  return total;
}

function parseClause(clause: string, or: boolean, out: DepEdge[]): void {
  const colon = clause.indexOf(':');
  if (colon < 0) {
    return; // "singleton" or something we do not draw
  }
  const type = clause.slice(0, colon).trim().toLowerCase();
  let rest = clause.slice(colon + 1).trim();
  while (rest.length) {
    const m = TARGET.exec(rest);
    if (!m) {
      break; // not an id (an unresolved reference): nothing to draw
    }
    out.push({ parent: Number(m[1]), type, delay: parseDelay(m[2]), or });
    rest = rest.slice(m[0].length);
  }
}

const cache = new Map<string, ParsedDependency>();

/** Parse a canonical dependency string; unknown pieces are skipped, never thrown. Memoised. */
export function parseDependency(text: string | null | undefined): ParsedDependency {
  if (!text) {
    return EMPTY;
  }
  const hit = cache.get(text);
  if (hit) {
    return hit;
  }
  const or = text.includes('?');
  const edges: DepEdge[] = [];
  let singleton = false;
  for (const piece of text.split(or ? '?' : ',')) {
    const clause = piece.trim();
    if (clause === 'singleton') {
      singleton = true;
    } else if (clause) {
      parseClause(clause, or, edges);
    }
  }
  const parsed: ParsedDependency = {
    op: or && edges.length > 1 ? 'or' : 'and',
    singleton,
    edges: or && edges.length < 2 ? edges.map(e => ({ ...e, or: false })) : edges
  };
  if (cache.size > 20000) {
    cache.clear();
  }
  cache.set(text, parsed);
  return parsed;
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
