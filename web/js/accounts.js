// Accounts pages: home, sign up, verify, sign in, forgot and reset password, profile.
import { api, session } from './api.js';
import { t, problemText, loadLanguage, formatDateTime } from './i18n.js';
import { el, field, page, message, onSubmit, checkbox } from './ui.js';
import { suppressionBanner } from './notifications.js';

function requireSignIn(main) {
  if (session.token()) return false;
  page(main, 'signin.title', message('error', t('signin.required')),
    el('p', {}, el('a', { href: '#/signin', text: t('nav.signin') })));
  return true;
}

/** Something a grid worker or committee member did for the person, as they see it. */
function helpedItem(a) {
  const what = [t(`assist.kind.${a.kind}`), a.response ? t(`assist.${a.response}`) : null, a.score ? t('assist.stars', { n: a.score }) : null].filter(Boolean).join(' · ');
  return el('li', { class: 'card' },
    el('h3', { text: what }),
    el('p', { text: `${t('assist.reference')}：${a.reference}` }),
    el('p', { class: 'hint', text: `${t(`assist.status.${a.status}`)} · ${a.acted_by_name} · ${formatDateTime(a.created_at)}` }));
}

/** The person's entry on a community's register, with the way to ask to be erased. */
function entryItem(e, reload) {
  const item = el('li', { class: 'card' },
    el('h3', { text: e.name }),
    el('p', { text: [e.unit_label, e.document_last4 ? `…${e.document_last4}` : null, e.phone, t(`register.status.${e.status}`)].filter(Boolean).join(' · ') }));
  if (e.erasure_pending) {
    item.append(el('p', { class: 'hint', text: t('register.erasurePending') }));
    return item;
  }
  const form = el('form', { 'aria-label': t('register.erasure') },
    field('register.erasureReason', el('input', { type: 'text', name: 'reason', maxlength: 500 })),
    el('p', { class: 'hint', text: t('register.erasureHint') }),
    el('button', { type: 'submit', class: 'secondary', text: t('register.erasure') }));
  onSubmit(form, async (data) => {
    await api.post('/accounts/me/register/erasure', { community_id: e.community_id, reason: data.get('reason') || null });
    await reload();
  });
  item.append(form);
  return item;
}

export async function home(main) {
  if (!session.token()) {
    page(main, 'home.title',
      el('p', { text: t('home.intro') }),
      el('div', { class: 'actions' },
        el('a', { class: 'button', href: '#/signup', text: t('nav.signup') }),
        el('a', { class: 'button secondary', href: '#/signin', text: t('nav.signin') })));
    return;
  }
  try {
    const me = await api.get('/accounts/me');
    const memberships = await api.get('/accounts/me/memberships');
    const prefs = await api.get('/accounts/me/notification-preferences');
    const helped = await api.get('/accounts/me/assisted-acts');
    const entries = await api.get('/accounts/me/register');
    const list = el('ul', { class: 'cards' }, ...memberships.map((m) => el('li', { class: 'card' },
      el('h2', { text: m.community_name }),
      el('p', { text: `${m.unit_label ?? ''}` }),
      el('span', { class: 'badge', text: t(`membership.${m.status}`) }),
      m.decision_reason ? el('p', { class: 'hint', text: `${t('membership.reason')}: ${m.decision_reason}` }) : null)));
    page(main, 'home.title',
      el('p', { text: t('home.welcome', { name: me.display_name }) }),
      me.email_verified ? null : message('error', t('profile.unverified')),
      suppressionBanner(prefs, () => home(main)),
      el('h2', { text: t('home.memberships') }),
      memberships.length ? list : el('p', {}, el('a', { href: '#/join', text: t('home.joinPrompt') })),
      entries.length ? el('h2', { text: t('register.mine') }) : null,
      entries.length ? el('p', { class: 'hint', text: t('register.purpose') }) : null,
      entries.length ? el('ul', { class: 'cards' }, ...entries.map((e) => entryItem(e, () => home(main)))) : null,
      helped.length ? el('h2', { text: t('assist.mine') }) : null,
      helped.length ? el('ul', { class: 'cards' }, ...helped.map(helpedItem)) : null);
  } catch (err) {
    page(main, 'home.title', message('error', problemText(err)));
  }
}

export async function signup(main) {
  const form = el('form', { novalidate: true },
    field('signup.email', el('input', { type: 'email', name: 'email', required: true, autocomplete: 'email', maxlength: 254 })),
    field('signup.name', el('input', { type: 'text', name: 'display_name', required: true, maxlength: 64, autocomplete: 'nickname' })),
    field('signup.password', el('input', { type: 'password', name: 'password', required: true, minlength: 10, maxlength: 128, autocomplete: 'new-password' }), 'signup.passwordHint'),
    el('button', { type: 'submit', text: t('signup.submit') }));
  onSubmit(form, async (data) => {
    await api.post('/accounts', {
      email: data.get('email'),
      display_name: data.get('display_name'),
      password: data.get('password'),
      language: document.documentElement.lang === 'en' ? 'en' : 'zh-CN',
    });
    page(main, 'signup.title', message('ok', t('signup.done')));
  });
  page(main, 'signup.title', form);
}

export async function verify(main, params) {
  const token = params.get('token');
  if (!token) {
    page(main, 'verify.title', message('error', t('problem.token_invalid')));
    return;
  }
  try {
    await api.post('/accounts/verification', { token });
    page(main, 'verify.title', message('ok', t('verify.done')),
      el('p', {}, el('a', { href: session.token() ? '#/' : '#/signin', text: t('verify.next') })));
  } catch (err) {
    page(main, 'verify.title', message('error', problemText(err)));
  }
}

function knownDevices() {
  try {
    const known = JSON.parse(localStorage.getItem('yishi.devices') || '{}');
    return known && typeof known === 'object' ? known : {};
  } catch {
    return {};
  }
}

export async function signin(main) {
  const form = el('form', {},
    field('signin.email', el('input', { type: 'email', name: 'email', required: true, autocomplete: 'username' })),
    field('signin.password', el('input', { type: 'password', name: 'password', required: true, autocomplete: 'current-password' })),
    checkbox('signin.remember', 'remember'),
    el('button', { type: 'submit', text: t('signin.submit') }),
    el('p', {}, el('a', { href: '#/forgot', text: t('signin.forgot') })));
  onSubmit(form, async (data) => {
    // A browser that signed in to this account before says so: other people's wrong guesses
    // then do not slow its owner down.
    const email = String(data.get('email')).trim().toLowerCase();
    const devices = knownDevices();
    const body = { email, password: data.get('password') };
    if (devices[email]) body.device = devices[email];
    const result = await api.post('/accounts/sessions', body);
    devices[email] = result.device;
    localStorage.setItem('yishi.devices', JSON.stringify(devices));
    session.save(result.token, data.get('remember') === 'on');
    localStorage.setItem('yishi.language', result.user.language);
    await loadLanguage(result.user.language);
    document.getElementById('language').value = result.user.language;
    location.hash = '#/';
  });
  page(main, 'signin.title', form);
}

export async function forgot(main) {
  const form = el('form', {},
    field('signin.email', el('input', { type: 'email', name: 'email', required: true, autocomplete: 'email' })),
    el('button', { type: 'submit', text: t('forgot.submit') }));
  onSubmit(form, async (data) => {
    await api.post('/accounts/password-reset', { email: data.get('email') });
    page(main, 'forgot.title', message('ok', t('forgot.done')));
  });
  page(main, 'forgot.title', form);
}

export async function reset(main, params) {
  const form = el('form', {},
    field('reset.password', el('input', { type: 'password', name: 'password', required: true, minlength: 10, maxlength: 128, autocomplete: 'new-password' }), 'signup.passwordHint'),
    el('button', { type: 'submit', text: t('reset.submit') }));
  onSubmit(form, async (data) => {
    await api.post('/accounts/password-reset/confirm', { token: params.get('token') ?? '', new_password: data.get('password') });
    session.clear();
    page(main, 'reset.title', message('ok', t('reset.done')), el('p', {}, el('a', { href: '#/signin', text: t('nav.signin') })));
  });
  page(main, 'reset.title', form);
}

export async function profile(main) {
  if (requireSignIn(main)) return;
  let me;
  try {
    me = await api.get('/accounts/me');
  } catch (err) {
    page(main, 'profile.title', message('error', problemText(err)));
    return;
  }
  const form = el('form', {},
    field('signup.name', el('input', { type: 'text', name: 'display_name', value: me.display_name, required: true, maxlength: 64 })),
    el('button', { type: 'submit', text: t('profile.save') }));
  onSubmit(form, async (data) => {
    await api.patch('/accounts/me', { display_name: data.get('display_name'), language: document.documentElement.lang === 'en' ? 'en' : 'zh-CN' });
    form.prepend(message('ok', t('profile.saved')));
  });
  const roles = el('ul', {}, ...me.roles.map((r) => el('li', { text: `${t(`role.${r.role}`)} · ${r.place_name ?? t('role.platform')}` })));
  const exportButton = el('button', { type: 'button', class: 'secondary', text: t('profile.export') });
  exportButton.addEventListener('click', async () => {
    const data = await api.get('/accounts/me/export');
    const blob = new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' });
    const link = el('a', { href: URL.createObjectURL(blob), download: 'yishi-export.json' });
    link.click();
  });
  page(main, 'profile.title',
    el('p', { text: `${me.email} · ${me.email_verified ? t('profile.verified') : t('profile.unverified')}` }),
    form,
    el('h2', { text: t('profile.roles') }),
    me.roles.length ? roles : el('p', { class: 'hint', text: t('profile.noRoles') }),
    el('div', { class: 'actions' }, exportButton));
}

export async function notFound(main) {
  page(main, 'notFound.title', el('p', {}, el('a', { href: '#/', text: t('nav.home') })));
}
