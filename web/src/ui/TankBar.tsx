import { useI18n } from '../i18n.js';
import type { Tank } from '../types.js';

/**
 * A tank's level. A fill in % draws a bar; a height in cm is shown as a number only, since the
 * overview does not say how tall the tank is. `low` comes from the site's tank-low alert.
 */
export function TankBar({ tank, low }: { tank: Tank; low: boolean }) {
  const { f } = useI18n();
  const pct = tank.unit === '%' && tank.value !== null ? Math.max(0, Math.min(100, tank.value)) : null;
  return (
    <div class={low ? 'tank low' : 'tank'} data-testid={`tank-level-${tank.sensor}`} data-value={tank.value ?? ''}>
      <div class="tank-head">
        <span class="name">{tank.name}</span>
        <span class="num">{f.value(tank.value, tank.unit)}</span>
      </div>
      {pct !== null && (
        <div class="tank-bar" role="progressbar" aria-label={tank.name} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(pct)}>
          <span style={{ width: `${pct}%` }} />
        </div>
      )}
    </div>
  );
}
