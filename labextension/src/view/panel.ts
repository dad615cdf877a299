/**
 * `mount(host, session, options)`: the whole panel (graph, jobs, logs, GPUs), or the compact
 * one-job line that `%%gbatch` shows under its cell. Used as is by the sidebar and the widget.
 */
import { Actions } from './actions';
import { injectStyle } from './css';
import { conditionStatus, dependencyOf } from './deps';
import { DetailsView, HostAction } from './details';
import { button, elapsed, formatSeconds, h, reasonText, STATE_NAME, STATES } from './dom';
import { GpuView } from './gpus';
import { GraphView } from './graph';
import { LogPane } from './logs';
import { Session } from './session';
import { Change } from './store';
import { TableView } from './table';
import { Job } from './types';

export type Tab = 'graph' | 'jobs' | 'logs' | 'gpus';

export interface PanelOptions {
  /** `sidebar`: tall and narrow, the wheel zooms; `cell`: under a notebook cell; `compact`: one job per line */
  mode: 'sidebar' | 'cell' | 'compact';
  /** show these jobs and the jobs connected to them (compact: only these); all jobs when absent */
  jobIds?: number[] | null;
  tab?: Tab;
  /** pixel height of a `cell` panel */
  height?: number;
  /** extra buttons in a job's details (the sidebar's "Insert dependent cell") */
  hostActions?: HostAction[];
  /** called (at most every 2 s) with the shown jobs, for the widget's saved snapshot */
  onJobs?: (jobs: Job[]) => void;
  /** a line under the title, e.g. how the widget connects */
  note?: string;
  /** kept by the host across re-renders of the same widget: the tab, the selection, the open log */
  state?: ViewState;
}

export interface ViewState {
  tab?: Tab;
  selected?: number | null;
  logJob?: number | null;
}

export interface PanelHandle {
  readonly el: HTMLElement;
  readonly session: Session;
  showTab(tab: Tab): void;
  select(id: number | null): void;
  openLog(id: number): void;
  dispose(): void;
}

export function mount(host: HTMLElement, session: Session, options: PanelOptions): PanelHandle {
  injectStyle(host.ownerDocument ?? document);
  return options.mode === 'compact' ? mountCompact(host, session, options) : mountFull(host, session, options);
}

/** below this width (px) the panel takes its narrow layout (the sidebar opens at 250 px) */
const NARROW_BELOW = 480;
const TINY_BELOW = 360;
const MIN_CELL_HEIGHT = 220;

// -- the status line, shared --------------------------------------------------------------------
function statusLine(session: Session): { el: HTMLElement; update(): void } {
  const dot = h('span', { class: 'jf-dot' });
  const text = h('span', { class: 'jf-conn-text' });
  const el = h('span', { class: 'jf-conn' }, dot, text);
  const update = () => {
    const s = session.state;
    const via = session.transport.kind === 'kernel' ? ' (through the kernel)' : '';
    const label = {
      connecting: 'connecting…',
      live: `live${via}`,
      reconnecting: 'reconnecting…',
      offline: 'offline'
    }[s];
    el.dataset.state = s;
    text.textContent = label;
    el.title =
      s === 'live'
        ? `Updates arrive as they happen${via}`
        : `${label}${session.error ? ` (${session.error})` : ''}; it retries on its own`;
  };
  update();
  return { el, update };
}

function toaster(): { el: HTMLElement; show(text: string, kind?: 'ok' | 'error'): void } {
  const el = h('div', { class: 'jf-toasts', role: 'status', 'aria-live': 'polite' });
  return {
    el,
    show(text: string, kind: 'ok' | 'error' = 'ok') {
      const t = h('div', { class: `jf-toast ${kind}` }, text);
      el.appendChild(t);
      setTimeout(() => t.remove(), kind === 'error' ? 9000 : 5000);
      while (el.children.length > 3) {
        el.firstElementChild?.remove();
      }
    }
  };
}

function throttled(fn: () => void, ms: number): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let last = 0;
  return () => {
    if (timer) {
      return;
    }
    const wait = Math.max(0, last + ms - Date.now());
    timer = setTimeout(() => {
      timer = undefined;
      last = Date.now();
      fn();
    }, wait);
  };
}

// -- the full panel -----------------------------------------------------------------------------
function mountFull(host: HTMLElement, session: Session, options: PanelOptions): PanelHandle {
  const store = session.store;
  const roots = options.jobIds && options.jobIds.length ? options.jobIds : null;
  const root = h('div', {
    class: `jobflow-root jobflow-panel jf-mode-${options.mode}`,
    'data-transport': session.transport.kind
  });
  // a cell's panel: as tall as its graph needs, up to `height`; the corner handle resizes it
  const cap = options.height ?? 440;
  let autoHeight = options.mode === 'cell';
  let setHeight = 0;
  let graphNeeds = 0;
  const fitHeight = () => {
    if (!autoHeight) {
      return;
    }
    const chrome = header.offsetHeight + 2;
    const want = current === 'graph' && graphNeeds ? Math.max(MIN_CELL_HEIGHT, Math.min(cap, chrome + graphNeeds)) : cap;
    if (want !== setHeight) {
      setHeight = want;
      root.style.height = `${want}px`;
    }
  };
  if (options.mode === 'cell') {
    root.style.height = `${cap}px`;
    setHeight = cap;
    root.classList.add('jf-resizable');
  }
  const toast = toaster();
  const actions = new Actions(session, toast.show, () => root);
  const state: ViewState = options.state ?? {};
  let current: Tab = state.tab ?? options.tab ?? 'graph';

  const select = (id: number | null, reveal = false) => {
    state.selected = id;
    graph.select(id, reveal);
    table.select(id);
    details.show(id);
    root.classList.toggle('jf-has-details', id !== null);
  };
  const openLog = (id: number) => {
    state.logJob = id;
    showTab('logs');
    logs.open(id);
  };
  const graph = new GraphView(store, {
    onSelect: id => select(id),
    wheel: options.mode === 'sidebar' ? 'zoom' : 'ctrl',
    onLaidOut: px => {
      graphNeeds = px;
      fitHeight();
    }
  });
  graph.setScope(roots);
  const details = new DetailsView(
    session,
    {
      log: openLog,
      cancel: ids => void actions.cancel(ids),
      hold: id => void actions.hold(id),
      release: id => void actions.release(id),
      redo: id => void actions.redo(id),
      select: id => {
        showTab('graph');
        select(id, true);
      },
      close: () => select(null)
    },
    options.hostActions
  );
  const table = new TableView(store, {
    select: id => {
      showTab('graph');
      select(id, true);
    },
    log: openLog,
    cancel: ids => void actions.cancel(ids),
    hold: id => void actions.hold(id),
    release: id => void actions.release(id),
    redo: id => void actions.redo(id)
  });
  const logs = new LogPane(session);
  const gpus = new GpuView(session.gpus, store);

  // header: title, connection, counts, tabs
  const conn = statusLine(session);
  const counts = h('span', { class: 'jf-counts' });
  const tabs = h('div', { class: 'jf-tabs', role: 'tablist' });
  const tabButtons = new Map<Tab, HTMLButtonElement>();
  for (const [tab, label] of [
    ['graph', 'Graph'],
    ['jobs', 'Jobs'],
    ['logs', 'Logs'],
    ['gpus', 'GPUs']
  ] as [Tab, string][]) {
    const b = h('button', { type: 'button', class: 'jf-tab', role: 'tab', 'data-tab': tab }, label);
    b.addEventListener('click', () => showTab(tab));
    tabButtons.set(tab, b);
    tabs.appendChild(b);
  }
  const title = h('span', { class: 'jf-title' }, roots ? `Jobs ${roots.join(', ')} and their dependencies` : 'Jobflow');
  const header = h(
    'div',
    { class: 'jf-header' },
    h('div', { class: 'jf-header-top' }, title, conn.el, counts),
    options.note ? h('div', { class: 'jf-note' }, options.note) : null,
    tabs
  );
  const graphPage = h('div', { class: 'jf-page jf-page-graph' }, graph.el, details.el);
  const pages: Record<Tab, HTMLElement> = {
    graph: graphPage,
    jobs: h('div', { class: 'jf-page' }, table.el),
    logs: h('div', { class: 'jf-page' }, logs.el),
    gpus: h('div', { class: 'jf-page' }, gpus.el)
  };
  const body = h('div', { class: 'jf-body' }, ...Object.values(pages));
  root.append(header, body, toast.el);
  host.appendChild(root);

  function showTab(tab: Tab): void {
    current = tab;
    state.tab = tab;
    for (const [t, page] of Object.entries(pages) as [Tab, HTMLElement][]) {
      page.hidden = t !== tab;
      tabButtons.get(t)!.classList.toggle('on', t === tab);
      tabButtons.get(t)!.setAttribute('aria-selected', String(t === tab));
    }
    root.dataset.tab = tab;
    table.setVisible(tab === 'jobs');
    gpus.setVisible(tab === 'gpus');
    logs.setVisible(tab === 'logs');
    if (tab === 'graph') {
      graph.draw();
    }
    fitHeight();
  }

  const scopeIds = () => (roots ? store.related(roots) : null);
  const updateCounts = () => {
    const by: Record<string, number> = {};
    const scope = scopeIds();
    for (const j of store.jobs.values()) {
      if (!scope || scope.has(j.id)) {
        by[j.code] = (by[j.code] ?? 0) + 1;
      }
    }
    counts.replaceChildren(
      ...STATES.filter(([c]) => by[c]).map(([c, name]) =>
        h('span', { class: `jf-badge s-${c}`, title: `${by[c]} ${name}`, 'data-code': c }, `${by[c]} ${c}`)
      )
    );
  };
  const sendJobs = options.onJobs
    ? throttled(() => {
        const scope = scopeIds();
        options.onJobs!(store.all().filter(j => !scope || scope.has(j.id)));
      }, 2000)
    : () => undefined;

  const onChange = (change: Change) => {
    if (current === 'graph' || change.structure) {
      graph.apply(change);
    }
    if (change.structure) {
      table.setScope(scopeIds());
    } else {
      table.apply(change);
    }
    details.touched(change.ids);
    updateCounts();
    logs.refreshJobs(store.all());
    for (const id of change.ids) {
      const job = store.get(id);
      if (job) {
        logs.jobChanged(job);
      }
    }
    sendJobs();
  };
  const unsubStore = store.subscribe(onChange);
  const unsubState = session.onState(conn.update);
  const release = session.acquire();
  // narrow (the sidebar's default 250 px): the layout that fits it; a height the person dragged to
  // (the corner handle) is kept from then on
  const sizeObs =
    typeof ResizeObserver === 'function'
      ? new ResizeObserver(() => {
          const w = root.clientWidth;
          root.classList.toggle('jf-narrow', w > 0 && w < NARROW_BELOW);
          root.classList.toggle('jf-tiny', w > 0 && w < TINY_BELOW); // the reason column goes too
          if (autoHeight && setHeight && Math.abs(root.offsetHeight - setHeight) > 2 && root.style.height !== `${setHeight}px`) {
            autoHeight = false;
          }
        })
      : null;
  sizeObs?.observe(root);
  table.setScope(scopeIds());
  showTab(current);
  updateCounts();
  logs.refreshJobs(store.all());
  if (state.logJob) {
    logs.open(state.logJob);
  }
  if (state.selected !== null && state.selected !== undefined && store.get(state.selected)) {
    select(state.selected);
  }

  return {
    el: root,
    session,
    showTab,
    select: id => select(id, true),
    openLog,
    dispose() {
      unsubStore();
      unsubState();
      sizeObs?.disconnect();
      logs.dispose();
      gpus.dispose();
      graph.dispose();
      table.dispose();
      release();
      root.remove();
    }
  };
}

// -- the compact one-job view -------------------------------------------------------------------
function mountCompact(host: HTMLElement, session: Session, options: PanelOptions): PanelHandle {
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

