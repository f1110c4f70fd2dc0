// Entry point: settings (language, large text, contrast), navigation and the hash router.
import { api, session } from './js/api.js';
import { loadLanguage, t, currentLanguage, applyTranslations } from './js/i18n.js';
import * as accounts from './js/accounts.js';
import * as communities from './js/communities.js';
import * as proposals from './js/proposals.js';
import * as sessions from './js/sessions.js';
import * as live from './js/live.js';
import * as voting from './js/voting.js';
import * as resolutions from './js/resolutions.js';
import * as notifications from './js/notifications.js';
import * as procurement from './js/procurement.js';
import * as register from './js/register.js';
import * as audit from './js/audit.js';

const routes = {
  '': accounts.home,
  signup: accounts.signup,
  signin: accounts.signin,
  verify: accounts.verify,
  forgot: accounts.forgot,
  reset: accounts.reset,
  profile: accounts.profile,
  join: communities.join,
  queue: communities.queue,
  register: register.view,
  proposals: proposals.list,
  moderation: proposals.moderation,
  sessions: sessions.list,
  polls: voting.list,
  resolutions: resolutions.list,
  dashboard: resolutions.dashboard,
  board: resolutions.board,
  audit: audit.heads,
  notifications: notifications.feed,
  unsubscribe: notifications.unsubscribe,
  outbox: notifications.outbox,
  tenders: procurement.list,
};

/** Routes with an id: #/proposals/new, #/proposals/<id>, #/proposals/<id>/edit. */
function resolve(path) {
  const [head, id, sub] = path.split('/');
  if (head === 'proposals' && id === 'new') return proposals.write;
  if (head === 'proposals' && id && sub === 'edit') return (main, params) => proposals.edit(main, params, id);
  if (head === 'proposals' && id) return (main, params) => proposals.show(main, params, id);
  if (head === 'sessions' && id === 'new') return sessions.convene;
  if (head === 'sessions' && id && sub === 'live') return (main, params) => live.room(main, params, id);
  if (head === 'sessions' && id) return (main, params) => sessions.show(main, params, id);
  if (head === 'polls' && id === 'new') return voting.create;
  if (head === 'polls' && id) return (main, params) => voting.show(main, params, id);
  if (head === 'notifications' && id === 'preferences') return notifications.preferences;
  if (head === 'resolutions' && id === 'new') return resolutions.create;
  if (head === 'resolutions' && id) return (main, params) => resolutions.show(main, params, id);
  if (head === 'tenders' && id === 'new') return procurement.create;
  if (head === 'tenders' && id && sub === 'evaluation') return (main, params) => procurement.evaluation(main, params, id);
  if (head === 'tenders' && id) return (main, params) => procurement.show(main, params, id);
  if (head === 'contracts' && id) return (main, params) => procurement.contract(main, params, id);
  if (head === 'organisations' && id && sub === 'profile') return (main, params) => procurement.profile(main, params, id);
  return routes[path] ?? accounts.notFound;
}

const prefs = {
  get(key, fallback) { return localStorage.getItem(`yishi.${key}`) ?? fallback; },
  set(key, value) { localStorage.setItem(`yishi.${key}`, value); },
};

function applyToggles() {
  for (const [id, cls] of [['large-text', 'large-text'], ['contrast', 'high-contrast']]) {
    const on = prefs.get(cls, 'off') === 'on';
    document.documentElement.classList.toggle(cls, on);
    document.getElementById(id).setAttribute('aria-pressed', String(on));
  }
}

function renderNav() {
  const nav = document.getElementById('nav');
  const signedIn = session.token() !== null;
  const items = signedIn
    ? [['#/', 'nav.home'], ['#/proposals', 'nav.proposals'], ['#/sessions', 'nav.sessions'], ['#/polls', 'nav.polls'], ['#/resolutions', 'nav.resolutions'], ['#/dashboard', 'nav.dashboard'], ['#/tenders', 'nav.tenders'], ['#/notifications', 'nav.notifications'], ['#/join', 'nav.join'], ['#/queue', 'nav.queue'], ['#/register', 'nav.register'], ['#/moderation', 'nav.moderation'], ['#/profile', 'nav.profile']]
    : [['#/', 'nav.home'], ['#/proposals', 'nav.proposals'], ['#/board', 'nav.board'], ['#/tenders', 'nav.tenders'], ['#/signin', 'nav.signin'], ['#/signup', 'nav.signup']];
  const ul = document.createElement('ul');
  for (const [href, key] of items) {
    const li = document.createElement('li');
    const a = document.createElement('a');
    a.href = href;
    a.textContent = t(key);
    if (href === '#/notifications') {
      const count = document.createElement('span');
      count.id = 'unread-count';
      count.className = 'count';
      count.hidden = true;
      a.append(' ', count);
    }
    if (location.hash === href || (href === '#/' && (location.hash === '' || location.hash === '#/'))) {
      a.setAttribute('aria-current', 'page');
    }
    li.append(a);
    ul.append(li);
  }
  if (signedIn) {
    const li = document.createElement('li');
    const out = document.createElement('button');
    out.type = 'button';
    out.className = 'secondary';
    out.textContent = t('nav.signout');
    out.addEventListener('click', async () => {
      try { await api.delete('/accounts/sessions/current'); } catch { /* already gone */ }
      session.clear();
      notifications.disconnect();
      location.hash = '#/signin';
    });
    li.append(out);
    ul.append(li);
  }
  nav.replaceChildren(ul);
}

// Each navigation renders through its own handle on <main>. A page still waiting for the server
// when the user moves on must not paint over the newer page, so once another navigation has
// begun the older handle's writes are dropped (and `current` tells a page it is no longer shown).
let navigation = 0;
const WRITES = new Set(['replaceChildren', 'prepend', 'append', 'appendChild', 'insertBefore', 'replaceChild']);

function viewOf(main) {
  const mine = ++navigation;
  return new Proxy(main, {
    get(target, prop) {
      if (prop === 'current') return mine === navigation;
      const value = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      if (WRITES.has(prop)) return (...args) => (mine === navigation ? value.apply(target, args) : undefined);
      return value.bind(target);
    },
  });
}

export async function route(event) {
  const [path, query] = location.hash.replace(/^#\/?/, '').split('?');
  const params = new URLSearchParams(query ?? '');
  const page = resolve(path);
  live.leave();
  const main = document.getElementById('main');
  const view = viewOf(main);
  renderNav();
  notifications.connect();
  await page(view, params);
  if (!view.current) return;
  applyTranslations(document);
  // After in-app navigation, move focus to the new content; on first load keep it at the top
  // so that the first Tab reaches the skip link.
  if (event) main.focus();
}

async function start() {
  applyToggles();
  await loadLanguage(prefs.get('language', 'zh-CN'));
  const select = document.getElementById('language');
  select.value = currentLanguage();
  select.addEventListener('change', async () => {
    prefs.set('language', select.value);
    await loadLanguage(select.value);
    await route();
    select.focus();
  });
  for (const [id, cls] of [['large-text', 'large-text'], ['contrast', 'high-contrast']]) {
    document.getElementById(id).addEventListener('click', () => {
      prefs.set(cls, prefs.get(cls, 'off') === 'on' ? 'off' : 'on');
      applyToggles();
    });
  }
  window.addEventListener('hashchange', route);
  await route();
}

start();
