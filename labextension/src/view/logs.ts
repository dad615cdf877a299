/**
 * The log pane: one job's output, live (`log:<id>` topic) while it runs, any earlier attempt by
 * REST; follow toggle (scrolling up pauses it, scrolling to the end resumes it), search with
 * highlighted matches and next/previous.
 *
 * Long because: following, trimming and search all move the same text buffer and its marks; a
 * split would have to share that buffer's invariants across modules.
 */
import { button, h, reasonText, STATE_NAME } from './dom';
import { Session } from './session';
import { Attempt, Job, LogMessage, StreamConnection } from './types';

/** the most text kept on screen; older output is dropped (the full log stays on the server) */
const MAX_CHARS = 1_500_000;
const MAX_MARKS = 2000;
const enc = new TextEncoder();
const dec = new TextDecoder();

/** ANSI colour codes away; each line shows what came after its last carriage return (progress bars). */
export function cleanLog(text: string): string {
  let t = text.replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, '').replace(/\x1b\][^\x07]*\x07/g, '');
  if (t.includes('\r')) {
    t = t
      .split('\n')
      .map(line => {
        const trimmed = line.endsWith('\r') ? line.slice(0, -1) : line;
        const k = trimmed.lastIndexOf('\r');
        return k >= 0 ? trimmed.slice(k + 1) : trimmed;
      })
      .join('\n');
  }
  return t;
}

export class LogPane {
  readonly el: HTMLDivElement;
  private jobSel: HTMLSelectElement;
  private attemptSel: HTMLSelectElement;
  private follow: HTMLInputElement;
  private search: HTMLInputElement;
  private hits: HTMLSpanElement;
  private status: HTMLDivElement;
  private pre: HTMLPreElement;
  private jobId: number | null = null;
  private attempt = 0;
  private latest = true;
  private raw = '';
  private have = 0;
  private dropped = false;
  private conn: StreamConnection | null = null;
  private generation = 0;
  private marks: HTMLElement[] = [];
  private current = -1;
  private searchTimer: number | undefined;
  private queue: Promise<void> = Promise.resolve();
  private visible = false;
  private pendingJobs: Job[] | null = null;

  constructor(
    private session: Session,
    private opts: { compact?: boolean } = {}
  ) {
    this.jobSel = h('select', { class: 'jf-input', 'aria-label': 'Job' });
    this.jobSel.addEventListener('change', () => {
      const id = Number(this.jobSel.value);
      if (id) {
        this.open(id);
      }
    });
    this.attemptSel = h('select', { class: 'jf-input', 'aria-label': 'Attempt' });
    this.attemptSel.addEventListener('change', () => {
      if (this.jobId !== null) {
        this.open(this.jobId, Number(this.attemptSel.value));
      }
    });
    this.follow = h('input', { type: 'checkbox', checked: true });
    this.follow.addEventListener('change', () => {
      if (this.follow.checked) {
        this.scrollToEnd();
      }
    });
    this.search = h('input', { type: 'search', class: 'jf-input jf-log-search', placeholder: 'Search log', 'aria-label': 'Search log' });
    this.search.addEventListener('input', () => {
      window.clearTimeout(this.searchTimer);
      this.searchTimer = window.setTimeout(() => this.render(), 120);
    });
    this.search.addEventListener('keydown', ev => {
      if (ev.key === 'Enter') {
        ev.preventDefault();
        this.step(ev.shiftKey ? -1 : 1);
      }
    });
    this.hits = h('span', { class: 'jf-hits' });
    this.status = h('div', { class: 'jf-log-status' });
    this.pre = h('pre', { class: 'jf-log', tabindex: 0 });
    this.pre.addEventListener('scroll', () => {
      const atEnd = this.pre.scrollHeight - this.pre.scrollTop - this.pre.clientHeight < 8;
      if (this.follow.checked !== atEnd && this.pre.scrollHeight > this.pre.clientHeight) {
        this.follow.checked = atEnd;
      }
    });
    const toolbar = h(
      'div',
      { class: 'jf-toolbar' },
      opts.compact ? null : this.jobSel,
      this.attemptSel,
      h('label', { class: 'jf-follow', title: 'Keep the newest output in view' }, this.follow, ' Follow'),
      this.search,
      button('↑', () => this.step(-1), { title: 'Previous match (Shift+Enter)', class: 'jf-btn jf-icon-btn' }),
      button('↓', () => this.step(1), { title: 'Next match (Enter)', class: 'jf-btn jf-icon-btn' }),
      this.hits
    );
    this.el = h('div', { class: 'jf-logs' }, toolbar, this.status, this.pre);
    this.showMessage('Pick a job to see its output: click a node in the graph, or Log in the job list.');
  }

  setVisible(visible: boolean): void {
    this.visible = visible;
    if (visible && this.pendingJobs) {
      this.refreshJobs(this.pendingJobs);
    }
  }

  get job(): number | null {
    return this.jobId;
  }

  /** Keep the job picker in step with the store (built only while the pane is shown). */
  refreshJobs(jobs: Job[]): void {
    this.pendingJobs = jobs;
    if (this.opts.compact || !this.visible) {
      return;
    }
    this.pendingJobs = null;
    const sorted = [...jobs].sort((a, b) => b.id - a.id).slice(0, 2000);
    const sig = sorted.map(j => `${j.id}:${j.code}`).join(',');
    if (this.jobSel.dataset.sig === sig) {
      return;
    }
    this.jobSel.dataset.sig = sig;
    this.jobSel.replaceChildren(
      h('option', { value: '' }, 'Job…'),
      ...sorted.map(j => h('option', { value: j.id }, `${j.id} ${j.name} (${j.code})`))
    );
    this.jobSel.value = this.jobId !== null ? String(this.jobId) : '';
  }

  /** Show job `id`'s output: its latest attempt (live), or `attempt`. */
  open(id: number, attempt?: number): void {
    const gen = ++this.generation;
    this.conn?.close();
    this.conn = null;
    this.jobId = id;
    this.jobSel.value = String(id);
    this.raw = '';
    this.have = 0;
    this.dropped = false;
    this.pre.textContent = '';
    this.el.dataset.job = String(id);
    this.showMessage('Loading…');
    this.queue = (async () => {
      let info: { job: Job; attempts: Attempt[] };
      try {
        info = await this.session.request('GET', `jobs/${id}`);
      } catch (err) {
        if (gen === this.generation) {
          this.showMessage(`Cannot read job ${id}: ${(err as Error).message}`);
        }
        return;
      }
      if (gen !== this.generation) {
        return;
      }
      const latest = info.attempts.length ? Math.max(...info.attempts.map(a => a.attempt)) : 0;
      this.attempt = attempt ?? latest;
      this.latest = this.attempt === latest;
      this.fillAttempts(info.attempts, info.job);
      this.updateStatus(info.job);
      if (this.attempt > 0) {
        await this.fetch(gen, this.attempt, null);
      } else {
        const why = reasonText(info.job);
        this.showMessage(`Job ${id} has not started yet${why ? ` (${why})` : ''}. Its output will appear here when it runs.`);
      }
      if (gen !== this.generation) {
        return;
      }
      if (this.latest) {
        this.conn = this.session.openLog(id, msg => {
          this.queue = this.queue.then(() => this.onLog(gen, msg));
        });
      }
    })();
  }

  close(): void {
    this.generation++;
    this.conn?.close();
    this.conn = null;
  }

  dispose(): void {
    this.close();
    this.el.remove();
  }

  /** A job changed: update the status line (and the attempt list when a new attempt began). */
  jobChanged(job: Job): void {
    if (job.id !== this.jobId) {
      return;
    }
    this.updateStatus(job);
    const have = [...this.attemptSel.options].map(o => Number(o.value));
    if ((job.attempt ?? 0) > 0 && !have.includes(job.attempt ?? 0)) {
      this.attemptSel.appendChild(h('option', { value: job.attempt ?? 0 }, `Attempt ${job.attempt} (running)`));
    }
  }

  private fillAttempts(attempts: Attempt[], job: Job): void {
    const opts = [...attempts]
      .sort((a, b) => b.attempt - a.attempt)
      .map(a => {
        const how = a.state ? `${a.state}${a.exit_code !== null && a.exit_code !== undefined ? `, exit ${a.exit_code}` : ''}` : job.code === 'R' ? 'running' : '';
        return h('option', { value: a.attempt }, `Attempt ${a.attempt}${how ? ` (${how})` : ''}`);
      });
    if (!opts.length) {
      opts.push(h('option', { value: 0 }, 'No attempt yet'));
    }
    this.attemptSel.replaceChildren(...opts);
    this.attemptSel.value = String(this.attempt);
    this.attemptSel.disabled = attempts.length < 2;
  }

  private updateStatus(job: Job): void {
    const state = STATE_NAME[job.code] ?? job.state;
    const live = this.latest && job.code === 'R' ? ' · live' : '';
    const why = reasonText(job);
    this.status.title = job.reason ?? '';
    this.status.textContent = `Job ${job.id} (${job.name}) · ${state}${why ? ` (${why})` : ''}${
      this.attempt ? ` · attempt ${this.attempt}` : ''
    }${live}`;
    this.status.className = `jf-log-status s-${job.code}`;
  }

  /** Read attempt `attempt` by REST from `have` up to `until` (or its end). */
  private async fetch(gen: number, attempt: number, until: number | null): Promise<void> {
    for (let i = 0; i < 200; i++) {
      let reply: { text: string; offset: number };
      try {
        reply = await this.session.request('GET', `jobs/${this.jobId}/log?attempt=${attempt}&offset=${this.have}`);
      } catch (err) {
        if (gen === this.generation) {
          this.showMessage(`Cannot read the log: ${(err as Error).message}`);
        }
        return;
      }
      if (gen !== this.generation) {
        return;
      }
      if (reply.offset <= this.have) {
        break;
      }
      this.append(reply.text, reply.offset);
      if (until !== null && this.have >= until) {
        break;
      }
    }
    if (!this.raw) {
      this.showMessage(attempt ? '(no output yet)' : '');
    }
  }

  private async onLog(gen: number, msg: LogMessage): Promise<void> {
    if (gen !== this.generation || msg.job_id !== this.jobId) {
      return;
    }
    if (msg.attempt < this.attempt) {
      return;
    }
    if (msg.attempt > this.attempt) {
      if (!this.latest) {
        return;
      }
      // a new attempt began (a retry): show it from its start
      this.attempt = msg.attempt;
      this.raw = '';
      this.have = 0;
      this.dropped = false;
      this.pre.textContent = '';
      if (![...this.attemptSel.options].some(o => Number(o.value) === msg.attempt)) {
        this.attemptSel.prepend(h('option', { value: msg.attempt }, `Attempt ${msg.attempt} (running)`));
      }
      this.attemptSel.value = String(msg.attempt);
      this.attemptSel.disabled = this.attemptSel.options.length < 2;
    }
    const bytes = enc.encode(msg.text);
    const start = msg.offset - bytes.length;
    if (msg.offset <= this.have) {
      return; // already shown (the REST read got there first)
    }
    if (start > this.have) {
      await this.fetch(gen, this.attempt, start); // a gap: read it by REST, then go on
      if (gen !== this.generation || this.have >= msg.offset) {
        return;
      }
    }
    const skip = this.have - start;
    this.append(skip > 0 ? dec.decode(bytes.subarray(skip)) : msg.text, msg.offset);
  }

  private append(text: string, offset: number): void {
    this.have = offset;
    if (!text) {
      return;
    }
    const wasEmpty = !this.raw;
    this.raw += text;
    let reset = wasEmpty;
    if (this.raw.length > MAX_CHARS) {
      const cut = this.raw.indexOf('\n', this.raw.length - MAX_CHARS);
      this.raw = this.raw.slice(cut >= 0 ? cut + 1 : this.raw.length - MAX_CHARS);
      this.dropped = true;
      reset = true;
    }
    if (reset || this.search.value || text.includes('\r') || text.includes('\x1b')) {
      this.render();
    } else {
      this.pre.append(text);
      this.pre.classList.remove('jf-msg');
    }
    if (this.follow.checked) {
      this.scrollToEnd();
    }
  }

  private showMessage(text: string): void {
    if (!this.raw) {
      this.pre.textContent = text;
      this.pre.classList.add('jf-msg');
    }
  }

  private render(): void {
    const shown = (this.dropped ? '[… earlier output not shown here; the whole log is on the server …]\n' : '') + cleanLog(this.raw);
    this.pre.classList.toggle('jf-msg', !this.raw);
    const q = this.search.value;
    this.marks = [];
    this.current = -1;
    if (!q || !this.raw) {
      this.pre.textContent = this.raw ? shown : this.pre.textContent;
      this.hits.textContent = '';
      return;
    }
    const lower = shown.toLowerCase();
    const needle = q.toLowerCase();
    const frag = document.createDocumentFragment();
    let at = 0;
    let count = 0;
    for (let k = lower.indexOf(needle); k >= 0; k = lower.indexOf(needle, k + needle.length)) {
      count++;
      if (this.marks.length < MAX_MARKS) {
        frag.append(shown.slice(at, k));
        const mark = h('mark', {}, shown.slice(k, k + needle.length));
        this.marks.push(mark);
        frag.append(mark);
        at = k + needle.length;
      }
    }
    frag.append(shown.slice(at));
    this.pre.replaceChildren(frag);
    this.hits.textContent = count ? `${count} match${count === 1 ? '' : 'es'}` : 'no match';
    this.hits.classList.toggle('none', !count);
  }

  private step(dir: 1 | -1): void {
    if (!this.marks.length) {
      return;
    }
    this.marks[this.current]?.classList.remove('current');
    this.current = (this.current + dir + this.marks.length) % this.marks.length;
    const mark = this.marks[this.current];
    mark.classList.add('current');
    this.follow.checked = false;
    this.pre.scrollTop = Math.max(0, mark.offsetTop - this.pre.clientHeight / 2);
    this.hits.textContent = `${this.current + 1} of ${this.marks.length}`;
  }

  private scrollToEnd(): void {
    this.pre.scrollTop = this.pre.scrollHeight;
  }
}
