// Voting pages: a community's polls, creating one, one poll (ballot, the chair's actions, the
// grid worker's paper ballots and confirmation queue, the result chart). The live room reuses
// the ballot panel and the chart.
import { api, session } from './api.js';
import { t, problemText } from './i18n.js';
import { el, page, message, field, checkbox, onSubmit } from './ui.js';

const CONVENORS = ['party_secretary', 'committee_member'];
const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

export function optionLabel(poll, id) {
  if (poll.kind === 'yes_no') return t(`poll.choice.${id}`);
  return poll.options.find((o) => o.id === id)?.label ?? id;
}

function fraction(f) {
  return `${f.strict ? '>' : '≥'} ${f.num}/${f.den}`;
}

/** The counting rule in words. */
export function ruleText(rule) {
  const parts = [t('poll.rule.threshold', { fraction: fraction(rule.threshold), base: t(`poll.base.${rule.base}`), measure: t(`poll.measure.${rule.measure}`) })];
  if (rule.quorum_headcount) parts.push(t('poll.rule.quorumHeadcount', { fraction: fraction(rule.quorum_headcount) }));
  if (rule.quorum_area) parts.push(t('poll.rule.quorumArea', { fraction: fraction(rule.quorum_area) }));
  return parts.join(t('poll.rule.and'));
}

const area = (centi) => `${Math.floor(centi / 100)}.${String(centi % 100).padStart(2, '0')} m²`;

/**
 * Bars of each value against its total, with a dashed line at the required fraction: what a
 * reader needs to see whether a count cleared its threshold.
 */
export function barChart(title, rows, line) {
  const rowHeight = 30;
  const height = rows.length * rowHeight + 10;
  const chart = svg('svg', { viewBox: `0 0 480 ${height}`, role: 'img', class: 'chart', 'aria-label': title });
  rows.forEach((r, i) => {
    const y = 5 + i * rowHeight;
    const share = r.total > 0 ? r.value / r.total : 0;
    chart.append(svg('text', { x: 0, y: y + 18, class: 'chart-label' }, r.label));
    chart.append(svg('rect', { x: 130, y, width: 220, height: 22, class: 'chart-track' }));
    chart.append(svg('rect', { x: 130, y, width: Math.round(220 * share), height: 22, class: r.met ? 'chart-bar met' : 'chart-bar' }));
    chart.append(svg('text', { x: 355, y: y + 18, class: 'chart-value' }, r.text));
  });
  if (line !== null) {
    const x = 130 + 220 * line;
    chart.append(svg('line', { x1: x, x2: x, y1: 0, y2: height, class: 'chart-line' }));
  }
  return el('figure', {}, el('figcaption', { text: title }), chart);
}

const baseOf = (poll, r) => ({ cast: r.cast, participants: r.participants, electorate: r.electorate }[poll.rule.base]);

/** The result: passed or not, each option by headcount (and area) against the threshold, turnout against the quorum. */
export function resultView(poll) {
  const r = poll.result;
  if (!r) return null;
  const base = baseOf(poll, r);
  const line = poll.rule.threshold.num / poll.rule.threshold.den;
  const byArea = r.electorate.area_centi > 0;
  const options = r.options.filter((o) => !(poll.kind === 'yes_no' && o.id === 'abstain'));
  // In a yes/no poll only "yes" can pass; "no" is drawn for comparison, never as passing.
  const canPass = (o) => poll.kind !== 'yes_no' || o.id === 'yes';
  const parts = [
    el('p', { class: `verdict ${r.passed ? 'passed' : 'failed'}`, text: r.passed ? t('poll.passed') : t('poll.failed') }),
    el('p', { text: t('poll.turnout', { participants: r.participants.headcount, electorate: r.electorate.headcount }) + (byArea ? ` · ${area(r.participants.area_centi)} / ${area(r.electorate.area_centi)}` : '') }),
  ];
  if (poll.kind !== 'ranked') {
    parts.push(barChart(t('poll.chart.headcount'), options.map((o) => ({ label: optionLabel(poll, o.id), value: o.headcount, total: base.headcount, met: canPass(o) && (o.threshold.by_headcount ?? o.threshold.met), text: `${o.headcount}` })), line));
    if (byArea) {
      parts.push(barChart(t('poll.chart.area'), options.map((o) => ({ label: optionLabel(poll, o.id), value: o.area_centi, total: base.area_centi, met: canPass(o) && (o.threshold.by_area ?? o.threshold.met), text: area(o.area_centi) })), line));
    }
  } else {
    parts.push(el('ol', { class: 'rounds' }, ...r.rounds.map((round, i) => el('li', { text: t('poll.round', { n: i + 1, counts: round.counts.map((c) => `${optionLabel(poll, c.id)} ${c.headcount}`).join('，'), out: round.eliminated ? optionLabel(poll, round.eliminated) : '—' }) }))));
  }
  if (poll.rule.quorum_headcount || poll.rule.quorum_area) {
    const rows = [];
    if (poll.rule.quorum_headcount) rows.push({ label: t('poll.measure.headcount'), value: r.participants.headcount, total: r.electorate.headcount, met: r.quorum.by_headcount, text: `${r.participants.headcount}/${r.electorate.headcount}` });
    if (poll.rule.quorum_area) rows.push({ label: t('poll.measure.area'), value: r.participants.area_centi, total: r.electorate.area_centi, met: r.quorum.by_area, text: area(r.participants.area_centi) });
    const q = poll.rule.quorum_headcount ?? poll.rule.quorum_area;
    parts.push(barChart(`${t('poll.chart.quorum')} ${r.quorum.met ? '✓' : '✗'}`, rows, q.num / q.den));
  }
  if (r.area_precision_centi) parts.push(el('p', { class: 'hint', text: t('poll.areaRounded', { step: area(r.area_precision_centi) }) }));
  if (r.winners.length && poll.kind !== 'yes_no') parts.push(el('p', { text: t('poll.winners', { names: r.winners.map((w) => optionLabel(poll, w)).join('，') }) }));
  return el('section', { class: 'result', 'aria-label': t('poll.result') }, el('h2', { text: t('poll.result') }), ...parts);
}

function choiceText(poll, choices) {
  if (!choices.length) return t('poll.abstainBlank');
  return choices.map((c, i) => (poll.kind === 'ranked' ? `${i + 1}. ${optionLabel(poll, c)}` : optionLabel(poll, c))).join(poll.kind === 'ranked' ? '  ' : '，');
}

/** Choosing options for one ballot; calls `done(choices)` when the voter continues. */
function chooser(poll, done) {
  const box = el('div', { class: 'chooser' });
  if (poll.kind === 'yes_no' || poll.kind === 'single') {
    for (const o of poll.options) {
      const b = el('button', { type: 'button', class: 'big', text: optionLabel(poll, o.id) });
      b.addEventListener('click', () => done([o.id]));
      box.append(b);
    }
    if (poll.kind === 'single') {
      const blank = el('button', { type: 'button', class: 'secondary', text: t('poll.abstainBlank') });
      blank.addEventListener('click', () => done([]));
      box.append(blank);
    }
    return box;
  }
  const picked = [];
  const list = el('p', { class: 'hint' });
  const refresh = () => { list.textContent = picked.length ? choiceText(poll, picked) : t(poll.kind === 'ranked' ? 'poll.rankHint' : 'poll.pickHint', { k: poll.max_choices }); };
  for (const o of poll.options) {
    const b = el('button', { type: 'button', class: 'big', 'aria-pressed': 'false', text: o.label });
    b.addEventListener('click', () => {
      const at = picked.indexOf(o.id);
      if (at >= 0) picked.splice(at, 1);
      else if (poll.kind === 'ranked' || picked.length < poll.max_choices) picked.push(o.id);
      b.setAttribute('aria-pressed', String(picked.includes(o.id)));
      refresh();
    });
    box.append(b);
  }
  const next = el('button', { type: 'button', text: t('poll.continue') });
  next.addEventListener('click', () => done([...picked]));
  refresh();
  box.append(list, next);
  return box;
}

/** The ballot: big buttons, a confirmation step, then the receipt. */
export function ballotPanel(poll, onCast) {
  if (poll.status !== 'open') return null;
  if (!poll.my_voters.length) return el('p', { class: 'hint', text: t('poll.notElector') });
  const open = poll.my_voters.filter((v) => !v.voted);
  if (!open.length) return el('p', { class: 'message ok', role: 'status', text: t('poll.voted') });
  const panel = el('div', { class: 'ballot' });
  const voter = open[0];
  const key = crypto.randomUUID();
  const ask = () => {
    panel.replaceChildren(...[
      voter.proxy_for ? el('p', { class: 'hint', text: t('poll.asProxy', { name: voter.proxy_for }) }) : null,
      chooser(poll, confirm)].filter(Boolean));
  };
  const confirm = (choices) => {
    const cast = el('button', { type: 'button', class: 'big', text: t('poll.cast') });
    const back = el('button', { type: 'button', class: 'secondary', text: t('poll.back') });
    back.addEventListener('click', ask);
    cast.addEventListener('click', async () => {
      cast.disabled = true;
      try {
        const receipt = await api.post(`/polls/${poll.id}/ballots`, { choices, voter_id: voter.voter_id }, { 'Idempotency-Key': key });
        panel.replaceChildren(
          el('p', { class: 'message ok', role: 'status', text: t('poll.castDone') }),
          el('p', {}, t('poll.receipt'), ' ', el('code', { class: 'receipt', text: receipt.receipt })),
          el('p', { class: 'hint', text: t('poll.receiptHint') }));
        onCast?.();
      } catch (err) {
        cast.disabled = false;
        panel.prepend(message('error', problemText(err)));
      }
    });
    panel.replaceChildren(...[
      el('p', { text: t('poll.confirm', { choice: choiceText(poll, choices) }) }),
      poll.secret ? el('p', { class: 'hint', text: t('poll.secretFinal') }) : null,
      el('div', { class: 'actions' }, cast, back)].filter(Boolean));
  };
  ask();
  return panel;
}

function pollCard(p) {
  return el('li', { class: 'card' },
    el('h3', {}, el('a', { href: `#/polls/${p.id}`, text: p.question })),
    el('p', {}, el('span', { class: 'badge', text: t(`poll.status.${p.status}`) }), ' ',
      el('span', { text: `${t(`poll.kind.${p.kind}`)} · ${t(`poll.electorate.${p.electorate}`)}${p.secret ? ` · ${t('poll.secret')}` : ''}` })));
}

export async function list(main) {
  if (!session.token()) { page(main, 'poll.listTitle', message('error', t('signin.required'))); return; }
  const me = await api.get('/accounts/me');
  const communities = [...new Map(me.roles.filter((r) => r.place_id).map((r) => [r.place_id, r.place_name])).entries()];
  const sections = [];
  for (const [id, name] of communities) {
    let polls;
    try { polls = await api.get(`/polls?community_id=${id}`); } catch { continue; }
    const convenor = me.roles.some((r) => r.place_id === id && CONVENORS.includes(r.role));
    sections.push(el('h2', { text: name }));
    if (convenor) sections.push(el('p', {}, el('a', { class: 'button', href: `#/polls/new?community=${id}`, text: t('poll.create') })));
    sections.push(polls.length ? el('ul', { class: 'cards' }, ...polls.map(pollCard)) : el('p', { class: 'hint', text: t('poll.none') }));
  }
  page(main, 'poll.listTitle', ...(sections.length ? sections : [el('p', { class: 'hint', text: t('poll.none') })]));
}

const option = (value, key) => el('option', { value, text: t(key) });

/** The form for a new poll, in a community or (with ?session=) on a session's agenda item. */
export async function create(main, params) {
  const community = params.get('community');
  const sessionId = params.get('session');
  if (!session.token() || !(community || sessionId)) { page(main, 'poll.create', message('error', t('signin.required'))); return; }
  const kind = el('select', { name: 'kind' }, ...['yes_no', 'single', 'multiple', 'ranked'].map((k) => option(k, `poll.kind.${k}`)));
  const electorates = sessionId ? ['attendees', 'residents', 'households', 'owners', 'organisations'] : ['residents', 'households', 'owners'];
  const electorate = el('select', { name: 'electorate' }, ...electorates.map((k) => option(k, `poll.electorate.${k}`)));
  const preset = el('select', { name: 'preset' }, ...['simple_majority', 'residents_meeting', 'owners_ordinary', 'owners_major', 'custom'].map((k) => option(k, `poll.preset.${k}`)));
  const custom = customRule();
  preset.addEventListener('change', () => { custom.fieldset.hidden = preset.value !== 'custom'; });
  // Residents and households may be limited to some grids of the community.
  const grids = el('fieldset', { class: 'grids' }, el('legend', { text: t('poll.form.grids') }));
  if (community) {
    try {
      for (const g of await api.get(`/places?parent_id=${community}&kind=grid`)) {
        const input = el('input', { type: 'checkbox', name: 'grid', value: g.id, id: `grid-${g.id}` });
        grids.append(el('label', { class: 'check', for: input.id }, input, g.name));
      }
    } catch { /* no grids to offer */ }
  }
  if (grids.children.length === 1) grids.hidden = true;
  // What the register would count if the poll opened now, with what to check first.
  const preview = el('div', { class: 'electorate-preview' });
  const refresh = async () => {
    if (!community || !['residents', 'households', 'owners'].includes(electorate.value)) { preview.replaceChildren(); return; }
    const chosen = [...grids.querySelectorAll('input:checked')].map((i) => i.value);
    try {
      const { electoratePreview } = await import('./register.js');
      preview.replaceChildren(await electoratePreview(community, electorate.value, electorate.value === 'owners' ? [] : chosen));
    } catch { preview.replaceChildren(); }
  };
  electorate.addEventListener('change', refresh);
  grids.addEventListener('change', refresh);
  refresh();
  const form = el('form', {},
    field('poll.form.question', el('input', { type: 'text', name: 'question', required: true, maxlength: 200 })),
    field('poll.form.description', el('textarea', { name: 'description', rows: 2, maxlength: 4000 })),
    field('poll.form.kind', kind),
    field('poll.form.options', el('textarea', { name: 'options', rows: 4 }), 'poll.form.optionsHint'),
    field('poll.form.maxChoices', el('input', { type: 'number', name: 'max_choices', min: 1, max: 20, value: 1 })),
    field('poll.form.electorate', electorate),
    preview,
    field('poll.form.preset', preset),
    custom.fieldset,
    grids,
    checkbox('poll.form.secret', 'secret'),
    checkbox('poll.form.showTally', 'show_tally'),
    el('button', { type: 'submit', text: t('poll.form.save') }));
  onSubmit(form, async (data) => {
    const k = data.get('kind');
    const options = k === 'yes_no' ? [] : String(data.get('options') ?? '').split('\n').map((l) => l.trim()).filter(Boolean);
    const body = {
      question: data.get('question'),
      description: data.get('description') ?? '',
      kind: k,
      options,
      electorate: data.get('electorate'),
      ...(data.get('preset') === 'custom' ? { rule: custom.rule(data) } : { preset: data.get('preset') }),
      secret: data.get('secret') === 'on',
      show_tally: data.get('show_tally') === 'on',
    };
    if (k === 'multiple') body.max_choices = Number(data.get('max_choices'));
    if (['residents', 'households'].includes(body.electorate)) body.grid_ids = data.getAll('grid');
    if (sessionId) {
      body.session_id = sessionId;
      if (params.get('item')) body.agenda_item_id = params.get('item');
    } else {
      body.community_id = community;
    }
    const p = await api.post('/polls', body);
    location.hash = sessionId ? `#/sessions/${sessionId}/live` : `#/polls/${p.id}`;
  });
  page(main, 'poll.create', form);
}

/**
 * A counting rule written out: quorum by headcount and by area (each optional), the threshold
 * as p/q with "more than" or "at least", what it is a fraction of, and which counts it measures.
 */
function customRule() {
  const fraction = (name, optional) => {
    const num = el('input', { type: 'number', name: `${name}_num`, min: 0, max: 1000, required: !optional, 'aria-label': t('poll.custom.numerator') });
    const den = el('input', { type: 'number', name: `${name}_den`, min: 1, max: 1000, required: !optional, 'aria-label': t('poll.custom.denominator') });
    const strict = el('select', { name: `${name}_strict`, 'aria-label': t('poll.custom.comparison') },
      option('false', 'poll.custom.atLeast'), option('true', 'poll.custom.moreThan'));
    return el('div', { class: 'fraction', role: 'group', 'aria-label': t(`poll.custom.${name}`) },
      el('span', { text: t(`poll.custom.${name}`) }), ' ', strict, ' ', num, ' / ', den);
  };
  const fieldset = el('fieldset', { class: 'custom-rule', hidden: true },
    el('legend', { text: t('poll.custom.legend') }),
    el('p', { class: 'hint', text: t('poll.custom.hint') }),
    fraction('quorum_headcount', true),
    fraction('quorum_area', true),
    fraction('threshold', false),
    field('poll.custom.base', el('select', { name: 'base' }, ...['participants', 'cast', 'electorate'].map((k) => option(k, `poll.base.${k}`)))),
    field('poll.custom.measure', el('select', { name: 'measure' }, ...['headcount', 'area', 'both'].map((k) => option(k, `poll.measure.${k}`)))));
  // Only the visible rule's fields are required.
  const toggle = () => fieldset.querySelectorAll('[name^="threshold_"]').forEach((i) => { if (i.tagName === 'INPUT') i.required = !fieldset.hidden; });
  new MutationObserver(toggle).observe(fieldset, { attributes: true, attributeFilter: ['hidden'] });
  toggle();
  const read = (data, name) => {
    const num = String(data.get(`${name}_num`) ?? '').trim();
    const den = String(data.get(`${name}_den`) ?? '').trim();
    if (!num && !den) return null;
    return { num: Number(num), den: Number(den), strict: data.get(`${name}_strict`) === 'true' };
  };
  return {
    fieldset,
    rule: (data) => ({
      quorum_headcount: read(data, 'quorum_headcount'),
      quorum_area: read(data, 'quorum_area'),
      threshold: read(data, 'threshold') ?? { num: 0, den: 0, strict: false },
      base: data.get('base'),
      measure: data.get('measure'),
    }),
  };
}

/** The grid worker's paper-ballot form and the confirmation queue. */
async function assistedSection(poll, reload) {
  let electors;
  let queue;
  try {
    [electors, queue] = await Promise.all([api.get(`/polls/${poll.id}/electors`), api.get(`/polls/${poll.id}/assisted-ballots`)]);
  } catch { return null; }
  const voter = el('select', { name: 'voter_id' }, ...electors.filter((e) => !e.voted).map((e) => el('option', { value: e.voter_id, text: e.label })));
  const choice = el('select', { name: 'choice' }, ...poll.options.map((o) => el('option', { value: o.id, text: optionLabel(poll, o.id) })));
  if (poll.kind === 'multiple' || poll.kind === 'ranked') choice.multiple = true;
  const form = el('form', {},
    field('poll.assisted.voter', voter),
    field('poll.assisted.reference', el('input', { type: 'text', name: 'paper_reference', required: true, maxlength: 120 })),
    field('poll.assisted.choice', choice, poll.kind === 'ranked' ? 'poll.assisted.rankedHint' : null),
    el('button', { type: 'submit', text: t('poll.assisted.record') }));
  onSubmit(form, async (data) => {
    const choices = [...choice.selectedOptions].map((o) => o.value);
    await api.post(`/polls/${poll.id}/assisted-ballots`, { voter_id: data.get('voter_id'), paper_reference: data.get('paper_reference'), choices });
    await reload();
  });
  const rows = queue.map((a) => {
    const li = el('li', { class: 'card' },
      el('p', {}, el('strong', { text: a.voter_label }), ` · ${a.paper_reference} · `, el('span', { class: 'badge', text: t(`poll.assisted.status.${a.status}`) })),
      a.choices ? el('p', { text: choiceText(poll, a.choices) }) : null,
      a.flag ? el('p', { class: 'hint', text: t(`poll.assisted.flag.${a.flag}`) === `poll.assisted.flag.${a.flag}` ? a.flag : t(`poll.assisted.flag.${a.flag}`) }) : null);
    if (a.status === 'pending') {
      const ok = el('button', { type: 'button', text: t('poll.assisted.confirm') });
      ok.addEventListener('click', async () => {
        try { await api.post(`/assisted-ballots/${a.id}/confirm`); await reload(); } catch (err) { li.prepend(message('error', problemText(err))); }
      });
      const reason = el('input', { type: 'text', id: `reject-${a.id}`, maxlength: 2000 });
      const no = el('button', { type: 'button', class: 'secondary', text: t('poll.assisted.reject') });
      no.addEventListener('click', async () => {
        try { await api.post(`/assisted-ballots/${a.id}/reject`, { reason: reason.value }); await reload(); } catch (err) { li.prepend(message('error', problemText(err))); }
      });
      li.append(el('div', { class: 'actions' }, ok, el('label', { for: reason.id, text: t('poll.assisted.rejectReason') }), reason, no));
    }
    return li;
  });
  return el('section', { class: 'assisted' },
    el('h2', { text: t('poll.assisted.title') }),
    el('p', { class: 'hint', text: t('poll.assisted.rule') }),
    poll.status === 'open' ? form : null,
    el('h3', { text: t('poll.assisted.queue') }),
    rows.length ? el('ul', { class: 'cards' }, ...rows) : el('p', { class: 'hint', text: t('poll.assisted.empty') }));
}

/** Checks a receipt against the published list. */
function receiptCheck(poll) {
  const input = el('input', { type: 'text', id: 'receipt-input', maxlength: 64 });
  const out = el('p', { role: 'status' });
  const form = el('form', { class: 'chat-form' }, el('label', { for: 'receipt-input', text: t('poll.checkReceipt') }), input, el('button', { type: 'submit', text: t('poll.check') }), out);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const list = await api.get(`/polls/${poll.id}/receipts`);
    out.textContent = list.receipts.includes(input.value.trim()) ? t('poll.receiptFound') : t('poll.receiptMissing');
  });
  return form;
}

export async function show(main, params, id) {
  let poll;
  try { poll = await api.get(`/polls/${id}`); } catch (err) { page(main, 'poll.title', message('error', problemText(err))); return; }
  const reload = () => show(main, params, id);
  const me = session.token() ? await api.get('/accounts/me') : null;
  const runner = me && me.roles.some((r) => r.place_id === poll.community_id && CONVENORS.includes(r.role));
  const assists = me && me.roles.some((r) => r.role === 'grid_worker' || (r.place_id === poll.community_id && CONVENORS.includes(r.role)));
  const actions = el('div', { class: 'actions' });
  if (runner) {
    const step = (key, path) => {
      const b = el('button', { type: 'button', text: t(key) });
      b.addEventListener('click', async () => {
        actions.querySelector('.message')?.remove();
        try { await api.post(`/polls/${id}/${path}`); await reload(); } catch (err) { actions.prepend(message('error', problemText(err))); }
      });
      return b;
    };
    if (poll.status === 'draft') actions.append(step('poll.open', 'open'));
    if (poll.status === 'open') actions.append(step('poll.close', 'close'));
    if (poll.status === 'closed' && poll.passed) actions.append(el('a', { class: 'button', href: `#/resolutions/new?poll=${poll.id}`, text: t('resolution.recordFromPoll') }));
  }
  const progressText = (p) => t('poll.participation', { participants: p.participation.headcount, electorate: p.electorate_size.headcount });
  const tallyItems = (p) => p.tally.map((o) => el('li', { text: `${optionLabel(p, o.id)}: ${o.headcount}` }));
  const progress = poll.participation ? el('p', { text: progressText(poll) }) : null;
  const tally = poll.tally ? el('ul', {}, ...tallyItems(poll)) : null;
  // After a ballot the counts on the page follow at once; the receipt stays in view.
  const refreshCounts = async () => {
    const fresh = await api.get(`/polls/${id}`);
    if (progress && fresh.participation) progress.textContent = progressText(fresh);
    if (tally && fresh.tally) tally.replaceChildren(...tallyItems(fresh));
  };
  const assisted = assists && ['open', 'closed'].includes(poll.status) ? await assistedSection(poll, reload) : null;
  main.replaceChildren(...[
    el('h1', { text: poll.question }),
    el('p', {}, el('span', { class: 'badge', text: t(`poll.status.${poll.status}`) }), ' ',
      `${t(`poll.kind.${poll.kind}`)} · ${t(`poll.electorate.${poll.electorate}`)} · ${poll.secret ? t('poll.secret') : t('poll.named')}`),
    poll.description ? el('p', { text: poll.description }) : null,
    el('p', { class: 'hint', text: ruleText(poll.rule) }),
    progress, tally, actions,
    me ? ballotPanel(poll, refreshCounts) : null,
    resultView(poll),
    poll.status === 'closed' ? receiptCheck(poll) : null,
    assisted,
  ].filter(Boolean));
}
