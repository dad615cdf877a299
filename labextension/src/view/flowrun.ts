/**
 * One run in the Flows view: its state line, the Cancel / Resume (failed tasks, from a task, only
 * a task) / Run task buttons, its graph by task name, the picked task's line and the run's log.
 * The buttons call the routes and hand the reply back (`changed`), so the view shows the new state
 * without waiting for the next event.
 */
import { button, formatSeconds, h } from './dom';
import { resumeBody, runActive, runButtons, runReason, runSeconds, stateCode, taskReason } from './flowdata';
import { TaskGraph } from './flowgraph';
import { RunLogPane } from './flowlog';
import { errorText, Session } from './session';
import { RunDetail } from './types';

export interface RunPanelHooks {
  toast(text: string, kind?: 'ok' | 'error'): void;
  /** an action's reply: the run (or the new run of a resume as a new run, or a debug run) */
  changed(run: RunDetail): void;
}

export class RunPanel {
  readonly el: HTMLDivElement;
  private head: HTMLDivElement;
  private bar: HTMLDivElement;
  private taskLine: HTMLDivElement;
  private graph: TaskGraph;
  private log: RunLogPane;
  private run: RunDetail | null = null;
  private task: string | null = null;
  private mode: HTMLSelectElement;
  private busy = false;

  constructor(
    private session: Session,
    private hooks: RunPanelHooks,
    wheel: 'zoom' | 'ctrl'
  ) {
    this.head = h('div', { class: 'jf-run-head' });
    this.mode = h(
      'select',
      { class: 'jf-input jf-resume-mode', 'aria-label': 'Resume what' },
      h('option', { value: 'failed' }, 'failed tasks'),
      h('option', { value: 'from' }, 'from the picked task'),
      h('option', { value: 'only' }, 'only the picked task')
    );
    this.bar = h('div', { class: 'jf-toolbar jf-run-actions' });
    this.taskLine = h('div', { class: 'jf-task-line' });
    this.graph = new TaskGraph(name => this.pick(name), wheel);
    this.log = new RunLogPane(session);
    this.el = h('div', { class: 'jf-run' }, this.head, this.bar, this.graph.el, this.taskLine, this.log.el);
    this.show(null);
  }

  /** Show `run` (null: none picked), keeping the picked task when it is still there. */
  show(run: RunDetail | null): void {
    const other = run?.run_id !== this.run?.run_id;
    this.run = run;
    if (other || !run?.tasks.some(t => t.name === this.task)) {
      this.task = null;
    }
    this.el.dataset.run = run?.run_id ?? '';
    this.el.dataset.state = run?.state ?? '';
    this.graph.show(run?.run_id ?? null, run?.tasks ?? []);
    this.graph.select(this.task);
    this.log.open(run?.run_id ?? null, run?.tasks.map(t => t.name) ?? [], !!run && runActive(run));
    this.render();
  }

  /** Pick `task` (its line, its node) and show its log alone: a cell of the runs grid was clicked. */
  openTask(task: string): void {
    if (this.run?.tasks.some(t => t.name === task)) {
      this.task = task;
      this.graph.select(task);
      this.log.showTask(task);
      this.render();
    }
  }

  setVisible(visible: boolean): void {
    this.log.setVisible(visible);
    if (visible) {
      this.graph.draw();
    }
  }

  dispose(): void {
    this.graph.dispose();
    this.log.dispose();
  }

  private pick(name: string | null): void {
    this.task = name;
    this.render();
  }

  private render(): void {
    const run = this.run;
    if (!run) {
      this.head.replaceChildren(h('span', { class: 'jf-flows-empty' }, 'Pick a run.'));
      this.bar.replaceChildren();
      this.taskLine.replaceChildren();
      return;
    }
    this.renderHead(run);
    const can = runButtons(run);
    const task = this.task;
    const taskButton = button(task ? `Run ${task} alone` : 'Run task', () => void this.runTask(), {
      'data-act': 'run-task',
      disabled: !task || this.busy,
      title: task ? `Run ${task} as a debug run with this run's inputs (this run stays as it is)` : 'Click a task in the graph first'
    });
    this.bar.replaceChildren(
      button('Resume', () => void this.resume(), {
        'data-act': 'resume',
        disabled: !can.resume || this.busy,
        title: 'Queue the failed, timed-out and cancelled tasks and what depends on them again; finished tasks are kept'
      }),
      this.mode,
      button('Cancel', () => void this.cancel(), { 'data-act': 'cancel', class: 'jf-btn jf-danger-outline', disabled: !can.cancel || this.busy }),
      taskButton
    );
    this.mode.disabled = !can.resume;
    const t = task ? run.tasks.find(x => x.name === task) : undefined;
    if (t) {
      const took = runSeconds(t);
      const why = taskReason(t, run.tasks);
      this.taskLine.replaceChildren(
        ...present(
          h('span', { class: `jf-badge s-${stateCode(t.state)}` }, t.state),
          h('b', {}, t.name),
          why ? h('span', {}, why) : null,
          t.job_id !== null ? h('span', {}, `job ${t.job_id}`) : null,
          h('span', {}, `${t.attempts} attempt${t.attempts === 1 ? '' : 's'}`),
          took !== null ? h('span', {}, formatSeconds(took)) : null
        )
      );
    } else {
      this.taskLine.replaceChildren(h('span', { class: 'jf-hint' }, 'Click a task for its details, Resume from it, or Run it alone.'));
    }
  }

  /** The state line again (its duration runs on while the run is active; flows.ts ticks it). */
  tick(): void {
    if (this.run && runActive(this.run)) {
      this.renderHead(this.run);
    }
  }

  private renderHead(run: RunDetail): void {
    const code = stateCode(run.state);
    const took = runSeconds(run);
    this.head.replaceChildren(
      h('span', { class: `jf-badge s-${code}`, 'data-state': run.state }, run.state),
      h('span', { class: 'jf-run-id', title: run.run_id }, run.run_id),
      ...present(
        run.reason ? h('span', { class: 'jf-run-reason', title: run.reason }, runReason(run.reason)) : null,
        took !== null ? h('span', { class: 'jf-run-took' }, formatSeconds(took)) : null
      )
    );
  }

  private async act(what: string, call: () => Promise<RunDetail>): Promise<void> {
    this.busy = true;
    this.render();
    try {
      const reply = await call();
      for (const w of reply.warnings ?? []) {
        this.hooks.toast(w, 'error');
      }
      this.hooks.toast(`${what}: ${reply.run_id} is ${reply.state}`);
      this.hooks.changed(reply);
    } catch (err) {
      this.hooks.toast(`${what} failed: ${errorText(err)}`, 'error');
    } finally {
      this.busy = false;
      this.render();
    }
  }

  private async resume(): Promise<void> {
    const run = this.run!;
    const mode = this.mode.value as 'failed' | 'from' | 'only';
    let body: Record<string, string | boolean>;
    try {
      body = resumeBody(mode, this.task);
    } catch (err) {
      this.hooks.toast(`Resume: ${errorText(err)} (click it in the graph)`, 'error');
      return;
    }
    await this.act('Resumed', () => this.session.request('POST', `runs/${encodeURIComponent(run.run_id)}/resume`, body));
  }

  private async cancel(): Promise<void> {
    const run = this.run!;
    await this.act('Cancelled', () => this.session.request('POST', `runs/${encodeURIComponent(run.run_id)}/cancel`, {}));
  }

  private async runTask(): Promise<void> {
    const run = this.run!;
    const task = this.task!;
    await this.act(`Ran ${task} alone`, () =>
      this.session.request('POST', `flows/${encodeURIComponent(run.flow)}/tasks/${encodeURIComponent(task)}/run`, { run: run.run_id })
    );
  }
}

/** The elements that are there (`replaceChildren` takes no nulls). */
function present(...els: (HTMLElement | null)[]): HTMLElement[] {
  return els.filter((e): e is HTMLElement => e !== null);
}
