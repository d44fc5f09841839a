import { useI18n } from '../i18n.js';
import type { CommandRow, Overview } from '../types.js';
import { actionLabel } from '../ui/labels.js';

/** Rows shown at once; the store keeps more. */
const SHOWN = 30;

/** The audit trail: who asked what, and what the edge made of it. */
export function CommandList({ rows, overview, now }: { rows: CommandRow[]; overview: Overview; now: number }) {
  const i18n = useI18n();
  const { t, f } = i18n;
  return (
    <section class="card commands" data-testid="command-list" aria-labelledby="commands-title">
      <h2 id="commands-title">{t('commands.title')}</h2>
      {rows.length === 0 ? (
        <p class="muted">{t('commands.empty')}</p>
      ) : (
        <ul>
          {rows.slice(0, SHOWN).map((r) => (
            <li key={r.id} data-testid={`command-row-${r.id}`} data-status={r.status}>
              <span>{actionLabel(i18n, overview, r.action)}</span>
              <strong class={`status status-${r.status}`}>{t(`command.status.${r.status}`)}</strong>
              <span class="muted">{t('commands.by', { by: r.by, time: f.when(r.issuedAt, now) })}</span>
              {r.reason && <span class="reason">{t('command.reason', { reason: r.reason })}</span>}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
