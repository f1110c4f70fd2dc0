import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSmtp, startServer, launchBrowser } from './harness.mjs';

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

test('a resident signs up, verifies by email, signs in and joins; the committee verifies', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const email = `browser-${Date.now()}@example.org`;

  await page.goto(`${server.base}/#/signup`);
  assert.equal(await page.locator('html').getAttribute('lang'), 'zh-CN', 'Chinese by default');
  // Every control has a label.
  const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
    .filter((c) => c.labels.length === 0 && !c.getAttribute('aria-label')).map((c) => c.outerHTML));
  assert.deepEqual(unlabelled, []);

  await page.getByLabel('电子邮箱').fill(email);
  await page.getByLabel('显示名称').fill('浏览器测试');
  await page.getByLabel('密码', { exact: true }).fill('correct horse battery');
  await page.getByRole('button', { name: '注册' }).click();
  await page.getByText('注册申请已收到').waitFor();

  const [mail] = await smtp.waitFor(email);
  assert.match(mail.subject, /验证/);
  const link = mail.text.match(/http:\/\/\S+#\/verify\?token=[A-Za-z0-9_-]+/)[0];
  await page.goto(link);
  await page.getByText('邮箱已验证。').waitFor();

  await page.goto(`${server.base}/#/signin`);
  await page.getByLabel('电子邮箱').fill(email);
  await page.getByLabel('密码', { exact: true }).fill('correct horse battery');
  await page.getByRole('button', { name: '登录' }).click();
  await page.getByText('浏览器测试，您好！').waitFor();

  await page.getByRole('link', { name: '加入社区' }).first().click();
  await page.getByLabel('社区').selectOption({ label: '桂花社区' });
  await page.getByLabel('楼栋').locator('option', { hasText: '1号楼' }).waitFor({ state: 'attached' });
  await page.getByLabel('楼栋').selectOption({ label: '1号楼' });
  await page.getByLabel('房号').fill('101');
  await page.getByLabel('我住在这里').check();
  await page.getByRole('button', { name: '提交申请' }).click();
  await page.getByText('已提交加入「桂花社区」').waitFor();
  await page.goto(`${server.base}/#/`);
  await page.getByText('待核实').waitFor();

  // The committee member sees the request in the queue and verifies it.
  await page.getByRole('button', { name: '退出登录' }).click();
  await page.getByRole('button', { name: '登录' }).waitFor();
  await page.getByLabel('电子邮箱').fill('committee@guihua.demo.yishi.localhost');
  await page.getByLabel('密码', { exact: true }).fill('yishi-demo-2026');
  await page.getByRole('button', { name: '登录' }).click();
  await page.getByText('您好！').waitFor();
  await page.goto(`${server.base}/#/queue`);
  const card = page.locator('li.card', { hasText: '浏览器测试' });
  await card.getByRole('button', { name: '核实通过' }).click();
  await page.getByText('已核实 浏览器测试。').waitFor();

  const [, decided] = await smtp.waitFor(email).then(async () => {
    for (let i = 0; i < 100; i++) {
      const got = smtp.messages.filter((m) => m.to.includes(email));
      if (got.length >= 2) return got;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('no decision mail');
  });
  assert.match(decided.text, /桂花社区/);
  assert.deepEqual(errors, []);
  await context.close();
});

test('language switch, large text and keyboard navigation', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${server.base}/#/signin`);
  await page.getByRole('heading', { name: '登录' }).waitFor();

  await page.getByLabel('语言').selectOption('en');
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  assert.equal(await page.locator('html').getAttribute('lang'), 'en');
  assert.ok(await page.getByLabel('Email').isVisible());

  const before = await page.evaluate(() => parseFloat(getComputedStyle(document.documentElement).fontSize));
  await page.getByRole('button', { name: 'Large text' }).click();
  const after = await page.evaluate(() => parseFloat(getComputedStyle(document.documentElement).fontSize));
  assert.ok(after > before, `font grows: ${before} -> ${after}`);
  assert.equal(await page.getByRole('button', { name: 'Large text' }).getAttribute('aria-pressed'), 'true');

  // The first Tab reaches the skip link; Enter moves focus to the main content.
  const fresh = await context.newPage();
  await fresh.goto(`${server.base}/#/signin`);
  await fresh.getByRole('heading', { name: 'Sign in' }).waitFor();
  await fresh.keyboard.press('Tab');
  assert.equal(await fresh.evaluate(() => document.activeElement?.className), 'skip-link');
  await fresh.close();
  // Keyboard alone can sign in: tab to the email field and type.
  await page.getByLabel('Email').focus();
  await page.keyboard.type('nobody@example.org');
  await page.keyboard.press('Tab');
  await page.keyboard.type('wrong password');
  await page.keyboard.press('Enter');
  await page.getByRole('alert').getByText('Email or password is wrong.').waitFor();
  await context.close();
});

test('a page answered late does not paint over the page the user moved on to', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  // The tender board's read is held until the user has moved on to the proposals.
  let release;
  const held = new Promise((resolve) => { release = resolve; });
  let asked;
  const reading = new Promise((resolve) => { asked = resolve; });
  await page.route(/\/api\/v1\/tenders(\?.*)?$/, async (route) => { asked(); await held; await route.continue(); });
  await page.goto(`${server.base}/#/tenders`);
  await reading;
  await page.goto(`${server.base}/#/proposals`);
  await page.getByRole('heading', { name: '社区议题', level: 1 }).waitFor();

  // The board's answer arrives now; once the browser has it and has drawn a frame after it,
  // the proposals are still what is shown.
  const answered = page.waitForResponse(/\/api\/v1\/tenders(\?.*)?$/);
  release();
  await answered;
  await page.waitForFunction(() => performance.getEntriesByType('resource')
    .some((e) => /\/api\/v1\/tenders(\?.*)?$/.test(e.name) && e.responseEnd > 0));
  await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
  assert.equal(await page.locator('main h1').textContent(), '社区议题');
  assert.equal(await page.getByRole('heading', { name: '政府购买服务公告' }).count(), 0);
  await context.close();
});

test('the API docs page works under its content security policy', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  // Anything the policy refused is reported on the console ("Refused to …").
  page.on('console', (m) => { if (/Refused|Content Security Policy/i.test(m.text())) problems.push(m.text()); });
  await page.goto(`${server.base}/docs/`);
  await page.locator('.swagger-ui .info .title').waitFor();
  await page.getByText('createProposal', { exact: false }).first().waitFor({ state: 'attached' });
  assert.deepEqual(problems, []);
  await context.close();
});
