/** The details of the selected job: state and reason, dependencies with where each stands, the
 * jobs that wait on it, why it waits (explain), times, and its actions. */
import { conditionStatus, dependencyOf, formatDelay } from './deps';
import { button, clock, elapsed, executorText, formatSeconds, gpuText, h, reasonText, STATE_NAME } from './dom';
import { errorText, Session } from './session';
import { Job } from './types';

export interface HostAction {
  /** button label */
  label: string;
  title?: string;
  run(job: Job): void;
}

export interface DetailActions {
  log(id: number): void;
  cancel(ids: number[]): void;
  hold(id: number): void;
  release(id: number): void;
  redo(id: number): void;
  select(id: number): void;
  close(): void;
}

export class DetailsView {
  readonly el: HTMLDivElement;
  private id: number | null = null;
  private explainFor = '';
  private explainBox: HTMLDivElement = h('div');

  constructor(
    private session: Session,
    private actions: DetailActions,
    private hostActions: HostAction[] = []
  ) {
    this.el = h('div', { class: 'jf-details', hidden: true });
  }

  get selected(): number | null {
    return this.id;
  }

  show(id: number | null): void {
    this.id = id;
    this.render();
  }

  /** Re-render when the shown job (or one of its parents) changed. */
  touched(ids: Set<number>): void {
    if (this.id === null) {
      return;
    }
    if (ids.has(this.id) || (this.session.store.parents.get(this.id) ?? []).some(e => ids.has(e.parent))) {
      this.render();
    }
  }

  private render(): void {
    const job = this.id !== null ? this.session.store.get(this.id) : undefined;
    if (!job) {
      this.el.hidden = true;
      this.el.replaceChildren();
      return;
    }
    this.el.hidden = false;
    const store = this.session.store;
    const head = h(
      'div',
      { class: 'jf-details-head' },
      h('span', { class: `jf-badge s-${job.code}` }, job.code),
      h('b', { class: 'jf-details-title' }, `${job.id} ${job.name}`),
      button('×', () => this.actions.close(), { class: 'jf-btn jf-icon-btn jf-close', title: 'Close' })
    );
    const rows: [string, Node | string][] = [];
    const why = reasonText(job, id => store.get(id)?.code);
    rows.push([
      'State',
      h(
        'span',
        { title: job.reason ?? '' },
        `${STATE_NAME[job.code] ?? job.state}${why ? ` (${why})` : ''}${job.stopping && !why.startsWith('stopping') ? ` · stopping: ${job.stopping}` : ''}`
      )
    ]);
    if (job.command?.length) {
      const cmd = job.command.join(' ');
      const cell = cellOf(job.command);
      rows.push(
        cell
          ? ['Runs', h('span', { title: cmd }, `notebook cell: ${cell}`)]
          : ['Command', h('code', { class: 'jf-mono jf-cmd', title: cmd }, cmd.length > 200 ? cmd.slice(0, 199) + '…' : cmd)]
      );
    }
    const dep = dependencyOf(job);
    if (dep.edges.length || dep.singleton) {
      const list = h('ul', { class: 'jf-deplist' });
      if (dep.op === 'or') {
        list.append(h('li', { class: 'jf-dep-or' }, 'any one of:'));
      }
      if (dep.singleton) {
        list.append(h('li', {}, 'singleton: one job of this name at a time'));
      }
      for (const e of dep.edges) {
        const parent = store.get(e.parent);
        const st = conditionStatus(e.type, parent?.code);
        const link = h('a', { href: '#', class: 'jf-joblink' }, `${e.parent}${parent ? ` ${parent.name}` : ''}`);
        link.addEventListener('click', ev => {
          ev.preventDefault();
          this.actions.select(e.parent);
        });
        list.append(
          h(
            'li',
            { class: `jf-dep ${st}` },
            h('span', { class: 'jf-dep-mark' }, st === 'met' ? '✓' : st === 'never' ? '✗' : '…'),
            ` ${e.type}${e.delay ? ` ${formatDelay(e.delay)}` : ''} `,
            link,
            parent ? h('span', { class: `jf-badge s-${parent.code}` }, parent.code) : ' (not shown)'
          )
        );
      }
      rows.push(['Depends on', list]);
    }
    const kids = [...(store.children.get(job.id) ?? [])].sort((a, b) => a - b);
    if (kids.length) {
      const box = h('span', { class: 'jf-kids' });
      kids.slice(0, 30).forEach((k, i) => {
        const kj = store.get(k);
        const link = h('a', { href: '#', class: 'jf-joblink' }, `${k}${kj ? ` ${kj.name}` : ''}`);
        link.addEventListener('click', ev => {
          ev.preventDefault();
          this.actions.select(k);
        });
        box.append(i ? ', ' : '', link);
      });
      if (kids.length > 30) {
        box.append(` and ${kids.length - 30} more`);
      }
      rows.push(['Needed by', box]);
    }
    const gpus = gpuText(job);
    if (gpus) {
      rows.push(['GPUs', gpus]);
    }
    const where = executorText(job);
    if (where) {  // a local job's row would say nothing new
      rows.push(['Executor', where]);
    }
    if (job.group) {
      rows.push(['Group', job.group]);
    }
    const times = [`submitted ${clock(job.submitted_at)}`];
    if (job.started_at) {
      times.push(`started ${clock(job.started_at)}`);
    }
    if (job.ended_at && job.code !== 'R') {
      times.push(`ended ${clock(job.ended_at)}`);
    }
    const ran = elapsed(job);
    if (ran !== null) {
      times.push(`ran ${formatSeconds(ran)}`);
    }
    rows.push(['Times', times.join(' · ')]);
    const limits: string[] = [];
    if (job.time_limit) {
      limits.push(`time limit ${job.time_limit_display ?? formatSeconds(job.time_limit)}`);
    }
    if ((job.attempt ?? 0) > 1 || job.retries) {
      limits.push(`attempt ${job.attempt ?? 0} of ${(job.retries ?? 0) + 1}`);
    }
    if (job.exit_code !== null && job.exit_code !== undefined) {
      limits.push(`exit code ${job.exit_code}`);
    }
    if (job.signal) {
      limits.push(`signal ${job.signal}`);
    }
    if (job.redo_of) {
      limits.push(`redo of job ${job.redo_of}`);
    }
    if (limits.length) {
      rows.push(['Run', limits.join(' · ')]);
    }
    const dl = h('table', { class: 'jf-props' });
    for (const [k, v] of rows) {
      dl.append(h('tr', {}, h('th', {}, k), h('td', {}, v)));
    }
    const active = job.code === 'PD' || job.code === 'H' || job.code === 'R';
    const bar = h('div', { class: 'jf-details-actions' });
    bar.append(button('Log', () => this.actions.log(job.id), { 'data-act': 'log', title: 'Show its output' }));
    if (active) {
      bar.append(button('Cancel…', () => this.actions.cancel([job.id]), { 'data-act': 'cancel', class: 'jf-btn jf-danger-outline', title: 'Cancel (shows what else it affects first)' }));
    }
    if (job.code === 'PD') {
      bar.append(button('Hold', () => this.actions.hold(job.id), { 'data-act': 'hold' }));
    }
    if (job.code === 'H') {
      bar.append(button('Release', () => this.actions.release(job.id), { 'data-act': 'release' }));
    }
    if (!active) {
      bar.append(button('Redo', () => this.actions.redo(job.id), { 'data-act': 'redo', title: 'Submit it again as a new job' }));
    }
    for (const a of this.hostActions) {
      bar.append(button(a.label, () => a.run(job), { title: a.title ?? '', 'data-act': 'host' }));
    }
    const parts: Node[] = [head, dl];
    if (job.code === 'PD' || job.code === 'H') {
      const key = `${job.id}:${job.code}:${job.reason}`;
      if (key !== this.explainFor) {
        this.explainFor = key;
        this.explainBox = h('div', { class: 'jf-explain' }, 'Why it waits: …');
        const box = this.explainBox;
        this.session
          .request<{ lines: string[] }>('GET', `jobs/${job.id}/explain`)
          .then(r => box.replaceChildren(h('div', { class: 'jf-explain-h' }, 'Why it waits'), h('pre', {}, r.lines.join('\n'))))
          .catch(err => box.replaceChildren(`Why it waits: ${errorText(err)}`));
      }
      parts.push(this.explainBox);
    } else {
      this.explainFor = '';
    }
    parts.push(bar);
    this.el.replaceChildren(...parts);
    this.el.dataset.job = String(job.id);
  }
}

/** `pipeline.ipynb, cell [4]` for a job that runs a notebook cell (`%%gbatch`), else null. */
export function cellOf(command: string[]): string | null {
  const k = command.indexOf('jupyter_jobflow.cellrunner');
  if (k < 0) {
    return null;
  }
  const n = command.indexOf('--name', k);
  const label = n >= 0 ? command[n + 1] ?? '' : '';
  return label ? label.split('/').pop() ?? label : 'a notebook cell';
}
