// Resolution pages: a community's resolutions and its public disclosure board, recording one
// from a passed poll or a session's consensus, one resolution (timeline, review, objections,
// progress with evidence, milestones, ratings, evaluation) and the community dashboard.
import { api, session, ApiProblem } from './api.js';
import { t, problemText } from './i18n.js';
import { el, page, message, field, checkbox, onSubmit } from './ui.js';
import { barChart } from './voting.js';

const COMMITTEE = ['party_secretary', 'committee_member'];

const yuan = (fen) => `¥${(fen / 100).toLocaleString('zh-CN', { minimumFractionDigits: 2 })}`;
const when = (iso) => new Date(iso).toLocaleString();
const label = (prefix, value) => {
  const key = `${prefix}.${value}`;
  const text = t(key);
  return text === key ? value : text;
};

function summaryCard(r) {
  return el('li', { class: 'card' },
    el('h3', {}, el('a', { href: `#/resolutions/${r.id}`, text: r.title })),
    el('p', {}, el('span', { class: 'badge', text: label('resolution.status', r.status) }), ' ',
      r.responsible_org_name ? `${r.responsible_org_name} · ` : '',
      r.deadline ? t('resolution.dueOn', { date: r.deadline }) : ''),
    el('progress', { max: 100, value: r.progress, 'aria-label': t('resolution.progress') }),
    r.status === 'disclosure' && r.disclosure_ends_at ? el('p', { class: 'hint', text: t('resolution.disclosureUntil', { at: when(r.disclosure_ends_at) }) }) : null);
}

/** The communities the signed-in person belongs to, from their roles. */
async function myPlaces() {
  const me = await api.get('/accounts/me');
  return { me, places: [...new Map(me.roles.filter((r) => r.place_id).map((r) => [r.place_id, r.place_name])).entries()] };
}

export async function list(main) {
  if (!session.token()) { page(main, 'resolution.listTitle', message('error', t('signin.required'))); return; }
  const { places } = await myPlaces();
  const sections = [];
  for (const [id, name] of places) {
    let all;
    let board;
    try {
      [all, board] = await Promise.all([api.get(`/resolutions?community_id=${id}`), api.get(`/communities/${id}/disclosure-board`)]);
    } catch { continue; }
    sections.push(el('h2', { text: name }),
      el('p', {}, el('a', { href: `#/dashboard?place=${id}`, text: t('dashboard.open') })),
      el('h3', { text: t('resolution.board') }),
      board.length ? el('ul', { class: 'cards board' }, ...board.map(summaryCard)) : el('p', { class: 'hint', text: t('resolution.boardEmpty') }),
      el('h3', { text: t('resolution.all') }),
      all.length ? el('ul', { class: 'cards' }, ...all.map(summaryCard)) : el('p', { class: 'hint', text: t('resolution.none') }));
  }
  page(main, 'resolution.listTitle', ...(sections.length ? sections : [el('p', { class: 'hint', text: t('resolution.none') })]));
}

/** The public disclosure boards of every community: readable without signing in. */
export async function board(main) {
  let communities;
  try { communities = await api.get('/places?kind=community'); } catch (err) { page(main, 'resolution.board', message('error', problemText(err))); return; }
  const sections = [el('p', { class: 'hint', text: t('resolution.boardIntro') })];
  for (const c of communities) {
    let items;
    try { items = await api.get(`/communities/${c.id}/disclosure-board`); } catch { continue; }
    sections.push(el('h2', { text: c.name }),
      items.length ? el('ul', { class: 'cards board' }, ...items.map(summaryCard)) : el('p', { class: 'hint', text: t('resolution.boardEmpty') }));
  }
  sections.push(el('p', {}, el('a', { href: '#/audit', text: t('resolution.boardAudit') })));
  page(main, 'resolution.board', ...sections);
}

/** Milestones as "YYYY-MM-DD title", one per line. */
function parseMilestones(text) {
  return String(text ?? '').split('\n').map((l) => l.trim()).filter(Boolean).map((line) => {
    const [date, ...rest] = line.split(/\s+/);
    return { deadline: date, title: rest.join(' ') || date };
  });
}

async function organisationsFor(community) {
  try { return await api.get(`/organisations?place_id=${community}`); } catch { return []; }
}

function resolutionFields(orgs, r = {}) {
  const org = el('select', { name: 'responsible_org_id' }, el('option', { value: '', text: t('resolution.form.noOrg') }),
    ...orgs.map((o) => el('option', { value: o.id, text: o.name, selected: o.id === r.responsible_org_id })));
  const major = checkbox('resolution.form.major', 'major');
  if (r.major) major.querySelector('input').checked = true;
  return [
    field('resolution.form.title', el('input', { type: 'text', name: 'title', required: true, maxlength: 200, value: r.title ?? '' })),
    field('resolution.form.body', Object.assign(el('textarea', { name: 'body', rows: 5, required: true, maxlength: 20000 }), { value: r.body ?? '' })),
    field('resolution.form.org', org),
    field('resolution.form.deadline', el('input', { type: 'date', name: 'deadline', value: r.deadline ?? '' })),
    field('resolution.form.budget', el('input', { type: 'number', name: 'budget', min: 0, step: '0.01', value: r.budget_fen != null ? r.budget_fen / 100 : '' })),
    major,
    field('resolution.form.milestones', Object.assign(el('textarea', { name: 'milestones', rows: 3 }), { value: (r.milestones ?? []).map((m) => `${m.deadline} ${m.title}`).join('\n') }), 'resolution.form.milestonesHint'),
  ];
}

function resolutionBody(data) {
  const body = { title: data.get('title'), body: data.get('body'), major: data.get('major') === 'on', milestones: parseMilestones(data.get('milestones')) };
  if (data.get('responsible_org_id')) body.responsible_org_id = data.get('responsible_org_id');
  if (data.get('deadline')) body.deadline = data.get('deadline');
  if (data.get('budget') !== '' && data.get('budget') !== null) body.budget_fen = Math.round(Number(data.get('budget')) * 100);
  return body;
}

/** Recording a resolution: from a passed poll (?poll=) or a session's item (?session=&item=). */
export async function create(main, params) {
  const pollId = params.get('poll');
  const sessionId = params.get('session');
  if (!session.token() || !(pollId || sessionId)) { page(main, 'resolution.create', message('error', t('signin.required'))); return; }
  let community;
  let title = '';
  try {
    if (pollId) {
      const poll = await api.get(`/polls/${pollId}`);
      community = poll.community_id;
      title = poll.question;
    } else {
      const s = await api.get(`/sessions/${sessionId}`);
      community = s.community_id;
      title = s.agenda.find((i) => i.id === params.get('item'))?.title ?? '';
    }
  } catch (err) { page(main, 'resolution.create', message('error', problemText(err))); return; }
  const orgs = await organisationsFor(community);
  const form = el('form', {}, ...resolutionFields(orgs, { title }), el('button', { type: 'submit', text: t('resolution.form.save') }));
  onSubmit(form, async (data) => {
    const body = resolutionBody(data);
    if (pollId) body.poll_id = pollId;
    else { body.session_id = sessionId; body.agenda_item_id = params.get('item'); }
    const r = await api.post('/resolutions', body);
    location.hash = `#/resolutions/${r.id}`;
  });
  page(main, 'resolution.create', el('p', { class: 'hint', text: pollId ? t('resolution.fromPoll') : t('resolution.fromConsensus') }), form);
}

/** A button that posts and reloads, showing a problem in `where` if refused. */
function action(key, run, where, reload, secondary = false) {
  const b = el('button', { type: 'button', class: secondary ? 'secondary' : null, text: t(key) });
  b.addEventListener('click', async () => {
    where.querySelector('.message')?.remove();
    b.disabled = true;
    try { await run(); await reload(); } catch (err) { where.prepend(message('error', problemText(err))); b.disabled = false; }
  });
  return b;
}

function committeeSection(r, orgs, reload) {
  const box = el('section', { class: 'manage' }, el('h2', { text: t('resolution.manage') }));
  const buttons = el('div', { class: 'actions' });
  if (r.status === 'draft') {
    buttons.append(action('resolution.submitForReview', () => api.post(`/resolutions/${r.id}/submit-for-review`), box, reload, true));
  }
  if (r.status === 'draft' || r.status === 'approved') {
    buttons.append(action('resolution.takeEffect', () => api.post(`/resolutions/${r.id}/take-effect`), box, reload));
  }
  box.append(buttons);
  if (['draft', 'approved', 'in_progress', 'overdue'].includes(r.status)) {
    const form = el('form', { class: 'inline' },
      field('resolution.cancelReason', el('input', { type: 'text', name: 'reason', required: true, maxlength: 4000 })),
      el('button', { type: 'submit', class: 'secondary', text: t('resolution.cancel') }));
    onSubmit(form, async (data) => { await api.post(`/resolutions/${r.id}/cancel`, { reason: data.get('reason') }); await reload(); });
    box.append(form);
  }
  if (r.can.edit) {
    const form = el('form', {}, el('h3', { text: t('resolution.edit') }), ...resolutionFields(orgs, r), el('button', { type: 'submit', text: t('resolution.form.save') }));
    onSubmit(form, async (data) => { await api.patch(`/resolutions/${r.id}`, resolutionBody(data)); await reload(); });
    box.append(form);
  }
  // Nothing left for the committee to do once it is completed, cancelled or withdrawn.
  return box.children.length > 2 || buttons.children.length ? box : null;
}

function reviewSection(r, reload) {
  const rows = r.reviews.map((v) => el('li', { class: 'card' },
    el('p', {}, el('span', { class: 'badge', text: label('resolution.review', v.decision) }), ` ${when(v.created_at)}${v.reviewer_name ? ` · ${v.reviewer_name}` : ''}`),
    v.findings ? el('p', { text: v.findings }) : null));
  const parts = [el('h2', { text: t('resolution.reviews') })];
  if (r.review_required) parts.push(el('p', { class: 'hint', text: t('resolution.reviewRequired', { rule: r.review_required }) }));
  if (rows.length) parts.push(el('ul', { class: 'cards' }, ...rows));
  if (r.can.review) {
    const decision = el('select', { name: 'decision' }, el('option', { value: 'approve', text: t('resolution.review.approve') }), el('option', { value: 'return', text: t('resolution.review.return') }));
    const form = el('form', {}, field('resolution.reviewDecision', decision),
      field('resolution.findings', el('textarea', { name: 'findings', rows: 3, maxlength: 20000 })),
      el('button', { type: 'submit', text: t('resolution.submitReview') }));
    onSubmit(form, async (data) => { await api.post(`/resolutions/${r.id}/reviews`, { decision: data.get('decision'), findings: data.get('findings') ?? '' }); await reload(); });
    parts.push(form);
  }
  return parts.length > 1 ? el('section', {}, ...parts) : null;
}

function objectionSection(r, reload) {
  const rows = r.objections.map((o) => {
    const li = el('li', { class: 'card' },
      el('p', {}, el('span', { class: 'badge', text: label('resolution.objection', o.status) }), ` ${when(o.created_at)}${o.mine ? ` · ${t('resolution.mine')}` : ''}`),
      o.reasons ? el('p', { text: o.reasons }) : null,
      o.answer ? el('p', {}, el('strong', { text: `${t('resolution.answer')}：` }), o.answer) : null);
    if (r.can.answer_objections && o.status === 'pending') {
      const decision = el('select', { name: 'decision' }, ...['dismiss', 'uphold_and_revise', 'uphold_and_withdraw'].map((d) => el('option', { value: d, text: t(`resolution.decision.${d}`) })));
      const form = el('form', {}, field('resolution.decision', decision),
        field('resolution.answer', el('textarea', { name: 'answer', rows: 2, required: true, maxlength: 4000 })),
        el('button', { type: 'submit', text: t('resolution.sendAnswer') }));
      onSubmit(form, async (data) => { await api.post(`/objections/${o.id}/answer`, { decision: data.get('decision'), answer: data.get('answer') }); await reload(); });
      li.append(form);
    }
    return li;
  });
  const parts = [el('h2', { text: t('resolution.objections') })];
  if (r.status === 'disclosure' && r.disclosure_ends_at) parts.push(el('p', { class: 'hint', text: t('resolution.disclosureUntil', { at: when(r.disclosure_ends_at) }) }));
  if (rows.length) parts.push(el('ul', { class: 'cards' }, ...rows));
  if (r.can.object) {
    const form = el('form', {}, field('resolution.objectionReasons', el('textarea', { name: 'reasons', rows: 3, required: true, maxlength: 4000 })),
      el('button', { type: 'submit', text: t('resolution.object') }));
    onSubmit(form, async (data) => { await api.post(`/resolutions/${r.id}/objections`, { reasons: data.get('reasons') }); await reload(); });
    parts.push(form);
  }
  return parts.length > 1 ? el('section', {}, ...parts) : null;
}

/** Downloads an evidence file with the bearer token and offers it to the browser. */
async function download(file) {
  const response = await fetch(`/api/v1/evidence/${file.id}`, { headers: { Authorization: `Bearer ${session.token()}` } });
  if (!response.ok) throw new ApiProblem(response.status, await response.json().catch(() => null));
  const blob = new Blob([await response.arrayBuffer()], { type: file.content_type });
  const url = URL.createObjectURL(blob);
  const a = el('a', { href: url, download: file.file_name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function progressSection(r, reload) {
  const parts = [el('h2', { text: t('resolution.progress') }), el('progress', { max: 100, value: r.progress, 'aria-label': t('resolution.progress') }), el('span', { text: ` ${r.progress}%` })];
  if (r.milestones.length) {
    parts.push(el('h3', { text: t('resolution.milestones') }), el('ul', { class: 'milestones' }, ...r.milestones.map((m) => {
      const li = el('li', {}, `${m.deadline} ${m.title} `,
        el('span', { class: 'badge', text: m.done_at ? t('resolution.milestoneDone') : m.overdue ? t('resolution.milestoneOverdue') : t('resolution.milestoneOpen') }));
      if (!m.done_at && r.can.post_update) li.append(' ', action('resolution.markDone', () => api.post(`/milestones/${m.id}/done`), li, reload, true));
      return li;
    })));
  }
  if (r.can.post_update) {
    const form = el('form', { class: 'update-form' },
      field('resolution.updateText', el('textarea', { name: 'body', rows: 3, required: true, maxlength: 10000 })),
      field('resolution.updatePercent', el('input', { type: 'number', name: 'percent', min: 0, max: 100, required: true, value: r.progress })),
      field('resolution.evidence', el('input', { type: 'file', name: 'files', multiple: true, accept: 'image/png,image/jpeg,image/webp,application/pdf' }), 'resolution.evidenceHint'),
      el('button', { type: 'submit', text: t('resolution.postUpdate') }));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      form.querySelector('.message')?.remove();
      const data = new FormData();
      data.append('body', form.elements.body.value);
      data.append('percent', form.elements.percent.value);
      for (const file of form.elements.files.files) data.append('files', file, file.name);
      const response = await fetch(`/api/v1/resolutions/${r.id}/updates`, { method: 'POST', headers: { Authorization: `Bearer ${session.token()}`, Accept: 'application/json' }, body: data });
      if (!response.ok) {
        form.prepend(message('error', problemText(new ApiProblem(response.status, await response.json().catch(() => null)))));
        return;
      }
      await reload();
    });
    parts.push(form);
  }
  if (r.can.complete) {
    const box = el('div', { class: 'actions complete' });
    box.append(action('resolution.complete', () => api.post(`/resolutions/${r.id}/complete`), box, reload));
    parts.push(box);
  }
  const updates = r.updates.map((u) => el('li', { class: 'card' },
    el('p', {}, el('strong', { text: `${u.percent}%` }), ` · ${u.organisation_name}${u.author_name ? `（${u.author_name}）` : ''} · ${when(u.created_at)}`),
    el('p', { text: u.body }),
    u.evidence.length ? el('ul', { class: 'evidence' }, ...u.evidence.map((f) => {
      const b = el('button', { type: 'button', class: 'link', text: `${f.file_name} (${Math.ceil(f.size / 1024)} KiB)` });
      b.addEventListener('click', () => download(f).catch((err) => b.after(message('error', problemText(err)))));
      return el('li', {}, session.token() ? b : el('span', { text: f.file_name }));
    })) : null));
  if (updates.length) parts.push(el('h3', { text: t('resolution.updates') }), el('ul', { class: 'cards' }, ...updates));
  return el('section', { class: 'progress' }, ...parts);
}

function ratingSection(r, reload) {
  const s = r.ratings;
  const parts = [el('h2', { text: t('resolution.satisfaction') })];
  if (s.count > 0) {
    parts.push(el('p', { class: 'rating-mean', text: t('resolution.ratingMean', { mean: s.mean.toFixed(2), count: s.count }) }));
    parts.push(barChart(t('resolution.ratingChart'), s.distribution.map((n, i) => ({ label: '★'.repeat(i + 1), value: n, total: s.count, met: i >= 3, text: `${n}` })), null));
    if (s.comments.length) parts.push(el('ul', { class: 'comments' }, ...s.comments.map((c) => el('li', { text: c }))));
  } else if (r.status === 'completed') {
    parts.push(el('p', { class: 'hint', text: t('resolution.noRatings') }));
  }
  if (s.mine) parts.push(el('p', { text: t('resolution.myRating', { score: s.mine }) }));
  if (r.can.rate) {
    // No score is chosen for the person: an untouched form must not count as five stars.
    const score = el('select', { name: 'score', required: true },
      el('option', { value: '', text: t('resolution.chooseScore') }),
      ...[5, 4, 3, 2, 1].map((n) => el('option', { value: n, text: `${'★'.repeat(n)} ${n}` })));
    const form = el('form', {}, field('resolution.ratingScore', score),
      field('resolution.ratingComment', el('textarea', { name: 'comment', rows: 2, maxlength: 2000 })),
      el('button', { type: 'submit', text: t('resolution.rate') }));
    onSubmit(form, async (data) => {
      const body = { score: Number(data.get('score')) };
      if (data.get('comment')) body.comment = data.get('comment');
      await api.post(`/resolutions/${r.id}/ratings`, body);
      await reload();
    });
    parts.push(form);
  }
  return parts.length > 1 ? el('section', { class: 'ratings' }, ...parts) : null;
}

function evaluationSection(r, reload) {
  const parts = [el('h2', { text: t('resolution.evaluations') })];
  for (const e of r.evaluations) {
    parts.push(el('div', { class: 'card' },
      el('p', {}, el('strong', { text: t('resolution.evaluationTotal', { total: e.total.toFixed(2) }) }), e.evaluator_name ? ` · ${e.evaluator_name}` : ''),
      el('ul', {}, ...e.criteria.map((c) => el('li', { text: `${c.name}（${c.weight}%）：${c.score}` }))),
      el('p', { text: e.report })));
  }
  if (r.can.evaluate) {
    const rows = [0, 1, 2].map((i) => el('div', { class: 'criterion' },
      field('resolution.criterion', el('input', { type: 'text', name: `name${i}`, maxlength: 200 })),
      field('resolution.weight', el('input', { type: 'number', name: `weight${i}`, min: 1, max: 100 })),
      field('resolution.score', el('input', { type: 'number', name: `score${i}`, min: 0, max: 100 }))));
    const form = el('form', {}, el('p', { class: 'hint', text: t('resolution.weightsHint') }), ...rows,
      field('resolution.report', el('textarea', { name: 'report', rows: 4, required: true, maxlength: 50000 })),
      el('button', { type: 'submit', text: t('resolution.evaluate') }));
    onSubmit(form, async (data) => {
      const criteria = [0, 1, 2].filter((i) => data.get(`name${i}`)).map((i) => ({ name: data.get(`name${i}`), weight: Number(data.get(`weight${i}`)), score: Number(data.get(`score${i}`)) }));
      await api.post(`/resolutions/${r.id}/evaluations`, { criteria, report: data.get('report') });
      await reload();
    });
    parts.push(form);
  }
  return parts.length > 1 ? el('section', { class: 'evaluations' }, ...parts) : null;
}

function timeline(r) {
  return el('section', { class: 'timeline' }, el('h2', { text: t('resolution.timeline') }),
    el('ol', {}, ...r.timeline.map((e) => el('li', {}, el('time', { datetime: e.at, text: when(e.at) }), ' ', label('resolution.event', e.event), e.detail ? ` · ${e.detail}` : ''))));
}

export async function show(main, params, id) {
  let r;
  try { r = await api.get(`/resolutions/${id}`); } catch (err) { page(main, 'resolution.title', message('error', problemText(err))); return; }
  const reload = () => show(main, params, id);
  const orgs = r.can.edit ? await organisationsFor(r.community_id) : [];
  const follow = r.can.follow ? action(r.following ? 'resolution.unfollow' : 'resolution.follow',
    () => (r.following ? api.delete(`/resolutions/${id}/follow`) : api.put(`/resolutions/${id}/follow`)), main, reload, true) : null;
  const facts = el('dl', { class: 'facts' },
    el('dt', { text: t('resolution.origin') }), el('dd', {}, label('resolution.originOf', r.origin),
      r.poll_id ? el('a', { href: `#/polls/${r.poll_id}`, text: ` ${t('resolution.seePoll')}` }) : null,
      r.proposal_id ? el('a', { href: `#/proposals/${r.proposal_id}`, text: ` ${t('resolution.seeProposal')}` }) : null,
      r.session_id ? el('a', { href: `#/sessions/${r.session_id}`, text: ` ${t('resolution.seeSession')}` }) : null),
    el('dt', { text: t('resolution.responsible') }), el('dd', { text: r.responsible_org_name ?? t('resolution.notSet') }),
    el('dt', { text: t('resolution.deadline') }), el('dd', { text: r.deadline ?? t('resolution.notSet') }),
    r.budget_fen != null ? el('dt', { text: t('resolution.budget') }) : null, r.budget_fen != null ? el('dd', { text: yuan(r.budget_fen) }) : null,
    r.completed_at ? el('dt', { text: t('resolution.completedAt') }) : null,
    r.completed_at ? el('dd', { text: `${when(r.completed_at)} · ${r.completed_on_time ? t('resolution.onTime') : t('resolution.late')}` }) : null,
    r.end_reason ? el('dt', { text: t('resolution.endReason') }) : null, r.end_reason ? el('dd', { text: r.end_reason }) : null);
  main.replaceChildren(...[
    el('h1', { text: r.title }),
    el('p', {}, el('span', { class: `badge status-${r.status}`, text: label('resolution.status', r.status) }), r.major ? el('span', { class: 'badge', text: t('resolution.major') }) : null, ' ', follow),
    el('p', { class: 'resolution-body', text: r.body }),
    facts,
    r.can.manage ? committeeSection(r, orgs, reload) : null,
    reviewSection(r, reload),
    objectionSection(r, reload),
    ['in_progress', 'overdue', 'completed'].includes(r.status) || r.updates.length ? progressSection(r, reload) : null,
    ratingSection(r, reload),
    evaluationSection(r, reload),
    timeline(r),
  ].filter(Boolean));
}

/** CSV of the dashboard, downloaded with the bearer token. */
async function downloadCsv(place, from, to) {
  const response = await fetch(`/api/v1/places/${place}/dashboard.csv?from=${from}&to=${to}`, { headers: { Authorization: `Bearer ${session.token()}` } });
  if (!response.ok) throw new ApiProblem(response.status, await response.json().catch(() => null));
  const url = URL.createObjectURL(new Blob([await response.text()], { type: 'text/csv' }));
  const a = el('a', { href: url, download: `dashboard-${from}-${to}.csv` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

const FIGURES = ['proposals_raised', 'proposals_accepted', 'sessions_held', 'attendance', 'polls_closed', 'mean_turnout_percent', 'resolutions_adopted', 'resolutions_completed', 'completed_on_time', 'overdue', 'ratings', 'mean_satisfaction', 'evaluations', 'mean_evaluation_score'];

export async function dashboard(main, params) {
  if (!session.token()) { page(main, 'dashboard.title', message('error', t('signin.required'))); return; }
  let place = params.get('place');
  if (!place) {
    const { me } = await myPlaces();
    place = me.roles.find((r) => r.place_id && (COMMITTEE.includes(r.role) || r.role === 'government_officer'))?.place_id ?? me.roles.find((r) => r.place_id)?.place_id;
  }
  if (!place) { page(main, 'dashboard.title', el('p', { class: 'hint', text: t('dashboard.noPlace') })); return; }
  const query = new URLSearchParams();
  if (params.get('from')) query.set('from', params.get('from'));
  if (params.get('to')) query.set('to', params.get('to'));
  let d;
  try { d = await api.get(`/places/${place}/dashboard?${query}`); } catch (err) { page(main, 'dashboard.title', message('error', problemText(err))); return; }
  const period = el('form', { class: 'inline period' },
    field('dashboard.from', el('input', { type: 'date', name: 'from', value: d.from })),
    field('dashboard.to', el('input', { type: 'date', name: 'to', value: d.to })),
    el('button', { type: 'submit', text: t('dashboard.show') }));
  period.addEventListener('submit', (e) => {
    e.preventDefault();
    location.hash = `#/dashboard?place=${place}&from=${period.elements.from.value}&to=${period.elements.to.value}`;
  });
  const csv = el('button', { type: 'button', class: 'secondary', text: t('dashboard.csv') });
  csv.addEventListener('click', () => downloadCsv(place, d.from, d.to).catch((err) => csv.after(message('error', problemText(err)))));
  const fmt = (v) => (v === null || v === undefined ? '—' : typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(2) : String(v));
  const table = el('table', { class: 'figures' },
    el('thead', {}, el('tr', {}, el('th', { scope: 'col', text: t('dashboard.figure') }), ...d.communities.map((c) => el('th', { scope: 'col', text: c.community_name })))),
    el('tbody', {}, ...FIGURES.map((f) => el('tr', { 'data-figure': f }, el('th', { scope: 'row', text: t(`dashboard.${f}`) }), ...d.communities.map((c) => el('td', { text: fmt(c[f]) }))))));
  const charts = [];
  if (d.polls.length) {
    charts.push(barChart(t('dashboard.turnoutChart'), d.polls.map((p) => ({ label: p.question.length > 9 ? `${p.question.slice(0, 8)}…` : p.question, value: p.participants, total: p.electorate, met: p.passed, text: `${p.turnout_percent.toFixed(1)}%` })), null));
  }
  charts.push(barChart(t('dashboard.onTimeChart'), d.communities.map((c) => ({ label: c.community_name, value: c.completed_on_time, total: c.resolutions_completed, met: c.overdue === 0, text: `${c.completed_on_time} / ${c.resolutions_completed}` })), null));
  const rated = d.communities.filter((c) => c.mean_satisfaction !== null && c.mean_satisfaction !== undefined);
  if (rated.length) charts.push(barChart(t('dashboard.satisfactionChart'), rated.map((c) => ({ label: c.community_name, value: c.mean_satisfaction, total: 5, met: c.mean_satisfaction >= 4, text: c.mean_satisfaction.toFixed(2) })), null));
  const scored = d.communities.filter((c) => c.mean_evaluation_score !== null && c.mean_evaluation_score !== undefined);
  if (scored.length) charts.push(barChart(t('dashboard.evaluationChart'), scored.map((c) => ({ label: c.community_name, value: c.mean_evaluation_score, total: 100, met: c.mean_evaluation_score >= 80, text: c.mean_evaluation_score.toFixed(2) })), null));
  page(main, 'dashboard.title', period, el('div', { class: 'actions' }, csv), el('div', { class: 'table-wrap' }, table), ...charts);
}
