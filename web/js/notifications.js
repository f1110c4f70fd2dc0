// Notifications: the feed (with the unread count in the navigation, kept live over the
// person's own socket), preferences per category, the unsubscribe confirmation page, and the
// administrators' outbox.
import { api, session, retryDelay } from './api.js';
import { t, problemText } from './i18n.js';
import { el, page, message, field, onSubmit } from './ui.js';

const MODES = ['immediate', 'digest', 'off'];
let socket = null;
let retry = 0;
let unread = 0;

function showCount() {
  const badge = document.getElementById('unread-count');
  if (!badge) return;
  badge.textContent = unread > 0 ? String(unread) : '';
  badge.hidden = unread === 0;
  badge.setAttribute('aria-label', t('notifications.unread', { count: unread }));
}

/** Opens (or keeps) the person's feed socket; the navigation's count follows it. */
export async function connect() {
  if (!session.token()) return;
  if (socket) { showCount(); return; }
  try {
    const page1 = await api.get('/accounts/me/notifications?limit=1');
    unread = page1.unread;
    showCount();
    const { ticket } = await api.post('/accounts/me/tickets');
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    socket = new WebSocket(`${scheme}://${location.host}/api/v1/accounts/me/feed?ticket=${encodeURIComponent(ticket)}`);
  } catch (err) {
    socket = null;
    // A busy server (503, 429) or a lost network is tried again later, as a dropped socket is.
    if (!err.status || err.status === 503 || err.status === 429) {
      retry = Math.min(retry + 1, 6);
      setTimeout(connect, retryDelay(1000 * 2 ** retry));
    }
    return;
  }
  socket.addEventListener('open', () => { retry = 0; });
  socket.addEventListener('message', (event) => {
    let frame;
    try { frame = JSON.parse(event.data); } catch { return; }
    if (frame.type === 'unread') { unread = frame.count; showCount(); }
    if (frame.type === 'notification') {
      document.dispatchEvent(new CustomEvent('yishi:notification', { detail: frame.notification }));
    }
  });
  socket.addEventListener('close', () => {
    socket = null;
    if (!session.token()) return;
    retry = Math.min(retry + 1, 6);
    setTimeout(connect, retryDelay(1000 * 2 ** retry));
  });
}

export function disconnect() {
  const s = socket;
  socket = null;
  s?.close();
}

function item(n, reload) {
  const li = el('li', { class: `card notification${n.read ? '' : ' unread'}` },
    el('p', {}, el('span', { class: 'badge', text: t(`notifications.category.${n.category}`) }), ' ', el('time', { datetime: n.created_at, text: new Date(n.created_at).toLocaleString() })),
    el('h3', {}, n.link ? el('a', { href: n.link, text: n.title }) : n.title),
    el('p', { class: 'notification-body', text: n.body }));
  if (!n.read) {
    const b = el('button', { type: 'button', class: 'secondary', text: t('notifications.markRead') });
    b.addEventListener('click', async () => {
      const r = await api.post('/accounts/me/notifications/read', { ids: [n.id] });
      unread = r.unread; showCount(); await reload();
    });
    li.append(b);
  }
  return li;
}

export async function feed(main) {
  if (!session.token()) { page(main, 'notifications.title', message('error', t('signin.required'))); return; }
  const reload = () => feed(main);
  let data;
  try { data = await api.get('/accounts/me/notifications?limit=100'); } catch (err) { page(main, 'notifications.title', message('error', problemText(err))); return; }
  unread = data.unread; showCount();
  const all = el('button', { type: 'button', text: t('notifications.markAllRead'), disabled: data.unread === 0 });
  all.addEventListener('click', async () => {
    const r = await api.post('/accounts/me/notifications/read', { all: true });
    unread = r.unread; showCount(); await reload();
  });
  const list = data.items.length ? el('ul', { class: 'cards feed' }, ...data.items.map((n) => item(n, reload))) : el('p', { class: 'hint', text: t('notifications.empty') });
  // New ones arrive while the page is open.
  const onNew = () => { document.removeEventListener('yishi:notification', onNew); if (location.hash.startsWith('#/notifications') && !location.hash.includes('preferences')) reload(); };
  document.addEventListener('yishi:notification', onNew);
  page(main, 'notifications.title',
    el('div', { class: 'actions' }, all, el('a', { class: 'button secondary', href: '#/notifications/preferences', text: t('notifications.preferences') })),
    list);
}

/** The banner a person sees while their address is suppressed. */
export function suppressionBanner(prefs, reload) {
  if (!prefs.email_suppressed) return null;
  const b = el('button', { type: 'button', text: t('notifications.suppressed.fixed') });
  const box = el('div', { class: 'message error', role: 'alert' }, el('p', { text: t('notifications.suppressed.text') }), b);
  b.addEventListener('click', async () => {
    try { await api.delete('/accounts/me/email-suppression'); await reload(); } catch (err) { box.append(message('error', problemText(err))); }
  });
  return box;
}

export async function preferences(main) {
  if (!session.token()) { page(main, 'notifications.preferences', message('error', t('signin.required'))); return; }
  const reload = () => preferences(main);
  let prefs;
  try { prefs = await api.get('/accounts/me/notification-preferences'); } catch (err) { page(main, 'notifications.preferences', message('error', problemText(err))); return; }
  const rows = prefs.categories.map((c) => {
    const select = el('select', { name: c.category, id: `pref-${c.category}`, disabled: !c.mutable },
      ...MODES.map((m) => el('option', { value: m, text: t(`notifications.mode.${m}`), selected: m === c.mode })));
    return el('div', { class: 'preference' },
      el('label', { for: select.id, text: t(`notifications.category.${c.category}`) }), select,
      el('p', { class: 'hint', text: c.mutable ? t(`notifications.about.${c.category}`) : t('notifications.securityAlways') }));
  });
  const form = el('form', {}, ...rows,
    field('notifications.digestTime', el('input', { type: 'time', name: 'digest_time', value: prefs.digest_time, required: true }), 'notifications.digestHint'),
    el('button', { type: 'submit', text: t('notifications.save') }));
  onSubmit(form, async (data) => {
    const categories = prefs.categories.filter((c) => c.mutable).map((c) => ({ category: c.category, mode: data.get(c.category) }));
    await api.put('/accounts/me/notification-preferences', { categories, digest_time: data.get('digest_time') });
    form.prepend(message('ok', t('notifications.saved')));
  });
  page(main, 'notifications.preferences', suppressionBanner(prefs, reload), form);
}

/** The page an unsubscribe link opens: says what it turns off, and does it on confirmation. */
export async function unsubscribe(main, params) {
  const token = params.get('token') ?? '';
  let info;
  try { info = await api.get(`/unsubscribe?token=${encodeURIComponent(token)}`); } catch (err) { page(main, 'unsubscribe.title', message('error', problemText(err))); return; }
  const what = info.category === 'digests' ? t('unsubscribe.digests') : t(`notifications.category.${info.category}`);
  if (info.done) { page(main, 'unsubscribe.title', message('ok', t('unsubscribe.already', { what }))); return; }
  const b = el('button', { type: 'button', text: t('unsubscribe.confirm') });
  const out = el('div', { role: 'status' });
  b.addEventListener('click', async () => {
    b.disabled = true;
    try {
      await api.post(`/unsubscribe?token=${encodeURIComponent(token)}`, new URLSearchParams({ 'List-Unsubscribe': 'One-Click' }));
      out.replaceChildren(message('ok', t('unsubscribe.done', { what })));
    } catch (err) { out.replaceChildren(message('error', problemText(err))); b.disabled = false; }
  });
  page(main, 'unsubscribe.title', el('p', { text: t('unsubscribe.question', { what, email: info.email_hint }) }), b, out,
    el('p', { class: 'hint' }, t('unsubscribe.more'), ' ', el('a', { href: '#/notifications/preferences', text: t('notifications.preferences') })));
}

export async function outbox(main, params) {
  if (!session.token()) { page(main, 'outbox.title', message('error', t('signin.required'))); return; }
  const status = params.get('status') ?? '';
  let data;
  try { data = await api.get(`/admin/outbox?limit=200${status ? `&status=${status}` : ''}`); } catch (err) { page(main, 'outbox.title', message('error', problemText(err))); return; }
  const filter = el('select', { id: 'outbox-status' }, el('option', { value: '', text: t('outbox.all') }),
    ...['pending', 'sending', 'sent', 'dead'].map((s) => el('option', { value: s, text: t(`outbox.status.${s}`), selected: s === status })));
  filter.addEventListener('change', () => { location.hash = `#/outbox${filter.value ? `?status=${filter.value}` : ''}`; });
  const table = el('table', { class: 'figures outbox' },
    el('thead', {}, el('tr', {}, ...['to', 'subject', 'status', 'attempts', 'error', 'created'].map((h) => el('th', { scope: 'col', text: t(`outbox.col.${h}`) })))),
    el('tbody', {}, ...data.items.map((m) => el('tr', { class: `status-${m.status}` },
      el('td', { text: m.to_address }), el('td', { text: m.subject }), el('td', { text: t(`outbox.status.${m.status}`) }),
      el('td', { text: String(m.attempts) }), el('td', { text: m.last_error ?? '' }), el('td', { text: new Date(m.created_at).toLocaleString() })))));
  page(main, 'outbox.title',
    el('p', { text: t('outbox.summary', { pending: data.pending, sent: data.sent, dead: data.dead, suppressed: data.suppressed_addresses }) }),
    el('div', {}, el('label', { for: 'outbox-status', text: t('outbox.filter') }), filter),
    el('div', { class: 'table-wrap' }, table));
}
