import type { TargetedSubmitEvent } from 'preact';
import { useI18n } from '../i18n.js';
import type { VillageStore } from '../store.js';
import type { CommandRow, Overview } from '../types.js';
import { CommandStatus, useCommand } from './command.js';

const HOUR = 3_600_000;
const DAY = 86_400_000;
const PAUSE_HOURS = [1, 2, 4, 8, 24];
/** Rain delays run from 1 hour to 14 days (commandActionSchema). */
const DELAY_DAYS = [1, 2, 3, 7, 14];

/** Site-wide switches for operators: pause or resume watering, start or end a rain delay. */
export function SiteControls({ store, overview, commands, now }: { store: VillageStore; overview: Overview; commands: CommandRow[]; now: number }) {
  const { t, f } = useI18n();
  const command = useCommand(store, commands);
  const paused = (overview.pausedUntil ?? 0) > now;
  const delayed = (overview.rainDelayUntil ?? 0) > now;
  const chosen = (e: TargetedSubmitEvent<HTMLFormElement>) => {
    e.preventDefault();
    return Number(new FormData(e.currentTarget).get('for'));
  };

  return (
    <section class="card controls" aria-labelledby="controls-title">
      <h2 id="controls-title">{t('controls.title')}</h2>
      {paused ? (
        <button type="button" disabled={command.busy} data-testid="resume" onClick={() => void command.send({ type: 'resume' })}>
          {t('controls.resume')}
        </button>
      ) : (
        <form class="inline" onSubmit={(e) => void command.send({ type: 'pause', duration: chosen(e) })}>
          <label>
            {t('controls.for')}
            <select name="for">
              {PAUSE_HOURS.map((h) => (
                <option key={h} value={h * HOUR}>
                  {f.duration(h * HOUR)}
                </option>
              ))}
            </select>
          </label>
          <button type="submit" disabled={command.busy} data-testid="pause">
            {t('controls.pause')}
          </button>
        </form>
      )}
      {delayed ? (
        <button type="button" disabled={command.busy} data-testid="rain-delay-clear" onClick={() => void command.send({ type: 'rain-delay-clear' })}>
          {t('controls.rainDelayClear')}
        </button>
      ) : (
        <form class="inline" onSubmit={(e) => void command.send({ type: 'rain-delay', duration: chosen(e) })}>
          <label>
            {t('controls.for')}
            <select name="for">
              {DELAY_DAYS.map((d) => (
                <option key={d} value={d * DAY}>
                  {f.duration(d * DAY)}
                </option>
              ))}
            </select>
          </label>
          <button type="submit" disabled={command.busy} data-testid="rain-delay">
            {t('controls.rainDelay')}
          </button>
        </form>
      )}
      <CommandStatus handle={command} overview={overview} />
    </section>
  );
}
