/**
 * `mount(host, session, options)`: the whole panel (graph, jobs, logs, GPUs), or the compact
 * one-job line that `%%gbatch` shows under its cell (compact.ts). Used as is by the sidebar and
 * the widget.
 */
import { Actions } from './actions';
import { injectStyle } from './css';
import { mountCompact } from './compact';
import { DetailsView } from './details';
import { h, STATES } from './dom';
import { GpuView } from './gpus';
import { FlowsView } from './flows';
import { GraphView } from './graph';
import { LogPane } from './logs';
import { Session } from './session';
import { Change } from './store';
import { TableView } from './table';
import { PanelHandle, PanelOptions, statusLine, Tab, throttled, toaster, ViewState } from './panelparts';

export type { PanelHandle, PanelOptions, Tab, ViewState } from './panelparts';

export function mount(host: HTMLElement, session: Session, options: PanelOptions): PanelHandle {
  injectStyle(host.ownerDocument ?? document);
  return options.mode === 'compact' ? mountCompact(host, session, options) : mountFull(host, session, options);
}

/** below this width (px) the panel takes its narrow layout (the sidebar opens at 250 px) */
const NARROW_BELOW = 480;
const TINY_BELOW = 360;
const MIN_CELL_HEIGHT = 220;

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
  // the Flows tab is built when first shown: a panel never opened on it reads no flows
  let flows: FlowsView | null = null;
  const flowsPage = h('div', { class: 'jf-page' });

  // header: title, connection, counts, tabs
  const conn = statusLine(session);
  const counts = h('span', { class: 'jf-counts' });
  const tabs = h('div', { class: 'jf-tabs', role: 'tablist' });
  const tabButtons = new Map<Tab, HTMLButtonElement>();
  for (const [tab, label] of [
    ['graph', 'Graph'],
    ['jobs', 'Jobs'],
    ['logs', 'Logs'],
    ['gpus', 'GPUs'],
    ['flows', 'Flows']
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
    gpus: h('div', { class: 'jf-page' }, gpus.el),
    flows: flowsPage
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
    if (tab === 'flows' && !flows) {
      flows = new FlowsView(session, toast.show, options.mode === 'sidebar' ? 'zoom' : 'ctrl');
      flowsPage.appendChild(flows.el);
    }
    flows?.setVisible(tab === 'flows');
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
      flows?.dispose();
      graph.dispose();
      table.dispose();
      release();
      root.remove();
    }
  };
}
