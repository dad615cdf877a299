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

/**
 * The reason as a person reads it ("exit code 1", "cancelled: job 2 failed"), or nothing for a
 * plain running/finished job. The machine code (gqueue's `ExitCode:1`) is `job.reason`: views put it
 * in a tooltip. `parentCode` tells how a parent ended, where the view knows it.
 */
export function reasonText(job: Job, parentCode?: (id: number) => string | undefined): string {
  if (!job.reason) {
    return '';
  }
  if (job.code === 'R' && job.stopping) {
    return `stopping (${job.stopping})`;
  }
  return humanReason(job.reason_kind ?? job.reason, job.reason_args ?? {}, job.reason, parentCode);
}

const ENDED: Record<string, string> = { F: 'failed', CA: 'was cancelled', TO: 'timed out', CD: 'finished' };

/** One reason kind of jupyter_jobflow/model.py (and its arguments) in words; unknown kinds as sent. */
export function humanReason(
  kind: string,
  args: Record<string, unknown>,
  raw: string = kind,
  parentCode?: (id: number) => string | undefined
): string {
  const a = (k: string) => String(args[k] ?? '');
  const parentEnded = () => {
    const code = parentCode?.(Number(args.job));
    const cond = a('condition');
    const how = (code && ENDED[code]) || (cond.startsWith('afternotok') ? 'finished' : 'failed');
    return `job ${a('job')} ${how}`;
  };
  switch (kind) {
    case 'Dependency':
      return 'waiting for its dependencies';
    case 'DependencyReadyAfter':
      return typeof args.at === 'number' ? `waiting until ${clockTime(args.at)} (dependency delay)` : 'waiting for a dependency delay';
    case 'DependencyNeverSatisfied':
      return `can never start: ${parentEnded()}`;
    case 'DependencyFailed':
      return `cancelled: ${parentEnded()}`;
    case 'Resources':
      return args.resource === 'Slots' ? 'waiting for a free slot' : `waiting for a free ${a('resource') || 'GPU'}`;
    case 'GroupLimit':
      return `waiting: group ${a('group')} runs ${a('limit')} at a time`;
    case 'GroupPaused':
      return `waiting: group ${a('group')} is paused`;
    case 'Singleton':
      return `waiting: another "${a('name')}" job is running (singleton)`;
    case 'JobHeldUser':
      return 'held: release it to let it start';
    case 'RetryBackoff':
      return `retry ${a('attempt')} of ${a('of')}${typeof args.at === 'number' ? ` at ${clockTime(args.at)}` : ''}`;
    case 'CancelledByUser':
      return args.user ? `cancelled by ${a('user')}` : 'cancelled';
    case 'ExitCode':
      return `exit code ${a('code')}`;
    case 'Signal':
      return `killed by ${a('signal')}`;
    case 'SpawnError':
      return `could not start: ${a('message')}`;
    case 'TimeLimit':
      return `time limit reached${typeof args.limit === 'number' ? ` (${formatSeconds(args.limit)})` : ''}`;
    case 'Lost':
      return 'lost: its process was gone after a server restart';
    case 'OutputNotSaved': {
      const m = /^OutputNotSaved:(\S+)(?: \((.*)\))?/.exec(raw);
      const name = a('name') || m?.[1] || '';
      const type = a('type') || m?.[2] || '';
      return `output ${name}${type ? ` (${type})` : ''} could not be saved`;
    }
    default:
      return raw;
  }
}

function clockTime(ts: number): string {
  return new Date(ts * 1000).toLocaleTimeString(undefined, { hour12: false });
}

/** The GPUs of a job in words: held now, used by its last attempt, or asked for. */
export function gpuText(job: Job, short = false): string {
  if (job.allocated_gpus?.length) {
    return `GPU ${job.allocated_gpus.join(',')}`;
  }
  if (job.used_gpus?.length && !ACTIVE_CODES.has(job.code)) {
    return `${short ? '' : 'used '}GPU ${job.used_gpus.join(',')}`;
  }
  if (job.gpu_ids?.length) {
    return `${short ? 'wants' : 'asks for GPU'} ${job.gpu_ids.join(',')}`;
  }
  return job.gpus ? (short ? String(job.gpus) : `${job.gpus} asked for`) : '';
}

/** Where a job runs, for its details: `slurm · Slurm job 812`; '' for this machine (local). */
export function executorText(job: Job): string {
  if (!job.executor || job.executor === 'local') {
    return '';
  }
  return job.slurm_job_id ? `${job.executor} · Slurm job ${job.slurm_job_id}` : job.executor;
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

/**
 * Show `dlg` modally, in <body>, not in the panel: it outlives a re-render of the widget. Escape
 * calls `onEscape`; the returned function closes and removes the dialog.
 */
export function showDialog(host: HTMLElement, dlg: HTMLDialogElement, onEscape: () => void): () => void {
  const holder = h('div', { class: 'jobflow-root jf-dialog-holder' });
  dlg.addEventListener('cancel', ev => {
    ev.preventDefault();
    onEscape();
  });
  holder.appendChild(dlg);
  (host.ownerDocument ?? document).body.appendChild(holder);
  if (typeof dlg.showModal === 'function') {
    dlg.showModal();
  } else {
    dlg.setAttribute('open', '');
  }
  return () => {
    dlg.close();
    holder.remove();
  };
}
