/**
 * The Flows view's two lists: the owner's flows (name, version, task count) and a flow's runs
 * (run id, type, state in its colour, reason, duration), newest first. Rows only: flows.ts owns
 * the data and what a click does.
 */
import { clock, formatSeconds, h } from './dom';
import { runReason, runSeconds, shortRunId, stateCode } from './flowdata';
import { FlowSummary, RunSummary } from './types';

export function flowTable(flows: FlowSummary[], selected: string | null, pick: (name: string) => void): HTMLElement {
  if (!flows.length) {
    return h('div', { class: 'jf-flows-empty' }, 'No flows yet. Make one with `gpipe create NAME flow.yaml` or `%gpipe create NAME notebook.ipynb`.');
  }
  const rows = flows.map(f => {
    const tr = h(
      'tr',
      { class: `jf-flow-row${f.name === selected ? ' sel' : ''}`, 'data-flow': f.name, tabindex: 0, title: `${f.name} version ${f.version} (${f.owner})` },
      h('td', { class: 'jf-col-name' }, f.name),
      h('td', { class: 'jf-col-version' }, `v${f.version}`),
      h('td', { class: 'jf-col-tasks' }, `${f.tasks} task${f.tasks === 1 ? '' : 's'}`)
    );
    onActivate(tr, () => pick(f.name));
    return tr;
  });
  return h(
    'table',
    { class: 'jf-table jf-flow-table' },
    h('thead', {}, h('tr', {}, h('th', { class: 'jf-col-name' }, 'Flow'), h('th', { class: 'jf-col-version' }, 'Ver.'), h('th', { class: 'jf-col-tasks' }, 'Tasks'))),
    h('tbody', {}, ...rows)
  );
}

export function runTable(runs: RunSummary[], selected: string | null, pick: (runId: string) => void, now = Date.now() / 1000): HTMLElement {
  if (!runs.length) {
    return h('div', { class: 'jf-flows-empty' }, 'No runs of this flow yet: press Run, or `gpipe run NAME`.');
  }
  const rows = runs.map(r => {
    const code = stateCode(r.state);
    const took = runSeconds(r, now);
    const tr = h(
      'tr',
      { class: `jf-run-row s-${code}${r.run_id === selected ? ' sel' : ''}`, 'data-run': r.run_id, 'data-state': r.state, tabindex: 0, title: r.run_id },
      h('td', { class: 'jf-col-run' }, clock(r.created_at), ' ', h('span', { class: 'jf-run-uuid' }, shortRunId(r))),
      h('td', { class: 'jf-col-type' }, r.run_type),
      h('td', { class: 'jf-col-state' }, h('span', { class: `jf-badge s-${code}` }, r.state)),
      h('td', { class: 'jf-col-reason', title: r.reason ?? '' }, runReason(r.reason)),
      h('td', { class: 'jf-col-took' }, took === null ? '' : formatSeconds(took))
    );
    onActivate(tr, () => pick(r.run_id));
    return tr;
  });
  return h(
    'table',
    { class: 'jf-table jf-run-table' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { class: 'jf-col-run' }, 'Started'),
        h('th', { class: 'jf-col-type' }, 'Type'),
        h('th', { class: 'jf-col-state' }, 'State'),
        h('th', { class: 'jf-col-reason' }, 'Reason'),
        h('th', { class: 'jf-col-took' }, 'Took')
      )
    ),
    h('tbody', {}, ...rows)
  );
}

/** A row acts on a click and on Enter or Space (keyboard). */
function onActivate(el: HTMLElement, fn: () => void): void {
  el.addEventListener('click', fn);
  el.addEventListener('keydown', ev => {
    if (ev.key === 'Enter' || ev.key === ' ') {
      ev.preventDefault();
      fn();
    }
  });
}
