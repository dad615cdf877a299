/**
 * The Flows tab: the owner's flows, the picked flow's runs (newest first, live), and one run
 * (flowrun.ts). Live through the `runs` topic on a stream of its own; while that stream is not
 * up (an older server has no such topic) the runs are read again every few seconds, and always
 * now and then, so that a missed event costs a moment, not a wrong state.
 */
import { button, h } from './dom';
import { mergeRun, runActive, sortRuns } from './flowdata';
import { flowTable, runTable } from './flowlist';
import { RunGrid } from './flowgridview';
import { RunPanel } from './flowrun';
import { errorText, Session } from './session';
import { FlowSummary, RunDetail, RunSummary, StreamConnection } from './types';

/** reading the runs again: without the `runs` topic, and with it (a safety net) */
const POLL_MS = 3000;
const POLL_LIVE_MS = 20000;
/** the stream counts as up once it stayed open this long */
const LIVE_AFTER_MS = 2000;
const RUNS_SHOWN = 50;

export class FlowsView {
  readonly el: HTMLDivElement;
  private flowsBox: HTMLDivElement;
  private runsBox: HTMLDivElement;
  private runsTitle: HTMLSpanElement;
  private panel: RunPanel;
  private grid: RunGrid;
  /** a cell of the grid was clicked: this task's log, once its run is shown */
  private openTask: string | null = null;
  private flows: FlowSummary[] = [];
  private flow: string | null = null;
  private runs: RunSummary[] = [];
  private runId: string | null = null;
  private visible = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private conn: StreamConnection | null = null;
  private live = false;
  private liveTimer: ReturnType<typeof setTimeout> | undefined;
  private retry = 0;
  private detailPending = false;
  /** durations of active runs run on between events */
  private ticker: ReturnType<typeof setInterval> | undefined;
  private generation = 0;

  constructor(
    private session: Session,
    private toast: (text: string, kind?: 'ok' | 'error') => void,
    wheel: 'zoom' | 'ctrl'
  ) {
    this.flowsBox = h('div', { class: 'jf-flows-list' });
    this.runsBox = h('div', { class: 'jf-runs-list' });
    this.runsTitle = h('span', { class: 'jf-flows-title' }, 'Runs');
    this.panel = new RunPanel(session, { toast, changed: run => this.changed(run) }, wheel);
    this.grid = new RunGrid(session, {
      toast,
      openTask: (runId, task) => {
        this.openTask = task;
        this.pickRun(runId);
      },
      created: () => void this.readRuns()
    });
    const side = h(
      'div',
      { class: 'jf-flows-side' },
      h('div', { class: 'jf-toolbar' }, h('span', { class: 'jf-flows-title' }, 'Flows'), button('↻', () => void this.refresh(), { class: 'jf-btn jf-icon-btn', title: 'Read again', 'data-act': 'refresh' })),
      this.flowsBox,
      this.grid.el,
      h('div', { class: 'jf-toolbar' }, this.runsTitle, button('Run', () => void this.startRun(), { 'data-act': 'run-flow', title: 'Start a run of this flow with its default parameters' })),
      this.runsBox
    );
    this.el = h('div', { class: 'jf-flows' }, side, this.panel.el);
  }

  setVisible(visible: boolean): void {
    if (visible === this.visible) {
      return;
    }
    this.visible = visible;
    this.panel.setVisible(visible);
    clearInterval(this.ticker);
    if (visible) {
      this.openStream();
      void this.refresh();
      this.ticker = setInterval(() => {
        if (this.runs.some(runActive)) {
          this.renderRuns();
          this.panel.tick();
        }
      }, 1000);
    } else {
      clearTimeout(this.timer);
      this.closeStream();
    }
  }

  dispose(): void {
    this.visible = false;
    this.generation++;
    clearTimeout(this.timer);
    clearInterval(this.ticker);
    this.closeStream();
    this.panel.dispose();
    this.el.remove();
  }

  /** Read the flows, the picked flow's runs and the picked run again. */
  async refresh(): Promise<void> {
    clearTimeout(this.timer);
    const gen = this.generation;
    try {
      const { flows } = await this.session.request<{ flows: FlowSummary[] }>('GET', 'flows');
      if (gen !== this.generation) {
        return;
      }
      this.flows = flows;
      if (!this.flow || !flows.some(f => f.name === this.flow)) {
        this.flow = flows[0]?.name ?? null;
      }
      this.renderFlows();
      await this.readRuns();
    } catch (err) {
      this.flowsBox.replaceChildren(h('div', { class: 'jf-flows-empty jf-error' }, `Cannot read the flows: ${errorText(err)}`));
    }
    if (this.visible && gen === this.generation) {
      this.timer = setTimeout(() => void this.refresh(), this.live ? POLL_LIVE_MS : POLL_MS);
    }
  }

  private pickFlow(name: string): void {
    if (name === this.flow) {
      return;
    }
    this.flow = name;
    this.runs = [];
    this.runId = null;
    this.renderFlows();
    void this.readRuns();
  }

  private pickRun(runId: string): void {
    this.runId = runId;
    this.renderRuns();
    void this.readRun();
  }

  private async readRuns(): Promise<void> {
    const flow = this.flow;
    if (!flow) {
      this.runs = [];
      this.renderRuns();
      this.panel.show(null);
      return;
    }
    const { runs } = await this.session.request<{ runs: RunSummary[] }>('GET', `runs?flow=${encodeURIComponent(flow)}&limit=${RUNS_SHOWN}`);
    if (flow !== this.flow) {
      return;
    }
    this.runs = sortRuns(runs);
    void this.grid.show(flow, this.runs, true);
    if (!this.runId || !runs.some(r => r.run_id === this.runId)) {
      this.runId = this.runs[0]?.run_id ?? null;
    }
    this.renderRuns();
    await this.readRun();
  }

  private async readRun(): Promise<void> {
    const runId = this.runId;
    if (!runId) {
      this.panel.show(null);
      return;
    }
    try {
      const run = await this.session.request<RunDetail>('GET', `runs/${encodeURIComponent(runId)}`);
      if (runId === this.runId) {
        this.panel.show(run);
        if (this.openTask) {
          this.panel.openTask(this.openTask);
          this.openTask = null;
        }
      }
    } catch (err) {
      this.toast(`Cannot read run ${runId}: ${errorText(err)}`, 'error');
    }
  }

  /** An action's reply: show it (a new run, from a resume as a new run or a debug run, is picked). */
  private changed(run: RunDetail): void {
    if (run.flow === this.flow) {
      this.runs = mergeRun(this.runs, { ...run, tasks: run.tasks.length }, this.flow, RUNS_SHOWN);
      this.runId = run.run_id;
      this.renderRuns();
      this.panel.show(run);
    }
  }

  private async startRun(): Promise<void> {
    const flow = this.flow;
    if (!flow) {
      return;
    }
    try {
      const reply = await this.session.request<{ run_id: string; message: string; warnings?: string[] }>('POST', `flows/${encodeURIComponent(flow)}/runs`, { params: {}, dry_run: false });
      for (const w of reply.warnings ?? []) {
        this.toast(w, 'error');
      }
      this.toast(reply.message);
      this.runId = reply.run_id;
      await this.readRuns();
    } catch (err) {
      this.toast(`Run ${flow} failed: ${errorText(err)}`, 'error');
    }
  }

  private renderFlows(): void {
    this.flowsBox.replaceChildren(flowTable(this.flows, this.flow, name => this.pickFlow(name)));
  }

  private renderRuns(): void {
    this.runsTitle.textContent = this.flow ? `Runs of ${this.flow}` : 'Runs';
    this.runsBox.replaceChildren(runTable(this.runs, this.runId, id => this.pickRun(id)));
  }

  // -- the `runs` topic ---------------------------------------------------------------------------
  private openStream(): void {
    if (this.conn) {
      return;
    }
    this.conn = this.session.transport.connect(['runs'], null, {
      onOpen: () => {
        clearTimeout(this.liveTimer);
        this.liveTimer = setTimeout(() => {
          this.live = true;
          this.retry = 0;
        }, LIVE_AFTER_MS);
      },
      onMessage: msg => {
        const run = 'run' in msg && msg.run ? (msg.run as RunSummary) : null;
        if (run) {
          this.onRunEvent(run);
        }
      },
      onClose: () => {
        clearTimeout(this.liveTimer);
        this.conn = null;
        this.live = false;
        if (this.visible) {
          // an older server refuses the topic at once: try again now and then, poll meanwhile
          this.liveTimer = setTimeout(() => this.openStream(), Math.min(60000, 2000 * 2 ** this.retry++));
        }
      }
    });
  }

  private closeStream(): void {
    clearTimeout(this.liveTimer);
    const conn = this.conn;
    this.conn = null;
    this.live = false;
    conn?.close();
  }

  private onRunEvent(run: RunSummary): void {
    if (run.flow !== this.flow) {
      return;
    }
    const known = this.runs.find(r => r.run_id === run.run_id);
    this.runs = mergeRun(this.runs, run, this.flow, RUNS_SHOWN);
    if (!this.runId) {
      this.runId = run.run_id;
    }
    this.renderRuns();
    void this.grid.show(this.flow, this.runs);
    // the picked run's tasks changed: read them (one read at a time, the last event wins)
    if (run.run_id === this.runId && (!known || known.state !== run.state || runActive(run))) {
      if (!this.detailPending) {
        this.detailPending = true;
        setTimeout(() => {
          this.detailPending = false;
          void this.readRun();
        }, 250);
      }
    }
  }
}
