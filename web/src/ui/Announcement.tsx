import { useI18n } from '../i18n.js';
import type { Announcement as Note } from '../types.js';

export function Announcement({ note, now }: { note: Note | null; now: number }) {
  const { t, f } = useI18n();
  if (!note || note.text.trim() === '') return null;
  return (
    <section class="announcement" data-testid="announcement" aria-labelledby="announcement-title">
      <h2 id="announcement-title">{t('announcement.title')}</h2>
      <p class="text">{note.text}</p>
      <p class="muted">
        {note.by} · {f.when(note.updatedAt, now)}
      </p>
    </section>
  );
}
