/**
 * One run's graph by task name: the job graph (graph.ts: layout, drawing, zoom, state colours)
 * over a store of its own that holds the run's tasks as nodes (flowdata.taskJobs). A state change
 * restyles nodes in place; a new shape (another run, a resume as a new run) lays out again.
 */
import { taskJobs, sameShape, taskTip } from './flowdata';
import { GraphView } from './graph';
import { JobStore } from './store';
import { RunTask } from './types';

export class TaskGraph {
  readonly graph: GraphView;
  private store = new JobStore();
  private tasks: RunTask[] = [];
  private runId: string | null = null;

  constructor(onSelect: (task: string | null) => void, wheel: 'zoom' | 'ctrl') {
    this.graph = new GraphView(this.store, {
      onSelect: id => onSelect(id === null ? null : this.tasks[id - 1]?.name ?? null),
      wheel,
      describe: id => (this.tasks[id - 1] ? taskTip(this.tasks[id - 1], this.tasks) : ''),
      emptyText: 'Pick a run to see its tasks.'
    });
    this.graph.el.classList.add('jf-task-graph');
    this.graph.el.querySelector('svg')?.setAttribute('aria-label', "the run's tasks and their dependencies");
    this.store.subscribe(change => this.graph.apply(change));
  }

  get el(): HTMLElement {
    return this.graph.el;
  }

  /** Show run `runId`'s tasks (null: none). */
  show(runId: string | null, tasks: RunTask[]): void {
    const jobs = taskJobs(tasks);
    if (runId === this.runId && sameShape(this.tasks, tasks)) {
      this.tasks = tasks;
      this.store.upsert(jobs);
    } else {
      this.runId = runId;
      this.tasks = tasks;
      this.graph.select(null);
      this.store.applySnapshot({ type: 'snapshot', seq: 0, jobs });
    }
    this.store.flush();
  }

  /** Mark task `name` selected (null: none). */
  select(name: string | null): void {
    const k = name === null ? -1 : this.tasks.findIndex(t => t.name === name);
    this.graph.select(k >= 0 ? k + 1 : null);
  }

  /** Lay out again (the page became visible: the graph's size is known now). */
  draw(): void {
    this.graph.draw();
  }

  dispose(): void {
    this.graph.dispose();
  }
}
