/**
 * The "Backfill…" dialog of the Flows view: a range (from, to) and what to run again; "Preview"
 * asks for the dry run (`POST flows/{name}/backfill` with `dry_run`) and lists each tick with its
 * action; only then does "Backfill" create the runs, with the same range.
 */
import { button, h, showDialog } from './dom';
import { backfillSummary } from './flowgrid';
import { errorText, Session } from './session';
import { BackfillTick } from './types';

interface BackfillReply {
  run_ids: string[];
  ticks: BackfillTick[];
}

/** Resolves to the number of runs created (0: closed without a backfill); throws when the backfill is refused. */
export function openBackfill(session: Session, flow: string, host: HTMLElement): Promise<number> {
  return new Promise((resolve, reject) => {
    const dlg = h('dialog', { class: 'jf-dialog jf-backfill', 'aria-label': `Backfill ${flow}` });
    const from = h('input', { class: 'jf-input', 'data-field': 'from', placeholder: '2026-11-01T02:00', 'aria-label': 'From' });
    const to = h('input', { class: 'jf-input', 'data-field': 'to', placeholder: '2026-11-07', 'aria-label': 'To' });
    const reprocess = h(
      'select',
      { class: 'jf-input', 'data-field': 'reprocess', 'aria-label': 'Run again' },
      h('option', { value: 'none' }, 'only ticks without a run'),
      h('option', { value: 'failed' }, 'also failed ticks'),
      h('option', { value: 'completed' }, 'every tick')
    );
    const plan = h('div', { class: 'jf-dialog-body jf-backfill-plan' }, h('p', { class: 'jf-hint' }, 'Preview lists each tick of the range and what a backfill would do; nothing is created.'));
    let dismiss = () => {}; // set once shown (showDialog)
    let previewed = '';
    const body = () => ({ from: from.value.trim(), to: to.value.trim(), reprocess: reprocess.value });
    const finish = (value: number | Error) => {
      dismiss();
      if (value instanceof Error) {
        reject(value);
      } else {
        resolve(value);
      }
    };
    const go = button('Backfill', () => void create(), { 'data-act': 'confirm-backfill', disabled: true });
    const preview = button('Preview', () => void dryRun(), { 'data-act': 'preview-backfill' });
    const close = button('Close', () => finish(0), { 'data-act': 'keep' });
    // a changed range needs a new preview before it may act
    for (const input of [from, to, reprocess]) {
      input.addEventListener('input', () => (go.disabled = JSON.stringify(body()) !== previewed));
      input.addEventListener('change', () => (go.disabled = JSON.stringify(body()) !== previewed));
    }
    async function dryRun(): Promise<void> {
      const asked = body();
      try {
        const reply = await session.request<BackfillReply>('POST', `flows/${encodeURIComponent(flow)}/backfill`, { ...asked, dry_run: true });
        const rows = reply.ticks.map(t =>
          h('tr', { class: t.action === 'create' ? 'jf-create' : '' }, h('td', { class: 'jf-mono' }, t.execution_date), h('td', {}, t.action))
        );
        plan.replaceChildren(
          h('p', { 'data-summary': '' }, backfillSummary(reply.ticks)),
          h('table', { class: 'jf-table jf-backfill-ticks' }, h('thead', {}, h('tr', {}, h('th', {}, 'Tick'), h('th', {}, 'Action'))), h('tbody', {}, ...rows))
        );
        previewed = JSON.stringify(asked);
        go.disabled = !reply.ticks.some(t => t.action === 'create');
      } catch (err) {
        previewed = '';
        go.disabled = true;
        plan.replaceChildren(h('p', { class: 'jf-warning' }, errorText(err)));
      }
    }
    async function create(): Promise<void> {
      go.disabled = true;
      try {
        const reply = await session.request<BackfillReply>('POST', `flows/${encodeURIComponent(flow)}/backfill`, { ...JSON.parse(previewed), dry_run: false });
        finish(reply.run_ids.length);
      } catch (err) {
        finish(err instanceof Error ? err : new Error(String(err)));
      }
    }
    dlg.append(
      h('h3', {}, `Backfill ${flow}`),
      h('div', { class: 'jf-backfill-range' }, h('label', {}, 'From ', from), h('label', {}, 'To ', to), h('label', {}, 'Run ', reprocess)),
      plan,
      h('div', { class: 'jf-dialog-buttons' }, close, preview, go)
    );
    dismiss = showDialog(host, dlg, () => finish(0));
    from.focus();
  });
}
