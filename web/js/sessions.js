// Sessions pages: the list of a community's sessions and one session with its agenda,
// invitation answer and attendance.
import { api, session } from './api.js';
import { t, problemText } from './i18n.js';
import { el, page, message, field, checkbox, onSubmit } from './ui.js';

const CONVENORS = ['party_secretary', 'committee_member'];

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
    const convenor = me.roles.some((r) => r.place_id === id && CONVENORS.includes(r.role));
    sections.push(el('h2', { text: name }));
    if (convenor) sections.push(el('p', {}, el('a', { class: 'button', href: `#/sessions/new?community=${id}`, text: t('session.convene') })));
    sections.push(sessions.length
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
  const me = await api.get('/accounts/me');
  const convenor = me.id === s.chair.id || me.roles.some((r) => r.place_id === s.community_id && CONVENORS.includes(r.role));
  if (convenor) {
    const step = (key, path, body) => {
      const b = el('button', { type: 'button', text: t(key) });
      b.addEventListener('click', async () => {
        actions.querySelector('.message')?.remove();
        try { await api.post(`/sessions/${id}/${path}`, body ?? {}); await reload(); } catch (err) { actions.prepend(message('error', problemText(err))); }
      });
      return b;
    };
    const next = { draft: [['session.schedule', 'schedule']], scheduled: [['session.open', 'open']], open: [['session.adjourn', 'adjourn'], ['session.close', 'close']], adjourned: [['session.resume', 'resume'], ['session.close', 'close']] }[s.status] ?? [];
    for (const [key, path] of next) actions.append(step(key, path));
    if (['draft', 'scheduled'].includes(s.status)) {
      const reason = el('input', { type: 'text', id: 'cancel-reason', maxlength: 2000 });
      const cancel = el('button', { type: 'button', class: 'secondary', text: t('session.cancel') });
      cancel.addEventListener('click', async () => {
        actions.querySelector('.message')?.remove();
        try { await api.post(`/sessions/${id}/cancel`, { reason: reason.value }); await reload(); } catch (err) { actions.prepend(message('error', problemText(err))); }
      });
      actions.append(el('label', { for: 'cancel-reason', text: t('session.cancelReason') }), reason, cancel);
    }
  }
  if (s.status === 'closed') actions.append(el('a', { class: 'button secondary', href: `/api/v1/sessions/${id}/minutes.md`, text: t('session.minutes') }));
  main.replaceChildren(...[
    el('h1', { text: s.title }),
    el('p', {}, el('span', { class: 'badge', text: t(`session.status.${s.status}`) }), ` ${when(s)}`),
    el('p', { text: `${s.address ?? ''}${s.online ? ` ${t('session.online')}` : ''}` }),
    el('p', { text: s.purpose }),
    s.my_response ? el('p', { class: 'hint', text: t(`session.rsvp.mine.${s.my_response}`) }) : null,
    actions,
    el('h2', { text: t('session.agenda') }),
    el('ol', {}, ...s.agenda.map((a) => el('li', {}, a.title,
      // A held session's convenors record what the meeting agreed on an item without a vote.
      convenor && ['open', 'adjourned', 'closed'].includes(s.status)
        ? el('a', { class: 'consensus-link', href: `#/resolutions/new?session=${id}&item=${a.id}`, text: ` ${t('session.recordConsensus')}` })
        : null))),
    el('h2', { text: t('session.attendance') }),
    el('p', { text: t('session.attendanceLine', { invited: s.attendance.invited, confirmed: s.attendance.confirmed, online: s.attendance.present_online, assisted: s.attendance.present_assisted }) }),
  ].filter(Boolean));
}

/** The convenor's form: title, purpose, times, place, agenda (one item a line), invitations. */
export async function convene(main, params) {
  const community = params.get('community');
  if (!session.token() || !community) { page(main, 'session.convene', message('error', t('signin.required'))); return; }
  const local = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  const start = new Date(Date.now() + 7 * 86400e3);
  start.setMinutes(0, 0, 0);
  const form = el('form', {},
    field('session.form.title', el('input', { type: 'text', name: 'title', required: true, maxlength: 120 })),
    field('session.form.purpose', el('textarea', { name: 'purpose', required: true, maxlength: 4000, rows: 3 })),
    field('session.form.starts', el('input', { type: 'datetime-local', name: 'starts_at', required: true, value: local(start) })),
    field('session.form.ends', el('input', { type: 'datetime-local', name: 'ends_at', required: true, value: local(new Date(start.getTime() + 2 * 3600e3)) })),
    field('session.form.address', el('input', { type: 'text', name: 'address', maxlength: 200 })),
    checkbox('session.form.online', 'online'),
    field('session.form.agenda', el('textarea', { name: 'agenda', rows: 4 }), 'session.form.agendaHint'),
    checkbox('session.form.allResidents', 'all_residents'),
    el('button', { type: 'submit', text: t('session.form.save') }));
  form.querySelector('input[name="online"]').checked = true;
  form.querySelector('input[name="all_residents"]').checked = true;
  onSubmit(form, async (data) => {
    const agenda = String(data.get('agenda') ?? '').split('\n').map((l) => l.trim()).filter(Boolean).map((title) => ({ title }));
    const s = await api.post('/sessions', {
      community_id: community,
      title: data.get('title'),
      purpose: data.get('purpose'),
      starts_at: new Date(data.get('starts_at')).toISOString(),
      ends_at: new Date(data.get('ends_at')).toISOString(),
      address: data.get('address') || null,
      online: data.get('online') === 'on',
      agenda,
      invited: { all_residents: data.get('all_residents') === 'on' },
    });
    location.hash = `#/sessions/${s.id}`;
  });
  page(main, 'session.convene', form);
}
