import { useI18n } from '../i18n.js';
import type { Overview } from '../types.js';
import { quantityLabel } from './labels.js';

/** Shown first, in this order; other weather quantities follow. */
const ORDER = ['air-temperature', 'relative-humidity', 'wind-speed', 'rain', 'solar-radiation'];

/** Weather now and rain over the last 24 hours. */
export function Weather({ overview }: { overview: Overview }) {
  const i18n = useI18n();
  const { t, f } = i18n;
  const rank = (q: string) => (ORDER.includes(q) ? ORDER.indexOf(q) : ORDER.length);
  // The running rain total is shown as "last 24 h" below; its raw counter means little to people.
  const entries = Object.entries(overview.weather)
    .filter(([q]) => q !== 'rain' || overview.rain24hMm === null)
    .sort(([a], [b]) => rank(a) - rank(b));
  return (
    <section class="weather" data-testid="weather" aria-labelledby="weather-title">
      <h2 id="weather-title">{t('weather.title')}</h2>
      <dl>
        {entries.map(([q, w]) => (
          <div key={q} data-quantity={q}>
            <dt>{quantityLabel(i18n, q)}</dt>
            <dd>{f.value(w.value, w.unit)}</dd>
          </div>
        ))}
        {overview.rain24hMm !== null && (
          <div data-testid="rain-24h">
            <dt>{t('rain24h')}</dt>
            <dd>{f.value(overview.rain24hMm, 'mm')}</dd>
          </div>
        )}
      </dl>
    </section>
  );
}
