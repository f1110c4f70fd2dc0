// The record's published fingerprints: one a day, public, for anyone to keep a copy of and
// check the platform's record against later (`yishi audit verify --against`).
import { api } from './api.js';
import { t, problemText, formatDateTime } from './i18n.js';
import { el, page, message } from './ui.js';

function headCard(h) {
  const code = el('code', { class: 'fingerprint', text: h.head });
  const copy = el('button', { type: 'button', class: 'secondary', text: t('audit.copy') });
  const status = el('span', { role: 'status', class: 'hint' });
  copy.addEventListener('click', async () => {
    try { await navigator.clipboard.writeText(h.head); status.textContent = t('audit.copied'); } catch { status.textContent = t('audit.copyByHand'); }
  });
  return el('li', { class: 'card' },
    el('h2', { text: h.day }),
    el('p', { class: 'hint', text: t('audit.entries', { entries: h.entries, at: formatDateTime(h.published_at) }) }),
    el('p', {}, code), el('p', {}, copy, ' ', status));
}

/** Public: the heads published, newest first. */
export async function heads(main) {
  let items;
  try { items = await api.get('/audit/heads'); } catch (err) { page(main, 'audit.title', message('error', problemText(err))); return; }
  page(main, 'audit.title',
    el('p', { class: 'hint', text: t('audit.intro') }),
    items.length ? el('ul', { class: 'cards' }, ...items.map(headCard)) : el('p', { class: 'hint', text: t('audit.none') }));
}
