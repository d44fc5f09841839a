import { useEffect, useState } from 'preact/hooks';
import { useI18n } from '../i18n.js';
import type { VillageStore } from '../store.js';
import type { Event } from '../types.js';
import { errorText } from '../ui/labels.js';

/** The recent decisions about one zone, newest first, each with its reason as the edge wrote it. */
export function Explain({ store, zone, now }: { store: VillageStore; zone: string; now: number }) {
  const i18n = useI18n();
  const { t, f } = i18n;
  const [events, setEvents] = useState<Event[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let current = true;
    store.explain(zone).then(
      (e) => current && setEvents(e),
      (err: unknown) => current && setError(err),
    );
    return () => {
      current = false;
    };
  }, [store, zone]);

  return (
    <div class="explain" data-testid={`explain-${zone}`}>
      <h4>{t('explain.title')}</h4>
      {error ? (
        <p class="error">{errorText(i18n, error)}</p>
      ) : events === null ? (
        <p class="muted">{t('loading')}</p>
      ) : events.length === 0 ? (
        <p class="muted">{t('explain.empty')}</p>
      ) : (
        <ol>
          {events.map((e, i) => (
            <li key={`${e.ts}-${i}`} class={e.severity}>
              <time>{f.when(e.ts, now)}</time> {e.message}
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}
