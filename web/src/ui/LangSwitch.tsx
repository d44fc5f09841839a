import { useI18n } from '../i18n.js';
import type { Lang } from '../types.js';

/** One button naming the other language in that language ("English" / "Tiếng Việt"). */
export function LangSwitch({ onChange }: { onChange: (lang: Lang) => void }) {
  const { t, lang } = useI18n();
  const other: Lang = lang === 'vi' ? 'en' : 'vi';
  return (
    <button type="button" class="lang" lang={other} aria-label={t('lang.label')} data-testid="lang-switch" onClick={() => onChange(other)}>
      {t('lang.other')}
    </button>
  );
}
