// Texts live in /i18n/<language>.json; Chinese first, English second.

let language = 'zh-CN';
let texts = {};

export async function loadLanguage(lang) {
  language = lang === 'en' ? 'en' : 'zh-CN';
  const response = await fetch(`/i18n/${language}.json`);
  texts = await response.json();
  document.documentElement.lang = language;
  applyTranslations(document);
}

export function currentLanguage() {
  return language;
}

/** The text for `key`, with `{name}` placeholders filled from `vars`. */
export function t(key, vars = {}) {
  const text = texts[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ''));
}

/** Fills every element marked with data-i18n (text) or data-i18n-label (aria-label). */
export function applyTranslations(root) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
  document.title = `${t('app.name')} · Yishi`;
}

/** A problem from the server, in the reader's language where we know its code. */
export function problemText(err) {
  const key = `problem.${err.code}`;
  const known = t(key);
  return known === key ? (err.message || t('problem.unknown')) : known;
}

/** A floor area given in hundredths of a square metre, in the page's language. */
export function formatArea(centi) {
  const n = new Intl.NumberFormat(language, { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(centi / 100);
  return t('unit.area', { area: n });
}

/** A moment as the community reads it (China Standard Time), in the page's language. */
export function formatDateTime(iso) {
  return new Intl.DateTimeFormat(language, { dateStyle: 'medium', timeStyle: 'short', timeZone: 'Asia/Shanghai' }).format(new Date(iso));
}
