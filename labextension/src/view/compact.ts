/**
 * The compact view: one line per job (state, time, GPUs, its parents, actions) and its log on
 * demand, which `%%gbatch` shows under its cell.
 */
import { Actions } from './actions';
import { conditionStatus, dependencyOf } from './deps';
import { button, elapsed, formatSeconds, h, reasonText, STATE_NAME } from './dom';
import { LogPane } from './logs';
import { PanelHandle, PanelOptions, statusLine, throttled, toaster } from './panelparts';
import { Session } from './session';
import { Job } from './types';

export function mountCompact(host: HTMLElement, session: Session, options: PanelOptions): PanelHandle {
  const store = session.store;
  const ids = options.jobIds ?? [];
  const root = h('div', { class: 'jobflow-root jobflow-compact', 'data-transport': session.transport.kind });
  const toast = toaster();
  const actions = new Actions(session, toast.show, () => root);
  const conn = statusLine(session);
  const lines = h('div', { class: 'jf-compact-lines' });
  const logBox = h('div', { class: 'jf-compact-log', hidden: true });
  let logs: LogPane | null = null;
  let logOpenFor: number | null = null;

  const toggleLog = (id: number) => {
    if (logOpenFor === id) {
      logOpenFor = null;
      logBox.hidden = true;
      logs?.close();
      render();
      return;
    }
    logOpenFor = id;
    if (!logs) {
      logs = new LogPane(session, { compact: true });
      logBox.appendChild(logs.el);
    }
    logBox.hidden = false;
    logs.open(id);
    render();
  };

  const line = (job: Job | undefined, id: number, now: number): HTMLElement => {
    if (!job) {
      return h('div', { class: 'jf-compact-line', 'data-id': id }, h('span', { class: 'jf-badge' }, '…'), ` job ${id}`);
    }
    const ran = elapsed(job, now);
    const deps = dependencyOf(job).edges.map(e => {
      const p = store.get(e.parent);
      const st = conditionStatus(e.type, p?.code);
      return h('span', { class: `jf-dep ${st}`, title: `${e.type}:${e.parent} ${st === 'met' ? 'met' : st === 'never' ? 'can never be met' : 'waiting'}` }, `${e.type} ${e.parent}${p ? ` ${p.code}` : ''}`);
    });
    const active = job.code === 'PD' || job.code === 'H' || job.code === 'R';
    const bar = h('span', { class: 'jf-compact-actions' });
    bar.append(button(logOpenFor === job.id ? 'Hide log' : 'Log', () => toggleLog(job.id), { 'data-act': 'log', class: 'jf-btn jf-small' }));
    if (active) {
      bar.append(button('Cancel…', () => void actions.cancel([job.id]), { 'data-act': 'cancel', class: 'jf-btn jf-small' }));
    }
    if (job.code === 'PD') {
      bar.append(button('Hold', () => void actions.hold(job.id), { 'data-act': 'hold', class: 'jf-btn jf-small' }));
    }
    if (job.code === 'H') {
      bar.append(button('Release', () => void actions.release(job.id), { 'data-act': 'release', class: 'jf-btn jf-small' }));
    }
    if (!active) {
      bar.append(button('Redo', () => void actions.redo(job.id), { 'data-act': 'redo', class: 'jf-btn jf-small' }));
    }
    const gpus = job.allocated_gpus?.length ? `GPU ${job.allocated_gpus.join(',')}` : '';
    const reason = reasonText(job);
    return h(
      'div',
      { class: `jf-compact-line s-${job.code}`, 'data-id': job.id, 'data-code': job.code },
      h('span', { class: `jf-badge s-${job.code}`, title: STATE_NAME[job.code] ?? job.state }, job.code),
      h('b', {}, `${job.id} ${job.name}`),
      h('span', { class: 'jf-compact-state' }, `${STATE_NAME[job.code] ?? job.state}${reason && reason !== job.state ? ` (${reason})` : ''}`),
      ran !== null ? h('span', { class: 'jf-compact-time' }, formatSeconds(ran)) : null,
      gpus ? h('span', { class: 'jf-compact-gpu' }, gpus) : null,
      deps.length ? h('span', { class: 'jf-compact-deps' }, 'after ', ...deps) : null,
      bar
    );
  };

  const render = () => {
    const now = Date.now() / 1000;
    lines.replaceChildren(...ids.map(id => line(store.get(id), id, now)));
  };
  root.append(h('div', { class: 'jf-compact-head' }, lines, conn.el), logBox, toast.el);
  host.appendChild(root);
  const ticker = setInterval(() => {
    if (ids.some(id => store.get(id)?.code === 'R')) {
      render();
    }
  }, 1000);
  const sendJobs = options.onJobs
    ? throttled(() => options.onJobs!(ids.map(id => store.get(id)).filter((j): j is Job => !!j)), 2000)
    : () => undefined;
  const unsubStore = store.subscribe(change => {
    const mine = new Set(ids);
    for (const id of ids) {
      for (const e of store.parents.get(id) ?? []) {
        mine.add(e.parent);
      }
    }
    if (change.reset || [...change.ids].some(id => mine.has(id))) {
      render();
      for (const id of change.ids) {
        const job = store.get(id);
        if (job) {
          logs?.jobChanged(job);
        }
      }
      sendJobs();
    }
  });
  const unsubState = session.onState(conn.update);
  const release = session.acquire();
  render();
  return {
    el: root,
    session,
    showTab: () => undefined,
    select: () => undefined,
    openLog: id => toggleLog(id),
    dispose() {
      clearInterval(ticker);
      unsubStore();
      unsubState();
      logs?.dispose();
      release();
      root.remove();
    }
  };
}
