// Government purchase of services: the public tender board, creating a tender, the tender
// page (enquiries, documents, the sealed bid form and its receipt, the award with its
// publicity period and complaints), the evaluation (the evaluator's declaration and scoring
// sheet, the officer's panel and ranking), the contract page with milestones and reports, and
// a social organisation's bidder profile.
import { api, session } from './api.js';
import { t, problemText } from './i18n.js';
import { el, page, message, field, onSubmit } from './ui.js';

const CATEGORIES = ['elderly_care', 'child_care', 'mediation', 'cleaning', 'culture', 'disability', 'volunteering', 'other'];
const STATUSES = ['active', 'evaluation', 'awarded', 'unsuccessful', 'cancelled', 'planned'];

const yuan = (fen) => `¥${(fen / 100).toLocaleString('zh-CN', { minimumFractionDigits: 2 })}`;
const fen = (value) => Math.round(Number(value) * 100);
const when = (iso) => new Date(iso).toLocaleString();
const label = (prefix, value) => {
  const key = `${prefix}.${value}`;
  const text = t(key);
  return text === key ? value : text;
};

/** A button that runs `run` and then `reload`, showing a refusal in `where`. */
function action(key, run, where, reload, secondary = false) {
  const b = el('button', { type: 'button', class: secondary ? 'secondary' : null, text: t(key) });
  b.addEventListener('click', async () => {
    where.querySelector('.message')?.remove();
    b.disabled = true;
    try { await run(); await reload(); } catch (err) { where.prepend(message('error', problemText(err))); b.disabled = false; }
  });
  return b;
}

/** The files of an <input type=file> as { name, content_base64 }. */
async function encodeFiles(input) {
  const out = [];
  for (const file of input?.files ?? []) {
    const data = await new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(String(reader.result).split(',')[1] ?? '');
      reader.onerror = () => reject(reader.error);
      reader.readAsDataURL(file);
    });
    out.push({ name: file.name, content_base64: data });
  }
  return out;
}

const fileInput = (name) => el('input', { type: 'file', name, multiple: true, accept: 'image/png,image/jpeg,image/webp,application/pdf' });

function documents(list) {
  if (!list.length) return null;
  return el('ul', { class: 'documents' }, ...list.map((d) => el('li', {}, el('a', { href: d.url, text: d.name }), ` · ${Math.ceil(d.size / 1024)} KB · SHA-256 ${d.sha256.slice(0, 16)}…`)));
}

function summaryCard(s) {
  return el('li', { class: 'card' },
    el('h3', {}, el('a', { href: `#/tenders/${s.id}`, text: s.title })),
    el('p', {}, el('span', { class: 'badge', text: label('tender.status', s.status) }), ' ',
      `${s.place_name} · ${label('tender.category', s.category)} · ${t('tender.budget')} ${yuan(s.budget_fen)}`),
    el('p', { class: 'hint', text: t('tender.deadline', { at: when(s.tender_ends_at) }) }));
}

async function officerPlaces() {
  if (!session.token()) return [];
  try {
    const me = await api.get('/accounts/me');
    return me.roles.filter((r) => r.role === 'government_officer' && r.place_id).map((r) => [r.place_id, r.place_name]);
  } catch { return []; }
}

/** The public tender board. */
export async function list(main, params) {
  const status = params.get('status') ?? '';
  const filter = el('select', { name: 'status', 'aria-label': t('tender.filter') },
    el('option', { value: '', text: t('tender.allStatuses') }),
    ...STATUSES.map((s) => el('option', { value: s, text: label('tender.status', s), selected: s === status })));
  filter.addEventListener('change', () => { location.hash = filter.value ? `#/tenders?status=${filter.value}` : '#/tenders'; });
  let items;
  try { items = await api.get(`/tenders${status ? `?status=${status}` : ''}`); } catch (err) { page(main, 'tender.board', message('error', problemText(err))); return; }
  const places = await officerPlaces();
  page(main, 'tender.board',
    el('p', { class: 'hint', text: t('tender.boardIntro') }),
    places.length ? el('p', {}, el('a', { href: '#/tenders/new', class: 'button', text: t('tender.new') })) : null,
    el('p', {}, el('a', { href: '/api/v1/ocds/releases', text: t('tender.ocds') })),
    field('tender.filter', filter),
    items.length ? el('ul', { class: 'cards' }, ...items.map(summaryCard)) : el('p', { class: 'hint', text: t('tender.none') }));
}

function criteriaRows() {
  const rows = [[t('tender.form.priceCriterion'), 30, true], [t('tender.form.planCriterion'), 40, false], [t('tender.form.teamCriterion'), 30, false], ['', '', false]];
  return el('fieldset', { class: 'criteria' }, el('legend', { text: t('tender.criteria') }),
    el('p', { class: 'hint', text: t('tender.form.criteriaHint') }),
    ...rows.map(([name, weight, price], i) => el('div', { class: 'criterion' },
      field('tender.form.criterionName', el('input', { type: 'text', name: `c${i}name`, value: name, maxlength: 100 })),
      field('tender.form.criterionWeight', el('input', { type: 'number', name: `c${i}weight`, min: 1, max: 100, value: weight })),
      el('label', { class: 'check' }, el('input', { type: 'radio', name: 'price', value: String(i), checked: price }), t('tender.form.isPrice')))));
}

const localInput = (date) => new Date(date.getTime() - date.getTimezoneOffset() * 60000).toISOString().slice(0, 16);

/** Creating a tender (planned) for the officer's subdistrict or district. */
export async function create(main) {
  const places = await officerPlaces();
  if (!places.length) { page(main, 'tender.new', message('error', t('tender.officerOnly'))); return; }
  const inDays = (d) => localInput(new Date(Date.now() + d * 86400000));
  const form = el('form', {},
    field('tender.form.place', el('select', { name: 'place_id' }, ...places.map(([id, name]) => el('option', { value: id, text: name })))),
    field('tender.form.title', el('input', { type: 'text', name: 'title', required: true, maxlength: 200 })),
    field('tender.form.description', el('textarea', { name: 'description', rows: 4, required: true, maxlength: 20000 })),
    field('tender.form.category', el('select', { name: 'category' }, ...CATEGORIES.map((c) => el('option', { value: c, text: label('tender.category', c) })))),
    field('tender.form.budget', el('input', { type: 'number', name: 'budget', min: 0.01, step: '0.01', required: true })),
    field('tender.form.eligibility', el('textarea', { name: 'eligibility', rows: 2, required: true, maxlength: 5000 })),
    field('tender.form.qualification', el('input', { type: 'text', name: 'qualification', maxlength: 200 }), 'tender.form.qualificationHint'),
    criteriaRows(),
    field('tender.form.enquiryEnds', el('input', { type: 'datetime-local', name: 'enquiry_ends_at', required: true, value: inDays(7) })),
    field('tender.form.tenderEnds', el('input', { type: 'datetime-local', name: 'tender_ends_at', required: true, value: inDays(20) })),
    field('tender.form.publicityDays', el('input', { type: 'number', name: 'publicity_days', min: 1, max: 30, value: 5 })),
    field('tender.form.resolutions', el('input', { type: 'text', name: 'resolutions' }), 'tender.form.resolutionsHint'),
    el('button', { type: 'submit', text: t('tender.form.save') }));
  onSubmit(form, async (data) => {
    const criteria = [];
    for (let i = 0; i < 4; i += 1) {
      const name = String(data.get(`c${i}name`) ?? '').trim();
      if (!name) continue;
      criteria.push({ name, weight: Number(data.get(`c${i}weight`)), price: data.get('price') === String(i) });
    }
    const body = {
      place_id: data.get('place_id'), title: data.get('title'), description: data.get('description'), category: data.get('category'),
      budget_fen: fen(data.get('budget')), eligibility: data.get('eligibility'), criteria,
      enquiry_ends_at: new Date(data.get('enquiry_ends_at')).toISOString(), tender_ends_at: new Date(data.get('tender_ends_at')).toISOString(),
      publicity_days: Number(data.get('publicity_days')),
      resolution_ids: String(data.get('resolutions') ?? '').split(/[\s,，]+/).filter(Boolean),
    };
    if (String(data.get('qualification') ?? '').trim()) body.required_qualification = data.get('qualification');
    const tender = await api.post('/tenders', body);
    location.hash = `#/tenders/${tender.id}`;
  });
  page(main, 'tender.new', form);
}

function officerSection(tn, reload) {
  const box = el('section', { class: 'manage' }, el('h2', { text: t('tender.manage') }));
  const buttons = el('div', { class: 'actions' });
  if (tn.status === 'planned') buttons.append(action('tender.publish', () => api.post(`/tenders/${tn.id}/publish`), box, reload));
  if (tn.status === 'evaluation' || tn.abilities.evaluate) buttons.append(el('a', { href: `#/tenders/${tn.id}/evaluation`, class: 'button', text: t('tender.evaluation') }));
  if (tn.status === 'evaluation' && tn.award && !tn.award.awarded_at) buttons.append(action('tender.confirmAward', () => api.post(`/tenders/${tn.id}/award/confirm`), box, reload));
  box.append(buttons);
  if (['planned', 'active'].includes(tn.status)) {
    const form = el('form', { class: 'inline' }, field('tender.addDocuments', fileInput('files')), el('button', { type: 'submit', class: 'secondary', text: t('tender.upload') }));
    onSubmit(form, async () => { await api.post(`/tenders/${tn.id}/documents`, { files: await encodeFiles(form.elements.files) }); await reload(); });
    box.append(form);
  }
  if (tn.status === 'evaluation' && !tn.award) {
    const form = el('form', { class: 'inline' }, field('tender.unsuccessfulReason', el('input', { type: 'text', name: 'reason', required: true, maxlength: 2000 })),
      el('button', { type: 'submit', class: 'secondary', text: t('tender.declareUnsuccessful') }));
    onSubmit(form, async (data) => { await api.post(`/tenders/${tn.id}/unsuccessful`, { reason: data.get('reason') }); await reload(); });
    box.append(form);
  }
  if (['planned', 'active', 'evaluation'].includes(tn.status)) {
    const form = el('form', { class: 'inline' }, field('tender.cancelReason', el('input', { type: 'text', name: 'reason', required: true, maxlength: 2000 })),
      el('button', { type: 'submit', class: 'secondary', text: t('tender.cancel') }));
    onSubmit(form, async (data) => { await api.post(`/tenders/${tn.id}/cancel`, { reason: data.get('reason') }); await reload(); });
    box.append(form);
  }
  if (tn.status === 'awarded' && !tn.contract_id) box.append(contractForm(tn));
  return box;
}

/** A moment's calendar day as the community reads it (China Standard Time), as YYYY-MM-DD:
 *  the server checks contract dates against that day, wherever the browser is. */
const communityDay = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit' });
function localDay(d) {
  return communityDay.format(d);
}

function contractForm(tn) {
  const start = new Date();
  const form = el('form', { class: 'contract-form' }, el('h3', { text: t('contract.sign') }),
    field('contract.value', el('input', { type: 'number', name: 'value', step: '0.01', min: 0.01, required: true, value: tn.award ? tn.award.price_fen / 100 : '' })),
    field('contract.periodStart', el('input', { type: 'date', name: 'period_start', required: true, value: localDay(start) })),
    field('contract.periodEnd', el('input', { type: 'date', name: 'period_end', required: true, value: localDay(new Date(start.getTime() + 365 * 86400000)) })),
    field('contract.signedOn', el('input', { type: 'date', name: 'signed_on', required: true, value: localDay(start) })),
    field('contract.milestones', el('textarea', { name: 'milestones', rows: 3, required: true }), 'contract.milestonesHint'),
    el('button', { type: 'submit', text: t('contract.signButton') }));
  onSubmit(form, async (data) => {
    const milestones = String(data.get('milestones')).split('\n').map((l) => l.trim()).filter(Boolean).map((line) => {
      const [due, amount, title, ...rest] = line.split(/\s*[|｜]\s*/);
      return { due_date: due, amount_fen: fen(amount), title: title ?? due, deliverable: rest.join(' ') || title || due };
    });
    const c = await api.post(`/tenders/${tn.id}/contract`, {
      value_fen: fen(data.get('value')), period_start: data.get('period_start'), period_end: data.get('period_end'), signed_on: data.get('signed_on'), milestones,
    });
    location.hash = `#/contracts/${c.id}`;
  });
  return form;
}

async function bidSection(tn, reload) {
  if (!tn.abilities.bid_as.length) return null;
  const box = el('section', { class: 'bid' }, el('h2', { text: t('bid.title') }));
  for (const orgId of tn.abilities.bid_as) {
    let name = orgId;
    try { name = (await api.get(`/organisations/${orgId}/bidder-profile`)).name; } catch { /* the id will do */ }
    let mine = null;
    try { mine = await api.get(`/tenders/${tn.id}/bid?organisation_id=${orgId}`); } catch { /* no bid yet */ }
    box.append(el('h3', { text: name }));
    if (mine) {
      box.append(el('div', { class: 'receipt card' },
        el('p', {}, el('span', { class: 'badge', text: label('bid.status', mine.status) }), ` ${t('bid.version', { n: mine.version })} · ${yuan(mine.price_fen)} · ${when(mine.submitted_at)}`),
        el('p', { class: 'digest' }, `${t('bid.digest')} `, el('code', { text: mine.digest }))));
    }
    if (tn.status === 'active' && new Date(tn.tender_ends_at) > new Date()) {
      const form = el('form', { class: 'bid-form' },
        field('bid.price', el('input', { type: 'number', name: 'price', step: '0.01', min: 0.01, required: true, value: mine ? mine.price_fen / 100 : '' }), 'bid.priceHint'),
        field('bid.technical', Object.assign(el('textarea', { name: 'technical', rows: 5, required: true, maxlength: 50000 }), { value: mine?.technical_proposal ?? '' })),
        field('bid.team', Object.assign(el('textarea', { name: 'team', rows: 2 }), { value: (mine?.team ?? []).map((m) => `${m.name}｜${m.role}`).join('\n') }), 'bid.teamHint'),
        field('bid.documents', fileInput('documents')),
        el('button', { type: 'submit', text: mine ? t('bid.revise') : t('bid.submit') }));
      onSubmit(form, async (data) => {
        const team = String(data.get('team') ?? '').split('\n').map((l) => l.trim()).filter(Boolean).map((l) => {
          const [n, role, qualification] = l.split(/\s*[|｜]\s*/);
          return { name: n, role: role ?? '', qualification: qualification ?? '' };
        });
        const receipt = await api.put(`/tenders/${tn.id}/bid`, {
          organisation_id: orgId, price_fen: fen(data.get('price')), technical_proposal: data.get('technical'), team, documents: await encodeFiles(form.elements.documents),
        });
        await reload();
        document.querySelector('.bid')?.prepend(message('success', t('bid.sealed', { digest: receipt.digest })));
      });
      box.append(form);
      if (mine && mine.status === 'submitted') {
        box.append(action('bid.withdraw', () => api.delete(`/tenders/${tn.id}/bid?organisation_id=${orgId}`), box, reload, true));
      }
    }
    if (tn.status === 'active' && new Date(tn.enquiry_ends_at) > new Date()) {
      const ask = el('form', { class: 'inline' }, field('tender.question', el('input', { type: 'text', name: 'question', required: true, maxlength: 4000 })),
        el('button', { type: 'submit', class: 'secondary', text: t('tender.ask') }));
      onSubmit(ask, async (data) => { await api.post(`/tenders/${tn.id}/enquiries`, { organisation_id: orgId, question: data.get('question') }); await reload(); });
      box.append(ask);
    }
    if (tn.status === 'evaluation' && tn.award && !tn.award.awarded_at && mine) {
      const complain = el('form', {}, field('tender.complaint', el('textarea', { name: 'body', rows: 2, required: true, maxlength: 8000 })),
        el('button', { type: 'submit', class: 'secondary', text: t('tender.lodgeComplaint') }));
      onSubmit(complain, async (data) => { await api.post(`/tenders/${tn.id}/complaints`, { organisation_id: orgId, body: data.get('body') }); await reload(); });
      box.append(complain);
    }
  }
  return box;
}

function enquirySection(tn, reload) {
  const rows = tn.enquiries.map((q) => {
    const li = el('li', { class: 'card' }, el('p', {}, el('strong', { text: `${t('tender.question')}：` }), q.question),
      q.answer ? el('p', {}, el('strong', { text: `${t('tender.answer')}：` }), q.answer) : el('p', { class: 'hint', text: t('tender.unanswered') }));
    if (tn.abilities.manage && !q.answer) {
      const form = el('form', { class: 'inline' }, field('tender.answer', el('input', { type: 'text', name: 'answer', required: true, maxlength: 8000 })),
        el('button', { type: 'submit', text: t('tender.sendAnswer') }));
      onSubmit(form, async (data) => { await api.post(`/tenders/${tn.id}/enquiries/${q.id}/answer`, { answer: data.get('answer') }); await reload(); });
      li.append(form);
    }
    return li;
  });
  return el('section', {}, el('h2', { text: t('tender.enquiries') }),
    el('p', { class: 'hint', text: t('tender.enquiriesUntil', { at: when(tn.enquiry_ends_at) }) }),
    rows.length ? el('ul', { class: 'cards' }, ...rows) : el('p', { class: 'hint', text: t('tender.noEnquiries') }));
}

function awardSection(tn, reload) {
  const parts = [];
  if (tn.opening) {
    parts.push(el('h2', { text: t('tender.opening') }),
      el('p', { text: t('tender.openingRecord', { at: when(tn.opening.opened_at), count: tn.opening.bid_count }) }),
      el('ul', { class: 'digests' }, ...tn.opening.digests.map((d) => el('li', {}, el('code', { text: d })))));
  }
  if (tn.award) {
    const a = tn.award;
    parts.push(el('h2', { text: t('tender.award') }),
      el('p', { class: 'award' }, el('span', { class: 'badge', text: a.awarded_at ? t('tender.awardMade') : t('tender.awardProposed') }),
        ` ${a.organisation_name} · ${yuan(a.price_fen)} · ${t('tender.total')} ${a.total}`),
      el('p', { class: 'hint', text: a.awarded_at ? t('tender.awardedAt', { at: when(a.awarded_at) }) : t('tender.publicityUntil', { at: when(a.publicity_ends_at) }) }));
  }
  if (tn.complaints.length) {
    parts.push(el('h3', { text: t('tender.complaints') }), el('ul', { class: 'cards' }, ...tn.complaints.map((c) => {
      const li = el('li', { class: 'card' }, el('p', {}, el('span', { class: 'badge', text: label('complaint.status', c.status) }), ` ${c.organisation_name ?? ''} ${when(c.created_at)}`),
        el('p', { text: c.body }), c.answer ? el('p', {}, el('strong', { text: `${t('tender.answer')}：` }), c.answer) : null);
      if (tn.abilities.manage && c.status === 'open') {
        const decision = el('select', { name: 'decision' }, el('option', { value: 'dismiss', text: t('complaint.dismiss') }), el('option', { value: 'uphold', text: t('complaint.uphold') }));
        const form = el('form', {}, field('complaint.decision', decision), field('tender.answer', el('textarea', { name: 'answer', rows: 2, required: true, maxlength: 8000 })),
          el('button', { type: 'submit', text: t('tender.sendAnswer') }));
        onSubmit(form, async (data) => { await api.post(`/tenders/${tn.id}/complaints/${c.id}/answer`, { decision: data.get('decision'), answer: data.get('answer') }); await reload(); });
        li.append(form);
      }
      return li;
    })));
  }
  if (tn.contract_id) parts.push(el('p', {}, el('a', { href: `#/contracts/${tn.contract_id}`, class: 'button', text: t('contract.open') })));
  return parts.length ? el('section', {}, ...parts) : null;
}

/** One tender. */
export async function show(main, params, id) {
  const reload = () => show(main, params, id);
  let tn;
  try { tn = await api.get(`/tenders/${id}`); } catch (err) { page(main, 'tender.title', message('error', problemText(err))); return; }
  const head = el('div', { class: 'tender-head' },
    el('p', {}, el('span', { class: 'badge', id: 'tender-status', text: label('tender.status', tn.status) }), ` ${tn.place_name} · ${label('tender.category', tn.category)} · ${tn.ocid}`),
    el('p', { text: tn.description }),
    el('dl', {},
      el('dt', { text: t('tender.budget') }), el('dd', { text: yuan(tn.budget_fen) }),
      el('dt', { text: t('tender.eligibility') }), el('dd', { text: tn.eligibility }),
      tn.required_qualification ? el('dt', { text: t('tender.requiredQualification') }) : null,
      tn.required_qualification ? el('dd', { text: tn.required_qualification }) : null,
      el('dt', { text: t('tender.period') }), el('dd', { text: t('tender.deadline', { at: when(tn.tender_ends_at) }) }),
      el('dt', { text: t('tender.publicityDays') }), el('dd', { text: String(tn.publicity_days) })),
    tn.end_reason ? message('info', tn.end_reason) : null,
    tn.resolution_ids.length ? el('p', {}, `${t('tender.carriesOut')} `, ...tn.resolution_ids.map((r) => el('a', { href: `#/resolutions/${r}`, text: r.slice(0, 8) }))) : null);
  const criteria = el('table', { class: 'criteria' }, el('thead', {}, el('tr', {}, el('th', { text: t('tender.criterion') }), el('th', { text: t('tender.weight') }))),
    el('tbody', {}, ...tn.criteria.map((c) => el('tr', {}, el('td', { text: c.price ? `${c.name}（${t('tender.priceFormula')}）` : c.name }), el('td', { text: `${c.weight}` })))));
  page(main, 'tender.title', el('h2', { class: 'tender-title', text: tn.title }), head,
    el('section', {}, el('h2', { text: t('tender.criteria') }), criteria),
    tn.documents.length ? el('section', {}, el('h2', { text: t('tender.documents') }), documents(tn.documents)) : null,
    tn.abilities.manage ? officerSection(tn, reload) : (tn.abilities.evaluate ? el('p', {}, el('a', { href: `#/tenders/${tn.id}/evaluation`, class: 'button', text: t('tender.evaluation') })) : null),
    enquirySection(tn, reload),
    await bidSection(tn, reload),
    awardSection(tn, reload));
}

function scoringSheet(ev, reload, where) {
  const quality = ev.criteria.filter((c) => !c.price);
  const form = el('form', { class: 'sheet' },
    el('table', {}, el('thead', {}, el('tr', {}, el('th', { text: t('panel.bid') }), ...quality.map((c) => el('th', { text: `${c.name} (${c.weight})` })))),
      el('tbody', {}, ...ev.bids.map((b) => el('tr', {}, el('th', { text: `${b.organisation_name} · ${yuan(b.price_fen)}` }),
        ...quality.map((c) => el('td', {}, el('input', { type: 'number', min: 0, max: 100, required: true, name: `${b.id}:${c.id}`, 'aria-label': `${b.organisation_name} ${c.name}` }))))))),
    el('p', { class: 'hint', text: t('panel.scoreHint') }),
    el('button', { type: 'submit', text: t('panel.submitScores') }));
  onSubmit(form, async (data) => {
    const scores = [];
    for (const [key, value] of data.entries()) {
      const [bidId, criterionId] = key.split(':');
      scores.push({ bid_id: bidId, criterion_id: criterionId, score: Number(value) });
    }
    await api.put(`/tenders/${ev.tender_id}/scores`, { scores });
    await reload();
  });
  where.append(form);
}

/** The evaluation: the officer's panel and ranking; the evaluator's declaration and sheet. */
export async function evaluation(main, params, id) {
  const reload = () => evaluation(main, params, id);
  let ev;
  let tn;
  try { [ev, tn] = await Promise.all([api.get(`/tenders/${id}/evaluation`), api.get(`/tenders/${id}`)]); } catch (err) { page(main, 'panel.title', message('error', problemText(err))); return; }
  const box = el('div', { class: 'evaluation' });
  box.append(el('p', {}, el('a', { href: `#/tenders/${id}`, text: `← ${tn.title}` })),
    el('p', { class: 'hint', text: ev.rule }),
    el('h2', { text: t('panel.members') }),
    el('ul', { class: 'panel' }, ...ev.panel.map((p) => el('li', {}, `${p.name} `, el('span', { class: 'badge', text: label('panel.status', p.status) }), p.submitted ? ` ${t('panel.submitted')}` : ''))));
  if (tn.abilities.manage && tn.status === 'evaluation' && !tn.award) {
    const form = el('form', { class: 'inline' }, field('panel.appointEmail', el('input', { type: 'email', name: 'email', required: true })),
      el('button', { type: 'submit', text: t('panel.appoint') }));
    onSubmit(form, async (data) => { await api.post(`/tenders/${id}/panel`, { email: data.get('email') }); await reload(); });
    box.append(form);
  }
  if (ev.bidders.length) box.append(el('h2', { text: t('panel.bidders') }), el('ul', {}, ...ev.bidders.map((b) => el('li', { text: b }))));
  // The evaluator: declare first; then score every bid; then wait for the others.
  const seat = tn.abilities.evaluate ? await mySeat(ev) : null;
  if (seat?.status === 'appointed') {
    const form = el('form', { class: 'declaration' },
      el('label', { class: 'check' }, el('input', { type: 'checkbox', name: 'conflict' }), t('panel.haveConflict')),
      field('panel.statement', el('textarea', { name: 'statement', rows: 2, required: true, maxlength: 2000 })),
      el('button', { type: 'submit', text: t('panel.declare') }));
    onSubmit(form, async (data) => { await api.post(`/tenders/${id}/panel/declaration`, { conflict: data.get('conflict') === 'on', statement: data.get('statement') }); await reload(); });
    box.append(el('h2', { text: t('panel.declaration') }), el('p', { class: 'hint', text: t('panel.declarationHint') }), form);
  }
  if (ev.bids.length) {
    box.append(el('h2', { text: t('panel.bids') }), el('ul', { class: 'cards' }, ...ev.bids.map((b) => el('li', { class: 'card' },
      el('h3', { text: `${b.organisation_name} · ${yuan(b.price_fen)}` }), el('p', { text: b.technical_proposal }),
      b.team.length ? el('p', { class: 'hint', text: b.team.map((m) => `${m.name}（${m.role}）`).join('、') }) : null,
      b.documents.length ? el('p', { class: 'hint', text: b.documents.map((d) => d.name).join('、') }) : null))));
  }
  if (seat?.status === 'cleared' && !seat.submitted && ev.bids.length) {
    box.append(el('h2', { text: t('panel.sheet') }));
    scoringSheet(ev, reload, box);
  } else if (seat?.submitted && !ev.complete) {
    box.append(message('info', t('panel.waiting')));
  }
  if (ev.complete) {
    box.append(el('h2', { text: t('panel.ranking') }), el('table', { class: 'ranking' },
      el('thead', {}, el('tr', {}, ...['panel.rank', 'panel.bidder', 'panel.price', 'panel.pricePoints', 'panel.qualityPoints', 'panel.total'].map((k) => el('th', { text: t(k) })))),
      el('tbody', {}, ...ev.ranking.map((r) => el('tr', { class: r.disqualified ? 'struck' : null }, el('td', { text: String(r.rank) }), el('td', { text: r.organisation_name }),
        el('td', { text: yuan(r.price_fen) }), el('td', { text: r.price_points }), el('td', { text: r.quality_points }), el('td', { text: r.total }))))));
    if (tn.abilities.manage && tn.status === 'evaluation' && !tn.award) box.append(action('panel.proposeAward', () => api.post(`/tenders/${id}/award`), box, () => { location.hash = `#/tenders/${id}`; }));
  } else if (tn.abilities.manage) {
    box.append(message('info', t('panel.incomplete')));
  }
  page(main, 'panel.title', box);
}

async function mySeat(ev) {
  try {
    const me = await api.get('/accounts/me');
    const seat = ev.panel.find((p) => p.user_id === me.id);
    return seat ?? null;
  } catch { return null; }
}

/** A contract: milestones, reports with evidence, decisions and payments, amendments. */
export async function contract(main, params, id) {
  const reload = () => contract(main, params, id);
  let c;
  try { c = await api.get(`/contracts/${id}`); } catch (err) { page(main, 'contract.title', message('error', problemText(err))); return; }
  const box = el('div', { class: 'contract' });
  box.append(el('h2', { text: c.title }),
    el('p', {}, el('span', { class: 'badge', id: 'contract-status', text: label('contract.status', c.status) }), ` ${c.organisation_name} · ${yuan(c.value_fen)} · ${c.period_start} – ${c.period_end} · ${t('contract.signedOnLabel', { date: c.signed_on })}`),
    el('p', {}, el('a', { href: `#/tenders/${c.tender_id}`, text: c.tender_title }), ' · ', el('a', { href: `#/organisations/${c.organisation_id}/profile`, text: t('bidder.open') })),
    el('p', { text: t('contract.paid', { paid: yuan(c.paid_fen), value: yuan(c.value_fen) }) }),
    c.end_reason ? message('info', c.end_reason) : null,
    c.performance_score != null ? el('p', { text: t('contract.performance', { score: c.performance_score, comment: c.performance_comment ?? '' }) }) : null,
    el('h2', { text: t('contract.milestones') }));
  const list = el('ol', { class: 'contract-milestones' });
  for (const m of c.milestones) {
    const li = el('li', { class: 'card', 'data-status': m.status },
      el('h3', { text: `${m.title} · ${yuan(m.amount_fen)}` }),
      el('p', {}, el('span', { class: 'badge', text: label('milestone.status', m.status) }), ` ${t('contract.due', { date: m.due_date })} · ${m.deliverable}`),
      m.report ? el('p', {}, el('strong', { text: `${t('contract.report')}：` }), m.report) : null,
      documents(m.evidence),
      m.decision_reason ? el('p', {}, el('strong', { text: `${t('contract.decision')}：` }), m.decision_reason) : null,
      m.paid_at ? el('p', { class: 'paid', text: t('contract.paidOn', { amount: yuan(m.paid_fen), at: when(m.paid_at) }) }) : null);
    if (c.abilities.report && ['pending', 'returned'].includes(m.status)) {
      const form = el('form', {}, field('contract.reportText', el('textarea', { name: 'report', rows: 2, required: true, maxlength: 10000 })),
        field('contract.evidence', fileInput('files')), el('button', { type: 'submit', text: t('contract.submitReport') }));
      onSubmit(form, async (data) => { await api.post(`/contracts/${id}/milestones/${m.id}/report`, { report: data.get('report'), files: await encodeFiles(form.elements.files) }); await reload(); });
      li.append(form);
    }
    if (c.abilities.manage && m.status === 'reported') {
      const form = el('form', {}, field('contract.reason', el('input', { type: 'text', name: 'reason', required: true, maxlength: 4000 })),
        el('div', { class: 'actions' }, el('button', { type: 'submit', name: 'accept', value: 'yes', text: t('contract.accept') }),
          el('button', { type: 'submit', name: 'accept', value: 'no', class: 'secondary', text: t('contract.return') })));
      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        form.querySelector('.message')?.remove();
        const accept = event.submitter?.value !== 'no';
        try { await api.post(`/contracts/${id}/milestones/${m.id}/decision`, { accept, reason: form.elements.reason.value }); await reload(); } catch (err) { form.prepend(message('error', problemText(err))); }
      });
      li.append(form);
    }
    list.append(li);
  }
  box.append(list);
  if (c.amendments.length) {
    box.append(el('h2', { text: t('contract.amendments') }), el('ul', {}, ...c.amendments.map((a) => el('li', { text: `v${a.version} · ${when(a.created_at)} · ${a.reason} · ${a.changes}` }))));
  }
  if (c.abilities.manage) {
    const amend = el('form', { class: 'inline' }, el('h3', { text: t('contract.amend') }),
      field('contract.reason', el('input', { type: 'text', name: 'reason', required: true, maxlength: 4000 })),
      field('contract.newValue', el('input', { type: 'number', name: 'value', step: '0.01', min: 0.01 })),
      field('contract.newEnd', el('input', { type: 'date', name: 'period_end' })),
      el('button', { type: 'submit', class: 'secondary', text: t('contract.amendButton') }));
    onSubmit(amend, async (data) => {
      const body = { reason: data.get('reason') };
      if (data.get('value')) body.value_fen = fen(data.get('value'));
      if (data.get('period_end')) body.period_end = data.get('period_end');
      await api.post(`/contracts/${id}/amendments`, body);
      await reload();
    });
    const terminate = el('form', { class: 'inline' }, field('contract.terminateReason', el('input', { type: 'text', name: 'reason', required: true, maxlength: 4000 })),
      el('button', { type: 'submit', class: 'secondary', text: t('contract.terminate') }));
    onSubmit(terminate, async (data) => { await api.post(`/contracts/${id}/terminate`, { reason: data.get('reason') }); await reload(); });
    box.append(amend, terminate);
  }
  if (c.abilities.evaluate) {
    const form = el('form', {}, el('h3', { text: t('contract.evaluate') }),
      field('contract.score', el('input', { type: 'number', name: 'score', min: 0, max: 100, required: true })),
      field('contract.comment', el('textarea', { name: 'comment', rows: 2, required: true, maxlength: 4000 })),
      el('button', { type: 'submit', text: t('contract.evaluateButton') }));
    onSubmit(form, async (data) => { await api.post(`/contracts/${id}/evaluation`, { score: Number(data.get('score')), comment: data.get('comment') }); await reload(); });
    box.append(form);
  }
  page(main, 'contract.title', box);
}

/** A social organisation's bidder profile; its representatives edit it. */
export async function profile(main, params, id) {
  const reload = () => profile(main, params, id);
  let p;
  try { p = await api.get(`/organisations/${id}/bidder-profile`); } catch (err) { page(main, 'bidder.title', message('error', problemText(err))); return; }
  const box = el('div', { class: 'bidder-profile' },
    el('h2', { text: p.name }),
    el('dl', {}, el('dt', { text: t('bidder.creditCode') }), el('dd', { text: p.credit_code ?? '—' }),
      el('dt', { text: t('bidder.areas') }), el('dd', { text: p.service_areas.map((a) => label('tender.category', a)).join('、') || '—' }),
      el('dt', { text: t('bidder.performance') }), el('dd', { text: p.average_performance ?? '—' })),
    p.description ? el('p', { text: p.description }) : null,
    el('h3', { text: t('bidder.qualifications') }),
    el('ul', {}, ...p.qualifications.map((q) => el('li', {}, `${q.name} · ${q.issuer} · ${q.number} · ${t('bidder.validUntil', { date: q.valid_until })} `,
      q.expired ? el('span', { class: 'badge warn', text: t('bidder.expired') }) : null,
      p.editable ? action('bidder.remove', () => api.delete(`/organisations/${id}/qualifications/${q.id}`), box, reload, true) : null))),
    el('h3', { text: t('bidder.contracts') }),
    p.past_contracts.length ? el('ul', {}, ...p.past_contracts.map((c) => el('li', {}, el('a', { href: `#/contracts/${c.contract_id}`, text: c.title }),
      ` · ${yuan(c.value_fen)} · ${label('contract.status', c.status)}${c.performance_score != null ? ` · ${c.performance_score}` : ''}`))) : el('p', { class: 'hint', text: t('bidder.noContracts') }));
  if (p.editable) {
    const areas = el('fieldset', {}, el('legend', { text: t('bidder.areas') }), ...CATEGORIES.map((c) => el('label', { class: 'check' },
      el('input', { type: 'checkbox', name: 'areas', value: c, checked: p.service_areas.includes(c) }), label('tender.category', c))));
    const form = el('form', {}, el('h3', { text: t('bidder.edit') }),
      field('bidder.creditCode', el('input', { type: 'text', name: 'credit_code', required: true, maxlength: 18, value: p.credit_code ?? '' })),
      areas,
      field('bidder.description', Object.assign(el('textarea', { name: 'description', rows: 3, maxlength: 5000 }), { value: p.description })),
      el('button', { type: 'submit', text: t('bidder.save') }));
    onSubmit(form, async (data) => { await api.put(`/organisations/${id}/bidder-profile`, { credit_code: data.get('credit_code'), service_areas: data.getAll('areas'), description: data.get('description') ?? '' }); await reload(); });
    const qual = el('form', {}, el('h3', { text: t('bidder.addQualification') }),
      field('bidder.qualName', el('input', { type: 'text', name: 'name', required: true, maxlength: 200 })),
      field('bidder.qualIssuer', el('input', { type: 'text', name: 'issuer', required: true, maxlength: 200 })),
      field('bidder.qualNumber', el('input', { type: 'text', name: 'number', required: true, maxlength: 100 })),
      field('bidder.validUntilLabel', el('input', { type: 'date', name: 'valid_until', required: true })),
      el('button', { type: 'submit', class: 'secondary', text: t('bidder.add') }));
    onSubmit(qual, async (data) => { await api.post(`/organisations/${id}/qualifications`, Object.fromEntries(data.entries())); await reload(); });
    box.append(form, qual);
  }
  page(main, 'bidder.title', box);
}
