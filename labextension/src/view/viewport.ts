/**
 * The graph's viewport: zoom and pan of one SVG group. Zoom with the buttons, Ctrl+wheel or a
 * pinch (the sidebar: the plain wheel too); drag to pan; double-click the background to fit.
 * It knows sizes, not jobs: the graph says what a tap or a hover means.
 */

/** the top margin of a fitted graph: the find box sits above it */
export const FIT_TOP = 36;
/** the smallest zoom "fit" goes to */
const MIN_FIT = 0.12;

export interface ViewportHost {
  /** the box the graph is shown in */
  el: HTMLElement;
  svg: SVGSVGElement;
  /** the group that is moved and scaled */
  g: SVGGElement;
  /** `zoom`: the wheel zooms (the sidebar); `ctrl`: only Ctrl/⌘+wheel or a pinch does (a cell) */
  wheel: 'zoom' | 'ctrl';
  /** the laid-out graph's size at zoom 1, null before the first layout */
  size(): { width: number; height: number } | null;
  /** after every move or zoom */
  moved(k: number): void;
  /** the pointer moved over the graph without dragging (null: it left or a drag began) */
  hover(ev: PointerEvent | null): void;
  /** a click that was no drag, on this target */
  tap(target: Element): void;
}

export class Viewport {
  k = 1;
  tx = 0;
  ty = 0;
  /** fit the whole graph again on every layout and resize, until the person zooms or pans */
  autoFit = true;

  constructor(private host: ViewportHost) {
    this.bindPointer();
  }

  /** Put the point (x, y) of the graph in the middle, zooming in to a readable size. */
  centre(x: number, y: number): void {
    const rect = this.host.el.getBoundingClientRect();
    if (this.k < 0.8) {
      this.k = 1;
    }
    this.tx = rect.width / 2 - x * this.k;
    this.ty = rect.height / 2 - y * this.k;
    this.autoFit = false;
    this.apply();
  }

  fit(): void {
    const lay = this.host.size();
    const rect = this.host.el.getBoundingClientRect();
    if (!lay || rect.width < 10 || rect.height < 10 || !lay.width) {
      return;
    }
    const k = this.fitZoom(lay, rect);
    this.k = k;
    this.tx = Math.max(4, (rect.width - lay.width * k) / 2);
    this.ty = Math.max(FIT_TOP, (rect.height - lay.height * k) / 2); // below the find box
    this.apply();
  }

  /** The zoom that shows the whole graph, but never below MIN_FIT (a huge queue opens at its top). */
  fitZoom(lay: { width: number; height: number }, rect: DOMRect): number {
    if (rect.width < 10 || rect.height < 10 || !lay.width) {
      return 1;
    }
    return Math.max(MIN_FIT, Math.min(1, (rect.width - 8) / lay.width, (rect.height - FIT_TOP - 4) / lay.height));
  }

  zoomBy(factor: number, cx?: number, cy?: number): void {
    const rect = this.host.el.getBoundingClientRect();
    const px = cx ?? rect.width / 2;
    const py = cy ?? rect.height / 2;
    const k = Math.max(0.03, Math.min(4, this.k * factor));
    this.tx = px - ((px - this.tx) * k) / this.k;
    this.ty = py - ((py - this.ty) * k) / this.k;
    this.k = k;
    this.autoFit = false;
    this.apply();
  }

  apply(): void {
    this.host.g.setAttribute('transform', `translate(${this.tx.toFixed(1)},${this.ty.toFixed(1)}) scale(${this.k.toFixed(4)})`);
    this.host.moved(this.k);
    this.host.el.dataset.zoom = this.k.toFixed(3);
  }

  /** The +, − and fit buttons. */
  controls(): HTMLDivElement {
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
    const { svg, el } = this.host;
    let drag: { x: number; y: number; tx: number; ty: number; moved: boolean; id: number } | null = null;
    svg.addEventListener('pointerdown', ev => {
      if (ev.button !== 0) {
        return;
      }
      drag = { x: ev.clientX, y: ev.clientY, tx: this.tx, ty: this.ty, moved: false, id: ev.pointerId };
    });
    svg.addEventListener('pointermove', ev => {
      if (!drag) {
        this.host.hover(ev);
        return;
      }
      this.host.hover(null);
      const dx = ev.clientX - drag.x;
      const dy = ev.clientY - drag.y;
      if (!drag.moved && Math.abs(dx) + Math.abs(dy) > 4) {
        drag.moved = true;
        svg.setPointerCapture?.(drag.id);
        svg.classList.add('jf-panning');
      }
      if (drag.moved) {
        this.tx = drag.tx + dx;
        this.ty = drag.ty + dy;
        this.autoFit = false;
        this.apply();
      }
    });
    const end = (ev: PointerEvent) => {
      if (!drag) {
        return;
      }
      const wasDrag = drag.moved;
      drag = null;
      svg.classList.remove('jf-panning');
      if (wasDrag || ev.type !== 'pointerup') {
        return;
      }
      this.host.tap(ev.target as Element);
    };
    svg.addEventListener('pointerleave', () => this.host.hover(null));
    svg.addEventListener('pointerup', end);
    svg.addEventListener('pointercancel', end);
    svg.addEventListener(
      'wheel',
      ev => {
        const zoom = ev.ctrlKey || ev.metaKey || this.host.wheel === 'zoom';
        if (!zoom) {
          return; // let the notebook scroll
        }
        ev.preventDefault();
        const rect = el.getBoundingClientRect();
        if (this.host.wheel === 'zoom' && !(ev.ctrlKey || ev.metaKey) && Math.abs(ev.deltaX) > Math.abs(ev.deltaY)) {
          this.tx -= ev.deltaX;
          this.autoFit = false;
          this.apply();
          return;
        }
        this.zoomBy(Math.exp(-ev.deltaY * (ev.deltaMode === 1 ? 0.05 : 0.0022)), ev.clientX - rect.left, ev.clientY - rect.top);
      },
      { passive: false }
    );
    svg.addEventListener('dblclick', ev => {
      if (!(ev.target as Element).closest?.('g.jf-node')) {
        this.autoFit = true;
        this.fit();
      }
    });
  }
}
