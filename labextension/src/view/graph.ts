/**
 * The dependency graph: SVG, simple shapes, built as one string (fast at 1,000 nodes), then kept
 * up to date in place: a state change restyles one node and its edges; only a new job or a
 * changed dependency lays the graph out again.
 *
 * Nodes say why a queued job waits; OR-groups meet in an "or" junction above the job. The SVG
 * pieces are in graphsvg.ts, zoom and pan in viewport.ts, the find box in find.ts.
 *
 * Long because: what is left is the update logic (restyle in place vs lay out again), which
 * reads best in one place.
 */
import { conditionStatus } from './deps';
import { Drawn } from './drawn';
import { Finder } from './find';
import { addLabelTo, ARROWS, defs, graphSvg, graphUid, legend, nodeSvg, orTooltip, pathOf, SVG, tooltip } from './graphsvg';
import { Layout, layout, NODE_H, NODE_W, placeNew } from './layout';
import { Change, JobStore } from './store';
import { FIT_TOP, Viewport } from './viewport';

/** below this zoom the labels are hidden: the graph becomes a map of colours */
const FAR_ZOOM = 0.45;
/** from this many shown jobs, a new job is put in place at once and the full layout waits */
const INCREMENTAL_FROM = 300;
const TIDY_AFTER_MS = 1500;
/** the zoom a narrow space's layout aims to fit at */
const READABLE_ZOOM = 0.62;
/** graphs this small always carry every label */
const LABELS_ALWAYS = 150;

export interface GraphOptions {
  onSelect(id: number | null): void;
  /** `zoom`: the wheel zooms (the sidebar); `ctrl`: only Ctrl/⌘+wheel or a pinch does (a cell) */
  wheel: 'zoom' | 'ctrl';
  /** after each layout: the height (px) the whole graph needs at zoom 1, with the find box above it */
  onLaidOut?: (height: number) => void;
  /** a node's tooltip, when the nodes are not jobs (a run's tasks) */
  describe?: (id: number) => string;
  /** what an empty graph says */
  emptyText?: string;
}

export class GraphView {
  readonly el: HTMLDivElement;
  private svg: SVGSVGElement;
  private viewport: SVGGElement;
  private empty: HTMLDivElement;
  private tip: HTMLDivElement;
  /** the drawn elements, restyled in place */
  private drawn: Drawn;
  private view: Viewport;
  private finder: Finder;
  private layoutResult: Layout | null = null;
  private selected: number | null = null;
  private scopeRoots: number[] | null = null;
  /** whether every node carries its text labels (see draw and ensureLabels) */
  private labels = true;
  private labelsPending = false;
  /** each shown job's dependency as laid out: a change of one means a new layout */
  private laidDeps = new Map<number, string | null>();
  private tidyTimer: ReturnType<typeof setTimeout> | undefined;
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
    const uid = graphUid();
    this.svg.innerHTML = defs(uid);
    for (const s of ARROWS) {
      this.svg.style.setProperty(`--jf-arrow-${s}`, `url(#jf-arrow-${s}-${uid})`);
    }
    this.viewport = document.createElementNS(SVG, 'g');
    this.viewport.setAttribute('class', 'jf-viewport');
    this.svg.appendChild(this.viewport);
    this.empty = document.createElement('div');
    this.empty.className = 'jf-empty';
    this.empty.textContent = opts.emptyText ?? 'No jobs yet. Submit one with %%gbatch or gbatch.';
    this.tip = document.createElement('div');
    this.tip.className = 'jf-tip';
    this.tip.hidden = true;
    this.drawn = new Drawn(store, () => this.shown, () => this.selected);
    this.view = new Viewport({
      el: this.el,
      svg: this.svg,
      g: this.viewport,
      wheel: opts.wheel,
      size: () => this.layoutResult,
      moved: k => {
        this.svg.classList.toggle('jf-far', k < FAR_ZOOM);
        if (k >= FAR_ZOOM && !this.labels) {
          this.ensureLabels();
        }
      },
      hover: ev => (ev ? this.showTip(ev) : (this.tip.hidden = true)),
      tap: target => {
        const node = target.closest?.('g.jf-node') as SVGGElement | null;
        const id = node ? Number(node.dataset.id) : null;
        this.select(id);
        this.opts.onSelect(id);
      }
    });
    this.finder = new Finder({
      svg: this.svg,
      nodes: () => this.drawn.nodes,
      nameOf: id => this.store.jobs.get(id)?.name,
      pick: id => {
        this.select(id, true);
        this.opts.onSelect(id);
      }
    });
    this.el.append(this.svg, this.empty, this.finder.el, this.view.controls(), legend(), this.tip);
    if (typeof ResizeObserver === 'function') {
      this.resizeObs = new ResizeObserver(() => {
        if (this.view.autoFit) {
          this.view.fit();
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
      this.drawn.restyle(id);
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
    for (const id of fresh.sort((a, b) => a - b)) {
      const job = this.store.jobs.get(id)!;
      const parents = (this.store.parents.get(id) ?? []).filter(e => lay.nodes.has(e.parent));
      const { x, y } = placeNew(lay, id, parents.map(e => e.parent));
      const holder = document.createElementNS(SVG, 'g');
      holder.innerHTML = nodeSvg(job, x - NODE_W / 2, y, false, this.labels);
      const g = holder.firstElementChild as SVGGElement;
      nodesG.appendChild(g);
      this.drawn.nodes.set(id, { g, t2: g.querySelector('text.jf-t2') });
      for (const e of parents) {
        const p = lay.nodes.get(e.parent)!;
        const status = conditionStatus(e.type, this.store.jobs.get(e.parent)?.code);
        const path = document.createElementNS(SVG, 'path');
        path.setAttribute('class', `jf-edge t-${e.type} ${status}`);
        path.setAttribute('d', pathOf([[p.x, p.y + NODE_H], [x, y]]));
        edgesG.appendChild(path);
        this.drawn.addEdge({ path, parent: e.parent, child: id, type: e.type, or: false });
      }
      this.shown.add(id);
      this.laidDeps.set(id, job.dependency ?? null);
    }
    this.svg.dataset.nodeCount = String(this.shown.size);
    this.restyleAll(change);
    if (this.view.autoFit) {
      this.view.fit();
    }
    // tidy up once the queue is quiet
    clearTimeout(this.tidyTimer);
    this.tidyTimer = setTimeout(() => this.draw(), TIDY_AFTER_MS);
    return true;
  }

  private restyleAll(change: Change): boolean {
    for (const id of change.ids) {
      if (this.shown.has(id)) {
        this.drawn.restyle(id);
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
    // a big graph that opens zoomed out gets its labels only when zoomed in (half the elements)
    // (a big graph seen closer gets the labels of the nodes in view only, see ensureLabels)
    const v = this.view;
    this.labels = ids.length <= LABELS_ALWAYS || (v.autoFit ? v.fitZoom(lay, rect) >= FAR_ZOOM : v.k >= FAR_ZOOM && ids.length <= 300);
    this.viewport.innerHTML = graphSvg(lay, ids, id => this.store.jobs.get(id), this.selected, this.labels);
    this.drawn.index(this.viewport, lay);

    if (this.finder.active) {
      this.finder.apply();
    }
    this.empty.style.display = ids.length ? 'none' : '';
    this.svg.dataset.nodeCount = String(ids.length);
    // no pulsing of running nodes in a big graph: an SVG animation repaints every node, every frame
    this.svg.classList.toggle('jf-big', ids.length > 300);
    if (this.view.autoFit) {
      this.view.fit();
    } else {
      this.view.apply();
    }
    this.lastDrawMs = performance.now() - t0;
    this.opts.onLaidOut?.(ids.length ? lay.height + FIT_TOP + 8 : 0);
  }

  select(id: number | null, reveal = false): void {
    const prev = this.selected;
    this.selected = id;
    this.drawn.selected(prev, id);
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
    this.view.centre(pos.x, pos.y + NODE_H / 2);
  }

  fit(): void {
    this.view.fit();
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
      const { k, tx, ty } = this.view;
      if (!lay || k < FAR_ZOOM || this.labels) {
        return;
      }
      const w = this.el.clientWidth / k;
      const h = this.el.clientHeight / k;
      const x0 = -tx / k - w / 2;
      const y0 = -ty / k - h / 2;
      let missing = 0;
      for (const [id, els] of this.drawn.nodes) {
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

  /** One tooltip for the whole graph (per-node <title> elements cost a third of the draw). */
  private showTip(ev: PointerEvent): void {
    const target = ev.target as Element;
    const node = target.closest?.('g.jf-node') as SVGGElement | null;
    const or = node ? null : (target.closest?.('g.jf-or') as SVGGElement | null);
    let text = '';
    if (node) {
      const id = Number(node.dataset.id);
      const job = this.store.jobs.get(id);
      text = this.opts.describe ? this.opts.describe(id) : job ? tooltip(job) : '';
    } else if (or) {
      const child = Number(or.dataset.child);
      text = orTooltip(child, this.store.parents.get(child) ?? []);
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
}
