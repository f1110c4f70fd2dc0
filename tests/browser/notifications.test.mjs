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

test('a resident moves votes to the daily digest, receives it, and unsubscribes from its link', async () => {
  const email = 'resident4@guihua.demo.yishi.localhost';
  const errors = [];
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(e.message));
  await signIn(page, server.base, email);

  // The preferences page: votes by daily digest, at the end of the day for now.
  await page.goto(`${server.base}/#/notifications/preferences`);
  await page.getByLabel('表决').selectOption('digest');
  assert.equal(await page.getByLabel('账户安全').isDisabled(), true, 'security cannot be changed');
  assert.ok(!(await page.locator('main').textContent()).includes('null'), 'no stray "null" where a banner is absent');
  await page.getByLabel('每日摘要发送时间（北京时间）').fill('23:59');
  await page.getByRole('button', { name: '保存设置' }).click();
  await page.getByText('已保存，立即生效。').waitFor();

  // A vote closes; the resident is in its electorate.
  const committee = await apiToken(server.base, 'committee@guihua.demo.yishi.localhost');
  const me = await apiCall(server.base, committee, 'GET', '/accounts/me');
  const community = me.roles.find((r) => r.role === 'committee_member').place_id;
  const poll = await apiCall(server.base, committee, 'POST', '/polls', {
    community_id: community, question: '是否同意周末开放社区活动室？', kind: 'yes_no', electorate: 'residents',
  });
  await apiCall(server.base, committee, 'POST', `/polls/${poll.id}/open`);
  const voter = await apiToken(server.base, email);
  await apiCall(server.base, voter, 'POST', `/polls/${poll.id}/ballots`, { choices: ['yes'] });
  await apiCall(server.base, committee, 'POST', `/polls/${poll.id}/close`);

  // The result is announced after the close commits; wait for it in the feed.
  const deadline = Date.now() + 30000;
  for (;;) {
    const feed = await apiCall(server.base, voter, 'GET', '/accounts/me/notifications?limit=20');
    if (feed.items.some((n) => n.kind === 'poll_result' && n.title.includes('周末开放社区活动室'))) break;
    if (Date.now() > deadline) throw new Error('the result never reached the feed');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  // The feed page shows it, and the navigation counts it.
  await page.goto(`${server.base}/#/notifications`);
  await page.getByRole('link', { name: /表决结果 · 是否同意周末开放社区活动室？/ }).waitFor();
  await page.locator('#unread-count').filter({ hasText: /\d+/ }).waitFor();

  // Both notices wait for the digest; bring its time forward so that it is due now.
  await page.goto(`${server.base}/#/notifications/preferences`);
  await page.getByLabel('每日摘要发送时间（北京时间）').fill('00:00');
  await page.getByRole('button', { name: '保存设置' }).click();
  await page.getByText('已保存，立即生效。').waitFor();
  const isDigest = (m) => m.subject.startsWith('每日摘要');
  const digest = (await smtp.waitFor(email, 60000, isDigest)).find(isDigest);
  assert.match(digest.text, /表决结果 · 是否同意周末开放社区活动室？/);
  assert.match(digest.text, /表决开始 · 是否同意周末开放社区活动室？/);
  assert.ok(!smtp.messages.some((m) => m.to.includes(email) && m.subject.includes('周末开放社区活动室') && !isDigest(m)), 'no separate email');

  // The digest's unsubscribe link, opened signed out, turns the digest off.
  const link = digest.text.match(/https?:\/\/\S+\/#\/unsubscribe\?token=[\w.-]+/)[0];
  const stranger = await browser.newContext();
  const reader = await stranger.newPage();
  reader.on('pageerror', (e) => errors.push(e.message));
  await reader.goto(link);
  await reader.getByText(/不再向 r\*\*\*@guihua\.demo\.yishi\.localhost 发送“每日摘要”类邮件吗？/).waitFor();
  await reader.getByRole('button', { name: '确认退订' }).click();
  await reader.getByText('已退订“每日摘要”类邮件。').waitFor();

  // Read the preferences afresh (the page is still showing the earlier form).
  await page.goto(`${server.base}/#/notifications`);
  await page.getByRole('heading', { name: '通知', exact: true }).waitFor();
  await page.goto(`${server.base}/#/notifications/preferences`);
  await page.getByLabel('表决').waitFor();
  assert.equal(await page.getByLabel('表决').inputValue(), 'off');
  assert.deepEqual(errors, []);
  await stranger.close();
  await context.close();
});
