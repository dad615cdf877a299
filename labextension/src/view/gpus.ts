/**
 * GPU charts: per GPU, utilisation and memory over the last ten minutes, what holds it now (a job
 * of ours, a notebook kernel, another process), and a "simulated" label on simulated devices.
 */
import { esc, h, mib } from './dom';
import { GpuSeries, GpuStore, HISTORY_SECONDS, JobStore, readingOf } from './store';
import { GpuEntry, GpuHolder } from './types';

const W = 300;
const H = 64;

export class GpuView {
  readonly el: HTMLDivElement;
  private body: HTMLDivElement;
  private visible = false;
  private timer: ReturnType<typeof setInterval> | undefined;
  private unsub: () => void;

  constructor(
    private gpus: GpuStore,
    private jobs: JobStore
  ) {
    this.body = h('div', { class: 'jf-gpu-list' });
    this.el = h('div', { class: 'jf-gpus' }, this.body);
    this.unsub = gpus.subscribe(() => this.visible && this.render());
    this.render();
  }

  setVisible(visible: boolean): void {
    this.visible = visible;
    clearInterval(this.timer);
    if (visible) {
      this.render();
      // the time axis moves on even when no reading comes
      this.timer = setInterval(() => this.render(), 2000);
    }
  }

  dispose(): void {
    clearInterval(this.timer);
    this.unsub();
    this.el.remove();
  }

  render(): void {
    const view = this.gpus.view;
    if (!view) {
      this.body.replaceChildren(h('div', { class: 'jf-empty-note' }, 'Waiting for the GPU list…'));
      return;
    }
    if (!view.gpus?.length) {
      this.body.replaceChildren(
        h('div', { class: 'jf-empty-note' }, `No GPUs${view.reason ? `: ${view.reason}` : ''}.`)
      );
      return;
    }
    const now = Date.now() / 1000;
    const cards: HTMLElement[] = [];
    for (const entry of [...view.gpus].sort((a, b) => a.index - b.index)) {
      const series = this.gpus.series.get(entry.index);
      cards.push(this.card(entry, series, now));
    }
    this.body.replaceChildren(...cards);
  }

  private card(entry: GpuEntry, series: GpuSeries | undefined, now: number): HTMLElement {
    const util = readingOf(entry, 'util');
    const used = readingOf(entry, 'memory_used_mib');
    const total = readingOf(entry, 'memory_total_mib') ?? lastTotal(series);
    const name = typeof entry.name === 'string' && entry.name ? entry.name : '';
    const title = h(
      'div',
      { class: 'jf-gpu-title' },
      h('b', {}, `GPU ${entry.index}`),
      name ? h('span', { class: 'jf-gpu-name' }, name) : null,
      entry.simulated ? h('span', { class: 'jf-tag sim', title: 'A simulated device (JOBFLOW_SIMULATED_GPUS): no real GPU' }, 'simulated') : null,
      entry.error ? h('span', { class: 'jf-tag err', title: String(entry.error) }, 'read error') : null
    );
    const figures = h(
      'div',
      { class: 'jf-gpu-figures' },
      h('span', { class: 'jf-util' }, `util ${util === null ? '–' : `${Math.round(util)}%`}`),
      h('span', { class: 'jf-mem' }, `memory ${mib(used)}${total ? ` / ${mib(total)}` : ''}`)
    );
    const chart = h('div', { class: 'jf-gpu-chart' });
    chart.innerHTML = chartSvg(series, total, now);
    const holders = holdersOf(entry);
    const held = h('div', { class: 'jf-gpu-holders' });
    if (!holders.length) {
      held.append(h('span', { class: 'jf-idle' }, 'free'));
    } else {
      held.append('held by ');
      holders.forEach((hd, i) => {
        if (i) {
          held.append(', ');
        }
        held.append(h('span', { class: `jf-holder k-${hd.kind}`, title: holderTitle(hd) }, this.holderLabel(hd)));
      });
    }
    return h(
      'div',
      { class: 'jf-gpu', 'data-index': entry.index, 'data-simulated': entry.simulated ? 'true' : 'false' },
      title,
      figures,
      chart,
      held
    );
  }

  private holderLabel(hd: GpuHolder): string {
    const mem = hd.memory_mib !== null && hd.memory_mib !== undefined ? ` · ${mib(hd.memory_mib)}` : '';
    if (hd.kind === 'job') {
      const job = this.jobs.get(Number(hd.id));
      const name = hd.name ?? job?.name;
      return `job ${hd.id}${name ? ` (${name})` : ''}${mem}`;
    }
    if (hd.kind === 'kernel') {
      return `kernel ${hd.name ?? String(hd.id ?? '').slice(0, 8)}${mem}`;
    }
    return `${hd.name ?? `pid ${hd.pid ?? '?'}`}${mem}`;
  }
}

function lastTotal(series: GpuSeries | undefined): number | null {
  const s = series?.samples;
  if (!s) {
    return null;
  }
  for (let i = s.length - 1; i >= 0; i--) {
    if (s[i].memory_total_mib) {
      return s[i].memory_total_mib!;
    }
  }
  return null;
}

function holderTitle(hd: GpuHolder): string {
  const bits = [`${hd.kind}${hd.id !== undefined ? ` ${hd.id}` : ''}`];
  if (hd.pid) {
    bits.push(`pid ${hd.pid}`);
  }
  if (hd.util !== null && hd.util !== undefined) {
    bits.push(`${hd.util}% SM`);
  }
  return bits.join(', ');
}

/**
 * Who holds the device, from the sampler's `processes` (kind job / kernel / unmanaged, with pid
 * and memory), plus the jobs allocated to it that show no process yet (`jobs`, `job_names`).
 */
export function holdersOf(entry: GpuEntry): GpuHolder[] {
  const raw = entry as Record<string, any>;
  const names: Record<string, string> = raw.job_names && typeof raw.job_names === 'object' ? raw.job_names : {};
  const jobs = new Map<string, GpuHolder>();
  const others: GpuHolder[] = [];
  const seenPids = new Set<number>();
  const lists = [raw.holders, raw.processes, raw.kernels, raw.unmanaged].filter(Array.isArray) as Record<string, any>[][];
  for (const list of lists) {
    for (const p of list) {
      if (typeof p.pid === 'number') {
        if (seenPids.has(p.pid)) {
          continue;
        }
        seenPids.add(p.pid);
      }
      const kind: string =
        p.kind ?? (p.job_id !== undefined && p.job_id !== null ? 'job' : p.path || p.kernel_id ? 'kernel' : 'other');
      const memory = typeof p.memory_mib === 'number' ? p.memory_mib : null;
      if (kind === 'job') {
        const id = String(p.job_id ?? p.id);
        const had = jobs.get(id);
        if (had) {
          had.memory_mib = (had.memory_mib ?? 0) + (memory ?? 0);
        } else {
          jobs.set(id, { kind: 'job', id: Number(id), name: p.name ?? names[id], memory_mib: memory, pid: p.pid });
        }
      } else if (kind === 'kernel') {
        const path: string = p.path ?? p.name ?? p.kernel_id ?? '';
        others.push({ kind: 'kernel', id: p.kernel_id, name: path.split('/').pop() || path, memory_mib: memory, pid: p.pid });
      } else {
        const who = [p.process_name, p.user].filter(Boolean).join(', ');
        others.push({ kind: 'other', name: `pid ${p.pid ?? '?'}${who ? ` (${who})` : ''}`, memory_mib: memory, pid: p.pid });
      }
    }
  }
  for (const id of entry.jobs ?? []) {
    if (!jobs.has(String(id))) {
      jobs.set(String(id), { kind: 'job', id, name: names[String(id)] });
    }
  }
  return [...jobs.values(), ...others];
}

/** Utilisation (filled) and memory (line), 0–100 %, over the last ten minutes. */
function chartSvg(series: GpuSeries | undefined, total: number | null, now: number): string {
  const t0 = now - HISTORY_SECONDS;
  const x = (ts: number) => ((Math.max(t0, ts) - t0) / HISTORY_SECONDS) * W;
  const y = (pct: number) => H - (Math.max(0, Math.min(100, pct)) / 100) * H;
  const samples = (series?.samples ?? []).filter(s => s.ts >= t0 - 30);
  const grid =
    `<line class="jf-grid" x1="0" x2="${W}" y1="${y(50)}" y2="${y(50)}"/>` +
    `<line class="jf-grid" x1="0" x2="${W}" y1="${y(100) + 0.5}" y2="${y(100) + 0.5}"/>` +
    [120, 240, 360, 480].map(s => `<line class="jf-grid v" x1="${x(t0 + s)}" x2="${x(t0 + s)}" y1="0" y2="${H}"/>`).join('');
  const step = (get: (i: number) => number | null): string => {
    let d = '';
    let last: number | null = null;
    samples.forEach((s, i) => {
      const v = get(i);
      if (v === null) {
        return;
      }
      const px = x(s.ts).toFixed(1);
      d += d ? ` H${px} V${y(v).toFixed(1)}` : `M${px},${y(v).toFixed(1)}`;
      last = v;
    });
    if (d && last !== null) {
      d += ` H${x(now).toFixed(1)}`; // the last reading holds until now
    }
    return d;
  };
  const utilD = step(i => samples[i].util);
  const memD = step(i => {
    const s = samples[i];
    const tot = s.memory_total_mib ?? total;
    return s.memory_used_mib !== null && tot ? (100 * s.memory_used_mib) / tot : null;
  });
  const area = utilD ? `<path class="jf-util-area" d="${utilD} V${H} H${utilD.slice(1, utilD.indexOf(',')).trim()} Z"/>` : '';
  const none = !utilD && !memD ? `<text class="jf-nodata" x="${W / 2}" y="${H / 2 + 4}">no readings yet</text>` : '';
  return (
    `<svg class="jf-chart" viewBox="0 0 ${W} ${H + 14}" role="img" aria-label="utilisation and memory, last 10 minutes">` +
    grid +
    area +
    (utilD ? `<path class="jf-util-line" d="${esc(utilD)}"/>` : '') +
    (memD ? `<path class="jf-mem-line" d="${esc(memD)}"/>` : '') +
    none +
    `<text class="jf-axis" x="2" y="9">100%</text>` +
    `<text class="jf-axis" x="2" y="${y(50) - 2}">50%</text>` +
    `<text class="jf-axis" x="2" y="${H + 11}">−10 min</text>` +
    `<text class="jf-axis" x="${W / 2}" y="${H + 11}" text-anchor="middle">−5</text>` +
    `<text class="jf-axis" x="${W - 2}" y="${H + 11}" text-anchor="end">now</text>` +
    `</svg>`
  );
}
