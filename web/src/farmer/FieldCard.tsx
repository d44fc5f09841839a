import { useState } from 'preact/hooks';
import type { TargetedSubmitEvent } from 'preact';
import { useI18n } from '../i18n.js';
import { isSoilMoisture, moistureLimits } from '../moisture.js';
import { canWater, type VillageStore } from '../store.js';
import type { CommandRow, Field, Overview, SensorNow, User, Zone } from '../types.js';
import { MoistureBand } from '../ui/MoistureBand.js';
import { sensorLabel, valueText } from '../ui/labels.js';
import { SensorChart } from './Chart.js';
import { CommandStatus, useCommand } from './command.js';
import { Explain } from './Explain.js';

const MINUTE = 60_000;
/** The longest manual run offered here; the edge enforces its own limits as well. */
const MAX_MINUTES = 240;
const DEFAULT_MINUTES = 10;

interface CardProps {
  store: VillageStore;
  field: Field;
  user: User;
  overview: Overview;
  commands: CommandRow[];
  now: number;
}

/** One field: its sensors (soil moisture as a colour band, each with a chart) and its zones. */
export function FieldCard(props: CardProps) {
  const { field } = props;
  return (
    <article class="card field" data-testid={`field-card-${field.id}`} aria-labelledby={`field-${field.id}`}>
      <h3 id={`field-${field.id}`}>{field.name}</h3>
      <ul class="sensors">
        {field.sensors.map((s) => (
          <SensorRow key={s.id} store={props.store} sensor={s} zones={field.zones} />
        ))}
      </ul>
      {field.zones.map((z) => (
        <ZoneBlock key={z.id} {...props} zone={z} />
      ))}
    </article>
  );
}

function SensorRow({ store, sensor, zones }: { store: VillageStore; sensor: SensorNow; zones: Zone[] }) {
  const i18n = useI18n();
  const { t } = i18n;
  const [open, setOpen] = useState(false);
  const label = sensorLabel(i18n, sensor);
  const limits = isSoilMoisture(sensor) ? moistureLimits(sensor.id, zones) : null;
  return (
    <li class="sensor" data-testid={`sensor-${sensor.id}`}>
      <div class="row">
        <span class="name">{label}</span>
        <span class="num">{valueText(i18n, sensor)}</span>
        {sensor.quality !== 'good' && <span class="quality">{t(`quality.${sensor.quality}`)}</span>}
      </div>
      {limits && <MoistureBand id={sensor.id} value={sensor.value} limits={limits} />}
      <button type="button" class="link" aria-expanded={open} data-testid={`chart-toggle-${sensor.id}`} onClick={() => setOpen(!open)}>
        {open ? t('chart.hide') : t('chart.show')}
      </button>
      {open && <SensorChart store={store} sensor={sensor} label={label} guides={limits ? [limits.dryBelow, limits.wetAbove] : []} />}
    </li>
  );
}

function ZoneBlock({ store, field, zone, user, overview, commands, now }: CardProps & { zone: Zone }) {
  const i18n = useI18n();
  const { t, f } = i18n;
  const [why, setWhy] = useState(false);
  const command = useCommand(store, commands);
  const name = zone.name ?? zone.id;
  const last = zone.lastRun;

  const water = (e: TargetedSubmitEvent<HTMLFormElement>) => {
    e.preventDefault();
    const minutes = Math.round(Number(new FormData(e.currentTarget).get('minutes')));
    if (!(minutes >= 1 && minutes <= MAX_MINUTES)) return;
    void command.send({ type: 'water', zone: zone.id, duration: minutes * MINUTE });
  };

  return (
    <section class={`zone zone-${zone.state}`} aria-label={name}>
      <h4>{name}</h4>
      <p class="state" data-testid={`zone-state-${zone.id}`} data-state={zone.state}>
        <strong>{t(`zone.state.${zone.state}`)}</strong>
        {zone.until !== undefined && <span>{t('zone.until', { time: f.when(zone.until, now) })}</span>}
        {zone.reason && <span class="reason">{zone.reason}</span>}
      </p>
      <dl class="runs">
        <div>
          <dt>{t('zone.last')}</dt>
          <dd data-testid={`zone-last-${zone.id}`}>
            {last ? (
              <>
                {f.when(last.start, now)}
                {last.end !== undefined && ` · ${f.duration(last.end - last.start)}`}
                {last.litres !== undefined && ` · ${f.value(last.litres, 'L')}`}
                <span class="reason">{last.reason}</span>
              </>
            ) : (
              t('zone.none')
            )}
          </dd>
        </div>
        <div>
          <dt>{t('zone.next')}</dt>
          <dd data-testid={`zone-next-${zone.id}`}>{zone.next ? `${f.when(zone.next.at, now)} · ${t('zone.program', { program: zone.next.program })}` : t('zone.none')}</dd>
        </div>
      </dl>
      <button type="button" class="link" aria-expanded={why} data-testid={`why-${zone.id}`} onClick={() => setWhy(!why)}>
        {t('zone.why')}
      </button>
      {why && <Explain store={store} zone={zone.id} now={now} />}
      {canWater(user, field.id, zone) && (
        <form class="water" onSubmit={water}>
          <label>
            {t('water.minutes')}
            <input name="minutes" type="number" inputMode="numeric" min={1} max={MAX_MINUTES} step={1} defaultValue={String(DEFAULT_MINUTES)} required data-testid={`water-minutes-${zone.id}`} />
          </label>
          <div class="actions">
            <button type="submit" class="primary" disabled={command.busy} data-testid={`water-now-${zone.id}`}>
              {t('water.now')}
            </button>
            <button type="button" disabled={command.busy} data-testid={`stop-${zone.id}`} onClick={() => void command.send({ type: 'stop', zone: zone.id })}>
              {t('water.stop')}
            </button>
          </div>
          <CommandStatus handle={command} overview={overview} />
        </form>
      )}
    </section>
  );
}
