/**
 * The "Schedule…" form of the Flows view: a flow's cron expression, zone and policies, saved with
 * `PUT flows/{name}/schedule` (docs/api.md); the reply's one-line error is shown in the form, and
 * the schedule's next ticks (`next_ticks`) are listed under it.
 */
import { button, h, showDialog } from './dom';
import { errorText, Session } from './session';
import { Schedule } from './types';

/** The form's fields, as typed (text inputs) or ticked (check boxes). */
export interface ScheduleFields {
  cron: string;
  tz: string;
  catchup: boolean;
  depends_on_past: boolean;
  max_active_runs: string;
  expired_limit: string;
  enabled: boolean;
}

export type ScheduleBody = Record<string, string | number | boolean>;

/** The PUT body of the form, or the one-line problem with what was typed (empty counts fields are left as they are). */
export function scheduleBody(f: ScheduleFields): { body: ScheduleBody } | { error: string } {
  const cron = f.cron.trim();
  if (!cron) {
    return { error: 'Give a cron expression, e.g. "0 2 * * *"' };
  }
  const body: ScheduleBody = { cron, catchup: f.catchup, depends_on_past: f.depends_on_past, enabled: f.enabled };
  if (f.tz.trim()) {
    body.tz = f.tz.trim();
  }
  const counts: [keyof ScheduleFields & ('max_active_runs' | 'expired_limit'), number][] = [
    ['max_active_runs', 1],
    ['expired_limit', 0]
  ];
  for (const [key, least] of counts) {
    const text = f[key].trim();
    if (!text) {
      continue;
    }
    if (!/^\d+$/.test(text) || Number(text) < least) {
      return { error: `${key} must be a whole number >= ${least}, not "${text}"` };
    }
    body[key] = Number(text);
  }
  return { body };
}

/** The schedule's upcoming ticks as a line each ("none" when the schedule has ended). */
export function nextTicksText(s: Schedule | null): string[] {
  if (!s || !s.next_ticks) {
    return [];
  }
  return s.next_ticks.length ? s.next_ticks : ['no tick left (the schedule has ended)'];
}

/** Resolves to the saved schedule, or null when closed without saving. */
export function openScheduleForm(session: Session, flow: string, current: Schedule | null, host: HTMLElement): Promise<Schedule | null> {
  return new Promise(resolve => {
    const dlg = h('dialog', { class: 'jf-dialog jf-schedule-form', 'aria-label': `Schedule ${flow}` });
    const text = (field: string, label: string, value: string, placeholder: string) =>
      h('input', { class: 'jf-input', 'data-field': field, 'aria-label': label, placeholder, value });
    const tick = (field: string, label: string, on: boolean) => {
      const box = h('input', { type: 'checkbox', 'data-field': field, 'aria-label': label });
      box.checked = on;
      return box;
    };
    const cron = text('cron', 'Cron', current?.cron ?? '', '0 2 * * *');
    const tz = text('tz', 'Time zone', current?.tz ?? '', 'UTC');
    const maxActive = text('max_active_runs', 'Max active runs', current ? String(current.max_active_runs) : '', '1');
    const expired = text('expired_limit', 'Expired limit', current?.expired_limit !== undefined ? String(current.expired_limit) : '', '0');
    const catchup = tick('catchup', 'Catch up', current?.catchup ?? false);
    const dependsOnPast = tick('depends_on_past', 'Depends on past', current?.depends_on_past ?? false);
    const enabled = tick('enabled', 'Enabled', current?.enabled ?? true);
    const message = h('p', { class: 'jf-warning', 'data-error': '' });
    const ticks = h('ul', { class: 'jf-next-ticks jf-mono' });
    const showTicks = (s: Schedule | null) => ticks.replaceChildren(...nextTicksText(s).map(t => h('li', {}, t)));
    showTicks(current);
    let dismiss = () => {}; // set once shown (showDialog)
    let saved: Schedule | null = null;
    const finish = () => {
      dismiss();
      resolve(saved);
    };
    async function save(): Promise<void> {
      const built = scheduleBody({
        cron: cron.value, tz: tz.value, catchup: catchup.checked, depends_on_past: dependsOnPast.checked,
        max_active_runs: maxActive.value, expired_limit: expired.value, enabled: enabled.checked
      });
      if ('error' in built) {
        message.textContent = built.error;
        return;
      }
      try {
        saved = await session.request<Schedule>('PUT', `flows/${encodeURIComponent(flow)}/schedule`, built.body);
        message.textContent = '';
        showTicks(saved);
      } catch (err) {
        message.textContent = errorText(err);
      }
    }
    dlg.append(
      h('h3', {}, `Schedule ${flow}`),
      h(
        'div',
        { class: 'jf-schedule-fields' },
        h('label', {}, 'Cron ', cron),
        h('label', {}, 'Time zone ', tz),
        h('label', {}, 'Max active runs ', maxActive),
        h('label', {}, 'Expired limit ', expired),
        h('label', {}, catchup, ' catch up'),
        h('label', {}, dependsOnPast, ' depends on past'),
        h('label', {}, enabled, ' enabled')
      ),
      message,
      h('p', { class: 'jf-hint' }, 'Next ticks:'),
      ticks,
      h('div', { class: 'jf-dialog-buttons' }, button('Close', finish, { 'data-act': 'keep' }), button('Save', () => void save(), { 'data-act': 'save-schedule' }))
    );
    dismiss = showDialog(host, dlg, () => finish());
    cron.focus();
  });
}
