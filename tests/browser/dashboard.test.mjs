// SPDX-License-Identifier: MIT
// dashboard.test.mjs -- the dashboard in a real browser (Debian's chromium, headless, driven
// by playwright-core) against the real daemon and wagate-fakewa: the page is served without
// a token and the API is not; a card per account (two here); the QR card while pairing (the
// image decodes to the current ref with zbarimg) and the linked state after fakewa
// scans it; the second account linked with a phone number instead (the card's form shows
// the pairing code, fakewa's phone types it); a fault injected in fakewa shows on the card within 1 s and the recovery after
// it; the send box delivers to alice; a message from alice shows in the inbox and the chat;
// the event stream resumes by seq after a drop (what happened meanwhile shows) and reconnects
// to a restarted daemon (its cursor follows the new process); logout (confirmed in a dialog,
// which the keyboard can cancel) shows a new QR; a notify-shaped event of a kind the page does
// not know is listed and resolved by its follow-up; a webhook endpoint that fails shows on the
// card (its URL without the token, the dead letters, the last error) and the card's retry
// button delivers them once the receiver is back; a phone-width page
// has no horizontal scroll; the QR on the page follows the ref rotation (~60 s of waiting). Screenshots go to $WAGATE_TEST_OUT.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const OUT = process.env.WAGATE_TEST_OUT ||
  (process.env.WAGATE_BUILD ? path.join(process.env.WAGATE_BUILD, 'browser-out') : path.join(here, 'out'));
mkdirSync(OUT, { recursive: true });

function bin(name) {
  const cands = [process.env.WAGATE_BUILD && path.join(process.env.WAGATE_BUILD, name),
    path.join(root, 'build', name), path.join(root, 'build-asan', name)].filter(Boolean);
  const found = cands.find((p) => existsSync(p));
  if (!found) throw new Error(`${name} not built (tried ${cands.join(', ')})`);
  return found;
}

async function waitFor(pred, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function startFakewa() {
  const state = mkdtempSync(path.join(tmpdir(), 'wagate-browser-fw-'));
  const proc = spawn(bin('wagate-fakewa'), ['--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0',
    '--state', state, '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const kv = await new Promise((resolve, reject) => {
    const o = {};
    let buf = '';
    const t = setTimeout(() => reject(new Error('fakewa did not start')), 30000);
    proc.on('exit', (c) => reject(new Error(`fakewa exited with ${c}`)));
    proc.stdout.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const [k, v] = buf.slice(0, i).split(' ');
        buf = buf.slice(i + 1);
        o[k] = v;
        if (k === 'ready') { clearTimeout(t); resolve(o); }
      }
    });
  });
  const admin = async (method, p, body) => {
    const r = await fetch(`http://${kv.admin}${p}`, { method,
      headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
    return { status: r.status, json: await r.json() };
  };
  return {
    url: `ws://${kv.listen}/ws/chat`, root: kv.root, admin,
    stop: async () => {
      if (proc.exitCode === null) { proc.kill('SIGTERM'); await Promise.race([new Promise((r) => proc.on('exit', r)), sleep(5000)]); }
      if (proc.exitCode === null) proc.kill('SIGKILL');
      rmSync(state, { recursive: true, force: true });
    },
  };
}

// A free loopback port (the daemon restarts on the same one, as a service would).
async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

// A webhook receiver: 500 while `fail` is set, else 204; counts what it answered 2xx.
async function startReceiver() {
  const r = { fail: true, ok: 0 };
  r.srv = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (!r.fail) r.ok++;
      res.writeHead(r.fail ? 500 : 204).end();
    });
  });
  await new Promise((ok) => r.srv.listen(0, '127.0.0.1', ok));
  r.url = `http://127.0.0.1:${r.srv.address().port}/hook?token=sekrit-token`;
  return r;
}

async function startWagate(fw, dir, port, hook) {
  const state = path.join(dir, 'state'), cfg = path.join(dir, 'wagate.json');
  // an outage of 1 s raises channel.down (the notification the page lists); every received
  // message goes to the webhook receiver, given up after 3 quick attempts
  writeFileSync(cfg, JSON.stringify({ whatsapp: { endpoint: fw.url, noise_root_pubkey: fw.root,
    accounts: { default: {}, work: {} } }, notify: { outage_after_s: 1 },
  hooks: { webhook: { endpoints: [{ url: hook.url, secret: 'a-secret-of-the-browser-test' }],
    retry_base_ms: 100, retry_max_ms: 200, max_attempts: 3 } } }));
  const fd = openSync(path.join(dir, 'gw.log'), 'a');
  const proc = spawn(bin('wagate'), ['--config', cfg, '--state-dir', state, 'gateway', '--listen',
    `127.0.0.1:${port}`], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const exited = new Promise((r) => proc.on('exit', (code, sig) => r({ code, sig })));
  const base = `http://127.0.0.1:${port}`;
  await waitFor(async () => {
    if (proc.exitCode !== null) throw new Error(`wagate exited: ${readFileSync(path.join(dir, 'gw.log'), 'utf8')}`);
    try { return (await fetch(`${base}/healthz`)).ok; } catch { return false; }
  }, 30000, 'wagate /healthz');
  const token = readFileSync(path.join(state, 'token'), 'utf8').trim();
  const api = async (method, p, body) => {
    const r = await fetch(base + p, { method, headers: { authorization: `Bearer ${token}`,
      ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
    const text = await r.text();
    let json = text;
    try { json = JSON.parse(text); } catch { /* text */ }
    return { status: r.status, json, headers: r.headers };
  };
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      if (!(await Promise.race([exited, sleep(5000).then(() => null)]))) proc.kill('SIGKILL');
    }
    return exited;
  };
  return { base, token, api, stop, log: () => readFileSync(path.join(dir, 'gw.log'), 'utf8') };
}

const card = (page) => page.locator('.card[data-account="default"]');
const cardState = (page) => card(page).getAttribute('data-state');
const qrPayload = (page) => card(page).locator('.qr img').getAttribute('data-payload');
const shot = (page, name) => page.screenshot({ path: path.join(OUT, name), fullPage: true });
const aliceHas = async (fw, text) => (await fw.admin('GET', '/admin/contacts/alice/inbox')).json
  .messages.some((m) => m.text === text);

test('dashboard in chromium', { timeout: 420000 }, async (t) => {
  const fw = await startFakewa();
  const dir = mkdtempSync(path.join(tmpdir(), 'wagate-browser-gw-'));
  const port = await freePort();
  let gw = null, browser = null;
  const hook = await startReceiver();
  t.after(async () => {
    await browser?.close();
    hook.srv.close();
    const st = await gw?.stop();
    await fw.stop();
    const log = existsSync(path.join(dir, 'gw.log')) ? readFileSync(path.join(dir, 'gw.log'), 'utf8') : '';
    writeFileSync(path.join(OUT, 'gw.log'), log);
    rmSync(dir, { recursive: true, force: true });
    assert.doesNotMatch(log, /ERROR: AddressSanitizer|runtime error:/, 'sanitizer report in the wagate log');
    if (st) assert.equal(st.code, 0, `wagate exit ${JSON.stringify(st)}`);
  });
  assert.equal((await fw.admin('POST', '/admin/accounts', { phone: '+15550001' })).status, 201);
  assert.equal((await fw.admin('POST', '/admin/contacts', { name: 'alice', phone: '+15550002' })).status, 201);
  assert.equal((await fw.admin('POST', '/admin/accounts', { phone: '+15550003' })).status, 201);
  gw = await startWagate(fw, dir, port, hook);

  await t.test('the page needs no token, the API does', async () => {
    const page = await fetch(`${gw.base}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type'), /^text\/html/);
    assert.match(page.headers.get('content-security-policy'), /default-src 'none'.*script-src 'self'/);
    assert.match(await page.text(), /<script src="\/dashboard\.js" defer><\/script>/);
    for (const a of ['/dashboard.js', '/dashboard.css'])
      assert.equal((await fetch(gw.base + a)).status, 200, a);
    assert.equal((await fetch(`${gw.base}/nothing-here`)).status, 404);
    assert.equal((await fetch(`${gw.base}/api/v1/status`)).status, 401);
  });

  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true, args: ['--no-sandbox'] });
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  const problems = [], sockets = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error' && !/WebSocket|401|Failed to load resource/.test(m.text())) problems.push(m.text()); });
  page.on('websocket', (ws) => sockets.push(ws.url()));

  let firstQr;
  await t.test('the QR card while pairing', async () => {
    await page.goto(`${gw.base}/#token=${gw.token}`);
    assert.equal(new URL(page.url()).hash, '', 'the token is taken off the address bar');
    await page.locator('#conn[data-state="live"]').waitFor({ timeout: 15000 });
    // the token goes as the subprotocol wagate.bearer.<token>, never in the URL
    assert.ok(sockets.length >= 1 && sockets.every((u) => !new URL(u).searchParams.has('token')), sockets.join(' '));
    await card(page).locator('.qr img').waitFor({ timeout: 15000 });
    firstQr = await qrPayload(page);
    // a card per account: the second one ("work") pairs too, with a QR of its own
    await page.locator('.card[data-account="work"] .qr img').waitFor({ timeout: 15000 });
    assert.equal(await page.locator('.card').count(), 2);
    assert.notEqual(await page.locator('.card[data-account="work"] .qr img').getAttribute('data-payload'), firstQr);
    assert.deepEqual(await page.locator('#send-account option').allTextContents(), ['default', 'work']);
    const api = await gw.api('GET', '/api/v1/channels/whatsapp/default/qr');
    assert.equal(firstQr, api.json.qr, 'the card shows the current QR');
    assert.equal(await cardState(page), 'pairing');
    const img = await card(page).locator('.qr img').evaluate((i) => ({ w: i.naturalWidth, ok: i.complete }));
    assert.ok(img.ok && img.w > 100, `the QR image is decoded (${JSON.stringify(img)})`);
    await shot(page, 'dashboard-qr.png');
    if (existsSync('/usr/bin/zbarimg')) { // the image a phone would scan says the same
      const f = path.join(OUT, 'qr-only.png');
      await card(page).locator('.qr img').screenshot({ path: f });
      const z = spawnSync('/usr/bin/zbarimg', ['-q', '--raw', f], { encoding: 'utf8' });
      assert.equal(z.stdout.trim(), firstQr, `zbarimg reads the QR (${z.stderr})`);
    }
  });

  await t.test('linked after fakewa scans the QR', async () => {
    const t0 = Date.now();
    const s = await fw.admin('POST', '/admin/scan', { qr: firstQr, phone: '+15550001' });
    assert.equal(s.status, 200, JSON.stringify(s.json));
    await card(page).locator('.badge', { hasText: 'linked' }).waitFor({ timeout: 15000 });
    console.log(`# scan -> card linked: ${Date.now() - t0} ms`);
    assert.equal(await cardState(page), 'connected');
    assert.equal(await card(page).locator('.qr img').count(), 0, 'the QR is gone once linked');
    assert.match(await card(page).locator('dd[data-field="number"]').textContent(), /^\+15550001 \(device \d+\)$/);
    await page.waitForTimeout(300); // the since counter ticks once
    await shot(page, 'dashboard-linked.png');
  });

  await t.test('"work" links with a phone number instead (pairing code)', async () => {
    const w = page.locator('.card[data-account="work"]');
    await w.locator('.phone summary').click();
    await w.locator('.phone input[name="phone"]').fill('+1 555 0003');
    await w.locator('.phone button[type="submit"]').click();
    const code = (await w.locator('.phone .paircode').textContent({ timeout: 10000 })).trim();
    assert.match(code, /^[1-9A-HJ-NP-TV-Z]{4}-[1-9A-HJ-NP-TV-Z]{4}$/);
    assert.match(await w.locator('.phone .code p').textContent(), /Link with phone number instead/);
    await shot(page, 'dashboard-paircode.png');
    const t0 = Date.now();
    const typed = await waitFor(async () => {
      const r = await fw.admin('POST', '/admin/paircode', { phone: '+15550003', code });
      return r.status === 404 ? null : r;
    }, 10000, 'fakewa has the companion_hello');
    assert.equal(typed.status, 200, JSON.stringify(typed.json));
    await w.locator('.badge', { hasText: 'linked' }).waitFor({ timeout: 15000 });
    console.log(`# code typed -> card linked: ${Date.now() - t0} ms`);
    assert.match(await w.locator('dd[data-field="number"]').textContent(), /^\+15550003 \(device \d+\)$/);
    assert.equal(await w.locator('.phone').isHidden(), true, 'the phone form is gone once linked');
  });

  await t.test('a fault shows on the card within 1 s, then the recovery', async () => {
    // upgrades refused for 2.5 s, then the live connection is dropped
    assert.equal((await fw.admin('POST', '/admin/fault', { type: 'refuse', duration_ms: 2500 })).status, 200);
    const t0 = Date.now();
    assert.equal((await fw.admin('POST', '/admin/fault', { type: 'close', reset: true })).status, 200);
    await page.waitForFunction(() => document.querySelector('.card[data-account="default"]')?.dataset.state !== 'connected',
      null, { timeout: 5000, polling: 10 });
    const shown = Date.now() - t0;
    console.log(`# fault -> card left connected: ${shown} ms`);
    assert.ok(shown <= 1000, `the card showed the fault after ${shown} ms (> 1 s)`);
    // the failed attempts' cause, with its stage, and the countdown to the next one
    await card(page).locator('dd[data-field="last error"] .stage').waitFor({ timeout: 10000 });
    const err = await card(page).locator('dd[data-field="last error"]').textContent();
    assert.match(err, /^[a-z_]+: ./, `last error with its stage: ${err}`);
    await shot(page, 'dashboard-fault.png');
    const t1 = Date.now();
    await card(page).locator('.badge', { hasText: 'linked' }).waitFor({ timeout: 30000 });
    console.log(`# recovered (card linked again) ${Date.now() - t1} ms after the fault showed`);
    assert.equal(await card(page).locator('dd[data-field="outage"]').count(), 0, 'no outage once back');
    // the outage (> notify.outage_after_s) is a notification, resolved by the restore
    const down = page.locator('#notes li.note[data-type="notification"][data-kind="link_down"][data-account="default"]');
    await down.waitFor({ timeout: 5000 });
    await page.locator('#notes li.note.resolved[data-kind="link_down"][data-account="default"] .resolution', { hasText: 'restored' })
      .waitFor({ timeout: 5000 });
    assert.match(await down.locator('.resolution').textContent(), /connection restored after \d+ s/);
    // the older channel.* events are not listed twice
    assert.equal(await page.locator('#notes li.note[data-type^="channel."]').count(), 0);
  });

  await t.test('the send box delivers to alice', async () => {
    const text = `hello alice from the dashboard ${Date.now()}`;
    await page.fill('#send-to', '+15550002');
    await page.fill('#send-text', text);
    await page.press('#send-text', 'Control+Enter'); // the keyboard path
    await page.locator('#chat li.out', { hasText: text }).waitFor({ timeout: 5000 });
    await waitFor(() => aliceHas(fw, text), 15000, 'alice to receive the dashboard message');
    assert.equal(await page.inputValue('#send-text'), '', 'the box is cleared');
  });

  await t.test('a message from alice shows in the inbox and the chat', async () => {
    const text = `hi gateway, alice here ${Date.now()}`;
    assert.equal((await fw.admin('POST', '/admin/contacts/alice/send', { to: '+15550001', text })).status, 200);
    await page.locator('#inbox li', { hasText: text }).waitFor({ timeout: 15000 });
    await page.locator('#chat li.in', { hasText: text }).waitFor({ timeout: 5000 });
  });

  await t.test('the webhook on the card: URL without the token, dead letters, last error, retry', async () => {
    const wh = card(page).locator('.webhooks li.webhook');
    await wh.first().waitFor({ timeout: 5000 });
    assert.equal(await wh.count(), 1);
    const url = await wh.locator('code.url').textContent();
    assert.equal(url, hook.url.replace('sekrit-token', '*'));
    assert.ok(!(await page.content()).includes('sekrit-token'), 'the token is not on the page');
    // the messages so far went to a receiver answering 500: dead letters after 3 attempts each
    await card(page).locator('.webhooks li.webhook[data-state="dead"]').waitFor({ timeout: 10000 });
    const dead = Number(await wh.locator('.counts').getAttribute('data-dead'));
    const st = (await gw.api('GET', '/api/v1/channels/whatsapp/default')).json;
    assert.ok(dead >= 1, `dead letters on the card: ${dead}`);
    assert.equal(st.webhooks.list[0].dead_letter, dead, 'the card shows the status API\'s count');
    assert.match(await wh.locator('.last-error').textContent(), /HTTP 500/);
    assert.equal(await card(page).locator('.webhooks .last-error').getAttribute('title') !== null, true);
    await shot(page, 'dashboard-webhook-dead.png');
    hook.fail = false;
    await card(page).locator('[data-action="webhooks-retry"]').click();
    await card(page).locator('.webhooks li.webhook[data-state="ok"]').waitFor({ timeout: 10000 });
    assert.equal(await wh.locator('.counts').getAttribute('data-dead'), '0');
    assert.equal(await card(page).locator('[data-action="webhooks-retry"]').count(), 0, 'no retry button without dead letters');
    assert.ok(hook.ok >= dead, `the receiver got the ${dead} retried (${hook.ok})`);
    // a new message: pending, then delivered, the card follows without a reload
    const text = `for the webhook ${Date.now()}`;
    assert.equal((await fw.admin('POST', '/admin/contacts/alice/send', { to: '+15550001', text })).status, 200);
    const before = hook.ok;
    await waitFor(() => hook.ok > before, 15000, 'the receiver to get the new message');
    await card(page).locator('.webhooks li.webhook[data-state="ok"] .counts[data-pending="0"]').waitFor({ timeout: 5000 });
  });

  await t.test('the event stream resumes by seq after a drop', async () => {
    const before = sockets.length;
    await page.evaluate(() => { S.retryMs = 2500; S.ws.close(); }); // eslint-disable-line no-undef
    await page.locator('#conn[data-state="retrying"]').waitFor({ timeout: 5000 });
    const text = `sent while the page was away ${Date.now()}`;
    assert.equal((await fw.admin('POST', '/admin/contacts/alice/send', { to: '+15550001', text })).status, 200);
    await waitFor(async () => (await gw.api('GET', '/api/v1/messages?account=default&after=0&limit=1000'))
      .json.messages?.some((m) => m.text === text), 15000, 'the gateway to store the message');
    await page.locator('#conn[data-state="live"]').waitFor({ timeout: 10000 });
    await page.locator('#inbox li', { hasText: text }).waitFor({ timeout: 5000 });
    const url = new URL(sockets[sockets.length - 1]);
    assert.ok(sockets.length > before, 'a new socket');
    assert.ok(Number(url.searchParams.get('since')) > 0, `resumed with since=SEQ (${url})`);
  });

  await t.test('reconnects to a restarted daemon', async () => {
    const st = await gw.stop();
    assert.equal(st.code, 0);
    await page.locator('#conn[data-state="retrying"]').waitFor({ timeout: 5000 });
    const oldSeq = await page.evaluate(() => S.lastSeq); // eslint-disable-line no-undef
    gw = await startWagate(fw, dir, port, hook);
    await page.locator('#conn[data-state="live"]').waitFor({ timeout: 20000 });
    await card(page).locator('.badge', { hasText: 'linked' }).waitFor({ timeout: 20000 });
    // the new process numbers its events from 1: the page's cursor follows it down (else its
    // next resume would skip every event up to the old process's last seq)
    const m = (await gw.api('GET', '/metrics')).json;
    const serverSeq = Number(/^wagate_api_events_last_seq (\d+)/m.exec(m)[1]);
    const pageSeq = await page.evaluate(() => S.lastSeq); // eslint-disable-line no-undef
    assert.ok(serverSeq < oldSeq, `the new daemon has fewer events (${serverSeq} < ${oldSeq})`);
    assert.ok(pageSeq <= serverSeq, `the page's cursor ${pageSeq} is within the new daemon's ${serverSeq}`);
  });

  await t.test('logout asks, then shows a new QR', async () => {
    // by keyboard first: Enter on the button opens the dialog with Cancel focused, Escape
    // closes it and nothing happens
    await card(page).locator('button[data-action="logout"]').focus();
    await page.keyboard.press('Enter');
    const dlg = page.locator('dialog#confirm');
    await dlg.waitFor({ state: 'visible', timeout: 5000 });
    assert.equal(await page.evaluate(() => document.activeElement.value), 'cancel', 'Cancel has the focus');
    await page.keyboard.press('Escape');
    await dlg.waitFor({ state: 'hidden', timeout: 5000 });
    await sleep(300);
    assert.equal(await cardState(page), 'connected', 'Escape keeps the link');
    await card(page).locator('button[data-action="logout"]').click();
    await dlg.waitFor({ state: 'visible', timeout: 5000 });
    await page.locator('#confirm button[value="cancel"]').click(); // Cancel: nothing happens
    await sleep(300);
    assert.equal(await cardState(page), 'connected', 'cancel keeps the link');
    await card(page).locator('button[data-action="logout"]').click();
    await dlg.waitFor({ state: 'visible', timeout: 5000 });
    await page.locator('#confirm-ok').click();
    await card(page).locator('.qr img').waitFor({ timeout: 15000 });
    const qr = await qrPayload(page);
    assert.notEqual(qr, firstQr, 'a new QR (a new device)');
    assert.equal(await cardState(page), 'pairing');
    await page.locator('#notes li', { hasText: 'logged out by the operator' }).waitFor({ timeout: 5000 });
  });

  await t.test('any notify-shaped event is listed, and its follow-up resolves it', async () => {
    // kinds other branches will publish: fed to the page's event handler as the stream would
    await page.evaluate(() => { // eslint-disable-line no-undef
      onEvent({ seq: -2, ts: new Date().toISOString(), type: 'notify.disk',
        data: { notify: { account: 'default', kind: 'disk problem', level: 'error', key: 'disk-1',
          text: 'the state disk is full' } } });
      onEvent({ seq: -1, ts: new Date().toISOString(), type: 'notify.resolved',
        data: { notify: { account: 'default', kind: 'disk ok', key: 'disk-1', resolves: 'disk problem',
          text: 'space again' } } });
    });
    const li = page.locator('#notes li.note[data-type="notify.disk"]');
    await li.waitFor({ timeout: 5000 });
    assert.match(await li.textContent(), /disk problem.*the state disk is full/);
    assert.match(await li.getAttribute('class'), /resolved/);
    assert.match(await li.locator('.resolution').textContent(), /space again/);
  });

  await t.test('readable at phone width', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await sleep(200);
    const w = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: innerWidth }));
    assert.ok(w.scroll <= w.inner, `no horizontal scroll at 390 px (${JSON.stringify(w)})`);
    await shot(page, 'dashboard-phone.png');
  });

  await t.test('the QR is replaced as the refs rotate', async () => {
    // the first QR of a pairing session is valid 60 s, later ones 20 s (wa/client.h)
    const before = await qrPayload(page);
    const t0 = Date.now();
    await page.waitForFunction((b) => {
      const img = document.querySelector('.card[data-account="default"] .qr img');
      return img && img.dataset.payload !== b;
    }, before, { timeout: 80000, polling: 100 });
    console.log(`# QR replaced on the page ${Date.now() - t0} ms after the check began`);
    const api = await gw.api('GET', '/api/v1/channels/whatsapp/default/qr');
    assert.equal(await qrPayload(page), api.json.qr, 'the page shows the current ref');
    assert.equal(await card(page).locator('.qr img').count(), 1, 'one QR, the old one gone');
  });

  assert.deepEqual(problems, [], 'no script error on the page');
});
