// Acting for a resident (帮办代办): a grid worker or committee member checks a person of the
// register in, answers an invitation, co-signs, rates or objects for them, on the paper the
// reference names; a second person confirms co-signatures. Part of the register's pages.
import { api } from './api.js';
import { t, problemText, formatDateTime } from './i18n.js';
import { el, field, message, onSubmit } from './ui.js';

const KINDS = ['check_in', 'rsvp', 'cosign', 'rating', 'objection'];

/** What each kind of act can be done on, as [id, label] pairs. */
async function targets(community) {
  const [sessions, proposals, completed, disclosed] = await Promise.all([
    api.get(`/sessions?community_id=${community}`),
    Promise.all(['collecting', 'in_moderation', 'changes_requested'].map((s) => api.get(`/proposals?community_id=${community}&status=${s}&page_size=100`))),
    api.get(`/resolutions?community_id=${community}&status=completed`),
    api.get(`/resolutions?community_id=${community}&status=disclosure`),
  ]);
  const label = (s) => `${s.title} · ${formatDateTime(s.starts_at)}`;
  return {
    check_in: sessions.filter((s) => ['open', 'adjourned'].includes(s.status)).map((s) => [s.id, label(s)]),
    rsvp: sessions.filter((s) => ['scheduled', 'open', 'adjourned'].includes(s.status)).map((s) => [s.id, label(s)]),
    cosign: proposals.flatMap((page) => page.items).map((p) => [p.id, p.title]),
    rating: completed.map((r) => [r.id, r.title]),
    objection: disclosed.map((r) => [r.id, r.title]),
  };
}

function request(kind, target, data) {
  const base = { person_id: data.get('person_id'), reference: data.get('reference') };
  switch (kind) {
    case 'check_in': return api.post(`/sessions/${target}/assisted-check-ins`, base);
    case 'rsvp': return api.post(`/sessions/${target}/assisted-rsvps`, { ...base, response: data.get('response') });
    case 'cosign': return api.post(`/proposals/${target}/assisted-cosigns`, base);
    case 'rating': return api.post(`/resolutions/${target}/assisted-ratings`, { ...base, score: Number(data.get('score')), comment: data.get('comment') || null });
    default: return api.post(`/resolutions/${target}/assisted-objections`, { ...base, reasons: data.get('reasons') });
  }
}

function actForm(persons, options, onDone) {
  const person = el('select', { name: 'person_id', required: true },
    el('option', { value: '', text: t('assist.choosePerson') }),
    ...persons.map((p) => el('option', { value: p.id, text: [p.name, p.unit_label, p.document_last4 ? `…${p.document_last4}` : null, p.has_account ? null : t('register.noAccount')].filter(Boolean).join(' · ') })));
  const kind = el('select', { name: 'kind' }, ...KINDS.map((k) => el('option', { value: k, text: t(`assist.kind.${k}`) })));
  const target = el('select', { name: 'target', required: true });
  const score = el('select', { name: 'score' },
    el('option', { value: '', text: t('assist.chooseScore') }),
    ...[5, 4, 3, 2, 1].map((n) => el('option', { value: String(n), text: t('assist.stars', { n }) })));
  const parts = {
    response: field('assist.response', el('select', { name: 'response' },
      el('option', { value: 'confirmed', text: t('assist.confirmed') }),
      el('option', { value: 'declined', text: t('assist.declined') }))),
    score: field('assist.score', score),
    comment: field('assist.comment', el('input', { type: 'text', name: 'comment', maxlength: 2000 })),
    reasons: field('assist.reasons', el('textarea', { name: 'reasons', maxlength: 4000, rows: 3 })),
  };
  const targetField = field('assist.target', target);
  const empty = el('p', { class: 'hint' });
  const show = () => {
    const k = kind.value;
    const list = options[k];
    target.replaceChildren(...list.map(([id, text]) => el('option', { value: id, text })));
    empty.textContent = list.length ? '' : t(`assist.nothing.${k}`);
    targetField.hidden = list.length === 0;
    parts.response.hidden = k !== 'rsvp';
    parts.score.hidden = k !== 'rating';
    score.required = k === 'rating';
    parts.comment.hidden = k !== 'rating';
    parts.reasons.hidden = k !== 'objection';
    parts.reasons.querySelector('textarea').required = k === 'objection';
  };
  kind.addEventListener('change', show);
  show();
  const form = el('form', { 'aria-label': t('assist.new') },
    field('assist.person', person), field('assist.what', kind), targetField, empty, ...Object.values(parts),
    field('assist.reference', el('input', { type: 'text', name: 'reference', required: true, maxlength: 120 }), 'assist.referenceHint'),
    el('button', { type: 'submit', text: t('assist.submit') }));
  onSubmit(form, async (data) => {
    if (!data.get('target')) throw new Error(t(`assist.nothing.${data.get('kind')}`));
    await request(data.get('kind'), data.get('target'), data);
    await onDone(t(data.get('kind') === 'cosign' ? 'assist.recordedPending' : 'assist.recorded'));
  });
  return form;
}

function actItem(a, onDone) {
  const what = [t(`assist.kind.${a.kind}`), a.response ? t(`assist.${a.response}`) : null, a.score ? t('assist.stars', { n: a.score }) : null].filter(Boolean).join(' · ');
  const item = el('li', { class: 'card' },
    el('h3', { text: `${a.person_name}：${what}` }),
    el('p', { text: `${t('assist.reference')}：${a.reference}` }),
    el('p', { class: 'hint', text: `${t(`assist.status.${a.status}`)} · ${a.acted_by_name} · ${formatDateTime(a.created_at)}${a.decision_reason ? ` · ${a.decision_reason}` : ''}` }));
  if (a.status === 'pending') {
    const form = el('form', { 'aria-label': t('assist.decideFor', { name: a.person_name }) },
      field('assist.rejectReason', el('input', { type: 'text', name: 'reason', maxlength: 500 })),
      el('div', { class: 'actions' },
        el('button', { type: 'submit', value: 'yes', text: t('assist.confirm') }),
        el('button', { type: 'submit', value: 'no', class: 'secondary', text: t('assist.reject') })));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      form.querySelector('.message')?.remove();
      try {
        if (event.submitter?.value === 'no') {
          await api.post(`/assisted-acts/${a.id}/rejection`, { reason: new FormData(form).get('reason') ?? '' });
        } else {
          await api.post(`/proposals/${a.object_id}/assisted-cosigns/${a.id}/confirmation`, {});
        }
        await onDone(t('assist.decided'));
      } catch (err) {
        form.prepend(message('error', problemText(err)));
      }
    });
    item.append(form);
  }
  return item;
}

/** The register's "act for a resident" tab: the form, the pending queue, the recent acts. */
export async function assistTab(community, section, notice = null) {
  const [persons, options, acts] = await Promise.all([
    api.get(`/communities/${community}/register/persons?status=living&limit=1000`),
    targets(community),
    api.get(`/communities/${community}/assisted-acts`),
  ]);
  const reload = (text) => assistTab(community, section, text);
  const pending = acts.filter((a) => a.status === 'pending');
  const done = acts.filter((a) => a.status !== 'pending').slice(0, 50);
  const status = notice ? message('ok', notice) : null;
  section.replaceChildren(...[
    el('h2', { text: t('assist.title') }),
    el('p', { class: 'hint', text: t('assist.hint') }),
    status,
    actForm(persons, options, reload),
    el('h3', { text: t('assist.pending') }),
    pending.length ? el('ul', { class: 'cards' }, ...pending.map((a) => actItem(a, reload))) : el('p', { class: 'hint', text: t('assist.nonePending') }),
    el('h3', { text: t('assist.recent') }),
    done.length ? el('ul', { class: 'cards' }, ...done.map((a) => actItem(a, reload))) : el('p', { class: 'hint', text: t('register.none') }),
  ].filter(Boolean));
  if (status) {
    status.setAttribute('tabindex', '-1');
    status.focus();
  }
}
