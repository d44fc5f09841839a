/**
 * Messages and formats for one language and one site timezone. Every word the app shows comes
 * from i18n/vi.json or i18n/en.json (same keys; a test checks). Vietnamese is the default; the
 * site's `language` setting picks it, and a choice made with the switch is remembered on the
 * device.
 */
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import vi from './i18n/vi.json';
import en from './i18n/en.json';
import { createFormat, type Format } from './format.js';
import type { Lang } from './types.js';

export type MessageKey = keyof typeof vi;

// Typed against the Vietnamese file, so a key missing from the English one fails the typecheck.
const MESSAGES: Record<Lang, Record<MessageKey, string>> = { vi, en };

export interface I18n {
  lang: Lang;
  /** The message for `key`, with `{name}` placeholders filled from `vars`. */
  t(key: MessageKey, vars?: Record<string, string | number>): string;
  /** Whether a key built at run time (`q.${quantity}`) exists. */
  has(key: string): key is MessageKey;
  f: Format;
}

/** Fills `{name}` placeholders; an unknown one stays visible rather than vanishing. */
export function fill(text: string, vars?: Record<string, string | number>): string {
  if (!vars) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => (Object.prototype.hasOwnProperty.call(vars, name) ? String(vars[name]) : whole));
}

export function createI18n(lang: Lang, timeZone: string): I18n {
  const messages = MESSAGES[lang];
  return {
    lang,
    t: (key, vars) => fill(messages[key], vars),
    has: (key): key is MessageKey => Object.prototype.hasOwnProperty.call(messages, key),
    f: createFormat(lang, timeZone),
  };
}

/** The zone of this device, until the site's own is known. */
export function deviceZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

const LANG_KEY = 'sv.lang';

/** The language chosen with the switch on this device, if any (storage may be disabled). */
export function storedLang(): Lang | null {
  try {
    const v = localStorage.getItem(LANG_KEY);
    return v === 'vi' || v === 'en' ? v : null;
  } catch {
    return null;
  }
}

export function rememberLang(lang: Lang): void {
  try {
    localStorage.setItem(LANG_KEY, lang);
  } catch {
    // Private mode: the choice lasts for this page only.
  }
}

export const I18nContext = createContext<I18n>(createI18n('vi', 'UTC'));

export function useI18n(): I18n {
  return useContext(I18nContext);
}
