// Starts the real pieces for a browser test: an SMTP server on loopback, the yishi binary on
// a fresh SQLite file with the demo data loaded, and Debian's Chromium through Playwright.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SMTPServer } from 'smtp-server';
import { simpleParser } from 'mailparser';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const binary = process.env.YISHI_BIN ?? path.resolve(here, '../../target/debug/yishi');

export async function startSmtp() {
  const messages = [];
  const waiters = new Set();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      simpleParser(stream).then((mail) => {
        messages.push({ to: session.envelope.rcptTo.map((r) => r.address), subject: mail.subject, text: mail.text ?? '' });
        for (const w of waiters) w();
        callback();
      }, callback);
    },
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.server.address().port,
    messages,
    /** Waits for mail to `address` (that `match` accepts, when given); returns all of it. */
    async waitFor(address, timeoutMs = 30000, match = () => true) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const all = messages.filter((m) => m.to.includes(address));
        const found = all.some(match) ? all : [];
        if (found.length) return found;
        if (Date.now() > deadline) throw new Error(`no mail to ${address} within ${timeoutMs} ms`);
        await new Promise((resolve) => { waiters.add(resolve); setTimeout(resolve, 250); });
      }
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export async function startServer(smtpPort) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'yishi-browser-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = {
    ...process.env,
    YISHI_BIND: `127.0.0.1:${port}`,
    YISHI_PUBLIC_URL: base,
    YISHI_DATABASE_URL: `sqlite://${path.join(dir, 'yishi.db')}?mode=rwc`,
    YISHI_SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
    YISHI_LOG: 'warn',
    YISHI_EVIDENCE_DIR: path.join(dir, 'evidence'),
    YISHI_SEALING_KEY_FILE: path.join(dir, 'sealing.key'),
    YISHI_SCHEDULER_INTERVAL_SECS: '1',
  };
  execFileSync(binary, ['demo'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const child = spawn(binary, ['serve'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  const deadline = Date.now() + 30000;
  for (;;) {
    try {
      const r = await fetch(`${base}/readyz`);
      if (r.ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error('yishi did not become ready');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    base,
    database: path.join(dir, 'yishi.db'),
    stop: () => new Promise((resolve) => { child.once('exit', resolve); child.kill('SIGTERM'); }),
  };
}

export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export const DEMO_PASSWORD = 'yishi-demo-2026';

/** Signs in through the page, as a person would. */
export async function signIn(page, base, email, password = DEMO_PASSWORD) {
  await page.goto(`${base}/#/signin`);
  await page.getByLabel('电子邮箱').fill(email);
  await page.getByLabel('密码', { exact: true }).fill(password);
  await page.getByRole('button', { name: '登录' }).click();
  await page.getByText('您好！').waitFor();
}

/** A bearer token through the API, for setting the scene. */
export async function apiToken(base, email, password = DEMO_PASSWORD) {
  const r = await fetch(`${base}/api/v1/accounts/sessions`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email, password }),
  });
  if (r.status !== 201) throw new Error(`${email} cannot sign in: ${r.status}`);
  return (await r.json()).token;
}

export async function apiCall(base, token, method, path, body) {
  const r = await fetch(`${base}/api/v1${path}`, {
    method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/**
 * Runs one SQL statement on the server's SQLite file (through Python's sqlite3, which waits
 * for the server's locks): how a test lets days pass, e.g. a disclosure period end.
 */
export function sqlite(database, sql, params = []) {
  const script = 'import json, sqlite3, sys\n'
    + 'c = sqlite3.connect(sys.argv[1], timeout=30)\n'
    + 'n = c.execute(sys.argv[2], json.loads(sys.argv[3])).rowcount\n'
    + 'c.commit()\nprint(n)\n';
  return Number(execFileSync('python3', ['-c', script, database, sql, JSON.stringify(params)]).toString().trim());
}
