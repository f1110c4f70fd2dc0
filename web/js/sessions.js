// Sessions pages: the list of a community's sessions and one session with its agenda,
// invitation answer and attendance.
import { api, session } from './api.js';
import { t, problemText } from './i18n.js';
import { el, page, message } from './ui.js';

function when(s) {
  const start = new Date(s.starts_at);
  const end = new Date(s.ends_at);
  const lang = document.documentElement.lang;
  return `${start.toLocaleString(lang)} – ${end.toLocaleTimeString(lang)}`;
}

export async function list(main) {
  if (!session.token()) { page(main, 'session.listTitle', message('error', t('signin.required'))); return; }
  const me = await api.get('/accounts/me');
  const communities = [...new Map(me.roles.filter((r) => r.place_id).map((r) => [r.place_id, r.place_name])).entries()];
  const sections = [];
  for (const [id, name] of communities) {
    let sessions;
    try { sessions = await api.get(`/sessions?community_id=${id}`); } catch { continue; }
    sections.push(el('h2', { text: name }), sessions.length
      ? el('ul', { class: 'cards' }, ...sessions.map((s) => el('li', { class: 'card' },
        el('h3', {}, el('a', { href: `#/sessions/${s.id}`, text: s.title })),
        el('p', {}, el('span', { class: 'badge', text: t(`session.status.${s.status}`) }), ` ${when(s)}`))))
      : el('p', { class: 'hint', text: t('session.none') }));
  }
  page(main, 'session.listTitle', ...(sections.length ? sections : [el('p', { class: 'hint', text: t('session.none') })]));
}

export async function show(main, params, id) {
  let s;
  try { s = await api.get(`/sessions/${id}`); } catch (err) { page(main, 'session.title', message('error', problemText(err))); return; }
  const reload = () => show(main, params, id);
  const actions = el('div', { class: 'actions' });
  if (['open', 'adjourned'].includes(s.status)) {
    actions.append(el('a', { class: 'button', href: `#/sessions/${id}/live`, text: t('session.enter') }));
  }
  if (s.my_response !== null && s.my_response !== undefined && ['scheduled', 'open', 'adjourned'].includes(s.status)) {
    for (const response of ['confirmed', 'declined']) {
      const b = el('button', { type: 'button', class: response === 'declined' ? 'secondary' : null, text: t(`session.rsvp.${response}`) });
      b.addEventListener('click', async () => { await api.post(`/sessions/${id}/rsvp`, { response }); await reload(); });
      actions.append(b);
    }
  }
  if (s.status === 'closed') actions.append(el('a', { class: 'button secondary', href: `/api/v1/sessions/${id}/minutes.md`, text: t('session.minutes') }));
  main.replaceChildren(
    el('h1', { text: s.title }),
    el('p', {}, el('span', { class: 'badge', text: t(`session.status.${s.status}`) }), ` ${when(s)}`),
    el('p', { text: `${s.address ?? ''}${s.online ? ` ${t('session.online')}` : ''}` }),
    el('p', { text: s.purpose }),
    s.my_response ? el('p', { class: 'hint', text: t(`session.rsvp.mine.${s.my_response}`) }) : null,
    actions,
    el('h2', { text: t('session.agenda') }),
    el('ol', {}, ...s.agenda.map((a) => el('li', { text: a.title }))),
    el('h2', { text: t('session.attendance') }),
    el('p', { text: t('session.attendanceLine', { invited: s.attendance.invited, confirmed: s.attendance.confirmed, online: s.attendance.present_online, assisted: s.attendance.present_assisted }) }),
  );
}
