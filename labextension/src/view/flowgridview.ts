/**
 * The grid of a flow's runs in the Flows view (flowgrid.ts builds it): the schedule's line with
 * its next tick, the "Backfill…" button (flowbackfill.ts), and one cell per task and run coloured
 * by the task's state; a click on a cell opens that run with that task's log. A run's tasks come
 * from `GET runs/{id}`: a run that has ended is read once, an active one again at each update.
 */
import { button, h } from './dom';
import { runActive, stateCode } from './flowdata';
import { openBackfill } from './flowbackfill';
import { openScheduleForm } from './flowschedule';
import { buildGrid, columnLabel, scheduleLine, spansDays } from './flowgrid';
import { errorText, Session } from './session';
import { RunDetail, RunSummary, Schedule } from './types';

/** columns shown: the newest ticks */
const COLUMNS = 30;

export interface RunGridHooks {
  openTask(runId: string, task: string): void;
  toast(text: string, kind?: 'ok' | 'error'): void;
  /** a backfill created runs: read the run list again */
  created(): void;
}

export class RunGrid {
  readonly el: HTMLDivElement;
  private line: HTMLSpanElement;
  private body: HTMLDivElement;
  private backfill: HTMLButtonElement;
  private scheduleButton: HTMLButtonElement;
  private flow: string | null = null;
  private schedule: Schedule | null = null;
  private details = new Map<string, RunDetail>();
  private generation = 0;

  constructor(
    private session: Session,
    private hooks: RunGridHooks
  ) {
    this.line = h('span', { class: 'jf-schedule-line' });
    this.backfill = button('Backfill…', () => void this.openBackfill(), { 'data-act': 'backfill', title: 'Create runs for past ticks of the schedule (a dry run first)' });
    this.scheduleButton = button('Schedule…', () => void this.openSchedule(), { 'data-act': 'schedule', title: "Set the flow's cron schedule and see its next ticks" });
    this.body = h('div', { class: 'jf-grid-box' });
    this.el = h('div', { class: 'jf-run-grid' }, h('div', { class: 'jf-toolbar' }, this.line, this.scheduleButton, this.backfill), this.body);
  }

  /** Show `flow`'s runs (newest first, as the list has them); reads the schedule when the flow changes or `again`. */
  async show(flow: string | null, runs: RunSummary[], again = false): Promise<void> {
    const gen = ++this.generation;
    if (flow !== this.flow) {
      this.flow = flow;
      this.details.clear();
      this.schedule = null;
      again = true;
    }
    if (!flow) {
      this.el.hidden = true;
      return;
    }
    this.el.hidden = false;
    if (again) {
      this.schedule = await this.readSchedule(flow);
    }
    const wanted = runs.slice(0, COLUMNS);
    const stale = wanted.filter(r => {
      const have = this.details.get(r.run_id);
      return !have || have.state !== r.state || runActive(r);
    });
    await Promise.all(
      stale.map(async r => {
        try {
          this.details.set(r.run_id, await this.session.request<RunDetail>('GET', `runs/${encodeURIComponent(r.run_id)}`));
        } catch {
          // a run deleted meanwhile: it leaves the grid at the next update
        }
      })
    );
    if (gen !== this.generation) {
      return;
    }
    const keep = new Set(wanted.map(r => r.run_id));
    for (const id of [...this.details.keys()]) {
      if (!keep.has(id)) {
        this.details.delete(id);
      }
    }
    this.render([...this.details.values()]);
  }

  private async readSchedule(flow: string): Promise<Schedule | null> {
    try {
      return await this.session.request<Schedule>('GET', `flows/${encodeURIComponent(flow)}/schedule`);
    } catch {
      return null; // no schedule (a 404), or an older server without schedules
    }
  }

  private render(runs: RunDetail[]): void {
    this.line.textContent = scheduleLine(this.schedule);
    this.line.title = this.line.textContent;
    this.backfill.disabled = !this.schedule;
    const grid = buildGrid(runs, COLUMNS);
    if (!grid.columns.length) {
      this.body.replaceChildren();
      return;
    }
    const withDate = spansDays(grid.columns);
    const head = h(
      'tr',
      {},
      h('th', { class: 'jf-grid-task' }, 'Task'),
      ...grid.columns.map(c =>
        h('th', { class: `jf-grid-col s-${stateCode(c.state)}`, title: `${c.run_id}\n${c.run_type}, ${c.state}${c.reason ? ` (${c.reason})` : ''}`, 'data-run': c.run_id }, columnLabel(c.execution_date, withDate))
      )
    );
    const rows = grid.rows.map(row =>
      h(
        'tr',
        { 'data-task': row.task },
        h('th', { class: 'jf-grid-task', title: row.task }, row.task),
        ...row.cells.map(cell => {
          if (!cell) {
            return h('td', {});
          }
          const el = h('span', {
            class: `jf-grid-cell s-${cell.code}`,
            'data-run': cell.run_id,
            'data-task': cell.task,
            'data-state': cell.state,
            tabindex: 0,
            role: 'button',
            title: `${cell.task}: ${cell.state}\n${cell.run_id}\nclick: its log`
          });
          const open = () => this.hooks.openTask(cell.run_id, cell.task);
          el.addEventListener('click', open);
          el.addEventListener('keydown', ev => {
            if (ev.key === 'Enter' || ev.key === ' ') {
              ev.preventDefault();
              open();
            }
          });
          return h('td', {}, el);
        })
      )
    );
    this.body.replaceChildren(h('table', { class: 'jf-grid' }, h('thead', {}, head), h('tbody', {}, ...rows)));
    this.body.scrollLeft = this.body.scrollWidth; // the newest ticks in view
  }

  private async openSchedule(): Promise<void> {
    const flow = this.flow;
    if (!flow) {
      return;
    }
    const saved = await openScheduleForm(this.session, flow, this.schedule, this.el);
    if (saved && flow === this.flow) {
      this.schedule = saved;
      this.line.textContent = scheduleLine(saved);
      this.line.title = this.line.textContent;
      this.backfill.disabled = false;
    }
  }

  private async openBackfill(): Promise<void> {
    const flow = this.flow;
    if (!flow) {
      return;
    }
    try {
      const created = await openBackfill(this.session, flow, this.el);
      if (created) {
        this.hooks.toast(`Backfill of ${flow}: ${created} run${created === 1 ? '' : 's'} created`);
        this.hooks.created();
      }
    } catch (err) {
      this.hooks.toast(`Backfill of ${flow} failed: ${errorText(err)}`, 'error');
    }
  }
}
