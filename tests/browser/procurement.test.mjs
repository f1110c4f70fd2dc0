import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSmtp, startServer, launchBrowser, signIn, sqlite } from './harness.mjs';

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

const PDF = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');
const hexId = (id) => id.replaceAll('-', '');

/** Reloads `url` until `locator(page)` shows, or fails after 30 s (the scheduler runs every second). */
async function reloadUntil(page, url, locator) {
  const deadline = Date.now() + 30000;
  await page.goto(url);
  for (;;) {
    await page.reload();
    await page.locator('h1').first().waitFor();
    if (await locator(page).count() > 0) return;
    if (Date.now() > deadline) throw new Error(`what was awaited did not appear on ${url}`);
    await page.waitForTimeout(250);
  }
}

test('an officer publishes, two organisations bid, three evaluators score, the award is made and the first milestone accepted', async () => {
  const errors = [];
  const open = async (email) => {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    if (email) await signIn(page, server.base, email);
    return { context, page };
  };

  // The officer creates the tender and publishes it.
  const officer = await open('officer@demo.yishi.localhost');
  let page = officer.page;
  await page.goto(`${server.base}/#/tenders`);
  await page.getByRole('link', { name: '发布采购项目' }).click();
  await page.getByLabel('项目名称').fill('望湖街道助浴上门服务');
  await page.getByLabel('服务内容').fill('为失能老人提供每月两次上门助浴。');
  await page.getByLabel('服务类别').selectOption('elderly_care');
  await page.getByLabel('预算上限（元）').fill('200000');
  await page.getByLabel('资格条件', { exact: true }).fill('依法登记的社会组织。');
  await page.getByLabel('必备资质').fill('民政部门登记证书');
  await page.getByRole('button', { name: '保存为筹备中' }).click();
  await page.locator('#tender-status', { hasText: '筹备中' }).waitFor();
  const id = page.url().split('/').pop();
  const url = `${server.base}/#/tenders/${id}`;
  await page.getByLabel('招标文件').setInputFiles({ name: '招标文件.pdf', mimeType: 'application/pdf', buffer: PDF });
  await page.getByRole('button', { name: '上传' }).click();
  await page.getByRole('link', { name: '招标文件.pdf' }).waitFor();
  await page.getByRole('button', { name: '发布', exact: true }).click();
  await page.locator('#tender-status', { hasText: '招标中' }).waitFor();

  // Two organisations bid; each sees its sealed receipt.
  const bidders = [];
  for (const [email, price, plan] of [
    ['care@demo.yishi.localhost', '180000', '配备移动助浴车，两名护理员上门。'],
    ['youth@demo.yishi.localhost', '150000', '与社区卫生服务站合作，护士陪同上门。'],
  ]) {
    const bidder = await open(email);
    bidders.push(bidder);
    await bidder.page.goto(url);
    await bidder.page.getByLabel('报价（元）').fill(price);
    await bidder.page.getByLabel('技术方案').fill(plan);
    await bidder.page.getByLabel('服务团队').fill('李护理｜护理员');
    await bidder.page.getByRole('button', { name: '密封提交投标' }).click();
    await bidder.page.getByText('投标摘要（SHA-256）：').waitFor();
  }
  const mail = await smtp.waitFor('care@demo.yishi.localhost', 30000, (m) => m.subject.includes('投标已收到'));
  assert.ok(mail.some((m) => /[0-9a-f]{64}/.test(m.text)));
  // Nobody else sees the bids before the deadline.
  await page.goto(`${server.base}/#/tenders`);
  await page.goto(url);
  await page.locator('#tender-status', { hasText: '招标中' }).waitFor();
  assert.ok(!(await page.locator('main').textContent()).includes('移动助浴车'));

  // The deadline passes: the scheduler opens the bids.
  assert.equal(sqlite(server.database, 'UPDATE tenders SET enquiry_ends_at = created_at, tender_ends_at = created_at WHERE lower(hex(id)) = ?', [hexId(id)]), 1);
  await reloadUntil(page, url, (p) => p.locator('#tender-status', { hasText: '评审中' }));
  await page.getByText(/自动开标，共 2 份投标/).waitFor();

  // The officer appoints three evaluators.
  await page.getByRole('link', { name: '评审' }).first().click();
  for (const n of [1, 2, 3]) {
    await page.getByLabel('专家邮箱').fill(`expert${n}@demo.yishi.localhost`);
    await page.getByRole('button', { name: '指派评审专家' }).click();
    await page.locator('ul.panel li').nth(n - 1).waitFor();
  }

  // Each declares no conflict, then scores both bids.
  const marks = [[90, 70], [85, 75], [88, 72]];
  for (const n of [1, 2, 3]) {
    const expert = await open(`expert${n}@demo.yishi.localhost`);
    await expert.page.goto(`${server.base}/#/tenders/${id}/evaluation`);
    await expert.page.getByLabel('声明内容').fill('与各投标人无利害关系。');
    await expert.page.getByRole('button', { name: '提交声明' }).click();
    await expert.page.locator('form.sheet').waitFor();
    const rows = expert.page.locator('form.sheet tbody tr');
    for (let r = 0; r < 2; r += 1) {
      const name = await rows.nth(r).locator('th').textContent();
      const mark = name.includes('乐龄') ? marks[n - 1][0] : marks[n - 1][1];
      const inputs = rows.nth(r).locator('input');
      for (let i = 0; i < await inputs.count(); i += 1) await inputs.nth(i).fill(String(mark));
    }
    await expert.page.getByRole('button', { name: '提交评分' }).click();
    if (n < 3) await expert.page.getByText('您的评分已提交；等待其他专家提交。').waitFor();
    else await expert.page.locator('table.ranking').waitFor();
    await expert.context.close();
  }

  // The officer sees the ranking and publishes the proposed award.
  await page.goto(url);
  await page.goto(`${server.base}/#/tenders/${id}/evaluation`);
  await page.locator('table.ranking tbody tr').first().waitFor();
  const first = await page.locator('table.ranking tbody tr').first().textContent();
  // 乐龄: 30·150000/180000 = 25 + 70·0.8767 = 61.37 → 86.37; 阳光: 30 + 70·0.7233 = 80.63.
  assert.ok(first.includes('乐龄为老服务中心') && first.includes('86.37'), first);
  await page.getByRole('button', { name: '公示拟授予结果' }).click();
  await page.getByText('拟授予（公示中）').waitFor();

  // The publicity period passes without complaint: the award is made.
  assert.equal(sqlite(server.database, 'UPDATE tenders SET publicity_ends_at = award_proposed_at WHERE lower(hex(id)) = ?', [hexId(id)]), 1);
  await page.reload();
  await page.getByRole('button', { name: '公示期满，正式授予' }).click();
  await page.locator('#tender-status', { hasText: '已授予' }).waitFor();
  const outcome = await smtp.waitFor('youth@demo.yishi.localhost', 30000, (m) => m.subject.includes('评审结果'));
  assert.ok(outcome.some((m) => m.text.includes('乐龄为老服务中心') && m.text.includes('2/2')));

  // The contract, with two milestones.
  await page.getByLabel('履约节点').fill('2027-03-31｜90000｜第一季度助浴｜服务台账\n2027-11-20｜90000｜全年助浴｜年度总结');
  await page.getByRole('button', { name: '签订合同' }).click();
  await page.locator('#contract-status', { hasText: '履行中' }).waitFor();
  const contractUrl = page.url();

  // The provider reports the first milestone with evidence.
  page = bidders[0].page;
  await page.goto(contractUrl);
  const milestone = page.locator('.contract-milestones li').first();
  await milestone.getByLabel('节点完成情况').fill('完成助浴 96 人次。');
  await milestone.getByLabel('佐证材料（PDF 或图片）').setInputFiles({ name: '台账.pdf', mimeType: 'application/pdf', buffer: PDF });
  await milestone.getByRole('button', { name: '提交节点报告' }).click();
  await page.locator('.contract-milestones li[data-status="reported"]').waitFor();

  // The officer accepts it: the payment is recorded and the provider is told.
  page = officer.page;
  await page.goto(contractUrl);
  await page.reload();
  const reported = page.locator('.contract-milestones li').first();
  await reported.getByRole('link', { name: '台账.pdf' }).waitFor();
  await reported.getByLabel('理由').fill('台账完整，予以验收。');
  await reported.getByRole('button', { name: '验收通过并记录付款' }).click();
  await page.locator('.contract-milestones li[data-status="accepted"]').waitFor();
  await page.getByText(/已付 ¥90,000.00/).waitFor();
  await smtp.waitFor('care@demo.yishi.localhost', 30000, (m) => m.subject.includes('节点验收'));

  // The public board and the OCDS data show it, without bids.
  const reader = await open(null);
  await reader.page.goto(`${server.base}/#/tenders`);
  await reader.page.getByRole('link', { name: '望湖街道助浴上门服务' }).waitFor();
  const ocds = await (await fetch(`${server.base}/api/v1/ocds/releases`)).json();
  const mine = ocds.releases.filter((r) => r.ocid.endsWith(id));
  assert.ok(mine.some((r) => r.tag.includes('contract')));
  assert.ok(!JSON.stringify(mine).includes('移动助浴车'));
  assert.deepEqual(errors, []);
  for (const c of [officer, reader, ...bidders]) await c.context.close();
});
