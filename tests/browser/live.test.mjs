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

test('a resident raises a hand, the chair gives the floor, both see the countdown, chat crosses, a reload catches up', async () => {
  const chairEmail = 'secretary@guihua.demo.yishi.localhost';
  const chairContext = await browser.newContext();
  const residentContext = await browser.newContext();
  const chair = await chairContext.newPage();
  const resident = await residentContext.newPage();
  const errors = [];
  for (const p of [chair, resident]) p.on('pageerror', (e) => errors.push(e.message));

  // The party secretary convenes the session in the page, sends the invitations and opens it.
  await signIn(chair, server.base, chairEmail);
  await chair.getByRole('link', { name: '议事会' }).click();
  await chair.getByRole('link', { name: '召集议事会' }).click();
  await chair.getByLabel('会议名称').fill('浏览器测试议事会');
  await chair.getByLabel('会议说明').fill('测试会场');
  await chair.getByLabel('地点').fill('社区活动室');
  await chair.getByLabel('议程').fill('东门路灯\n快递柜');
  await chair.getByRole('button', { name: '保存草稿' }).click();
  await chair.getByRole('heading', { name: '浏览器测试议事会' }).waitFor();
  await chair.getByText('草稿').waitFor();
  await chair.getByRole('button', { name: '发出通知' }).click();
  await chair.getByText('已发出通知').waitFor();
  await chair.getByRole('button', { name: '开始会议' }).click();
  await chair.getByText('进行中').waitFor();
  const id = chair.url().split('#/sessions/')[1];
  const s = { id };
  await chair.getByRole('link', { name: '进入会场' }).click();
  await chair.getByText('已连接').waitFor();

  await signIn(resident, server.base, 'resident1@guihua.demo.yishi.localhost');
  await resident.goto(`${server.base}/#/sessions/${s.id}`);
  await resident.getByRole('link', { name: '进入会场' }).click();
  await resident.getByText('已连接').waitFor();
  const mails = await smtp.waitFor('resident1@guihua.demo.yishi.localhost', 30000, (m) => m.subject.includes('浏览器测试议事会'));
  assert.ok(mails.some((m) => m.subject.includes('浏览器测试议事会')), 'the invitation was mailed');

  const residentName = (await apiCall(server.base, await apiToken(server.base, 'resident1@guihua.demo.yishi.localhost'), 'GET', '/accounts/me')).display_name;
  await chair.locator('.present').getByText(residentName).waitFor();

  await resident.getByRole('button', { name: '举手发言' }).click();
  await chair.locator('.hands').getByText(residentName).waitFor();
  await chair.getByRole('button', { name: '请发言' }).click();
  for (const page of [chair, resident]) {
    await page.getByText(`${residentName} 正在发言`).waitFor();
    const countdown = await page.locator('.countdown').textContent();
    assert.match(countdown, /剩余 [23]:\d\d/);
  }

  await resident.getByLabel('发送消息').fill('东门路灯什么时候修？');
  await resident.getByRole('button', { name: '发送' }).click();
  await chair.locator('.chat').getByText('东门路灯什么时候修？').waitFor();
  await chair.getByLabel('发送消息').fill('物业本周内给出方案。');
  await chair.getByRole('button', { name: '发送' }).click();
  await resident.locator('.chat').getByText('物业本周内给出方案。').waitFor();

  // A reload catches up with what was said.
  await resident.reload();
  await resident.getByText('已连接').waitFor();
  await resident.locator('.chat').getByText('物业本周内给出方案。').waitFor();
  await resident.locator('.chat').getByText('东门路灯什么时候修？').waitFor();
  await resident.getByText(`${residentName} 正在发言`).waitFor();
  await chair.getByRole('button', { name: '下一项议程' }).click();
  await resident.locator('.agenda .current').getByText('快递柜').waitFor();
  assert.deepEqual(errors, []);
  await chairContext.close();
  await residentContext.close();
});
