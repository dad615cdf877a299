/**
 * What a person can do to a job from the panel: cancel (after reading the dry run's list of what
 * else it affects), hold, release, redo. The store changes only through the event stream: a reply
 * can be older than an event that overtook it (a released job already running), so replies only
 * make the toast.
 */
import { button, h, showDialog } from './dom';
import { errorText, Session } from './session';
import { Job } from './types';

export interface CancelReport {
  targets: Job[];
  cancelled: number[];
  dependents: { id: number; name: string; condition: string; outcome: string }[];
  warnings: string[];
  dry_run?: boolean;
  text: string;
}

export class Actions {
  constructor(
    private session: Session,
    private toast: (text: string, kind?: 'ok' | 'error') => void,
    private dialogHost: () => HTMLElement
  ) {}

  /** Show the dry run of cancelling `ids`, and cancel only when the person confirms. */
  async cancel(ids: number[], cascade = false): Promise<void> {
    let report: CancelReport;
    try {
      report = await this.session.request<CancelReport>('POST', 'jobs/cancel', { ids, dry_run: true, cascade });
    } catch (err) {
      this.toast(`Cannot cancel: ${errorText(err)}`, 'error');
      return;
    }
    const confirmed = await this.confirmCancel(ids, report, cascade);
    if (confirmed === null) {
      return;
    }
    if (confirmed !== cascade) {
      return this.cancel(ids, confirmed); // the cascade box changed: show that dry run first
    }
    try {
      const done = await this.session.request<CancelReport>('POST', 'jobs/cancel', { ids, dry_run: false, cascade });
      const n = done.cancelled?.length ?? 0;
      this.toast(n ? `Cancelled ${n === 1 ? `job ${done.cancelled[0]}` : `${n} jobs: ${done.cancelled.join(', ')}`}` : firstLine(done.text) || 'Nothing to cancel');
    } catch (err) {
      this.toast(`Cancel failed: ${errorText(err)}`, 'error');
    }
  }

  async hold(id: number): Promise<void> {
    await this.simple('POST', `jobs/${id}/hold`, `Job ${id} held: it will not start until released`);
  }

  async release(id: number): Promise<void> {
    await this.simple('POST', `jobs/${id}/release`, `Job ${id} released`);
  }

  async redo(id: number): Promise<void> {
    try {
      const reply = await this.session.request<{ job: Job }>('POST', `jobs/${id}/redo`, {});
      this.toast(reply.job.id === id ? `Job ${id} queued again` : `Job ${id} redone as job ${reply.job.id}`);
    } catch (err) {
      this.toast(`Redo failed: ${errorText(err)}`, 'error');
    }
  }

  private async simple(method: string, path: string, ok: string): Promise<void> {
    try {
      await this.session.request<{ job: Job }>(method, path, {});
      this.toast(ok);
    } catch (err) {
      this.toast(errorText(err), 'error');
    }
  }

  /** The dialog: resolves to the cascade setting to cancel with, or null to keep the jobs. */
  private confirmCancel(ids: number[], report: CancelReport, cascade: boolean): Promise<boolean | null> {
    return new Promise(resolve => {
      const dlg = h('dialog', { class: 'jf-dialog', 'aria-label': 'Cancel jobs' });
      const names = report.targets.length
        ? report.targets.map(j => `${j.id} (${j.name})`).join(', ')
        : ids.join(', ');
      const active = report.targets.filter(j => ['PD', 'H', 'R'].includes(j.code));
      const title = h('h3', {}, `Cancel job${ids.length > 1 ? 's' : ''} ${names}?`);
      const body = h('div', { class: 'jf-dialog-body' });
      if (!active.length) {
        body.append(h('p', {}, 'Nothing to cancel: ' + (report.targets.map(j => `job ${j.id} is ${j.state}`).join(', ') || 'no such job') + '.'));
      } else if (report.dependents.length) {
        body.append(h('p', {}, `This also affects ${report.dependents.length} job${report.dependents.length > 1 ? 's' : ''} that depend on it:`));
        const rows = report.dependents.map(d =>
          h(
            'tr',
            { class: /cancel/i.test(d.outcome) ? 'bad' : '' },
            h('td', { class: 'jf-num' }, String(d.id)),
            h('td', {}, d.name),
            h('td', { class: 'jf-mono' }, d.condition),
            h('td', {}, d.outcome)
          )
        );
        body.append(
          h(
            'table',
            { class: 'jf-table jf-dependents' },
            h('thead', {}, h('tr', {}, h('th', {}, 'ID'), h('th', {}, 'Name'), h('th', {}, 'Condition'), h('th', {}, 'What happens'))),
            h('tbody', {}, ...rows)
          )
        );
      } else {
        body.append(h('p', {}, 'No other job depends on it.'));
      }
      for (const w of report.warnings ?? []) {
        body.append(h('p', { class: 'jf-warning' }, w));
      }
      if (report.text) {
        body.append(h('details', { class: 'jf-report' }, h('summary', {}, 'Full dry-run report'), h('pre', {}, report.text)));
      }
      const cascadeBox = h('input', { type: 'checkbox', checked: cascade });
      const cascadeLabel = h(
        'label',
        { class: 'jf-cascade', title: 'Cancel every job downstream now, even those whose condition would still let them run' },
        cascadeBox,
        ' Also cancel everything downstream, whatever its condition'
      );
      let dismiss = () => {}; // set once shown (showDialog)
      const finish = (value: boolean | null) => {
        dismiss();
        resolve(value);
      };
      cascadeBox.addEventListener('change', () => finish(cascadeBox.checked));
      const confirm = button(`Cancel ${ids.length > 1 ? `${ids.length} jobs` : `job ${ids[0]}`}`, () => finish(cascade), {
        class: 'jf-btn jf-danger',
        'data-act': 'confirm-cancel'
      });
      confirm.disabled = !active.length;
      const keep = button(active.length ? 'Keep it' : 'Close', () => finish(null), { class: 'jf-btn', 'data-act': 'keep' });
      dlg.append(title, body, report.dependents.length && active.length ? cascadeLabel : '', h('div', { class: 'jf-dialog-buttons' }, keep, confirm));
      dismiss = showDialog(this.dialogHost(), dlg, () => finish(null));
      keep.focus();
    });
  }
}

function firstLine(text: string | undefined): string {
  return (text ?? '').split('\n')[0];
}
