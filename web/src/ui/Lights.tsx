import { useI18n } from '../i18n.js';
import type { Overview } from '../types.js';

/** Lighting groups: on or off, and why (schedule, dusk, a manual override until a time). */
export function Lights({ overview, now }: { overview: Overview; now: number }) {
  const { t, f } = useI18n();
  if (overview.lights.length === 0) return null;
  return (
    <section class="card lights" aria-labelledby="lights-title">
      <h2 id="lights-title">{t('lights.title')}</h2>
      <ul>
        {overview.lights.map((l) => (
          <li key={l.id} class={l.on ? 'on' : 'off'} data-testid={`light-${l.id}`} data-on={String(l.on)}>
            <span class="name">{l.id}</span>
            <strong>{t(l.on ? 'light.on' : 'light.off')}</strong>
            <span class="reason">
              {l.reason}
              {l.overrideUntil !== undefined && ` · ${t('zone.until', { time: f.when(l.overrideUntil, now) })}`}
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}
