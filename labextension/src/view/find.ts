/**
 * The graph's "Find" box: dims every job but those whose id or name matches; Enter selects the
 * next match (Shift+Enter the one before), Escape clears.
 */

export interface FindHost {
  /** the graph's SVG: dimmed while a query is set */
  svg: SVGSVGElement;
  /** the drawn nodes, by job id */
  nodes(): Iterable<[number, { g: SVGGElement }]>;
  /** a job's name (undefined: not known) */
  nameOf(id: number): string | undefined;
  /** select this job and bring it into view */
  pick(id: number): void;
}

export class Finder {
  readonly el: HTMLDivElement;
  private query = '';
  private matches: number[] = [];

  constructor(private host: FindHost) {
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
      count.textContent = this.apply();
    });
    input.addEventListener('keydown', ev => {
      if (ev.key === 'Enter' && this.matches.length) {
        ev.preventDefault();
        at = (at + (ev.shiftKey ? -1 : 1) + this.matches.length) % this.matches.length;
        this.host.pick(this.matches[at]);
        count.textContent = `${at + 1} of ${this.matches.length}`;
      } else if (ev.key === 'Escape') {
        input.value = '';
        this.query = '';
        count.textContent = this.apply();
      }
    });
    box.append(input, count);
    this.el = box;
  }

  /** whether a query is set (a new drawing then marks its matches again) */
  get active(): boolean {
    return !!this.query;
  }

  /** Mark the jobs that match the find box; returns the count line. */
  apply(): string {
    const q = this.query;
    this.matches = [];
    this.host.svg.classList.toggle('jf-dim', !!q);
    for (const [id, els] of this.host.nodes()) {
      let hit = false;
      if (q) {
        const name = this.host.nameOf(id);
        hit = String(id) === q || (name !== undefined && name.toLowerCase().includes(q));
        if (hit) {
          this.matches.push(id);
        }
      }
      els.g.classList.toggle('match', hit);
    }
    return q ? (this.matches.length ? `${this.matches.length} found` : 'none found') : '';
  }
}
