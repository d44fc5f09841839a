import { useState } from 'preact/hooks';
import { useI18n } from '../i18n.js';
import type { VillageStore } from '../store.js';
import type { CommandAction, CommandRow, Overview } from '../types.js';
import { actionLabel, errorText } from '../ui/labels.js';

export interface CommandHandle {
  send(action: CommandAction): Promise<void>;
  /** The audit row of the last command sent from here, as the stream updates it. */
  row: CommandRow | null;
  error: unknown;
  busy: boolean;
}

/** Sends commands and follows the last one through the audit rows the store keeps. */
export function useCommand(store: VillageStore, rows: readonly CommandRow[]): CommandHandle {
  const [id, setId] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const send = async (action: CommandAction) => {
    setBusy(true);
    setError(null);
    try {
      setId((await store.command(action)).id);
    } catch (err) {
      setId(null);
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return { send, row: id === null ? null : (rows.find((r) => r.id === id) ?? null), error, busy };
}

/** accepted → done, or rejected with the edge's reason; kept mounted so screen readers hear changes. */
export function CommandStatus({ handle, overview }: { handle: CommandHandle; overview: Overview }) {
  const i18n = useI18n();
  const { t } = i18n;
  const { row, error } = handle;
  const status = error ? 'error' : (row?.status ?? '');
  return (
    <p class={`cmd cmd-${status || 'none'}`} role="status" data-testid="command-status" data-status={status}>
      {error ? errorText(i18n, error) : null}
      {row && (
        <>
          <span>{actionLabel(i18n, overview, row.action)}</span>
          <strong class={`status status-${row.status}`}>{t(`command.status.${row.status}`)}</strong>
          {row.reason && <span class="reason">{t('command.reason', { reason: row.reason })}</span>}
        </>
      )}
    </p>
  );
}
