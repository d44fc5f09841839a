import { useI18n } from '../i18n.js';
import { isOperator, type StoreState, type VillageStore } from '../store.js';
import { Alerts } from '../ui/Alerts.js';
import { Announcement } from '../ui/Announcement.js';
import { codeText } from '../ui/labels.js';
import { Lights } from '../ui/Lights.js';
import { LinkStatus } from '../ui/LinkStatus.js';
import { TankBar } from '../ui/TankBar.js';
import { Weather } from '../ui/Weather.js';
import { CommandList } from './Commands.js';
import { FieldCard } from './FieldCard.js';
import { Outputs } from './Outputs.js';
import { SiteControls } from './SiteControls.js';

/** Everything about the signed-in user's site, most urgent first. */
export function SiteView({ store, state, now }: { store: VillageStore; state: StoreState; now: number }) {
  const i18n = useI18n();
  const { t, f } = i18n;
  const o = state.overview;
  const user = state.session?.user;
  if (!user) return null;
  if (!o) {
    return state.error ? (
      <div class="card">
        <p class="error" role="alert">
          {codeText(i18n, state.error)}
        </p>
        <button type="button" onClick={() => void store.load()}>
          {t('retry')}
        </button>
      </div>
    ) : (
      <p class="muted">{t('loading')}</p>
    );
  }
  const operator = isOperator(user.role);
  const paused = (o.pausedUntil ?? 0) > now;
  const delayed = (o.rainDelayUntil ?? 0) > now;
  return (
    <>
      <LinkStatus state={state} now={now} />
      <Alerts overview={o} now={now} />
      <Announcement note={o.announcement} now={now} />
      {(paused || delayed) && (
        <div class="notice" data-testid="site-switches">
          {paused && <p>{t('site.paused', { time: f.when(o.pausedUntil ?? 0, now) })}</p>}
          {delayed && <p>{t('site.rainDelay', { time: f.when(o.rainDelayUntil ?? 0, now) })}</p>}
        </div>
      )}
      <section class="fields" aria-labelledby="fields-title">
        <h2 id="fields-title">{t(user.role === 'farmer' ? 'fields.title' : 'fields.all')}</h2>
        {o.fields.length === 0 && <p class="muted">{t('fields.empty')}</p>}
        {o.fields.map((field) => (
          <FieldCard key={field.id} store={store} field={field} user={user} overview={o} commands={state.commands} now={now} />
        ))}
      </section>
      {o.tanks.length > 0 && (
        <section class="card tanks" aria-labelledby="tanks-title">
          <h2 id="tanks-title">{t('tanks.title')}</h2>
          {o.tanks.map((tank) => (
            <TankBar key={tank.sensor} tank={tank} low={o.alerts.some((a) => a.kind === 'tank-low' && a.source === tank.sensor)} />
          ))}
        </section>
      )}
      <div class="card">
        <Weather overview={o} />
      </div>
      <Outputs overview={o} now={now} />
      <Lights overview={o} now={now} />
      {operator && <SiteControls store={store} overview={o} commands={state.commands} now={now} />}
      {operator && <CommandList rows={state.commands} overview={o} now={now} />}
    </>
  );
}
