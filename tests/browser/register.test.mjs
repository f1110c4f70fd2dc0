import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startSmtp, startServer, launchBrowser, signIn } from './harness.mjs';

let smtp;
let server;
let browser;

before(async () => {
  smtp = await startSmtp();
  server = await startServer(smtp.port);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await smtp?.close();
});

test('the committee reads the register, previews an electorate and imports a file with a bad row', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await signIn(page, server.base, 'committee@guihua.demo.yishi.localhost');
  await page.getByRole('link', { name: '社区名册' }).click();
  await page.getByRole('heading', { name: '社区名册', level: 1 }).waitFor();

  // Units by grid and building, each with its owner, households and people living there.
  await page.getByRole('heading', { name: /网格 · 1号楼/ }).first().waitFor();
  const unitRow = page.locator('main table tbody tr', { hasText: '开发建设单位' }).first();
  await unitRow.waitFor();
  assert.match(await unitRow.textContent(), /平方米/);

  // Persons, with and without accounts; found by unit.
  await page.getByRole('link', { name: '人员', exact: true }).click();
  const rows = page.locator('main table tbody tr', { hasText: '号楼' });
  await rows.first().waitFor();
  assert.ok(await rows.count() > 10);
  assert.ok(await page.getByRole('cell', { name: '无账号（可代办）' }).count() > 0, 'people without accounts are on the register');
  await page.getByLabel('查找', { exact: true }).fill('1号楼-101');
  await page.getByRole('button', { name: '查找' }).click();
  // The list is by unit, so 1号楼-101 heads it before and after the search: wait until every
  // row shown is of that unit.
  await page.waitForFunction(() => {
    const shown = [...document.querySelectorAll('main table tbody tr')];
    return shown.length > 0 && shown.every((r) => r.textContent.includes('1号楼-101'));
  });
  assert.ok(await page.locator('main table tbody tr').count() >= 1);

  // Owners: the developer's unsold units are one owner.
  await page.getByRole('link', { name: '业主' }).click();
  await page.getByRole('cell', { name: '开发建设单位', exact: true }).first().waitFor();

  // The electorate a poll would count now, with what to check.
  await page.getByRole('link', { name: '表决人数预览' }).click();
  await page.getByText(/现在开始表决将计 \d+ 个表决单位/).waitFor();
  await page.getByLabel('投票人').selectOption('owners');
  await page.getByText(/专有面积合计 [\d,]+\.\d\d 平方米/).waitFor();

  // Importing a file: one person added, one bad row reported by its line.
  await page.getByRole('link', { name: '导入名册' }).click();
  const csv = 'name,document_kind,document_number,status,building,number\n'
    + '新住户,居民身份证,11010519491231002X,常住,1号楼,101\n'
    + '错号码,居民身份证,110105194912310021,常住,1号楼,102\n';
  await page.getByLabel('名册文件（CSV，UTF-8）').setInputFiles({ name: 'register.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await page.getByRole('button', { name: '导入' }).click();
  await page.getByText('新增 1 人').waitFor();
  await page.getByText('1 行未导入：').waitFor();
  await page.getByRole('cell', { name: '3', exact: true }).waitFor();

  // The same page in English.
  await page.getByLabel('语言').selectOption('en');
  await page.getByRole('heading', { name: 'Community register', level: 1 }).waitFor();
  const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
    .filter((c) => c.labels.length === 0 && !c.getAttribute('aria-label')).map((c) => c.outerHTML));
  assert.deepEqual(unlabelled, []);
  assert.deepEqual(errors, []);
  await context.close();
});

test('a grid worker asks for a change and another person confirms it', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await signIn(page, server.base, 'grid@guihua.demo.yishi.localhost');
  await page.goto(`${server.base}/#/register?tab=requests`);
  await page.getByRole('heading', { name: '变更申请' }).waitFor();
  await page.getByLabel('变化类型').selectOption('died');
  const person = page.getByLabel('人员', { exact: true });
  const chosen = (await person.locator('option').first().textContent()).split(' · ')[0];
  await page.getByLabel('依据').fill('死亡医学证明 第0001号');
  await page.getByRole('button', { name: '提交申请' }).click();
  await page.locator('li.card', { hasText: '死亡医学证明 第0001号' }).getByText('待确认').waitFor();
  // A committee member, in a browser of their own, confirms it; the person is recorded as
  // deceased.
  const committee = await browser.newContext();
  const other = await committee.newPage();
  other.on('pageerror', (e) => errors.push(e.message));
  await signIn(other, server.base, 'committee@guihua.demo.yishi.localhost');
  await other.goto(`${server.base}/#/register?tab=requests`);
  const card = other.locator('li.card', { hasText: '死亡医学证明 第0001号' });
  await card.getByRole('button', { name: '确认并写入名册' }).click();
  await other.locator('li.card', { hasText: '死亡医学证明 第0001号' }).getByText('已确认').waitFor();
  await other.goto(`${server.base}/#/register?tab=persons`);
  await other.getByLabel('查找', { exact: true }).fill(chosen);
  await other.getByRole('button', { name: '查找' }).click();
  await other.getByRole('cell', { name: '已故' }).first().waitFor();
  assert.deepEqual(errors, []);
  await committee.close();
  await context.close();
});

test('a resident is told the register is not theirs', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, server.base, 'resident1@guihua.demo.yishi.localhost');
  await page.goto(`${server.base}/#/register`);
  await page.getByText('社区名册由居委会、党组织书记、街道干部和网格员查看。').waitFor();
  // Their own entry is on their home page, with why it is kept, and they may ask to be erased.
  await page.goto(`${server.base}/#/`);
  await page.getByRole('heading', { name: '社区名册中的我' }).waitFor();
  await page.getByText(/社区名册用于按法律规定统计居民/).waitFor();
  await page.getByLabel('原因（可不填）').fill('想了解删除后的效果');
  await page.getByRole('button', { name: '申请从名册删除我的信息' }).click();
  await page.getByText('删除申请已提交，等待居委会确认。').waitFor();
  await context.close();
});

test('the committee exports the register as a file', async () => {
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  await signIn(page, server.base, 'committee@guihua.demo.yishi.localhost');
  await page.goto(`${server.base}/#/register?tab=persons`);
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: '导出名册（CSV）' }).click(),
  ]);
  assert.match(download.suggestedFilename(), /^register-[0-9a-f]{32}-\d{8}\.csv$/);
  const text = readFileSync(await download.path(), 'utf8');
  assert.match(text.split('\n')[0], /^name,document_kind,document_number,/);
  assert.ok(text.split('\n').length > 20);
  await context.close();
});

test('a grid worker acts for a resident without an account and a committee member confirms the co-signature', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await signIn(page, server.base, 'grid@guihua.demo.yishi.localhost');
  await page.goto(`${server.base}/#/register?tab=assist`);
  await page.getByRole('heading', { name: '为居民代办' }).waitFor();
  const person = page.getByLabel('居民', { exact: true });
  const options = await person.locator('option').allTextContents();
  const chosen = options.find((o) => o.includes('无账号'));
  assert.ok(chosen, `someone without an account in ${options.join(' | ')}`);
  const name = chosen.split(' · ')[0];
  const act = async (kind, target, reference, fill = async () => {}) => {
    await page.getByLabel('居民', { exact: true }).selectOption({ label: chosen });
    await page.getByLabel('代办事项').selectOption(kind);
    await page.getByLabel('办理对象').selectOption({ label: target });
    await fill();
    await page.getByLabel('依据', { exact: true }).fill(reference);
    await page.getByRole('button', { name: '记录代办' }).click();
    await page.locator('li.card', { hasText: reference }).waitFor();
  };
  // A session in progress and the next one.
  const open = await page.getByLabel('代办事项').selectOption('check_in')
    .then(() => page.getByLabel('办理对象').locator('option').first().textContent());
  await act('check_in', open, '签到表 第3页第9行');
  await page.getByText('已记录。').waitFor();
  const next = await page.getByLabel('代办事项').selectOption('rsvp')
    .then(() => page.getByLabel('办理对象').locator('option', { hasText: '四月' }).first().textContent());
  await act('rsvp', next, '电话 本人答复参加', () => page.getByLabel('答复').selectOption('confirmed'));
  // A proposal, a completed resolution and one on the disclosure board.
  await act('cosign', '增设电动自行车充电桩', '附议签名表 第1页第5行');
  await page.getByText('已记录，等待另一位工作人员确认后计入。').waitFor();
  const rated = await page.getByLabel('代办事项').selectOption('rating')
    .then(() => page.getByLabel('办理对象').locator('option').first().textContent());
  await act('rating', rated, '满意度回访表 第7份', () => page.getByLabel('评分').selectOption('4'));
  const disclosed = await page.getByLabel('代办事项').selectOption('objection')
    .then(() => page.getByLabel('办理对象').locator('option').first().textContent());
  await act('objection', disclosed, '书面意见 12月7日', () => page.getByLabel('异议理由').fill('施工时间太早，影响休息。'));
  const pending = page.locator('li.card', { hasText: '附议签名表 第1页第5行' });
  await pending.getByText('等待确认').first().waitFor();
  // The one who recorded it cannot confirm it.
  await pending.getByRole('button', { name: '核对无误，确认' }).click();
  await pending.getByRole('alert').waitFor();

  // A committee member, in a browser of their own, confirms it: it counts.
  const committee = await browser.newContext();
  const other = await committee.newPage();
  other.on('pageerror', (e) => errors.push(e.message));
  await signIn(other, server.base, 'committee@guihua.demo.yishi.localhost');
  await other.goto(`${server.base}/#/register?tab=assist`);
  await other.locator('li.card', { hasText: '附议签名表 第1页第5行' }).getByRole('button', { name: '核对无误，确认' }).click();
  await other.getByText('已处理。').waitFor();
  await other.locator('li.card', { hasText: '附议签名表 第1页第5行' }).getByText(/已计入/).waitFor();
  for (const reference of ['签到表 第3页第9行', '电话 本人答复参加', '满意度回访表 第7份', '书面意见 12月7日']) {
    assert.match(await other.locator('li.card', { hasText: reference }).textContent(), new RegExp(`${name}.*已计入`, 's'));
  }
  assert.deepEqual(errors, []);
  await committee.close();
  await context.close();
});
