/**
 * The dependency graph: SVG, simple shapes, built as one string (fast at 1,000 nodes), then kept
 * up to date in place: a state change restyles one node and its edges; only a new job or a
 * changed dependency lays the graph out again.
 *
 * Nodes are coloured by state (gflow's codes on every node, so colour is never the only cue) and
 * say why a queued job waits. Edges: afterok solid, afternotok dashed, afterany dotted, after long
 * dashes, aftercorr dash-dot; green once met, red once they can never be met; OR-groups meet in
 * an "or" junction above the job. Zoom with the buttons, Ctrl+wheel or a pinch; drag to pan.
 */
import { conditionStatus, formatDelay } from './deps';
import { esc, reasonText, STATE_NAME, STATES, truncate } from './dom';
import { JUNCTION_RISE, Layout, layout, NODE_H, NODE_W } from './layout';
import { Change, JobStore } from './store';
import { Job } from './types';

const SVG = 'http://www.w3.org/2000/svg';
/** below this zoom the labels are hidden: the graph becomes a map of colours */
const FAR_ZOOM = 0.45;
/** from this many shown jobs, a new job is put in place at once and the full layout waits */
const INCREMENTAL_FROM = 300;
const TIDY_AFTER_MS = 1500;
/** the zoom a narrow space's layout aims to fit at */
const READABLE_ZOOM = 0.62;
/** graphs this small always carry every label */
const LABELS_ALWAYS = 150;
/** the top margin of a fitted graph: the find box sits above it */
const FIT_TOP = 36;
/** the smallest zoom "fit" goes to */
const MIN_FIT = 0.12;

export interface GraphOptions {
  onSelect(id: number | null): void;
  /** `zoom`: the wheel zooms (the sidebar); `ctrl`: only Ctrl/⌘+wheel or a pinch does (a cell) */
  wheel: 'zoom' | 'ctrl';
  /** after each layout: the height (px) the whole graph needs at zoom 1, with the find box above it */
  onLaidOut?: (height: number) => void;
}

interface NodeEls {
  g: SVGGElement;
  /** null while the labels are left out (a big graph seen from far) */
  t2: SVGTextElement | null;
}

interface EdgeEls {
  path: SVGPathElement;
  parent: number;
  child: number;
  type: string;
  or: boolean;
}

export class GraphView {
  readonly el: HTMLDivElement;
  private svg: SVGSVGElement;
  private viewport: SVGGElement;
  private empty: HTMLDivElement;
  private tip: HTMLDivElement;
  private nodeEls = new Map<number, NodeEls>();
  private edgesByParent = new Map<number, EdgeEls[]>();
  private junctionEls = new Map<number, SVGGElement>();
  private k = 1;
  private tx = 0;
  private ty = 0;
  private autoFit = true;
  private layoutResult: Layout | null = null;
  private selected: number | null = null;
  private scopeRoots: number[] | null = null;
  private query = '';
  /** whether every node carries its text labels (see draw and ensureLabels) */
  private labels = true;
  private labelsPending = false;
  /** each shown job's dependency as laid out: a change of one means a new layout */
  private laidDeps = new Map<number, string | null>();
  private tidyTimer: ReturnType<typeof setTimeout> | undefined;
  private matches: number[] = [];
  private shown = new Set<number>();
  private resizeObs: ResizeObserver | null = null;
  /** the last full draw: layout and DOM, in ms (read by the benchmark) */
  lastDrawMs = 0;

  constructor(
    private store: JobStore,
    private opts: GraphOptions
  ) {
    this.el = document.createElement('div');
    this.el.className = 'jf-graph';
    this.svg = document.createElementNS(SVG, 'svg');
    this.svg.setAttribute('class', 'jf-graph-svg');
    this.svg.setAttribute('role', 'img');
    this.svg.setAttribute('aria-label', 'job dependency graph');
    // arrowheads: markers of this graph's own (ids unique on the page, even across the sidebar's and
    // the widget's bundles), so hiding another graph never takes this one's arrows with it
    const uid = `${Math.random().toString(36).slice(2, 8)}${++graphCount}`;
    this.svg.innerHTML = defs(uid);
    for (const s of ARROWS) {
      this.svg.style.setProperty(`--jf-arrow-${s}`, `url(#jf-arrow-${s}-${uid})`);
    }
    this.viewport = document.createElementNS(SVG, 'g');
    this.viewport.setAttribute('class', 'jf-viewport');
    this.svg.appendChild(this.viewport);
    this.empty = document.createElement('div');
    this.empty.className = 'jf-empty';
    this.empty.textContent = 'No jobs yet. Submit one with %%gbatch or gbatch.';
    this.tip = document.createElement('div');
    this.tip.className = 'jf-tip';
    this.tip.hidden = true;
    this.el.append(this.svg, this.empty, this.finder(), this.controls(), legend(), this.tip);
    this.bindPointer();
    if (typeof ResizeObserver === 'function') {
      this.resizeObs = new ResizeObserver(() => {
        if (this.autoFit) {
          this.fit();
        }
      });
      this.resizeObs.observe(this.el);
    }
  }

  /** Show only these jobs and those connected to them (null: all jobs). */
  setScope(ids: number[] | null): void {
    this.scopeRoots = ids && ids.length ? ids : null;
  }

  dispose(): void {
    clearTimeout(this.tidyTimer);
    this.resizeObs?.disconnect();
    this.el.remove();
  }

  apply(change: Change): void {
    if (change.structure && !change.reset && this.layoutResult && this.shown.size >= INCREMENTAL_FROM && this.appendNew(change)) {
      return;
    }
    if (change.structure || change.reset || !this.layoutResult) {
      this.draw();
      return;
    }
    for (const id of change.ids) {
      if (!this.shown.has(id)) {
        if (this.inScope(id)) {
          this.draw();
          return;
        }
        continue;
      }
      this.restyle(id);
    }
  }

  /**
   * A big graph gains a few new jobs (and nothing else changed its edges): put each one in place
   * at once, under its parents (a new job never has dependents yet), and lay the whole graph out
   * again when the queue has been quiet for a moment. False when it needs a full draw now.
   */
  private appendNew(change: Change): boolean {
    const fresh: number[] = [];
    for (const id of change.ids) {
      const job = this.store.jobs.get(id);
      if (!job) {
        return false;
      }
      if (this.shown.has(id)) {
        if ((this.laidDeps.get(id) ?? null) !== (job.dependency ?? null)) {
          return false; // an edge changed: lay out again
        }
      } else if (this.inScope(id)) {
        fresh.push(id);
      }
    }
    if (!fresh.length || fresh.length > 50) {
      return fresh.length === 0 && this.restyleAll(change);
    }
    const lay = this.layoutResult!;
    const nodesG = this.viewport.querySelector('g.jf-nodes')!;
    const edgesG = this.viewport.querySelector('g.jf-edges')!;
    const taken = (x: number, y: number) => {
      for (const p of lay.nodes.values()) {
        if (Math.abs(p.x - x) < NODE_W + 8 && Math.abs(p.y - y) < NODE_H + 8) {
          return true;
        }
      }
      return false;
    };
    for (const id of fresh.sort((a, b) => a - b)) {
      const job = this.store.jobs.get(id)!;
      const parents = (this.store.parents.get(id) ?? []).filter(e => lay.nodes.has(e.parent));
      let x: number;
      let y: number;
      if (parents.length) {
        x = parents.reduce((sum, e) => sum + lay.nodes.get(e.parent)!.x, 0) / parents.length;
        y = Math.max(...parents.map(e => lay.nodes.get(e.parent)!.y)) + NODE_H + 52;
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
      const holder = document.createElementNS(SVG, 'g');
      holder.innerHTML = nodeSvg(job, x - NODE_W / 2, y, false, this.labels);
      const g = holder.firstElementChild as SVGGElement;
      nodesG.appendChild(g);
      this.nodeEls.set(id, { g, t2: g.querySelector('text.jf-t2') });
      for (const e of parents) {
        const p = lay.nodes.get(e.parent)!;
        const status = conditionStatus(e.type, this.store.jobs.get(e.parent)?.code);
        const path = document.createElementNS(SVG, 'path');
        path.setAttribute('class', `jf-edge t-${e.type} ${status}`);
        path.setAttribute('d', pathOf([[p.x, p.y + NODE_H], [x, y]]));
        edgesG.appendChild(path);
        const list = this.edgesByParent.get(e.parent) ?? [];
        list.push({ path, parent: e.parent, child: id, type: e.type, or: false });
        this.edgesByParent.set(e.parent, list);
      }
      this.shown.add(id);
      this.laidDeps.set(id, job.dependency ?? null);
    }
    this.svg.dataset.nodeCount = String(this.shown.size);
    this.restyleAll(change);
    if (this.autoFit) {
      this.fit();
    }
    // tidy up once the queue is quiet
    clearTimeout(this.tidyTimer);
    this.tidyTimer = setTimeout(() => this.draw(), TIDY_AFTER_MS);
    return true;
  }

  private restyleAll(change: Change): boolean {
    for (const id of change.ids) {
      if (this.shown.has(id)) {
        this.restyle(id);
      }
    }
    return true;
  }

  private inScope(id: number): boolean {
    if (!this.scopeRoots) {
      return true;
    }
    return this.store.related(this.scopeRoots).has(id);
  }

  /** Lay out and build the whole SVG. */
  draw(): void {
    const t0 = performance.now();
    clearTimeout(this.tidyTimer);
    const ids = this.scopeRoots
      ? [...this.store.related(this.scopeRoots)].filter(id => this.store.jobs.has(id)).sort((a, b) => a - b)
      : [...this.store.jobs.keys()].sort((a, b) => a - b);
    this.shown = new Set(ids);
    this.laidDeps = new Map(ids.map(id => [id, this.store.jobs.get(id)?.dependency ?? null]));
    const rect = this.el.getBoundingClientRect();
    const aspect = rect.width > 50 && rect.height > 50 ? rect.width / rect.height : 1.6;
    // a narrow space (the sidebar) wraps wide layers so that the fitted graph stays readable
    const narrow = rect.width > 50 && rect.width < 500;
    const lay = layout({
      ids,
      parents: id => (this.store.parents.get(id) ?? []).filter(e => this.shown.has(e.parent)),
      aspect,
      maxRow: narrow ? Math.max(2, Math.floor(rect.width / (READABLE_ZOOM * (NODE_W + 22)))) : undefined
    });
    this.layoutResult = lay;
    const parts: string[] = ['<g class="jf-edges">'];
    const edgeMeta: { parent: number; child: number; type: string; or: boolean }[] = [];
    for (const route of lay.edges) {
      const parent = this.store.jobs.get(route.parent);
      const status = conditionStatus(route.edge.type, parent?.code);
      const delay = route.edge.delay ? ` ${formatDelay(route.edge.delay)}` : '';
      parts.push(
        `<path class="jf-edge t-${esc(route.edge.type)} ${status}${route.edge.or ? ' or' : ''}" d="${pathOf(route.points)}"/>`
      );
      void delay;
      edgeMeta.push({ parent: route.parent, child: route.child, type: route.edge.type, or: route.edge.or });
    }
    parts.push('</g><g class="jf-junctions">');
    for (const j of lay.junctions) {
      parts.push(
        `<g class="jf-or" data-child="${j.child}" transform="translate(${j.x},${j.y})">` +
          `<path class="jf-or-stub" d="M0,0 V${JUNCTION_RISE - 1}"/><circle r="8"/><text y="3">or</text></g>`
      );
    }
    parts.push('</g><g class="jf-nodes">');
    // a big graph that opens zoomed out gets its labels only when zoomed in (half the elements)
    // (a big graph seen closer gets the labels of the nodes in view only, see ensureLabels)
    this.labels = ids.length <= LABELS_ALWAYS || (this.autoFit ? this.fitZoom(lay, rect) >= FAR_ZOOM : this.k >= FAR_ZOOM && ids.length <= 300);
    for (const id of ids) {
      const pos = lay.nodes.get(id)!;
      const job = this.store.jobs.get(id)!;
      parts.push(nodeSvg(job, pos.x - NODE_W / 2, pos.y, id === this.selected, this.labels));
    }
    parts.push('</g>');
    this.viewport.innerHTML = parts.join('');

    // references for in-place updates
    this.nodeEls.clear();
    this.edgesByParent.clear();
    this.junctionEls.clear();
    for (const g of this.viewport.querySelectorAll<SVGGElement>('g.jf-node')) {
      const id = Number(g.dataset.id);
      this.nodeEls.set(id, {
        g,
        t2: g.querySelector('text.jf-t2')
      });
    }
    const paths = this.viewport.querySelectorAll<SVGPathElement>('path.jf-edge');
    paths.forEach((path, i) => {
      const meta = edgeMeta[i];
      const list = this.edgesByParent.get(meta.parent) ?? [];
      list.push({ path, ...meta });
      this.edgesByParent.set(meta.parent, list);
    });
    for (const g of this.viewport.querySelectorAll<SVGGElement>('g.jf-or')) {
      this.junctionEls.set(Number(g.dataset.child), g);
      this.restyleJunction(Number(g.dataset.child));
    }
    if (this.query) {
      this.applyQuery();
    }
    this.empty.style.display = ids.length ? 'none' : '';
    this.svg.dataset.nodeCount = String(ids.length);
    // no pulsing of running nodes in a big graph: an SVG animation repaints every node, every frame
    this.svg.classList.toggle('jf-big', ids.length > 300);
    if (this.autoFit) {
      this.fit();
    } else {
      this.applyTransform();
    }
    this.lastDrawMs = performance.now() - t0;
    this.opts.onLaidOut?.(ids.length ? lay.height + FIT_TOP + 8 : 0);
  }

  private restyle(id: number): void {
    const job = this.store.jobs.get(id);
    const els = this.nodeEls.get(id);
    if (!job || !els) {
      return;
    }
    if (els.g.dataset.code !== job.code) {
      const match = els.g.classList.contains('match');
      els.g.setAttribute('class', nodeClass(job, id === this.selected) + (match ? ' match' : ''));
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

  private restyleJunction(child: number): void {
    const g = this.junctionEls.get(child);
    if (!g) {
      return;
    }
    const statuses = (this.store.parents.get(child) ?? [])
      .filter(e => e.or && this.shown.has(e.parent))
      .map(e => conditionStatus(e.type, this.store.jobs.get(e.parent)?.code));
    const st = statuses.includes('met') ? 'met' : statuses.length && statuses.every(s => s === 'never') ? 'never' : 'wait';
    g.setAttribute('class', `jf-or ${st}`);
  }

  private isHl(e: EdgeEls): boolean {
    return this.selected !== null && (e.parent === this.selected || e.child === this.selected);
  }

  select(id: number | null, reveal = false): void {
    const prev = this.selected;
    this.selected = id;
    for (const v of [prev, id]) {
      if (v === null) {
        continue;
      }
      const els = this.nodeEls.get(v);
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
    if (reveal && id !== null) {
      this.reveal(id);
    }
  }

  /** Pan (and zoom in to a readable size) so that job `id` is in view. */
  reveal(id: number): void {
    const pos = this.layoutResult?.nodes.get(id);
    if (!pos) {
      return;
    }
    const rect = this.el.getBoundingClientRect();
    if (this.k < 0.8) {
      this.k = 1;
    }
    this.tx = rect.width / 2 - pos.x * this.k;
    this.ty = rect.height / 2 - (pos.y + NODE_H / 2) * this.k;
    this.autoFit = false;
    this.applyTransform();
  }

  fit(): void {
    const lay = this.layoutResult;
    const rect = this.el.getBoundingClientRect();
    if (!lay || rect.width < 10 || rect.height < 10 || !lay.width) {
      return;
    }
    const k = this.fitZoom(lay, rect);
    this.k = k;
    this.tx = Math.max(4, (rect.width - lay.width * k) / 2);
    this.ty = Math.max(FIT_TOP, (rect.height - lay.height * k) / 2); // below the find box
    this.applyTransform();
  }

  /** The zoom that shows the whole graph, but never below MIN_FIT (a huge queue opens at its top). */
  private fitZoom(lay: Layout, rect: DOMRect): number {
    if (rect.width < 10 || rect.height < 10 || !lay.width) {
      return 1;
    }
    return Math.max(MIN_FIT, Math.min(1, (rect.width - 8) / lay.width, (rect.height - FIT_TOP - 4) / lay.height));
  }

  /**
   * Zoomed in on a graph drawn without labels: give labels to the nodes in view (and a margin),
   * once per frame while panning; far-off nodes get theirs when they come into view. Text is the
   * costly part of an SVG graph, so a big graph never lays out a thousand labels at once.
   */
  private ensureLabels(): void {
    if (this.labelsPending) {
      return;
    }
    this.labelsPending = true;
    requestAnimationFrame(() => {
      this.labelsPending = false;
      const lay = this.layoutResult;
      if (!lay || this.k < FAR_ZOOM || this.labels) {
        return;
      }
      const w = this.el.clientWidth / this.k;
      const h = this.el.clientHeight / this.k;
      const x0 = -this.tx / this.k - w / 2;
      const y0 = -this.ty / this.k - h / 2;
      let missing = 0;
      for (const [id, els] of this.nodeEls) {
        if (els.t2) {
          continue;
        }
        const p = lay.nodes.get(id);
        const job = this.store.jobs.get(id);
        if (!p || !job) {
          continue;
        }
        if (p.x < x0 || p.x > x0 + 2 * w || p.y < y0 || p.y > y0 + 2 * h) {
          missing++;
          continue;
        }
        els.t2 = addLabelTo(els.g, job);
      }
      this.labels = missing === 0;
    });
  }

  private zoomBy(factor: number, cx?: number, cy?: number): void {
    const rect = this.el.getBoundingClientRect();
    const px = cx ?? rect.width / 2;
    const py = cy ?? rect.height / 2;
    const k = Math.max(0.03, Math.min(4, this.k * factor));
    this.tx = px - ((px - this.tx) * k) / this.k;
    this.ty = py - ((py - this.ty) * k) / this.k;
    this.k = k;
    this.autoFit = false;
    this.applyTransform();
  }

  private applyTransform(): void {
    this.viewport.setAttribute('transform', `translate(${this.tx.toFixed(1)},${this.ty.toFixed(1)}) scale(${this.k.toFixed(4)})`);
    this.svg.classList.toggle('jf-far', this.k < FAR_ZOOM);
    if (this.k >= FAR_ZOOM && !this.labels) {
      this.ensureLabels();
    }
    this.el.dataset.zoom = this.k.toFixed(3);
  }

  /** One tooltip for the whole graph (per-node <title> elements cost a third of the draw). */
  private showTip(ev: PointerEvent): void {
    const target = ev.target as Element;
    const node = target.closest?.('g.jf-node') as SVGGElement | null;
    const or = node ? null : (target.closest?.('g.jf-or') as SVGGElement | null);
    let text = '';
    if (node) {
      const job = this.store.jobs.get(Number(node.dataset.id));
      text = job ? tooltip(job) : '';
    } else if (or) {
      const child = Number(or.dataset.child);
      const parents = (this.store.parents.get(child) ?? []).filter(e => e.or).map(e => `${e.type}:${e.parent}${e.delay ? formatDelay(e.delay) : ''}`);
      text = `Job ${child} runs when any one of these is met: ${parents.join(' or ')}`;
    }
    if (!text) {
      this.tip.hidden = true;
      return;
    }
    const rect = this.el.getBoundingClientRect();
    this.tip.textContent = text;
    this.tip.hidden = false;
    const x = Math.min(ev.clientX - rect.left + 12, rect.width - this.tip.offsetWidth - 4);
    const y = ev.clientY - rect.top + 16;
    this.tip.style.left = `${Math.max(4, x)}px`;
    this.tip.style.top = `${y + this.tip.offsetHeight > rect.height ? ev.clientY - rect.top - this.tip.offsetHeight - 8 : y}px`;
  }

  /** "Find": dims every job but those whose id or name matches; Enter selects the next one. */
  private finder(): HTMLDivElement {
    const box = document.createElement('div');
    box.className = 'jf-find';
    const input = document.createElement('input');
    input.type = 'search';
    input.className = 'jf-input';
    input.placeholder = 'Find job (id or name)';
    input.setAttribute('aria-label', 'Find a job in the graph');
    const count = document.createElement('span');
    count.className = 'jf-find-count';
    let at = -1;
    input.addEventListener('input', () => {
      this.query = input.value.trim().toLowerCase();
      at = -1;
      count.textContent = this.applyQuery();
    });
    input.addEventListener('keydown', ev => {
      if (ev.key === 'Enter' && this.matches.length) {
        ev.preventDefault();
        at = (at + (ev.shiftKey ? -1 : 1) + this.matches.length) % this.matches.length;
        const id = this.matches[at];
        this.select(id, true);
        this.opts.onSelect(id);
        count.textContent = `${at + 1} of ${this.matches.length}`;
      } else if (ev.key === 'Escape') {
        input.value = '';
        this.query = '';
        count.textContent = this.applyQuery();
      }
    });
    box.append(input, count);
    return box;
  }

  /** Mark the jobs that match the find box; returns the count line. */
  private applyQuery(): string {
    const q = this.query;
    this.matches = [];
    this.svg.classList.toggle('jf-dim', !!q);
    for (const [id, els] of this.nodeEls) {
      let hit = false;
      if (q) {
        const job = this.store.jobs.get(id);
        hit = String(id) === q || (!!job && job.name.toLowerCase().includes(q));
        if (hit) {
          this.matches.push(id);
        }
      }
      els.g.classList.toggle('match', hit);
    }
    return q ? (this.matches.length ? `${this.matches.length} found` : 'none found') : '';
  }

  private controls(): HTMLDivElement {
    const box = document.createElement('div');
    box.className = 'jf-zoom';
    const mk = (label: string, title: string, fn: () => void) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'jf-btn jf-icon-btn';
      b.textContent = label;
      b.title = title;
      b.addEventListener('click', ev => {
        ev.stopPropagation();
        fn();
      });
      box.appendChild(b);
    };
    mk('+', 'Zoom in', () => this.zoomBy(1.25));
    mk('−', 'Zoom out', () => this.zoomBy(0.8));
    mk('⤢', 'Fit the whole graph', () => {
      this.autoFit = true;
      this.fit();
    });
    return box;
  }

  private bindPointer(): void {
    let drag: { x: number; y: number; tx: number; ty: number; moved: boolean; id: number } | null = null;
    this.svg.addEventListener('pointerdown', ev => {
      if (ev.button !== 0) {
        return;
      }
      drag = { x: ev.clientX, y: ev.clientY, tx: this.tx, ty: this.ty, moved: false, id: ev.pointerId };
    });
    this.svg.addEventListener('pointermove', ev => {
      if (!drag) {
        this.showTip(ev);
        return;
      }
      this.tip.hidden = true;
      const dx = ev.clientX - drag.x;
      const dy = ev.clientY - drag.y;
      if (!drag.moved && Math.abs(dx) + Math.abs(dy) > 4) {
        drag.moved = true;
        this.svg.setPointerCapture?.(drag.id);
        this.svg.classList.add('jf-panning');
      }
      if (drag.moved) {
        this.tx = drag.tx + dx;
        this.ty = drag.ty + dy;
        this.autoFit = false;
        this.applyTransform();
      }
    });
    const end = (ev: PointerEvent) => {
      if (!drag) {
        return;
      }
      const wasDrag = drag.moved;
      drag = null;
      this.svg.classList.remove('jf-panning');
      if (wasDrag || ev.type !== 'pointerup') {
        return;
      }
      const node = (ev.target as Element).closest?.('g.jf-node') as SVGGElement | null;
      const id = node ? Number(node.dataset.id) : null;
      this.select(id);
      this.opts.onSelect(id);
    };
    this.svg.addEventListener('pointerleave', () => (this.tip.hidden = true));
    this.svg.addEventListener('pointerup', end);
    this.svg.addEventListener('pointercancel', end);
    this.svg.addEventListener(
      'wheel',
      ev => {
        const zoom = ev.ctrlKey || ev.metaKey || this.opts.wheel === 'zoom';
        if (!zoom) {
          return; // let the notebook scroll
        }
        ev.preventDefault();
        const rect = this.el.getBoundingClientRect();
        if (this.opts.wheel === 'zoom' && !(ev.ctrlKey || ev.metaKey) && Math.abs(ev.deltaX) > Math.abs(ev.deltaY)) {
          this.tx -= ev.deltaX;
          this.autoFit = false;
          this.applyTransform();
          return;
        }
        this.zoomBy(Math.exp(-ev.deltaY * (ev.deltaMode === 1 ? 0.05 : 0.0022)), ev.clientX - rect.left, ev.clientY - rect.top);
      },
      { passive: false }
    );
    this.svg.addEventListener('dblclick', ev => {
      if (!(ev.target as Element).closest?.('g.jf-node')) {
        this.autoFit = true;
        this.fit();
      }
    });
  }
}

function pathOf(points: [number, number][]): string {
  let d = `M${points[0][0].toFixed(1)},${points[0][1].toFixed(1)}`;
  for (let i = 1; i < points.length; i++) {
    const [x0, y0] = points[i - 1];
    const [x1, y1] = points[i];
    if (x0 === x1 || Math.abs(y1 - y0) < 1) {
      d += ` L${x1.toFixed(1)},${y1.toFixed(1)}`;
    } else {
      const my = (y1 - y0) / 2;
      d += ` C${x0.toFixed(1)},${(y0 + my).toFixed(1)} ${x1.toFixed(1)},${(y1 - my).toFixed(1)} ${x1.toFixed(1)},${y1.toFixed(1)}`;
    }
  }
  return d;
}

function nodeClass(job: Job, selected: boolean): string {
  let c = `jf-node s-${job.code}`;
  if (job.reason_kind === 'DependencyNeverSatisfied') {
    c += ' never';
  }
  if (selected) {
    c += ' sel';
  }
  return c;
}

function secondLine(job: Job): string {
  // the node is small: "CA · job 2 failed" (the state code says "cancelled")
  const reason = reasonText(job)
    .replace(/^(cancelled|waiting|can never start): /, (_m, w: string) => (w === 'can never start' ? 'never: ' : ''))
    .replace(/^waiting for its dependencies$/, 'waiting for parents')
    .replace(/^waiting for a free /, 'needs a free ');
  const state = STATE_NAME[job.code] ?? job.state;
  return truncate(reason ? `${job.code} · ${reason}` : `${job.code} · ${state}`, 26);
}

function tooltip(job: Job): string {
  const why = reasonText(job);
  const lines = [`Job ${job.id} (${job.name}): ${job.state}${why ? `, ${why}` : ''}${job.reason && job.reason !== why ? ` [${job.reason}]` : ''}`];
  if (job.dependency) {
    lines.push(`depends: ${job.dependency}`);
  }
  if (job.group) {
    lines.push(`group: ${job.group}`);
  }
  return lines.join('\n');
}

function nodeSvg(job: Job, x: number, y: number, selected: boolean, labels = true): string {
  return (
    `<g class="${nodeClass(job, selected)}" data-id="${job.id}" data-code="${esc(job.code)}" transform="translate(${x.toFixed(1)},${y})">` +
    `<rect class="jf-box" width="${NODE_W}" height="${NODE_H}" rx="5"/>` +
    `<rect class="jf-band" width="6" height="${NODE_H}" rx="2"/>` +
    (labels ? labelSvg(job) : '') +
    `</g>`
  );
}

/** The two text lines of a node, built with the DOM API (cheaper than parsing, one node at a time). */
function addLabelTo(g: SVGGElement, job: Job): SVGTextElement {
  const name = truncate(job.name, Math.max(4, 18 - String(job.id).length));
  const t1 = document.createElementNS(SVG, 'text');
  t1.setAttribute('class', 'jf-t1');
  t1.setAttribute('x', '13');
  t1.setAttribute('y', '16');
  const idSpan = document.createElementNS(SVG, 'tspan');
  idSpan.setAttribute('class', 'jf-id');
  idSpan.textContent = String(job.id);
  t1.append(idSpan, ` ${name}`);
  const t2 = document.createElementNS(SVG, 'text');
  t2.setAttribute('class', 'jf-t2');
  t2.setAttribute('x', '13');
  t2.setAttribute('y', '32');
  t2.textContent = secondLine(job);
  g.append(t1, t2);
  return t2;
}

function labelSvg(job: Job): string {
  const name = truncate(job.name, Math.max(4, 18 - String(job.id).length));
  return (
    `<text class="jf-t1" x="13" y="16"><tspan class="jf-id">${job.id}</tspan> ${esc(name)}</text>` +
    `<text class="jf-t2" x="13" y="32">${esc(secondLine(job))}</text>`
  );
}

let graphCount = 0;
const ARROWS = ['wait', 'met', 'never'];

/** The arrowhead markers of one graph; the CSS picks them through `--jf-arrow-<status>`. */
const defs = (uid: string): string =>
  '<defs>' +
  ARROWS
    .map(
      s =>
        `<marker id="jf-arrow-${s}-${uid}" class="jf-arrow ${s}" viewBox="0 0 8 8" refX="7" refY="4" markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" orient="auto"><path d="M0,0 L8,4 L0,8 z"/></marker>`
    )
    .join('') +
  '</defs>';

/** The key to colours and line styles, folded into a corner of the graph. */
function legend(): HTMLElement {
  const box = document.createElement('details');
  box.className = 'jf-legend';
  const sum = document.createElement('summary');
  sum.textContent = 'Key';
  box.appendChild(sum);
  const states = STATES.map(([code, name]) => `<span class="jf-key s-${code}"><i></i>${code} ${name}</span>`).join('');
  const line = (cls: string, label: string) =>
    `<span class="jf-key-edge"><svg width="34" height="10"><path class="jf-edge ${cls}" d="M1,5 H33"/></svg>${label}</span>`;
  const body = document.createElement('div');
  body.innerHTML =
    `<div class="jf-key-row">${states}</div>` +
    `<div class="jf-key-row">${line('t-afterok wait', 'afterok')}${line('t-afternotok wait', 'afternotok')}` +
    `${line('t-afterany wait', 'afterany')}${line('t-after wait', 'after (started)')}</div>` +
    `<div class="jf-key-row">${line('t-afterok met', 'met')}${line('t-afterok never', 'can never be met')}` +
    `<span class="jf-key-edge"><svg width="18" height="18"><g class="jf-or" transform="translate(9,9)"><circle r="8"/><text y="3">or</text></g></svg>any one of (OR)</span></div>`;
  box.appendChild(body);
  return box;
}
