import { useEffect, useState } from 'preact/hooks';
import { buildChart, type ChartBox } from '../chart.js';
import { useI18n } from '../i18n.js';
import type { VillageStore } from '../store.js';
import type { History, HistoryRange, SensorNow } from '../types.js';
import { errorText } from '../ui/labels.js';

const RANGES: HistoryRange[] = ['day', 'week', 'season'];
/** Drawn in these units and scaled to the card's width by the viewBox. */
const BOX: ChartBox = { width: 340, height: 170, left: 36, right: 8, top: 8, bottom: 22 };

/** One sensor over a day, week or season: average line over its min–max band. */
export function SensorChart({ store, sensor, label, guides }: { store: VillageStore; sensor: SensorNow; label: string; guides: number[] }) {
  const i18n = useI18n();
  const { t, f } = i18n;
  const [range, setRange] = useState<HistoryRange>('day');
  const [history, setHistory] = useState<History | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    let current = true;
    setHistory(null);
    setError(null);
    store.history(sensor.id, range).then(
      (h) => current && setHistory(h),
      (err: unknown) => current && setError(err),
    );
    return () => {
      current = false;
    };
  }, [store, sensor.id, range]);

  const geo = history ? buildChart(history, BOX, guides) : null;
  const tickLabel = (ms: number) => (range === 'day' ? f.time(ms) : f.day(ms));
  let lo = Infinity;
  let hi = -Infinity;
  for (const b of history?.buckets ?? []) {
    lo = Math.min(lo, b.min);
    hi = Math.max(hi, b.max);
  }

  return (
    <div class="chart" data-testid={`chart-${sensor.id}`} data-range={range}>
      <div class="tabs" role="group" aria-label={t('chart.range')}>
        {RANGES.map((r) => (
          <button key={r} type="button" aria-pressed={r === range} onClick={() => setRange(r)}>
            {t(`chart.${r}`)}
          </button>
        ))}
      </div>
      {error ? (
        <p class="error">{errorText(i18n, error)}</p>
      ) : !geo ? (
        <p class="muted">{t('loading')}</p>
      ) : geo.empty ? (
        <p class="muted">{t('chart.empty')}</p>
      ) : (
        <svg viewBox={`0 0 ${BOX.width} ${BOX.height}`} role="img" aria-label={t('chart.label', { name: label, min: f.value(lo, sensor.unit), max: f.value(hi, sensor.unit) })}>
          {geo.yTicks.map((tick) => (
            <g key={tick.value} class="grid">
              <line x1={BOX.left} x2={BOX.width - BOX.right} y1={tick.at} y2={tick.at} />
              <text x={BOX.left - 4} y={tick.at + 4} text-anchor="end">
                {f.number(tick.value)}
              </text>
            </g>
          ))}
          {geo.guides.map((g) => (
            <line key={g.value} class="guide" x1={BOX.left} x2={BOX.width - BOX.right} y1={g.at} y2={g.at} />
          ))}
          <path class="range" d={geo.band} />
          <path class="avg" d={geo.line} />
          {geo.xTicks.map((tick, i) => (
            <text key={tick.value} class="x" x={tick.at} y={BOX.height - 6} text-anchor={i === 0 ? 'start' : i === geo.xTicks.length - 1 ? 'end' : 'middle'}>
              {tickLabel(tick.value)}
            </text>
          ))}
        </svg>
      )}
    </div>
  );
}
