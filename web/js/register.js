// The community register: persons (search by name, unit or last four), households, owners, the
// anomalies the committee should look at, the electorate a poll would count, and importing a
// register file with its row errors. For the committee, officers, and grid workers (their grids).
import { api, session, ApiProblem } from './api.js';
import { t, problemText, formatArea } from './i18n.js';
import { el, field, page, message, onSubmit } from './ui.js';
import { assistTab } from './assist.js';

/** Communities the person keeps or reads a register of, from their roles. */
async function myCommunities() {
  const me = await api.get('/accounts/me');
  const seen = new Map();
  for (const r of me.roles) {
    if (!r.place_id) continue;
    if (['committee_member', 'party_secretary'].includes(r.role)) {
      seen.set(r.place_id, r.place_name);
    } else if (r.role === 'government_officer') {
      // An officer of a subdistrict reads the registers of its communities.
      for (const c of await api.get(`/places?parent_id=${r.place_id}&kind=community`)) seen.set(c.id, c.name);
    } else if (r.role === 'grid_worker') {
      // A grid worker of a grid reads its community's register, their grid's part of it.
      const place = await api.get(`/places/${r.place_id}`);
      if (place.kind === 'grid' && place.parent_id) {
        const community = await api.get(`/places/${place.parent_id}`);
        seen.set(community.id, community.name);
      } else {
        seen.set(r.place_id, r.place_name);
      }
    }
  }
  return [...seen].map(([id, name]) => ({ id, name }));
}

function statusText(s) {
  return t(`register.status.${s}`);
}

function personRow(p) {
  return el('tr', {},
    el('td', { text: p.name }),
    el('td', { text: p.document_last4 ? `…${p.document_last4}` : '—' }),
    el('td', { text: p.unit_label ?? '—' }),
    el('td', { text: statusText(p.status) + (p.adult ? '' : ` · ${t('register.minor')}`) }),
    el('td', { text: p.has_account ? t('register.hasAccount') : t('register.noAccount') }));
}

function table(headKeys, rows) {
  return el('table', {},
    el('thead', {}, el('tr', {}, ...headKeys.map((k) => el('th', { scope: 'col', text: t(k) })))),
    el('tbody', {}, ...rows));
}

async function persons(community, section) {
  const q = el('input', { type: 'search', name: 'q', maxlength: 64 });
  const results = el('div', { 'aria-live': 'polite' });
  const form = el('form', { role: 'search' },
    field('register.search', q, 'register.searchHint'),
    el('button', { type: 'submit', text: t('register.find') }));
  const show = async (query) => {
    const list = await api.get(`/communities/${community}/register/persons?limit=200${query ? `&q=${encodeURIComponent(query)}` : ''}`);
    results.replaceChildren(list.length
      ? table(['register.name', 'register.last4', 'register.unit', 'register.statusLabel', 'register.account'], list.map(personRow))
      : el('p', { class: 'hint', text: t('register.none') }));
  };
  onSubmit(form, async (data) => show(String(data.get('q') ?? '').trim()));
  const exporting = el('form', { 'aria-label': t('register.export') },
    el('p', { class: 'hint', text: t('register.exportHint') }),
    el('button', { type: 'submit', class: 'secondary', text: t('register.export') }));
  onSubmit(exporting, () => downloadExport(community));
  section.replaceChildren(el('h2', { text: t('register.persons') }), form, results, exporting);
  await show('');
}

/** The committee's CSV export, fetched with the sign-in and saved under the server's name. */
async function downloadExport(community) {
  const response = await fetch(`/api/v1/communities/${community}/register/export`, {
    headers: { Authorization: `Bearer ${session.token()}` },
  });
  if (!response.ok) throw new ApiProblem(response.status, await response.json().catch(() => null));
  const name = /filename="([^"]+)"/.exec(response.headers.get('Content-Disposition') ?? '')?.[1] ?? 'register.csv';
  el('a', { href: URL.createObjectURL(await response.blob()), download: name }).click();
}

/** Units by grid and building: area, owner, households and how many live there. */
async function units(community, section) {
  const list = await api.get(`/communities/${community}/register/units`);
  const groups = new Map();
  for (const u of list) {
    const key = `${u.grid_name ?? t('register.noGrid')} · ${u.building}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(u);
  }
  section.replaceChildren(el('h2', { text: t('register.units') }),
    ...(list.length ? [...groups].flatMap(([key, rows]) => [
      el('h3', { text: key }),
      table(['register.unit', 'register.area', 'register.owner', 'register.household', 'register.living'], rows.map((u) => el('tr', {},
        el('td', { text: u.number }),
        el('td', { text: formatArea(u.area_centi) }),
        el('td', { text: u.owner_name ?? (u.developer_held ? t('register.developerHeld') : t('register.noOwner')) }),
        el('td', { text: u.households.join('、') || '—' }),
        el('td', { text: String(u.residents) })))),
    ]) : [el('p', { class: 'hint', text: t('register.none') })]));
}

async function households(community, section) {
  const list = await api.get(`/communities/${community}/register/households`);
  section.replaceChildren(el('h2', { text: t('register.households') }),
    list.length ? table(['register.unit', 'register.household', 'register.members'], list.map((h) => el('tr', {},
      el('td', { text: h.unit_label }),
      el('td', { text: h.label + (h.status === 'active' ? '' : ` (${t('register.dissolved')})`) }),
      el('td', { text: h.members.map((m) => m.name).join('、') || '—' }))))
      : el('p', { class: 'hint', text: t('register.none') }));
}

async function owners(community, section) {
  const list = await api.get(`/communities/${community}/register/owners`);
  section.replaceChildren(el('h2', { text: t('register.owners') }),
    list.length ? table(['register.owner', 'register.ownerKind', 'register.units', 'register.area'], list.map((o) => el('tr', {},
      el('td', { text: o.name + (o.persons.length > 1 && o.representative_id ? ` · ${t('register.representative')}: ${o.persons.find((p) => p.person_id === o.representative_id)?.name ?? ''}` : '') }),
      el('td', { text: t(`register.ownerKind.${o.kind}`) }),
      el('td', { text: o.units.map((u) => u.unit_label).join(', ') || '—' }),
      el('td', { text: formatArea(o.area_centi) }))))
      : el('p', { class: 'hint', text: t('register.none') }));
}

function anomalyList(anomalies) {
  if (!anomalies.length) return el('p', { class: 'message ok', role: 'status', text: t('register.noAnomalies') });
  return el('ul', { class: 'anomalies' }, ...anomalies.map((a) => el('li', {},
    el('strong', { text: t(`register.anomaly.${a.kind}`) }), ' ', a.subject)));
}

async function anomalies(community, section) {
  const list = await api.get(`/communities/${community}/register/anomalies`);
  section.replaceChildren(el('h2', { text: t('register.anomalies') }), el('p', { class: 'hint', text: t('register.anomaliesHint') }), anomalyList(list));
}

/** The electorate a poll would count now; used here and on the poll form. */
export async function electoratePreview(community, electorate, grids = []) {
  const query = grids.map((g) => `&grid_ids=${g}`).join('');
  const p = await api.get(`/communities/${community}/register/electorate?electorate=${electorate}${query}`);
  const parts = [el('p', { text: t('register.preview', { heads: p.headcount, online: p.heads_with_account, seq: p.register_seq }) })];
  if (electorate === 'owners') parts.push(el('p', { text: t('register.previewArea', { area: formatArea(p.area_centi) }) }));
  parts.push(anomalyList(p.anomalies));
  return el('div', { class: 'preview', 'aria-live': 'polite' }, ...parts);
}

async function preview(community, section) {
  const select = el('select', { name: 'electorate' }, ...['residents', 'households', 'owners'].map((k) => el('option', { value: k, text: t(`poll.electorate.${k}`) })));
  const out = el('div');
  const show = async () => out.replaceChildren(await electoratePreview(community, select.value));
  select.addEventListener('change', () => show().catch((err) => out.replaceChildren(message('error', problemText(err)))));
  section.replaceChildren(el('h2', { text: t('register.electorate') }), field('poll.form.electorate', select), out);
  await show();
}

function importForm(community, section) {
  const file = el('input', { type: 'file', name: 'file', accept: '.csv,text/csv', required: true });
  const out = el('div', { 'aria-live': 'polite' });
  const form = el('form', {},
    field('register.file', file, 'register.fileHint'),
    el('button', { type: 'submit', text: t('register.import') }));
  onSubmit(form, async (data) => {
    const response = await fetch(`/api/v1/communities/${community}/register/import`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${session.token()}`, Accept: 'application/json' },
      body: data,
    });
    const body = await response.json();
    if (!response.ok) throw Object.assign(new Error(body.detail), { code: body.code });
    out.replaceChildren(
      message('ok', t('register.imported', { created: body.persons_created, updated: body.persons_updated, unchanged: body.persons_unchanged, households: body.households_created, owners: body.owners_created })),
      body.errors.length
        ? el('div', {}, el('h3', { text: t('register.rowErrors', { count: body.errors.length }) }),
          table(['register.line', 'register.problem'], body.errors.map((e) => el('tr', {}, el('td', { text: String(e.line) }), el('td', { text: e.message })))))
        : null);
  });
  section.replaceChildren(el('h2', { text: t('register.importTitle') }), form, out);
}

/** Units the reader may see, from the households and owners of their part of the register. */
async function knownUnits(community) {
  const [households, owners] = await Promise.all([
    api.get(`/communities/${community}/register/households`),
    api.get(`/communities/${community}/register/owners`),
  ]);
  const units = new Map();
  for (const h of households) units.set(h.unit_id, h.unit_label);
  for (const o of owners) for (const u of o.units) units.set(u.unit_id, u.unit_label);
  return [...units].sort((a, b) => a[1].localeCompare(b[1]));
}

function requestForm(community, persons, units, owners, onDone) {
  const kind = el('select', { name: 'kind' }, ...['moved_in', 'moved_out', 'died', 'sold'].map((k) => el('option', { value: k, text: t(`register.request.${k}`) })));
  const person = el('select', { name: 'person_id' }, ...persons.map((p) => el('option', { value: p.id, text: [p.name, p.unit_label, p.document_last4 ? `…${p.document_last4}` : null].filter(Boolean).join(' · ') })));
  const unit = el('select', { name: 'unit_id' }, ...units.map(([id, label]) => el('option', { value: id, text: label })));
  const owner = el('select', { name: 'owner_id' }, ...owners.map((o) => el('option', { value: o.id, text: o.name })));
  const parts = {
    person: field('register.request.person', person),
    unit: field('register.unit', unit),
    name: field('register.name', el('input', { type: 'text', name: 'name', maxlength: 64 })),
    number: field('register.request.document', el('input', { type: 'text', name: 'document_number', maxlength: 40, autocomplete: 'off' }), 'register.request.documentHint'),
    owner: field('register.request.owner', owner),
  };
  const show = () => {
    const k = kind.value;
    parts.person.hidden = !['moved_out', 'died'].includes(k);
    parts.unit.hidden = !['moved_in', 'sold'].includes(k);
    parts.name.hidden = k !== 'moved_in';
    parts.number.hidden = k !== 'moved_in';
    parts.owner.hidden = k !== 'sold';
  };
  kind.addEventListener('change', show);
  show();
  const form = el('form', {},
    field('register.request.kind', kind), ...Object.values(parts),
    field('register.request.reference', el('input', { type: 'text', name: 'reference', required: true, maxlength: 120 }), 'register.request.referenceHint'),
    el('button', { type: 'submit', text: t('register.request.submit') }));
  onSubmit(form, async (data) => {
    const k = data.get('kind');
    const body = { kind: k, reference: data.get('reference') };
    if (['moved_out', 'died'].includes(k)) body.person_id = data.get('person_id');
    if (['moved_in', 'sold'].includes(k)) body.unit_id = data.get('unit_id');
    if (k === 'moved_in') {
      body.name = data.get('name');
      if (data.get('document_number')) Object.assign(body, { document_kind: 'resident_id', document_number: data.get('document_number') });
    }
    if (k === 'sold') body.owner_id = data.get('owner_id');
    await api.post(`/communities/${community}/register/requests`, body);
    await onDone();
  });
  return form;
}

function requestItem(r, onDone) {
  const item = el('li', { class: 'card' },
    el('h3', { text: `${t(`register.request.${r.kind}`)}：${r.subject}` }),
    el('p', { text: `${t('register.request.reference')}：${r.reference}` }),
    el('p', { class: 'hint', text: t(`register.request.status.${r.status}`) + (r.decision_reason ? ` · ${r.decision_reason}` : '') }));
  if (r.status === 'pending') {
    const form = el('form', { 'aria-label': t('register.request.decideFor', { subject: r.subject }) },
      field('register.request.reason', el('input', { type: 'text', name: 'reason', maxlength: 500 })),
      el('div', { class: 'actions' },
        el('button', { type: 'submit', name: 'confirm', value: 'yes', text: t('register.request.confirm') }),
        el('button', { type: 'submit', name: 'confirm', value: 'no', class: 'secondary', text: t('register.request.refuse') })));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      form.querySelector('.message')?.remove();
      try {
        await api.post(`/register/requests/${r.id}/decision`, { confirm: event.submitter?.value !== 'no', reason: new FormData(form).get('reason') || null });
        await onDone();
      } catch (err) {
        form.prepend(message('error', problemText(err)));
      }
    });
    item.append(form);
  }
  return item;
}

async function changeRequests(community, section) {
  const [persons, units, owners, list] = await Promise.all([
    api.get(`/communities/${community}/register/persons?status=living&limit=1000`),
    knownUnits(community),
    api.get(`/communities/${community}/register/owners`),
    api.get(`/communities/${community}/register/requests`),
  ]);
  const reload = () => changeRequests(community, section);
  section.replaceChildren(
    el('h2', { text: t('register.requests') }),
    el('p', { class: 'hint', text: t('register.requestsHint') }),
    list.length ? el('ul', { class: 'cards' }, ...list.map((r) => requestItem(r, reload))) : el('p', { class: 'hint', text: t('register.none') }),
    el('h3', { text: t('register.request.new') }),
    requestForm(community, persons, units, owners, reload));
}

const TABS = [
  ['units', units],
  ['persons', persons],
  ['households', households],
  ['owners', owners],
  ['anomalies', anomalies],
  ['requests', changeRequests],
  ['assist', assistTab],
  ['electorate', preview],
  ['importTitle', async (community, section) => importForm(community, section)],
];

export async function view(main, params) {
  if (!session.token()) {
    page(main, 'register.title', message('error', t('signin.required')), el('p', {}, el('a', { href: '#/signin', text: t('nav.signin') })));
    return;
  }
  const communities = await myCommunities();
  if (communities.length === 0) {
    page(main, 'register.title', message('error', t('register.notYours')));
    return;
  }
  const community = params.get('community') ?? communities[0].id;
  const tab = params.get('tab') ?? 'units';
  const picker = communities.length > 1
    ? el('nav', { 'aria-label': t('register.communities') }, ...communities.map((c) => el('a', { href: `#/register?community=${c.id}`, text: c.name, 'aria-current': c.id === community ? 'page' : false })))
    : null;
  const tabs = el('nav', { class: 'tabs', 'aria-label': t('register.sections') },
    ...TABS.map(([key]) => el('a', { href: `#/register?community=${community}&tab=${key}`, text: t(`register.${key}`), 'aria-current': key === tab ? 'page' : false })));
  const section = el('section');
  page(main, 'register.title', picker, tabs, section);
  const render = (TABS.find(([key]) => key === tab) ?? TABS[0])[1];
  try {
    await render(community, section);
  } catch (err) {
    section.replaceChildren(message('error', problemText(err)));
  }
}
