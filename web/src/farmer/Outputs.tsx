import { useI18n } from '../i18n.js';
import type { Overview } from '../types.js';

/** Valves and pumps as the edge drives them (lights have their own list). */
export function Outputs({ overview, now }: { overview: Overview; now: number }) {
  const { t, f } = useI18n();
  const outputs = overview.outputs.filter((o) => o.kind !== 'light');
  if (outputs.length === 0) return null;
  return (
    <section class="card outputs" aria-labelledby="outputs-title">
      <h2 id="outputs-title">{t('outputs.title')}</h2>
      <ul>
        {outputs.map((o) => {
          const valve = o.kind !== 'pump';
          return (
            <li key={o.id} class={o.on ? 'on' : 'off'} data-testid={`output-${o.id}`} data-on={String(o.on)}>
              <span class="name">
                {t(`output.kind.${o.kind}`)} {o.id}
              </span>
              <strong>{t(valve ? (o.on ? 'output.open' : 'output.closed') : o.on ? 'output.on' : 'output.off')}</strong>
              {o.on && o.until !== undefined && <span>{t('zone.until', { time: f.when(o.until, now) })}</span>}
              {o.reason && <span class="reason">{o.reason}</span>}
              {o.fault && <span class="error">{t('output.fault', { fault: o.fault })}</span>}
            </li>
          );
        })}
      </ul>
    </section>
  );
}
