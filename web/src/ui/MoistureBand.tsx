import { useI18n } from '../i18n.js';
import { moistureBand, type MoistureLimits } from '../moisture.js';

/**
 * Soil moisture on a 0–100 % scale coloured dry / ok / wet at the zone's limits, with a marker
 * at the value and the band named in words (colour is never the only sign).
 */
export function MoistureBand({ id, value, limits }: { id: string; value: number | null; limits: MoistureLimits }) {
  const { t, f } = useI18n();
  const band = moistureBand(value, limits);
  const clamp = (v: number) => Math.max(0, Math.min(100, v));
  const dry = clamp(limits.dryBelow);
  const wet = clamp(limits.wetAbove);
  return (
    <div class={`moisture band-${band}`} data-testid={`moisture-${id}`} data-band={band}>
      <div class="scale" title={t('band.scale', { dry: f.value(dry, '%'), wet: f.value(wet, '%') })} aria-hidden="true">
        <span class="seg seg-dry" style={{ width: `${dry}%` }} />
        <span class="seg seg-ok" style={{ width: `${wet - dry}%` }} />
        <span class="seg seg-wet" style={{ width: `${100 - wet}%` }} />
        {value !== null && <span class="mark" style={{ left: `${clamp(value)}%` }} />}
      </div>
      <span class="chip">{t(`band.${band}`)}</span>
    </div>
  );
}
