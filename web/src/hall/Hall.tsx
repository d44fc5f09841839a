import { useEffect, useMemo, useState } from 'preact/hooks';
import { createI18n, deviceZone, I18nContext, storedLang, useI18n } from '../i18n.js';
import { isSoilMoisture, moistureLimits } from '../moisture.js';
import { pageCount, pageOf, rotationIndex } from '../paging.js';
import { ApiFailure, type StoreState, type VillageStore } from '../store.js';
import type { Field, Overview, Session } from '../types.js';
import { Alerts } from '../ui/Alerts.js';
import { Announcement } from '../ui/Announcement.js';
import { useNow, useStore } from '../ui/hooks.js';
import { sensorLabel, valueText } from '../ui/labels.js';
import { Lights } from '../ui/Lights.js';
import { LinkStatus } from '../ui/LinkStatus.js';
import { MoistureBand } from '../ui/MoistureBand.js';
import { TankBar } from '../ui/TankBar.js';
import { Weather } from '../ui/Weather.js';
import { keptToken, takeToken } from './token.js';

/** What fits a 1920×1080 screen at a size readable from 5 m. */
const FIELDS_PER_PAGE = 6;
const TANKS_PER_PAGE = 4;
const ALERTS_SHOWN = 3;
const ROTATE_MS = 15_000;
const RETRY_FIRST_MS = 5_000;
const RETRY_MAX_MS = 60_000;

type Phase = 'boot' | 'no-token' | 'rejected' | 'site';

const refused = (err: unknown) => err instanceof ApiFailure && (err.status === 401 || err.status === 403);

/** The village-hall screen: signs in with its kiosk token and follows the site by itself. */
export function Hall({ store }: { store: VillageStore }) {
  const state = useStore(store);
  const now = useNow(5_000);
  const [phase, setPhase] = useState<Phase>('boot');
  const lang = storedLang() ?? state.overview?.site.language ?? 'vi';
  const zone = state.overview?.site.timezone ?? deviceZone();
  const i18n = useMemo(() => createI18n(lang, zone), [lang, zone]);

  useEffect(() => {
    let stopped = false;
    let timer: number | undefined;
    let wait = RETRY_FIRST_MS;
    // The server forgot the session (restart, expiry): exchange the kept token again.
    store.onSessionLost = async () => {
      const token = keptToken();
      if (token === null) return false;
      try {
        await store.signInKiosk(token);
        return true;
      } catch (err) {
        if (refused(err)) return false;
        throw err;
      }
    };
    const connect = async (): Promise<Session | null> => {
      const token = takeToken();
      return token === null ? store.restore() : store.signInKiosk(token);
    };
    const attempt = async () => {
      try {
        const session = await connect();
        if (stopped) return;
        if (!session) return setPhase('no-token');
        store.start(session.user.site);
        setPhase('site');
      } catch (err) {
        if (stopped) return;
        if (refused(err)) return setPhase('rejected');
        // The network or the server is not up yet (a kiosk often boots before its Wi-Fi).
        timer = window.setTimeout(() => void attempt(), wait);
        wait = Math.min(RETRY_MAX_MS, wait * 2);
      }
    };
    void attempt();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
      store.onSessionLost = null;
      store.stop();
    };
  }, [store]);

  useEffect(() => {
    if (phase === 'site' && !state.session) setPhase('rejected');
  }, [phase, state.session]);
  useEffect(() => {
    document.documentElement.lang = lang;
    document.title = state.overview?.site.name ?? i18n.t('app.title');
  }, [lang, state.overview?.site.name, i18n]);

  return (
    <I18nContext.Provider value={i18n}>
      {phase === 'site' && state.overview ? (
        <HallScreen state={state} overview={state.overview} now={now} />
      ) : (
        <div class="hall-message">
          <p>{phase === 'no-token' ? i18n.t('hall.noToken') : phase === 'rejected' ? i18n.t('hall.tokenRejected') : i18n.t('loading')}</p>
        </div>
      )}
    </I18nContext.Provider>
  );
}

function HallScreen({ state, overview, now }: { state: StoreState; overview: Overview; now: number }) {
  const { t, f } = useI18n();
  const turn = rotationIndex(now, ROTATE_MS);
  const fields = pageOf(overview.fields, FIELDS_PER_PAGE, turn);
  const tanks = pageOf(overview.tanks, TANKS_PER_PAGE, turn);
  const pages = Math.max(pageCount(overview.fields.length, FIELDS_PER_PAGE), pageCount(overview.tanks.length, TANKS_PER_PAGE));
  const page = turn % pages;
  return (
    <div class="hall" data-testid="hall-page" data-page={page + 1} data-pages={pages}>
      <header class="hall-top">
        <h1>{overview.site.name}</h1>
        <p class="clock" data-testid="clock">
          {f.time(now)}
        </p>
        <LinkStatus state={state} now={now} />
        {pages > 1 && <p class="pager">{t('hall.page', { page: page + 1, pages })}</p>}
      </header>
      <Weather overview={overview} />
      <div class="hall-body">
        <section class="hall-fields" aria-label={t('fields.all')}>
          {fields.items.map((field) => (
            <FieldTile key={field.id} field={field} now={now} />
          ))}
        </section>
        <aside class="hall-side">
          <Alerts overview={overview} now={now} limit={ALERTS_SHOWN} />
          {tanks.items.length > 0 && (
            <section class="tanks" aria-labelledby="tanks-title">
              <h2 id="tanks-title">{t('tanks.title')}</h2>
              {tanks.items.map((tank) => (
                <TankBar key={tank.sensor} tank={tank} low={overview.alerts.some((a) => a.kind === 'tank-low' && a.source === tank.sensor)} />
              ))}
            </section>
          )}
          <Lights overview={overview} now={now} />
        </aside>
      </div>
      <Announcement note={overview.announcement} now={now} />
    </div>
  );
}

function FieldTile({ field, now }: { field: Field; now: number }) {
  const i18n = useI18n();
  const { t, f } = i18n;
  const soil = field.sensors.filter(isSoilMoisture);
  return (
    <article class="tile" data-testid={`field-card-${field.id}`}>
      <h2>{field.name}</h2>
      {soil.map((s) => (
        <div key={s.id} class="soil">
          <span class="big">{valueText(i18n, s)}</span>
          {soil.length > 1 && <span class="name">{sensorLabel(i18n, s)}</span>}
          <MoistureBand id={s.id} value={s.value} limits={moistureLimits(s.id, field.zones)} />
        </div>
      ))}
      <ul class="zones">
        {field.zones.map((z) => (
          <li key={z.id} class={`zone-${z.state}`} data-testid={`zone-state-${z.id}`} data-state={z.state}>
            <span class="name">{z.name ?? z.id}</span>
            <strong>{t(`zone.state.${z.state}`)}</strong>
            {z.until !== undefined && <span>{t('zone.until', { time: f.when(z.until, now) })}</span>}
          </li>
        ))}
      </ul>
    </article>
  );
}
