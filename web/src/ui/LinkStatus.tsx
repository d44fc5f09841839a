import { useI18n } from '../i18n.js';
import { freshness, type StoreState } from '../store.js';

/**
 * "Last updated HH:MM", always shown, and a banner when the stream is down or nothing new has
 * arrived for a while. Both views use it.
 */
export function LinkStatus({ state, now }: { state: StoreState; now: number }) {
  const { t, f } = useI18n();
  const fresh = freshness(state, now);
  const at = state.receivedAt > 0 ? f.when(state.receivedAt, now) : '—';
  return (
    <div class="link">
      {fresh !== 'live' && (
        <p class="banner" role="alert" data-testid="offline-banner" data-state={fresh}>
          {fresh === 'offline' ? t('link.offline') : t('link.stale', { time: at })}
        </p>
      )}
      <p class="updated" data-testid="last-updated">
        {t('updated', { time: at })}
      </p>
    </div>
  );
}
