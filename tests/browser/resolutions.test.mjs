import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSmtp, startServer, launchBrowser, signIn, apiToken, apiCall, sqlite } from './harness.mjs';

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

/** A 1×1 PNG: the photo the property firm attaches. */
const PHOTO = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000'
  + '1f15c4890000000d49444154789c63f8cfc0f01f00050001ff89993d1d0000000049454e44ae426082', 'hex');

/** Reloads the page until `locator` shows, or fails after 30 s (the scheduler runs every second). */
async function reloadUntil(page, url, selector) {
  const deadline = Date.now() + 30000;
  await page.goto(url);
  for (;;) {
    // Going to the same hash again would not render afresh; reload does.
    await page.reload();
    await page.locator('h1').first().waitFor();
    if (await page.locator(selector).count() > 0) return;
    if (Date.now() > deadline) throw new Error(`${selector} did not appear on ${url}`);
    await page.waitForTimeout(250);
  }
}

test('from a passed vote to a completed, rated resolution shown on the dashboard', async () => {
  const committeeEmail = 'committee@guihua.demo.yishi.localhost';
  const token = await apiToken(server.base, committeeEmail);
  const me = await apiCall(server.base, token, 'GET', '/accounts/me');
  const community = me.roles.find((r) => r.role === 'committee_member').place_id;
  // A vote of the residents that passes.
  const poll = await apiCall(server.base, token, 'POST', '/polls', {
    community_id: community, question: '是否同意在东门加装夜间照明？', kind: 'yes_no', electorate: 'residents',
  });
  await apiCall(server.base, token, 'POST', `/polls/${poll.id}/open`);
  for (const n of [1, 2, 3]) {
    const voter = await apiToken(server.base, `resident${n}@guihua.demo.yishi.localhost`);
    await apiCall(server.base, voter, 'POST', `/polls/${poll.id}/ballots`, { choices: ['yes'] });
  }
  await apiCall(server.base, token, 'POST', `/polls/${poll.id}/close`);

  const errors = [];
  const open = async (email) => {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    if (email) await signIn(page, server.base, email);
    return { context, page };
  };

  // The committee records the resolution from the vote's result page and lets it take effect.
  const committee = await open(committeeEmail);
  let page = committee.page;
  await page.goto(`${server.base}/#/polls/${poll.id}`);
  await page.getByRole('link', { name: '据此形成决议' }).click();
  await page.getByLabel('标题').waitFor();
  assert.equal(await page.getByLabel('标题').inputValue(), '是否同意在东门加装夜间照明？');
  await page.getByLabel('标题').fill('东门加装夜间照明');
  await page.getByLabel('决议内容（将做什么）').fill('物业在东门加装太阳能路灯 4 盏。');
  const orgs = page.getByLabel('责任单位');
  await orgs.selectOption(await orgs.locator('option', { hasText: '锦绣物业' }).getAttribute('value'));
  const due = new Date(Date.now() + 20 * 86400000).toISOString().slice(0, 10);
  await page.getByLabel('办理期限').fill(due);
  await page.getByRole('button', { name: '保存' }).click();
  await page.locator('.badge.status-draft').waitFor();
  const id = page.url().split('/').pop();
  await page.getByRole('button', { name: '决议生效并公示' }).click();
  await page.locator('.badge.status-disclosure').waitFor();
  await page.getByText(/公示至/).first().waitFor();

  // The disclosure days pass with no objection: the work begins.
  assert.equal(sqlite(server.database, 'UPDATE resolutions SET disclosure_ends_at = created_at WHERE lower(hex(id)) = ?', [id.replaceAll('-', '')]), 1);
  const url = `${server.base}/#/resolutions/${id}`;

  // The property firm reports with a photo and marks it completed.
  const firm = await open('property@demo.yishi.localhost');
  page = firm.page;
  await reloadUntil(page, url, '.badge.status-in_progress');
  await page.getByLabel('进展说明').fill('4 盏路灯已安装并通电。');
  await page.getByLabel('完成百分比').fill('100');
  await page.getByLabel('佐证材料').setInputFiles({ name: '路灯.png', mimeType: 'image/png', buffer: PHOTO });
  await page.getByRole('button', { name: '发布进展' }).click();
  await page.getByText('4 盏路灯已安装并通电。').waitFor();
  await page.getByRole('button', { name: /路灯\.png/ }).waitFor();
  await page.getByRole('button', { name: '标记为已办结' }).click();
  await page.locator('.badge.status-completed').waitFor();

  // A resident rates it.
  const resident = await open('resident1@guihua.demo.yishi.localhost');
  page = resident.page;
  await page.goto(url);
  // Nothing is chosen for them: submitting untouched sends nothing.
  await page.getByRole('button', { name: '提交评价' }).click();
  assert.equal(await page.getByLabel('满意度').evaluate((e) => e.validity.valueMissing), true);
  await page.getByLabel('满意度').selectOption('5');
  await page.getByLabel('意见（可选）').fill('晚上回家亮堂多了。');
  await page.getByRole('button', { name: '提交评价' }).click();
  await page.getByText('平均 5.00 分，共 1 人评价').waitFor();
  await page.getByText('您的评价：5 星').waitFor();

  // The public page tells the whole story without names.
  const reader = await open(null);
  await reader.page.goto(`${server.base}/#/board`);
  await reader.page.getByRole('link', { name: '游乐场开放时间定为 7:00 至 21:00' }).waitFor();
  await reader.page.goto(url);
  await reader.page.locator('.badge.status-completed').waitFor();
  await reader.page.getByText('表决结束').waitFor();
  await reader.page.getByText('决议办结').first().waitFor();
  const text = await reader.page.locator('main').textContent();
  assert.ok(!text.includes('陈经理'), 'the public page names no one');

  // The dashboard counts it: the demo's completed resolution and this one.
  page = committee.page;
  await page.goto(`${server.base}/#/dashboard?place=${community}`);
  const completed = page.locator('tr[data-figure="resolutions_completed"] td').first();
  await completed.waitFor();
  assert.equal(await completed.textContent(), '2');
  await page.getByRole('img', { name: '居民满意度（满分 5）' }).waitFor();
  await page.getByRole('img', { name: '各次表决的参与率' }).waitFor();
  assert.deepEqual(errors, []);
  for (const c of [committee, firm, resident, reader]) await c.context.close();
});

test('a visitor finds the record fingerprint from the board and can copy it', async () => {
  const context = await browser.newContext({ locale: 'zh-CN' });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${server.base}/#/board`);
  await page.getByRole('link', { name: '操作记录指纹（每日公布）' }).click();
  await page.getByRole('heading', { name: '操作记录指纹', level: 1 }).waitFor();
  // The scheduler publishes the day's head at its first pass.
  const deadline = Date.now() + 30000;
  while (await page.locator('code.fingerprint').count() === 0) {
    if (Date.now() > deadline) throw new Error('no fingerprint shown');
    await page.reload();
    await page.getByRole('heading', { name: '操作记录指纹', level: 1 }).waitFor();
  }
  const head = await page.locator('code.fingerprint').first().textContent();
  assert.match(head, /^yishi-audit-head\/1 \d{4}-\d{2}-\d{2} [\d.]+ [0-9a-f]{64}$/);
  const published = await (await fetch(`${server.base}/api/v1/audit/heads`)).json();
  assert.equal(published[0].head, head);
  await page.getByText(`共 ${published[0].entries} 条记录`).waitFor();
  assert.deepEqual(errors, []);
  await context.close();
});
