/**
 * A run's log (`GET runs/{id}/log`): every task's output interleaved by time, each line prefixed
 * `[task attempt] `; read again every moment while the run is active (there is no stream of a
 * whole run's log), once more when it ends; a task filter; follow as the job log does. Read whole
 * each time, not from the last offset: two tasks running at once both grow the text, one of them
 * in its middle, so an offset into it does not stay where it was.
 */
import { h } from './dom';
import { cleanLog } from './logs';
import { errorText, Session } from './session';
import { RunLog } from './types';

const POLL_MS = 1500;
/** the most text kept on screen; the whole log stays on the server */
const MAX_CHARS = 500_000;

export class RunLogPane {
  readonly el: HTMLDivElement;
  private pre: HTMLPreElement;
  private taskSel: HTMLSelectElement;
  private follow: HTMLInputElement;
  private runId: string | null = null;
  private text = '';
  private active = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private generation = 0;
  private reading = false;
  /** a read was asked for while one was in flight: read again when it is back */
  private again = false;
  private visible = true;

  constructor(private session: Session) {
    this.taskSel = h('select', { class: 'jf-input', 'aria-label': 'Task' });
    this.taskSel.addEventListener('change', () => this.restart());
    this.follow = h('input', { type: 'checkbox', checked: true });
    this.pre = h('pre', { class: 'jf-log jf-run-log', tabindex: 0 });
    this.pre.addEventListener('scroll', () => {
      const atEnd = this.pre.scrollHeight - this.pre.scrollTop - this.pre.clientHeight < 8;
      if (this.pre.scrollHeight > this.pre.clientHeight) {
        this.follow.checked = atEnd;
      }
    });
    this.el = h(
      'div',
      { class: 'jf-run-logs' },
      h('div', { class: 'jf-toolbar' }, h('b', {}, 'Log'), this.taskSel, h('label', { class: 'jf-follow', title: 'Keep the newest output in view' }, this.follow, ' Follow')),
      this.pre
    );
  }

  /** Show run `runId`'s log (tasks: for the filter); `active`: keep reading while it runs. */
  open(runId: string | null, tasks: string[], active: boolean): void {
    const names = ['', ...tasks];
    const have = [...this.taskSel.options].map(o => o.value);
    if (have.join('\n') !== names.join('\n')) {
      const keep = this.taskSel.value;
      this.taskSel.replaceChildren(...names.map(n => h('option', { value: n }, n || 'All tasks')));
      this.taskSel.value = names.includes(keep) ? keep : '';
    }
    const wasActive = this.active;
    this.active = active;
    if (runId !== this.runId) {
      this.runId = runId;
      this.restart();
    } else if (wasActive && !active) {
      this.read(this.generation); // the end: what the last moments wrote
    } else if (active && !wasActive) {
      this.schedule(this.generation);
    }
  }

  /** Show only `task`'s lines ('' : all tasks), as picking it in the filter does. */
  showTask(task: string): void {
    if ([...this.taskSel.options].some(o => o.value === task) && this.taskSel.value !== task) {
      this.taskSel.value = task;
      this.restart();
    }
  }

  setVisible(visible: boolean): void {
    this.visible = visible;
    if (visible && this.active) {
      this.schedule(this.generation);
    }
  }

  dispose(): void {
    this.generation++;
    clearTimeout(this.timer);
    this.el.remove();
  }

  private restart(): void {
    const gen = ++this.generation;
    clearTimeout(this.timer);
    this.text = '';
    this.pre.textContent = this.runId ? 'Loading…' : 'Pick a run to see its log.';
    this.pre.classList.add('jf-msg');
    this.el.dataset.run = this.runId ?? '';
    if (this.runId) {
      this.read(gen);
    }
  }

  private schedule(gen: number): void {
    clearTimeout(this.timer);
    if (this.active && this.visible && gen === this.generation) {
      this.timer = setTimeout(() => this.read(gen), POLL_MS);
    }
  }

  private async read(gen: number): Promise<void> {
    if (!this.runId) {
      return;
    }
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = true;
    try {
      const task = this.taskSel.value;
      const q = `offset=0${task ? `&task=${encodeURIComponent(task)}` : ''}`;
      const reply = await this.session.request<RunLog>('GET', `runs/${encodeURIComponent(this.runId)}/log?${q}`);
      if (gen !== this.generation) {
        return;
      }
      this.show(reply.text);
      if (!this.text) {
        this.pre.textContent = this.active ? '(no output yet)' : '(no output)';
      }
    } catch (err) {
      if (gen === this.generation) {
        this.text = ''; // the next read shows the log again
        this.pre.textContent = `Cannot read the run's log: ${errorText(err)}`;
      }
    } finally {
      this.reading = false;
      if (this.again) {
        this.again = false;
        void this.read(this.generation);
      } else {
        this.schedule(gen);
      }
    }
  }

  private show(raw: string): void {
    let text = cleanLog(raw);
    if (text.length > MAX_CHARS) {
      text = '[… earlier output not shown here: gpipe log RUN has all of it …]\n' + text.slice(text.indexOf('\n', text.length - MAX_CHARS) + 1);
    }
    if (!text || text === this.text) {
      return;
    }
    this.text = text;
    this.pre.classList.remove('jf-msg');
    this.pre.textContent = this.text;
    if (this.follow.checked) {
      this.pre.scrollTop = this.pre.scrollHeight;
    }
  }
}
