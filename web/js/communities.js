// Communities pages: join a community naming your unit; the committee's verification queue.
import { api, session } from './api.js';
import { t, problemText } from './i18n.js';
import { el, field, page, message, onSubmit, checkbox } from './ui.js';

export async function join(main) {
  if (!session.token()) {
    page(main, 'join.title', message('error', t('signin.required')));
    return;
  }
  const communities = await api.get('/places?kind=community');
  const communitySelect = el('select', { name: 'community', required: true },
    el('option', { value: '', text: t('join.chooseCommunity') }),
    ...communities.map((c) => el('option', { value: c.id, text: c.name })));
  const buildingSelect = el('select', { name: 'building', required: true, disabled: true });
  communitySelect.addEventListener('change', async () => {
    buildingSelect.replaceChildren();
    if (!communitySelect.value) return;
    const buildings = await api.get(`/communities/${communitySelect.value}/buildings`);
    buildingSelect.append(...buildings.map((b) => el('option', { value: b.name, text: b.name })));
    buildingSelect.disabled = buildings.length === 0;
  });
  const form = el('form', {},
    field('join.community', communitySelect),
    field('join.building', buildingSelect),
    field('join.unit', el('input', { type: 'text', name: 'unit_number', required: true, maxlength: 32 }), 'join.unitHint'),
    checkbox('join.household', 'household'),
    checkbox('join.owner', 'owner'),
    field('join.note', el('textarea', { name: 'note', maxlength: 500, rows: 3 })),
    el('button', { type: 'submit', text: t('join.submit') }));
  onSubmit(form, async (data) => {
    const m = await api.post(`/communities/${data.get('community')}/memberships`, {
      building: data.get('building') ?? '',
      unit_number: data.get('unit_number'),
      household: data.get('household') === 'on',
      owner: data.get('owner') === 'on',
      note: data.get('note') || null,
    });
    page(main, 'join.title', message('ok', t('join.done', { community: m.community_name, unit: m.unit_label ?? '' })),
      el('p', {}, el('a', { href: '#/', text: t('nav.home') })));
  });
  page(main, 'join.title', form);
}

/** The persons of the register who may be the applicant: those of the same name. */
async function candidates(m) {
  const select = el('select', { name: 'person_id' }, el('option', { value: '', text: t('queue.newPerson') }));
  try {
    const found = await api.get(`/communities/${m.community_id}/register/persons?q=${encodeURIComponent(m.display_name)}&limit=50`);
    for (const p of found) {
      const label = [p.name, p.unit_label, p.document_last4 ? `…${p.document_last4}` : null, p.has_account ? t('register.hasAccount') : null]
        .filter(Boolean).join(' · ');
      select.append(el('option', { value: p.id, text: label, disabled: p.has_account }));
    }
  } catch { /* the register is not readable here: verification adds a new person */ }
  return select;
}

async function decisionForm(m, onDone) {
  const reason = el('input', { type: 'text', name: 'reason', maxlength: 500 });
  const household = checkbox('queue.asHousehold', 'household');
  const owner = checkbox('queue.asOwner', 'owner');
  household.querySelector('input').checked = m.household;
  owner.querySelector('input').checked = m.owner;
  const form = el('form', { 'aria-label': t('queue.decideFor', { name: m.display_name }) },
    household, owner,
    field('queue.person', await candidates(m), 'queue.personHint'),
    field('queue.last4', el('input', { type: 'text', name: 'document_last4', maxlength: 8, autocomplete: 'off' })),
    field('queue.certificate', el('input', { type: 'text', name: 'certificate', maxlength: 64, autocomplete: 'off' })),
    field('queue.reason', reason, 'queue.reasonHint'),
    el('div', { class: 'actions' },
      el('button', { type: 'submit', name: 'verdict', value: 'verify', text: t('queue.verify') }),
      el('button', { type: 'submit', name: 'verdict', value: 'reject', class: 'secondary', text: t('queue.reject') })));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const verdict = event.submitter?.value ?? 'verify';
    const data = new FormData(form);
    form.querySelector('.message')?.remove();
    try {
      await api.post(`/memberships/${m.id}/decision`, {
        verdict,
        household: data.get('household') === 'on',
        owner: data.get('owner') === 'on',
        reason: data.get('reason') || null,
        ...(verdict === 'verify' ? {
          person_id: data.get('person_id') || null,
          document_last4: data.get('document_last4') || null,
          certificate: data.get('certificate') || null,
        } : {}),
      });
      onDone(verdict);
    } catch (err) {
      form.prepend(message('error', problemText(err)));
    }
  });
  return form;
}

export async function queue(main) {
  if (!session.token()) {
    page(main, 'queue.title', message('error', t('signin.required')));
    return;
  }
  const me = await api.get('/accounts/me');
  const communities = me.roles
    .filter((r) => ['committee_member', 'party_secretary'].includes(r.role) && r.place_id)
    .map((r) => ({ id: r.place_id, name: r.place_name }));
  if (communities.length === 0) {
    page(main, 'queue.title', message('error', t('queue.notCommittee')));
    return;
  }
  const sections = [];
  for (const c of communities) {
    let pending;
    try {
      pending = await api.get(`/communities/${c.id}/memberships?status=pending`);
    } catch (err) {
      sections.push(message('error', problemText(err)));
      continue;
    }
    const list = el('ul', { class: 'cards' });
    for (const m of pending) {
      const item = el('li', { class: 'card' },
        el('h2', { text: m.display_name }),
        el('p', { text: `${m.unit_label ?? ''} · ${m.household ? t('join.household') : ''} ${m.owner ? t('join.owner') : ''}` }),
        m.note ? el('p', { class: 'hint', text: m.note }) : null);
      item.append(await decisionForm(m, (verdict) => {
        item.replaceChildren(message('ok', t(verdict === 'verify' ? 'queue.verified' : 'queue.rejected', { name: m.display_name })));
      }));
      list.append(item);
    }
    sections.push(el('h2', { text: c.name }), pending.length ? list : el('p', { class: 'hint', text: t('queue.empty') }));
  }
  page(main, 'queue.title', ...sections);
}
