/**
 * The drawn graph's elements by job, kept after each full drawing so that a state change
 * restyles one node, its edges and its OR junction in place (no new layout, no new SVG).
 */
import { conditionStatus } from './deps';
import { nodeClass, secondLine } from './graphsvg';
import { Layout } from './layout';
import { JobStore } from './store';

export interface NodeEls {
  g: SVGGElement;
  /** null while the labels are left out (a big graph seen from far) */
  t2: SVGTextElement | null;
}

export interface EdgeEls {
  path: SVGPathElement;
  parent: number;
  child: number;
  type: string;
  or: boolean;
}

export class Drawn {
  readonly nodes = new Map<number, NodeEls>();
  private edgesByParent = new Map<number, EdgeEls[]>();
  private junctions = new Map<number, SVGGElement>();

  constructor(
    private store: JobStore,
    private shown: () => Set<number>,
    private current: () => number | null
  ) {}

  /** Find the elements of a drawing just built from `lay` (its edges are in the layout's order). */
  index(root: SVGGElement, lay: Layout): void {
    this.nodes.clear();
    this.edgesByParent.clear();
    this.junctions.clear();
    for (const g of root.querySelectorAll<SVGGElement>('g.jf-node')) {
      this.nodes.set(Number(g.dataset.id), { g, t2: g.querySelector('text.jf-t2') });
    }
    root.querySelectorAll<SVGPathElement>('path.jf-edge').forEach((path, i) => {
      const { parent, child, edge } = lay.edges[i];
      this.addEdge({ path, parent, child, type: edge.type, or: edge.or });
    });
    for (const g of root.querySelectorAll<SVGGElement>('g.jf-or')) {
      this.junctions.set(Number(g.dataset.child), g);
      this.restyleJunction(Number(g.dataset.child));
    }
  }

  addEdge(e: EdgeEls): void {
    const list = this.edgesByParent.get(e.parent) ?? [];
    list.push(e);
    this.edgesByParent.set(e.parent, list);
  }

  /** Job `id` changed: its node, its second line, and the edges that leave it. */
  restyle(id: number): void {
    const job = this.store.jobs.get(id);
    const els = this.nodes.get(id);
    if (!job || !els) {
      return;
    }
    if (els.g.dataset.code !== job.code) {
      const match = els.g.classList.contains('match');
      els.g.setAttribute('class', nodeClass(job, id === this.current()) + (match ? ' match' : ''));
      els.g.dataset.code = job.code;
    }
    const line2 = secondLine(job);
    if (els.t2 && els.t2.textContent !== line2) {
      els.t2.textContent = line2;
    }
    for (const e of this.edgesByParent.get(id) ?? []) {
      const status = conditionStatus(e.type, job.code);
      e.path.setAttribute('class', `jf-edge t-${e.type} ${status}${e.or ? ' or' : ''}${this.isHl(e) ? ' hl' : ''}`);
      if (e.or) {
        this.restyleJunction(e.child);
      }
    }
  }

  /** The selection moved from `prev` to `id`: their nodes, and the highlighted edges. */
  selected(prev: number | null, id: number | null): void {
    for (const v of [prev, id]) {
      if (v === null) {
        continue;
      }
      const els = this.nodes.get(v);
      const job = this.store.jobs.get(v);
      if (els && job) {
        const match = els.g.classList.contains('match');
        els.g.setAttribute('class', nodeClass(job, v === id) + (match ? ' match' : ''));
      }
    }
    for (const list of this.edgesByParent.values()) {
      for (const e of list) {
        e.path.classList.toggle('hl', this.isHl(e));
      }
    }
  }

  private restyleJunction(child: number): void {
    const g = this.junctions.get(child);
    if (!g) {
      return;
    }
    const shown = this.shown();
    const statuses = (this.store.parents.get(child) ?? [])
      .filter(e => e.or && shown.has(e.parent))
      .map(e => conditionStatus(e.type, this.store.jobs.get(e.parent)?.code));
    const st = statuses.includes('met') ? 'met' : statuses.length && statuses.every(s => s === 'never') ? 'never' : 'wait';
    g.setAttribute('class', `jf-or ${st}`);
  }

  private isHl(e: EdgeEls): boolean {
    const sel = this.current();
    return sel !== null && (e.parent === sel || e.child === sel);
  }
}
