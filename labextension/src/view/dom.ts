/** Small DOM and formatting helpers shared by the parts of the view. */
import { Job } from './types';

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number | boolean | undefined | null> = {},
  ...children: (Node | string | null | undefined | false)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) {
      continue;
    }
    if (k === 'class') {
      node.className = String(v);
    } else if (k === 'text') {
      node.textContent = String(v);
    } else {
      node.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const c of children) {
    if (c !== null && c !== undefined && c !== false) {
      node.append(c);
    }
  }
  return node;
}

export function button(
  label: string,
  onClick: (ev: MouseEvent) => void,
  attrs: Record<string, string | number | boolean | undefined> = {}
): HTMLButtonElement {
  const b = h('button', { type: 'button', class: 'jf-btn', ...attrs }, label);
  b.addEventListener('click', ev => {
    ev.stopPropagation();
    onClick(ev);
  });
  return b;
}

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function esc(text: unknown): string {
  return String(text ?? '').replace(/[&<>"']/g, c => ESC[c]);
}

/** gflow's state codes with their names, in display order. */
export const STATES: [string, string][] = [
  ['PD', 'Queued'],
  ['H', 'Held'],
  ['R', 'Running'],
  ['CD', 'Finished'],
  ['F', 'Failed'],
  ['CA', 'Cancelled'],
  ['TO', 'Timeout']
];
export const STATE_NAME: Record<string, string> = Object.fromEntries(STATES);
export const ACTIVE_CODES = new Set(['PD', 'H', 'R']);

/** `1:02:03`, `4:05`, `12s`. */
export function formatSeconds(s: number | null | undefined): string {
  if (s === null || s === undefined || !isFinite(s)) {
    return '';
  }
  if (s > 0 && s < 1) {
    return '<1s';
  }
  s = Math.max(0, Math.round(s));
  const d = Math.floor(s / 86400);
  const hh = Math.floor((s % 86400) / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = s % 60;
  const pad = (v: number) => String(v).padStart(2, '0');
  if (d) {
    return `${d}-${pad(hh)}:${pad(mm)}:${pad(ss)}`;
  }
  if (hh) {
    return `${hh}:${pad(mm)}:${pad(ss)}`;
  }
  if (mm) {
    return `${mm}:${pad(ss)}`;
  }
  return `${ss}s`;
}

/** How long the job ran (or has been running), from its times. */
export function elapsed(job: Job, now: number = Date.now() / 1000): number | null {
  const start = job.started_at ?? job.first_started_at;
  if (!start) {
    return null;
  }
  const end = job.code === 'R' ? now : job.ended_at ?? now;
  return end - start;
}

export function clock(ts: number | null | undefined): string {
  if (!ts) {
    return '';
  }
  const d = new Date(ts * 1000);
  const today = new Date();
  const time = d.toLocaleTimeString(undefined, { hour12: false });
  if (d.toDateString() === today.toDateString()) {
    return time;
  }
  return `${d.toISOString().slice(0, 10)} ${time}`;
}

/** The reason as the panel shows it: gqueue's text, or nothing for a plain running/finished job. */
export function reasonText(job: Job): string {
  if (!job.reason) {
    return '';
  }
  if (job.code === 'R' && job.stopping) {
    return `stopping (${job.stopping})`;
  }
  return job.reason;
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, Math.max(1, max - 1)) + '…';
}

export function mib(v: number | null | undefined): string {
  if (v === null || v === undefined) {
    return '–';
  }
  return v >= 1024 ? `${(v / 1024).toFixed(v >= 10240 ? 0 : 1)} GiB` : `${Math.round(v)} MiB`;
}
