// Proposals pages: browse and search, write and edit, one proposal with its thread and
// history, co-signing, and the committee's moderation queue.
import { api, session } from './api.js';
import { t, problemText } from './i18n.js';
import { el, field, page, message, onSubmit, checkbox } from './ui.js';

const CATEGORIES = ['environment', 'safety', 'property_and_estate', 'elderly_care', 'children', 'culture', 'parking_and_traffic', 'other'];
const STATUSES = ['collecting', 'in_moderation', 'changes_requested', 'accepted', 'rejected', 'merged', 'expired', 'withdrawn', 'draft'];

function formatDate(iso) {
  return iso ? new Date(iso).toLocaleDateString(document.documentElement.lang) : '';
}

/** Plain text with simple formatting: blank lines make paragraphs, "- " lines make lists. */
function renderBody(text) {
  const out = [];
  for (const block of text.split(/\n{2,}/)) {
    const lines = block.split('\n');
    if (lines.every((l) => l.startsWith('- '))) {
      out.push(el('ul', {}, ...lines.map((l) => el('li', { text: l.slice(2) }))));
    } else {
      out.push(el('p', {}, ...lines.flatMap((l, i) => (i ? [el('br'), l] : [l]))));
    }
  }
  return el('div', { class: 'proposal-body' }, ...out);
}

function statusBadge(status) {
  return el('span', { class: `badge status-${status}`, text: t(`proposal.status.${status}`) });
}

async function myCommunities() {
  if (!session.token()) return [];
  const memberships = await api.get('/accounts/me/memberships');
  const me = await api.get('/accounts/me');
  const seen = new Map();
  for (const m of memberships) if (m.status === 'verified') seen.set(m.community_id, m.community_name);
  for (const r of me.roles) {
    if (['resident', 'owner', 'committee_member', 'party_secretary'].includes(r.role) && r.place_id) seen.set(r.place_id, r.place_name);
  }
  return [...seen].map(([id, name]) => ({ id, name }));
}

function card(p) {
  return el('li', { class: 'card' },
    el('h2', {}, el('a', { href: `#/proposals/${p.id}`, text: p.title })),
    el('p', { class: 'hint', text: `${t(`proposal.category.${p.category}`)} · ${p.community_name}${p.proposer ? ` · ${p.proposer.display_name}` : ''}${p.organisation ? ` · ${p.organisation.name}` : ''}` }),
    el('p', {}, statusBadge(p.status), ' ',
      t('proposal.supporters', { count: p.cosign_count + 1, threshold: p.cosign_threshold }),
      p.status === 'collecting' && p.cosign_deadline ? ` · ${t('proposal.deadline', { date: formatDate(p.cosign_deadline) })}` : ''));
}

export async function list(main, params) {
  const communities = await myCommunities();
  const form = el('form', { class: 'filters', role: 'search' },
    field('proposal.filter.community', el('select', { name: 'community_id' },
      el('option', { value: '', text: t('proposal.filter.public') }),
      ...communities.map((c) => el('option', { value: c.id, text: c.name })))),
    field('proposal.filter.q', el('input', { type: 'search', name: 'q', maxlength: 100 })),
    field('proposal.filter.status', el('select', { name: 'status' },
      el('option', { value: '', text: t('proposal.filter.any') }),
      ...STATUSES.map((s) => el('option', { value: s, text: t(`proposal.status.${s}`) })))),
    field('proposal.filter.category', el('select', { name: 'category' },
      el('option', { value: '', text: t('proposal.filter.any') }),
      ...CATEGORIES.map((c) => el('option', { value: c, text: t(`proposal.category.${c}`) })))),
    field('proposal.filter.sort', el('select', { name: 'sort' },
      ...['newest', 'most_cosigned', 'deadline'].map((s) => el('option', { value: s, text: t(`proposal.sort.${s}`) })))),
    el('button', { type: 'submit', text: t('proposal.filter.submit') }));
  for (const [k, v] of params) if (form.elements[k]) form.elements[k].value = v;
  if (!params.has('community_id') && communities[0]) form.elements.community_id.value = communities[0].id;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) q.set(k, v);
    location.hash = `#/proposals?${q}`;
  });
  const query = new URLSearchParams();
  for (const [k, v] of new FormData(form)) if (v) query.set(k, v);
  const pageNo = Number(params.get('page') ?? '1');
  query.set('page', String(pageNo));
  query.set('page_size', '20');
  let results;
  try {
    const found = await api.get(`/proposals?${query}`);
    const pages = Math.max(1, Math.ceil(found.total / found.page_size));
    const nav = el('nav', { class: 'actions', 'aria-label': t('proposal.pages') });
    const go = (n) => { const q = new URLSearchParams(params); q.set('page', String(n)); return `#/proposals?${q}`; };
    if (pageNo > 1) nav.append(el('a', { href: go(pageNo - 1), text: t('proposal.previous') }));
    nav.append(el('span', { text: t('proposal.pageOf', { page: pageNo, pages, total: found.total }) }));
    if (pageNo < pages) nav.append(el('a', { href: go(pageNo + 1), text: t('proposal.next') }));
    results = [found.items.length ? el('ul', { class: 'cards' }, ...found.items.map(card)) : el('p', { text: t('proposal.none') }), nav];
  } catch (err) {
    results = [message('error', problemText(err))];
  }
  page(main, 'proposal.listTitle',
    session.token() ? el('p', {}, el('a', { class: 'button', href: '#/proposals/new', text: t('proposal.write') })) : null,
    form, ...results);
}

function proposalForm(communities, existing, onSave) {
  const fields = [];
  if (!existing) {
    fields.push(field('proposal.form.community', el('select', { name: 'community_id', required: true },
      ...communities.map((c) => el('option', { value: c.id, text: c.name })))));
  }
  const title = el('input', { type: 'text', name: 'title', required: true, maxlength: 120, value: existing?.title ?? '' });
  const body = el('textarea', { name: 'body', required: true, maxlength: 20000, rows: 10 });
  body.value = existing?.body ?? '';
  const category = el('select', { name: 'category' }, ...CATEGORIES.map((c) => el('option', { value: c, text: t(`proposal.category.${c}`) })));
  category.value = existing?.category ?? 'other';
  const owners = checkbox('proposal.form.ownersOnly', 'owners_only');
  owners.querySelector('input').checked = existing?.owners_only ?? false;
  fields.push(field('proposal.form.title', title), field('proposal.form.body', body, 'proposal.form.bodyHint'),
    field('proposal.form.category', category), owners);
  const buttons = el('div', { class: 'actions' });
  if (!existing) buttons.append(el('button', { type: 'submit', name: 'mode', value: 'draft', class: 'secondary', text: t('proposal.form.saveDraft') }));
  buttons.append(el('button', { type: 'submit', name: 'mode', value: 'submit', text: existing ? t('proposal.form.save') : t('proposal.form.submit') }));
  const form = el('form', {}, ...fields, buttons);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    form.querySelector('.message')?.remove();
    try {
      await onSave({
        community_id: data.get('community_id'),
        title: data.get('title'),
        body: data.get('body'),
        category: data.get('category'),
        owners_only: data.get('owners_only') === 'on',
      }, event.submitter?.value ?? 'submit');
    } catch (err) {
      form.prepend(message('error', problemText(err)));
    }
  });
  return form;
}

export async function write(main) {
  if (!session.token()) { page(main, 'proposal.writeTitle', message('error', t('signin.required'))); return; }
  const communities = await myCommunities();
  if (!communities.length) { page(main, 'proposal.writeTitle', message('error', t('proposal.joinFirst'))); return; }
  page(main, 'proposal.writeTitle', proposalForm(communities, null, async (body, mode) => {
    const p = await api.post('/proposals', { ...body, submit: mode === 'submit' });
    location.hash = `#/proposals/${p.id}`;
  }));
}

export async function edit(main, params, id) {
  const p = await api.get(`/proposals/${id}`);
  page(main, 'proposal.editTitle', proposalForm([], p, async (body) => {
    const { community_id: _ignored, ...changes } = body;
    await api.patch(`/proposals/${id}`, changes);
    location.hash = `#/proposals/${id}`;
  }));
}

function actionButton(labelKey, action, secondary = false) {
  const button = el('button', { type: 'button', class: secondary ? 'secondary' : null, text: t(labelKey) });
  button.addEventListener('click', async () => {
    button.disabled = true;
    button.parentElement.querySelector('.message')?.remove();
    try {
      await action();
    } catch (err) {
      button.parentElement.prepend(message('error', problemText(err)));
      button.disabled = false;
    }
  });
  return button;
}

function moderationPanel(p, reload) {
  const reason = el('textarea', { name: 'reason', maxlength: 2000, rows: 3 });
  const mergeInto = el('input', { type: 'text', name: 'merge_into', maxlength: 36 });
  const decide = (action) => actionButton(`proposal.moderate.${action}`, async () => {
    await api.post(`/proposals/${p.id}/moderation`, { action, reason: reason.value || null, merge_into: mergeInto.value || null });
    await reload();
  }, action !== 'accept');
  return el('section', { class: 'card', 'aria-labelledby': 'moderation-title' },
    el('h2', { id: 'moderation-title', text: t('proposal.moderate.title') }),
    field('proposal.moderate.reason', reason, 'proposal.moderate.reasonHint'),
    field('proposal.moderate.mergeInto', mergeInto),
    el('div', { class: 'actions' }, ...['accept', 'request_changes', 'merge', 'reject'].map(decide)));
}

function thread(p, comments, canPost, reload) {
  const byParent = new Map();
  for (const c of comments) {
    const key = c.parent_id ?? 'root';
    if (!byParent.has(key)) byParent.set(key, []);
    byParent.get(key).push(c);
  }
  const render = (parentKey) => {
    const children = byParent.get(parentKey) ?? [];
    if (!children.length) return null;
    return el('ul', { class: 'thread' }, ...children.map((c) => {
      const who = c.author ? c.author.display_name : '';
      const official = c.organisation ? el('span', { class: 'badge official', text: t('proposal.thread.official', { org: c.organisation.name }) }) : null;
      const text = c.state === 'visible' ? c.body
        : c.state === 'deleted' ? t('proposal.thread.deleted')
          : `${t('proposal.thread.hidden')}${c.body ? `: ${c.body}` : ''}${c.hidden_reason ? ` (${c.hidden_reason})` : ''}`;
      const item = el('li', { class: `comment comment-${c.state}` },
        el('p', { class: 'hint' }, who, ' ', official, ' ', formatDate(c.created_at)),
        el('p', { text }));
      if (canPost && c.state === 'visible') {
        const reply = el('details', {}, el('summary', { text: t('proposal.thread.reply') }), commentForm(p, c.id, reload));
        item.append(reply);
      }
      const nested = render(c.id);
      if (nested) item.append(nested);
      return item;
    }));
  };
  return render('root') ?? el('p', { class: 'hint', text: t('proposal.thread.empty') });
}

function commentForm(p, parentId, reload) {
  const body = el('textarea', { name: 'body', required: true, maxlength: 4000, rows: 3 });
  const form = el('form', {}, field(parentId ? 'proposal.thread.replyLabel' : 'proposal.thread.commentLabel', body),
    el('button', { type: 'submit', text: t('proposal.thread.post') }));
  onSubmit(form, async (data) => {
    await api.post(`/proposals/${p.id}/comments`, { body: data.get('body'), parent_id: parentId });
    await reload();
  });
  return form;
}

export async function show(main, params, id) {
  const reload = () => show(main, params, id);
  let p;
  try {
    p = await api.get(`/proposals/${id}`);
  } catch (err) {
    page(main, 'proposal.title', message('error', problemText(err)));
    return;
  }
  const me = session.token() ? await api.get('/accounts/me') : null;
  const isProposer = me && p.proposer && p.proposer.id === me.id;
  const committee = me && me.roles.some((r) => ['committee_member', 'party_secretary'].includes(r.role) && r.place_id === p.community_id);
  const member = me && me.roles.some((r) => r.place_id === p.community_id);
  const actions = el('div', { class: 'actions' });
  if (member && !isProposer && ['collecting', 'in_moderation', 'changes_requested'].includes(p.status) && !p.cosigned_by_me) {
    actions.append(actionButton('proposal.cosign', async () => { await api.post(`/proposals/${id}/cosign`); await reload(); }));
  }
  if (p.cosigned_by_me && p.status === 'collecting') {
    actions.append(actionButton('proposal.withdrawCosign', async () => { await api.delete(`/proposals/${id}/cosign`); await reload(); }, true));
  }
  if (isProposer && ['draft', 'changes_requested'].includes(p.status)) {
    actions.append(el('a', { class: 'button secondary', href: `#/proposals/${id}/edit`, text: t('proposal.edit') }));
    actions.append(actionButton(p.status === 'draft' ? 'proposal.submit' : 'proposal.resubmit', async () => { await api.post(`/proposals/${id}/submit`); await reload(); }));
  }
  if (isProposer && ['draft', 'collecting', 'changes_requested'].includes(p.status)) {
    actions.append(actionButton('proposal.withdraw', async () => { await api.post(`/proposals/${id}/withdraw`); await reload(); }, true));
  }
  const sections = [
    el('p', {}, statusBadge(p.status), ' ', t('proposal.supporters', { count: p.cosign_count + 1, threshold: p.cosign_threshold }),
      p.status === 'collecting' && p.cosign_deadline ? ` · ${t('proposal.deadline', { date: formatDate(p.cosign_deadline) })}` : ''),
    el('p', { class: 'hint', text: `${t(`proposal.category.${p.category}`)} · ${p.community_name}${p.proposer ? ` · ${t('proposal.by', { name: p.proposer.display_name })}` : ''}${p.organisation ? ` · ${p.organisation.name}` : ''}${p.owners_only ? ` · ${t('proposal.ownersOnly')}` : ''}` }),
    p.decision_reason ? el('p', { class: 'message', role: 'note', text: `${t('proposal.reason')}: ${p.decision_reason}` }) : null,
    p.merged_into ? el('p', {}, el('a', { href: `#/proposals/${p.merged_into}`, text: t('proposal.mergedInto') })) : null,
    renderBody(p.body),
    actions,
  ];
  if (committee && p.status === 'in_moderation') sections.push(moderationPanel(p, reload));
  try {
    const versions = await api.get(`/proposals/${id}/versions`);
    if (versions.length) {
      sections.push(el('details', {}, el('summary', { text: t('proposal.history', { count: versions.length }) }),
        el('ol', {}, ...versions.map((v) => el('li', {}, el('strong', { text: `${v.title}` }), ` · ${formatDate(v.created_at)}`, renderBody(v.body))))));
    }
  } catch { /* history is optional */ }
  if (member) {
    try {
      const comments = await api.get(`/proposals/${id}/comments`);
      const canPost = p.status !== 'draft';
      sections.push(el('h2', { text: t('proposal.thread.title') }), thread(p, comments, canPost, reload));
      if (canPost) sections.push(commentForm(p, null, reload));
    } catch (err) {
      sections.push(message('error', problemText(err)));
    }
  }
  main.replaceChildren(el('h1', { text: p.title }), ...sections.filter(Boolean));
}

export async function moderation(main) {
  if (!session.token()) { page(main, 'proposal.queueTitle', message('error', t('signin.required'))); return; }
  const me = await api.get('/accounts/me');
  const communities = me.roles.filter((r) => ['committee_member', 'party_secretary'].includes(r.role) && r.place_id);
  if (!communities.length) { page(main, 'proposal.queueTitle', message('error', t('queue.notCommittee'))); return; }
  const sections = [];
  for (const c of communities) {
    const waiting = await api.get(`/proposals?community_id=${c.place_id}&status=in_moderation&sort=most_cosigned&page_size=100`);
    const reports = await api.get(`/communities/${c.place_id}/reports`);
    sections.push(el('h2', { text: c.place_name }),
      waiting.items.length ? el('ul', { class: 'cards' }, ...waiting.items.map(card)) : el('p', { class: 'hint', text: t('proposal.queueEmpty') }),
      reports.length ? el('h3', { text: t('proposal.reports') }) : null,
      reports.length ? el('ul', {}, ...reports.map((r) => el('li', {}, el('a', { href: `#/proposals/${r.proposal_id}`, text: r.proposal_title }), ` · ${r.reason}`))) : null);
  }
  page(main, 'proposal.queueTitle', ...sections.filter(Boolean));
}
