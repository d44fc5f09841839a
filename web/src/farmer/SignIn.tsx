import { useState } from 'preact/hooks';
import type { TargetedSubmitEvent } from 'preact';
import { useI18n } from '../i18n.js';
import { ApiFailure, type VillageStore } from '../store.js';
import type { Session } from '../types.js';
import { errorText } from '../ui/labels.js';

export function SignIn({ store, onSignedIn }: { store: VillageStore; onSignedIn: (s: Session) => void }) {
  const i18n = useI18n();
  const { t } = i18n;
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: TargetedSubmitEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await store.signIn(String(form.get('username') ?? ''), String(form.get('password') ?? '')));
    } catch (err) {
      setError(err instanceof ApiFailure && err.status === 401 ? t('signin.failed') : errorText(i18n, err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="card signin" data-testid="sign-in" onSubmit={submit}>
      <h2>{t('signin.title')}</h2>
      <label>
        {t('signin.username')}
        <input name="username" autocomplete="username" autocapitalize="none" required />
      </label>
      <label>
        {t('signin.password')}
        <input name="password" type="password" autocomplete="current-password" required />
      </label>
      {error && (
        <p class="error" role="alert" data-testid="sign-in-error">
          {error}
        </p>
      )}
      <button type="submit" class="primary" disabled={busy}>
        {busy ? t('signin.busy') : t('signin.submit')}
      </button>
    </form>
  );
}
