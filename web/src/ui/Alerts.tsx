import { useI18n } from '../i18n.js';
import type { Overview } from '../types.js';
import { sourceName } from './labels.js';

/** The site's active alerts, alarms first. */
export function Alerts({ overview, now, limit }: { overview: Overview; now: number; limit?: number }) {
  const i18n = useI18n();
  const { t, f } = i18n;
  if (overview.alerts.length === 0) return null;
  const sorted = [...overview.alerts].sort((a, b) => (a.severity === b.severity ? b.since - a.since : a.severity === 'alarm' ? -1 : 1));
  const shown = limit === undefined ? sorted : sorted.slice(0, limit);
  return (
    <section class="alerts" data-testid="alerts" aria-labelledby="alerts-title">
      <h2 id="alerts-title">{t('alerts.title')}</h2>
      <ul>
        {shown.map((a) => (
          <li key={a.id} class={`alert ${a.severity}`} data-testid={`alert-${a.id}`} data-kind={a.kind}>
            <strong>{i18n.has(`alert.kind.${a.kind}`) ? t(`alert.kind.${a.kind}`) : a.kind}</strong>
            <span class="src">{sourceName(i18n, overview, a.source)}</span>
            <span class="msg">{a.message}</span>
            <span class="muted">{t('alert.since', { time: f.when(a.since, now) })}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}
