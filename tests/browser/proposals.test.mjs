import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSmtp, startServer, launchBrowser, signIn as signInAt, apiToken, apiCall } from './harness.mjs';
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

const signIn = (page, email) => signInAt(page, server.base, email);

async function signOut(page) {
  await page.getByRole('button', { name: '退出登录' }).click();
  await page.getByRole('heading', { name: '登录' }).waitFor();
}

async function apiCosign(email, proposalId) {
  const token = await apiToken(server.base, email);
  const p = await apiCall(server.base, token, 'POST', `/proposals/${proposalId}/cosign`, {});
  assert.ok(p.cosigned_by_me, `${email} co-signed`);
}

test('a resident proposes, nine neighbours co-sign, the committee asks for a change, the resident resubmits, the committee accepts', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const proposer = 'resident1@guihua.demo.yishi.localhost';

  await signIn(page, proposer);
  await page.getByRole('link', { name: '议题' }).click();
  await page.getByRole('link', { name: '提出议题' }).click();
  await page.getByLabel('标题').fill('东门路灯不亮');
  await page.getByLabel('内容').fill('东门内侧路灯坏了三个月。\n\n- 晚上很黑\n- 老人容易摔倒');
  await page.getByLabel('类别').selectOption({ label: '安全' });
  await page.getByRole('button', { name: '提交并征集附议' }).click();
  await page.getByRole('heading', { name: '东门路灯不亮' }).waitFor();
  await page.getByText('征集附议中').waitFor();
  await page.getByText('支持 1/10').waitFor();
  assert.equal(await page.locator('main > .proposal-body li').count(), 2, 'the list in the text is rendered as a list');
  const id = page.url().split('#/proposals/')[1];

  for (let i = 2; i <= 10; i++) await apiCosign(`resident${i}@guihua.demo.yishi.localhost`, id);
  await page.reload();
  await page.getByText('居委会审核中').waitFor();
  await page.getByText('支持 10/10').waitFor();
  await signOut(page);

  await signIn(page, 'committee@guihua.demo.yishi.localhost');
  await page.getByRole('link', { name: '提案审核' }).click();
  await page.getByRole('link', { name: '东门路灯不亮' }).click();
  await page.getByLabel('理由').fill('请写明是哪几盏路灯');
  await page.getByRole('button', { name: '要求修改' }).click();
  await page.getByText('待修改').waitFor();
  await page.getByText('居委会意见: 请写明是哪几盏路灯').waitFor();
  await signOut(page);

  await signIn(page, proposer);
  await page.goto(`${server.base}/#/proposals/${id}`);
  await page.getByText('居委会意见: 请写明是哪几盏路灯').waitFor();
  await page.getByRole('link', { name: '修改' }).click();
  await page.getByLabel('内容').fill('东门内侧第 2、3、5 号路灯不亮。');
  await page.getByRole('button', { name: '保存修改' }).click();
  await page.getByText('第 2、3、5 号路灯不亮').first().waitFor();
  await page.getByRole('button', { name: '重新提交' }).click();
  await page.getByText('居委会审核中').waitFor();
  await page.getByText('修改记录（2 个版本）').waitFor();
  await signOut(page);

  await signIn(page, 'committee@guihua.demo.yishi.localhost');
  await page.goto(`${server.base}/#/proposals/${id}`);
  await page.getByRole('button', { name: '列入议程' }).click();
  await page.getByText('已列入议程').waitFor();

  // The proposer heard of each decision by email, with the reason.
  const mails = await smtp.waitFor(proposer, 30000, (m) => m.text.includes('请写明是哪几盏路灯'));
  assert.ok(mails.some((m) => m.text.includes('请写明是哪几盏路灯')), 'change request mailed with its reason');
  // Visitors read the accepted proposal without personal data.
  const visitor = await browser.newContext();
  const anon = await visitor.newPage();
  await anon.goto(`${server.base}/#/proposals/${id}`);
  await anon.getByText('已列入议程').waitFor();
  assert.equal(await anon.getByText('提案人').count(), 0);
  await visitor.close();
  assert.deepEqual(errors, []);
  await context.close();
});
