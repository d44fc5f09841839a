import { useEffect, useMemo, useState } from 'preact/hooks';
import { createI18n, deviceZone, I18nContext, rememberLang, storedLang } from '../i18n.js';
import type { VillageStore } from '../store.js';
import type { Lang, Session } from '../types.js';
import { useNow, useStore } from '../ui/hooks.js';
import { errorText } from '../ui/labels.js';
import { LangSwitch } from '../ui/LangSwitch.js';
import { SignIn } from './SignIn.js';
import { SiteView } from './Site.js';

type Phase = { kind: 'boot' } | { kind: 'signin' } | { kind: 'failed'; error: unknown } | { kind: 'pick'; sites: string[] } | { kind: 'site' };

/** The farmer and operator view: sign in, then the user's site. */
export function FarmerApp({ store }: { store: VillageStore }) {
  const state = useStore(store);
  const now = useNow(15_000);
  const [chosen, setChosen] = useState<Lang | null>(storedLang);
  const [phase, setPhase] = useState<Phase>({ kind: 'boot' });
  const lang = chosen ?? state.overview?.site.language ?? 'vi';
  const zone = state.overview?.site.timezone ?? deviceZone();
  const i18n = useMemo(() => createI18n(lang, zone), [lang, zone]);
  const { t } = i18n;

  const open = (site: string) => {
    store.start(site);
    setPhase({ kind: 'site' });
  };
  const enter = async (session: Session) => {
    if (session.user.site) return open(session.user.site);
    // An admin of several sites: choose one.
    const sites = await store.sites();
    if (sites.length === 1 && sites[0] !== undefined) open(sites[0]);
    else setPhase({ kind: 'pick', sites });
  };
  const boot = () => {
    setPhase({ kind: 'boot' });
    store
      .restore()
      .then((s) => (s ? enter(s) : setPhase({ kind: 'signin' })))
      .catch((error: unknown) => setPhase({ kind: 'failed', error }));
  };
  useEffect(boot, [store]);
  // The store drops a session the server no longer knows: back to the form.
  useEffect(() => {
    if (!state.session && (phase.kind === 'site' || phase.kind === 'pick')) setPhase({ kind: 'signin' });
  }, [state.session, phase.kind]);
  useEffect(() => {
    document.documentElement.lang = lang;
    document.title = state.overview ? `${state.overview.site.name} · ${t('app.title')}` : t('app.title');
  }, [lang, state.overview?.site.name, t]);

  const switchLang = (next: Lang) => {
    rememberLang(next);
    setChosen(next);
  };

  return (
    <I18nContext.Provider value={i18n}>
      <header class="top">
        <h1>{state.overview?.site.name ?? t('app.title')}</h1>
        <LangSwitch onChange={switchLang} />
        {state.session && (
          <button type="button" class="link" data-testid="sign-out" onClick={() => void store.signOut().catch(() => setPhase({ kind: 'signin' }))}>
            {t('signout')}
          </button>
        )}
      </header>
      <main>
        {phase.kind === 'boot' && <p class="muted">{t('loading')}</p>}
        {phase.kind === 'failed' && (
          <div class="card">
            <p class="error" role="alert">
              {errorText(i18n, phase.error)}
            </p>
            <button type="button" onClick={boot}>
              {t('retry')}
            </button>
          </div>
        )}
        {phase.kind === 'signin' && <SignIn store={store} onSignedIn={(s) => void enter(s).catch((error: unknown) => setPhase({ kind: 'failed', error }))} />}
        {phase.kind === 'pick' && (
          <div class="card">
            <h2>{t('site.pick')}</h2>
            {phase.sites.map((site) => (
              <button key={site} type="button" class="wide" onClick={() => open(site)}>
                {site}
              </button>
            ))}
          </div>
        )}
        {phase.kind === 'site' && <SiteView store={store} state={state} now={now} />}
      </main>
    </I18nContext.Provider>
  );
}
