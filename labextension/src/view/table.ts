/**
 * The job table: sortable by any column, filtered by state (gflow's codes), by text (id, name,
 * group, reason) and by group, with each row's actions (log, cancel, hold/release, redo).
 * Narrow (the sidebar at its default width): id, name and state only, the actions in a row menu.
 *
 * Long because: sorting, filtering and the row actions share one row cache (a state change
 * restyles one row in place); split apart, each would need the cache and its invalidation.
 */
import { clock, elapsed, formatSeconds, gpuText, h, reasonText, STATE_NAME, STATES } from './dom';
import { Change, JobStore } from './store';
import { Job } from './types';

export interface TableActions {
  select(id: number): void;
  log(id: number): void;
  cancel(ids: number[]): void;
  hold(id: number): void;
  release(id: number): void;
  redo(id: number): void;
}

type Key = 'id' | 'name' | 'code' | 'reason' | 'group' | 'gpus' | 'deps' | 'elapsed' | 'submitted';

const COLUMNS: [Key, string, string][] = [
  ['id', 'ID', 'Job id'],
  ['name', 'Name', 'Job name'],
  ['code', 'St', 'State (gflow code)'],
  ['reason', 'Reason', 'Why it waits or how it ended'],
  ['group', 'Group', 'Group'],
  ['gpus', 'GPUs', 'GPUs asked for / held'],
  ['deps', 'Depends on', 'Dependency'],
  ['elapsed', 'Time', 'Run time'],
  ['submitted', 'Submitted', 'Submitted at']
];

const ORDER: Record<string, number> = { R: 0, PD: 1, H: 2, F: 3, TO: 4, CA: 5, CD: 6 };

function sortValue(job: Job, key: Key): string | number {
  switch (key) {
    case 'id':
      return job.id;
    case 'name':
      return job.name.toLowerCase();
    case 'code':
      return ORDER[job.code] ?? 9;
    case 'reason':
      return reasonText(job).toLowerCase();
    case 'group':
      return (job.group ?? '').toLowerCase();
    case 'gpus':
      return job.gpus ?? 0;
    case 'deps':
      return job.dependency ?? '';
    case 'elapsed':
      return elapsed(job) ?? -1;
    case 'submitted':
      return job.submitted_at ?? 0;
  }
}

export class TableView {
  readonly el: HTMLDivElement;
  private tbody: HTMLTableSectionElement;
  private head: HTMLTableRowElement;
  private text: HTMLInputElement;
  private groupSel: HTMLSelectElement;
  private countEl: HTMLSpanElement;
  private states = new Set<string>();
  private sortKey: Key = 'id';
  private sortDir: 1 | -1 = -1;
  private dirty = true;
  private visible = false;
  private scope: Set<number> | null = null;
  private selected: number | null = null;
  private rowCache = new Map<number, { sig: string; tr: HTMLTableRowElement }>();
  private ticker: ReturnType<typeof setInterval> | undefined;
  private menu: HTMLDivElement;
  private offMenu: (() => void) | null = null;

  constructor(
    private store: JobStore,
    private actions: TableActions
  ) {
    this.text = h('input', {
      type: 'search',
      class: 'jf-input',
      placeholder: 'Filter: id, name, group, reason',
      'aria-label': 'Filter jobs'
    });
    this.text.addEventListener('input', () => this.refresh());
    this.groupSel = h('select', { class: 'jf-input', 'aria-label': 'Group' });
    this.groupSel.addEventListener('change', () => this.refresh());
    const chips = h('span', { class: 'jf-chips' });
    for (const [code, name] of STATES) {
      const chip = h('button', { type: 'button', class: `jf-chip s-${code}`, title: `Show only ${name}`, 'data-code': code }, code);
      chip.addEventListener('click', () => {
        if (this.states.has(code)) {
          this.states.delete(code);
        } else {
          this.states.add(code);
        }
        chip.classList.toggle('on', this.states.has(code));
        this.refresh();
      });
      chips.appendChild(chip);
    }
    this.countEl = h('span', { class: 'jf-count' });
    this.head = h('tr');
    for (const [key, label, title] of COLUMNS) {
      const th = h('th', { title: `${title}; click to sort`, 'data-key': key, class: `jf-col-${key}` }, label);
      th.addEventListener('click', () => {
        if (this.sortKey === key) {
          this.sortDir = this.sortDir === 1 ? -1 : 1;
        } else {
          this.sortKey = key;
          this.sortDir = key === 'id' || key === 'submitted' || key === 'elapsed' ? -1 : 1;
        }
        this.refresh();
      });
      this.head.appendChild(th);
    }
    this.head.appendChild(h('th', { class: 'jf-actions-h', 'aria-label': 'Actions' }, ''));
    this.tbody = h('tbody');
    this.tbody.addEventListener('click', ev => {
      const target = ev.target as HTMLElement;
      const row = target.closest('tr');
      if (!row || !row.dataset.id) {
        return;
      }
      const id = Number(row.dataset.id);
      const act = target.closest('button')?.dataset.act;
      if (act === 'menu') {
        return this.openMenu(id, target.closest('button')!);
      }
      this.run(id, act);
    });
    this.menu = h('div', { class: 'jf-menu', role: 'menu', hidden: true });
    this.menu.addEventListener('click', ev => {
      const b = (ev.target as HTMLElement).closest('button');
      if (b?.dataset.act && this.menu.dataset.id) {
        ev.stopPropagation();
        const id = Number(this.menu.dataset.id);
        this.closeMenu();
        this.run(id, b.dataset.act);
      }
    });
    this.el = h(
      'div',
      { class: 'jf-table-wrap' },
      h('div', { class: 'jf-toolbar' }, this.text, this.groupSel, chips, this.countEl),
      h('div', { class: 'jf-table-scroll' }, h('table', { class: 'jf-table' }, h('thead', {}, this.head), this.tbody)),
      this.menu
    );
    this.el.addEventListener('scroll', () => this.closeMenu(), true);
  }

  private run(id: number, act: string | undefined): void {
    switch (act) {
      case 'log':
        return this.actions.log(id);
      case 'cancel':
        return this.actions.cancel([id]);
      case 'hold':
        return this.actions.hold(id);
      case 'release':
        return this.actions.release(id);
      case 'redo':
        return this.actions.redo(id);
      default:
        this.actions.select(id);
    }
  }

  /** The row menu (narrow layout): the row's own action buttons, under its "⋯" button. */
  private openMenu(id: number, anchor: HTMLElement): void {
    if (!this.menu.hidden && this.menu.dataset.id === String(id)) {
      return this.closeMenu();
    }
    const row = anchor.closest('tr');
    const buttons = [...(row?.querySelectorAll<HTMLButtonElement>('.jf-row-btns button') ?? [])];
    this.menu.replaceChildren(
      ...buttons.map(b =>
        h('button', { type: 'button', class: 'jf-menu-item', role: 'menuitem', 'data-act': b.dataset.act, title: b.title }, b.textContent ?? '')
      )
    );
    this.menu.dataset.id = String(id);
    this.menu.hidden = false;
    anchor.setAttribute('aria-expanded', 'true');
    const box = this.el.getBoundingClientRect();
    const at = anchor.getBoundingClientRect();
    const top = at.bottom - box.top + 2;
    const fitsBelow = top + this.menu.offsetHeight <= box.height;
    this.menu.style.top = `${fitsBelow ? top : Math.max(0, at.top - box.top - this.menu.offsetHeight - 2)}px`;
    this.menu.style.right = `${Math.max(2, box.right - at.right)}px`;
    const away = (ev: Event) => {
      if (!this.menu.contains(ev.target as Node) && ev.target !== anchor && !anchor.contains(ev.target as Node)) {
        this.closeMenu();
      }
    };
    this.offMenu?.();
    const doc = this.el.ownerDocument;
    const key = (ev: KeyboardEvent) => ev.key === 'Escape' && this.closeMenu();
    doc.addEventListener('pointerdown', away, true);
    doc.addEventListener('keydown', key, true);
    this.offMenu = () => {
      doc.removeEventListener('pointerdown', away, true);
      doc.removeEventListener('keydown', key, true);
      anchor.removeAttribute('aria-expanded');
    };
    (this.menu.firstElementChild as HTMLElement | null)?.focus();
  }

  private closeMenu(): void {
    this.menu.hidden = true;
    delete this.menu.dataset.id;
    this.offMenu?.();
    this.offMenu = null;
  }

  setScope(ids: Set<number> | null): void {
    this.scope = ids;
    this.refresh();
  }

  setVisible(visible: boolean): void {
    this.visible = visible;
    clearInterval(this.ticker);
    if (visible) {
      if (this.dirty) {
        this.render();
      }
      // running jobs' times move on
      this.ticker = setInterval(() => this.tick(), 1000);
    }
  }

  /** Running jobs' times, in place (a re-render would swallow a click in progress). */
  private tick(): void {
    const now = Date.now() / 1000;
    for (const row of this.tbody.querySelectorAll<HTMLTableRowElement>('tr[data-code="R"]')) {
      const job = this.store.get(Number(row.dataset.id));
      const cell = row.querySelector('td.jf-time');
      if (job && cell) {
        cell.textContent = formatSeconds(elapsed(job, now));
      }
    }
  }

  dispose(): void {
    clearInterval(this.ticker);
    this.closeMenu();
  }

  select(id: number | null): void {
    this.selected = id;
    for (const row of this.tbody.querySelectorAll('tr.sel')) {
      row.classList.remove('sel');
    }
    if (id !== null) {
      this.tbody.querySelector(`tr[data-id="${id}"]`)?.classList.add('sel');
    }
  }

  apply(_change: Change): void {
    this.refresh();
  }

  refresh(): void {
    this.dirty = true;
    if (this.visible) {
      this.render();
    }
  }

  private updateGroups(jobs: Job[]): void {
    const groups = [...new Set(jobs.map(j => j.group).filter((g): g is string => !!g))].sort();
    const current = this.groupSel.value;
    const want = ['', ...groups];
    const have = [...this.groupSel.options].map(o => o.value);
    if (want.join('\u0000') !== have.join('\u0000')) {
      this.groupSel.replaceChildren(...want.map(g => h('option', { value: g }, g || 'All groups')));
      this.groupSel.value = want.includes(current) ? current : '';
    }
    this.groupSel.style.display = groups.length ? '' : 'none';
  }

  private render(): void {
    this.dirty = false;
    let jobs = this.store.all();
    if (this.scope) {
      jobs = jobs.filter(j => this.scope!.has(j.id));
    }
    this.updateGroups(jobs);
    const total = jobs.length;
    const text = this.text.value.trim().toLowerCase();
    const group = this.groupSel.value;
    jobs = jobs.filter(j => {
      if (this.states.size && !this.states.has(j.code)) {
        return false;
      }
      if (group && j.group !== group) {
        return false;
      }
      if (text) {
        const hay = `${j.id} ${j.name} ${j.group ?? ''} ${reasonText(j)} ${j.state}`.toLowerCase();
        return text.split(/\s+/).every(w => hay.includes(w));
      }
      return true;
    });
    const key = this.sortKey;
    const dir = this.sortDir;
    jobs.sort((a, b) => {
      const va = sortValue(a, key);
      const vb = sortValue(b, key);
      return (va < vb ? -1 : va > vb ? 1 : 0) * dir || (a.id - b.id) * -1;
    });
    for (const th of this.head.querySelectorAll<HTMLElement>('th[data-key]')) {
      th.classList.toggle('sorted', th.dataset.key === key);
      th.dataset.dir = th.dataset.key === key ? (dir === 1 ? 'asc' : 'desc') : '';
    }
    this.countEl.textContent = jobs.length === total ? `${total} jobs` : `${jobs.length} of ${total} jobs`;
    const now = Date.now() / 1000;
    // rows are reused while their job is unchanged: a click in progress keeps its target
    const keep = new Map<number, { sig: string; tr: HTMLTableRowElement }>();
    const rows = jobs.map(j => {
      const sig = `${j.code}|${j.state}|${j.reason}|${j.name}|${j.group}|${j.dependency}|${j.allocated_gpus}|${j.used_gpus}|${j.started_at}|${j.ended_at}|${j.stopping}`;
      const had = this.rowCache.get(j.id);
      const tr = had && had.sig === sig ? had.tr : this.row(j, now);
      tr.classList.toggle('sel', j.id === this.selected);
      keep.set(j.id, { sig, tr });
      return tr;
    });
    this.rowCache = keep;
    if (!rows.length) {
      rows.push(
        h('tr', { class: 'jf-norows' }, h('td', { colspan: COLUMNS.length + 1 }, total ? 'No job matches the filter.' : 'No jobs yet.'))
      );
    }
    this.tbody.replaceChildren(...rows);
  }

  private row(j: Job, now: number): HTMLTableRowElement {
    const active = j.code === 'PD' || j.code === 'H' || j.code === 'R';
    const btns = h('span', { class: 'jf-row-btns' });
    const act = (name: string, label: string, title: string) =>
      btns.appendChild(h('button', { type: 'button', class: 'jf-btn jf-small', 'data-act': name, title }, label));
    act('log', 'Log', 'Show its log');
    if (active) {
      act('cancel', 'Cancel', 'Cancel (shows what else it affects first)');
    }
    if (j.code === 'PD') {
      act('hold', 'Hold', 'Hold: keep it from starting');
    } else if (j.code === 'H') {
      act('release', 'Release', 'Release: let it start');
    }
    if (!active) {
      act('redo', 'Redo', 'Submit it again as a new job');
    }
    const menuBtn = h(
      'button',
      { type: 'button', class: 'jf-btn jf-small jf-row-menu-btn', 'data-act': 'menu', title: `Actions for job ${j.id}`, 'aria-haspopup': 'menu' },
      '⋯'
    );
    const acts = h('td', { class: 'jf-row-actions' }, btns, menuBtn);
    const reason = reasonText(j, id => this.store.get(id)?.code);
    const state = STATE_NAME[j.code] ?? j.state;
    const tr = h(
      'tr',
      { 'data-id': j.id, 'data-code': j.code, class: j.id === this.selected ? 'sel' : '' },
      h('td', { class: 'jf-num jf-col-id' }, String(j.id)),
      h('td', { class: 'jf-name jf-col-name', title: `${j.name}${reason ? `: ${reason}` : ''}` }, j.name),
      h('td', { class: 'jf-col-code' }, h('span', { class: `jf-badge s-${j.code}`, title: `${state}${reason ? `: ${reason}` : ''}` }, j.code)),
      h('td', { class: 'jf-reason jf-col-reason' + (j.reason_kind === 'DependencyNeverSatisfied' ? ' never' : ''), title: j.reason ?? '' }, reason),
      h('td', { class: 'jf-col-group' }, j.group ?? ''),
      h('td', { class: 'jf-num jf-col-gpus' }, gpuText(j, true)),
      h('td', { class: 'jf-deps jf-col-deps', title: j.dependency ?? '' }, j.dependency ?? ''),
      h('td', { class: 'jf-num jf-time jf-col-elapsed' }, formatSeconds(elapsed(j, now))),
      h('td', { class: 'jf-num jf-col-submitted' }, clock(j.submitted_at)),
      acts
    );
    return tr;
  }
}
