import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSmtp, startServer, launchBrowser, signIn, apiToken, apiCall } from './harness.mjs';

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

test('two residents vote in the live room, the chair closes the vote, both see the result', async () => {
  const chairEmail = 'committee@guihua.demo.yishi.localhost';
  const token = await apiToken(server.base, chairEmail);
  const me = await apiCall(server.base, token, 'GET', '/accounts/me');
  const community = me.roles.find((r) => r.role === 'committee_member').place_id;
  const sessions = await apiCall(server.base, token, 'GET', `/sessions?community_id=${community}`);
  const live = sessions.find((s) => s.status === 'open');
  // The chair prepares the question; it opens from the room.
  await apiCall(server.base, token, 'POST', '/polls', {
    session_id: live.id, agenda_item_id: live.agenda[0].id, question: '同意在小区东侧增设快递柜吗？',
    kind: 'yes_no', electorate: 'residents', preset: 'simple_majority', show_tally: true,
  });

  const contexts = [];
  const pages = [];
  const errors = [];
  for (const email of [chairEmail, 'resident1@guihua.demo.yishi.localhost', 'resident2@guihua.demo.yishi.localhost']) {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    await signIn(page, server.base, email);
    await page.goto(`${server.base}/#/sessions/${live.id}/live`);
    await page.getByText('已连接').waitFor();
    contexts.push(context);
    pages.push(page);
  }
  const [chair, ...residents] = pages;
  await chair.getByRole('button', { name: '开始表决：同意在小区东侧增设快递柜吗？' }).click();

  const question = '同意在小区东侧增设快递柜吗？';
  const panel = (page) => page.locator('.poll-live', { hasText: question });
  for (const resident of residents) {
    const votes = panel(resident);
    await votes.waitFor();
    await votes.getByRole('button', { name: '赞成' }).click();
    await votes.getByText('您的选择：赞成。确认投出吗？').waitFor();
    await votes.getByRole('button', { name: '确认投票' }).click();
    await votes.getByText('投票成功。').waitFor();
    const receipt = await votes.locator('.receipt').textContent();
    assert.match(receipt, /^[0-9a-f]{32}$/);
  }
  // The chair sees the running tally, then closes and counts.
  await chair.locator('.votes .tally').getByText('赞成 2').waitFor();
  await panel(chair).getByRole('button', { name: '结束表决并计票' }).click();
  for (const page of pages) {
    const votes = panel(page);
    await votes.locator('.verdict').getByText('通过').waitFor();
    await votes.getByText(/参与 2 \/ \d+/).waitFor();
    await votes.getByRole('img', { name: /按人数/ }).waitFor();
  }
  // The published result page shows the same, signed out.
  const polls = await apiCall(server.base, token, 'GET', `/polls?session_id=${live.id}`);
  const ours = polls.find((p) => p.question === question);
  const anonymous = await browser.newContext();
  const reader = await anonymous.newPage();
  await reader.goto(`${server.base}/#/polls/${ours.id}`);
  await reader.locator('.verdict').getByText('通过').waitFor();
  assert.deepEqual(errors, []);
  for (const c of [...contexts, anonymous]) await c.close();
});

test('a poll with a custom counting rule is made in the form and shows its rule in words', async () => {
  const email = 'committee@guihua.demo.yishi.localhost';
  const token = await apiToken(server.base, email);
  const me = await apiCall(server.base, token, 'GET', '/accounts/me');
  const community = me.roles.find((r) => r.role === 'committee_member').place_id;
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await signIn(page, server.base, email);
  await page.goto(`${server.base}/#/polls/new?community=${community}`);
  await page.getByLabel('表决事项').fill('是否延长活动室开放时间？');
  await page.getByLabel('计票规则').selectOption('custom');
  const rule = page.locator('fieldset.custom-rule');
  await rule.waitFor();
  // Quorum: at least 1/3 of heads; passes with more than 3/5 of the whole electorate.
  const quorum = rule.getByRole('group', { name: '人数法定比例' });
  await quorum.getByLabel('分子').fill('1');
  await quorum.getByLabel('分母').fill('3');
  const threshold = rule.getByRole('group', { name: '通过门槛' });
  await threshold.getByLabel('比较方式').selectOption('true');
  await threshold.getByLabel('分子').fill('3');
  await threshold.getByLabel('分母').fill('5');
  await rule.getByLabel('门槛的计算基数').selectOption('electorate');
  await page.getByRole('button', { name: '保存' }).click();
  await page.waitForURL(/#\/polls\/[0-9a-f-]{36}$/);
  await page.getByText('通过：全体有表决权者的> 3/5（按人数）；参与人数须达≥ 1/3').waitFor();
  const id = page.url().split('/').pop();
  const poll = await apiCall(server.base, token, 'GET', `/polls/${id}`);
  assert.deepEqual(poll.rule, {
    quorum_headcount: { num: 1, den: 3, strict: false },
    // No area quorum: the field is absent (the API leaves out what is not set).
    threshold: { num: 3, den: 5, strict: true },
    base: 'electorate',
    measure: 'headcount',
  });
  assert.deepEqual(errors, []);
  await context.close();
});

test('after voting on the poll page, its counts follow without a reload', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const email = 'resident1@guihua.demo.yishi.localhost';
  const token = await apiToken(server.base, email);
  const me = await apiCall(server.base, token, 'GET', '/accounts/me');
  const community = me.roles.find((r) => r.role === 'resident').place_id;
  const polls = await apiCall(server.base, token, 'GET', `/polls?community_id=${community}`);
  const open = polls.find((p) => p.question.startsWith('小区广场增设哪些健身器材'));
  const before = await apiCall(server.base, token, 'GET', `/polls/${open.id}`);
  assert.equal(before.my_voters.some((v) => !v.voted), true, 'resident1 has not voted in the demo');
  await signIn(page, server.base, email);
  await page.goto(`${server.base}/#/polls/${open.id}`);
  const shown = `已投票 ${before.participation.headcount} / ${before.electorate_size.headcount}`;
  await page.getByText(shown).waitFor();
  await page.getByRole('button', { name: '太空漫步机' }).click();
  await page.getByRole('button', { name: '下一步' }).click();
  await page.getByRole('button', { name: '确认投票' }).click();
  await page.getByText('投票成功。').waitFor();
  await page.getByText(`已投票 ${before.participation.headcount + 1} / ${before.electorate_size.headcount}`).waitFor();
  assert.ok(await page.locator('.receipt').count() === 1, 'the receipt stays in view');
  assert.deepEqual(errors, []);
  await context.close();
});
