// SPDX-License-Identifier: MIT
// lib.mjs -- helpers for the conformance tests: run wagate-fakewa, talk to its admin API,
// and drive the real, unmodified Baileys client against it (only WA_CERT_DETAILS.PUBLIC_KEY
// and waWebSocketUrl are changed, see docs/wa-protocol.md section 11.1).
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import makeWASocket, { Browsers, WA_CERT_DETAILS, useMultiFileAuthState } from '@whiskeysockets/baileys';
import pino from 'pino';
import WebSocket from 'ws'; // a dependency of Baileys (the events API of wagate)

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');

export function fakewaBin() {
  const cands = [process.env.FAKEWA_BIN,
    process.env.WAGATE_BUILD && path.join(process.env.WAGATE_BUILD, 'wagate-fakewa'),
    path.join(root, 'build-asan', 'wagate-fakewa'),
    path.join(root, 'build', 'wagate-fakewa')].filter(Boolean);
  const found = cands.find((p) => existsSync(p));
  if (!found) throw new Error(`wagate-fakewa not built (tried ${cands.join(', ')})`);
  return found;
}

export function tmpDir(prefix) {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Start fakewa on free loopback ports; resolves {url, admin, root, proc, stop()}.
// With {tls: true} it also serves wss:// (--listen-tls): url is then
// wss://localhost:PORT/ws/chat, plainUrl the ws:// one, ca the test CA's PEM path and
// agent an https.Agent trusting that CA (Client passes it to Baileys' `agent` option).
// With {media: true} it also runs its HTTPS media host (--media): fw.media is its
// "127.0.0.1:PORT", fw.ca the test CA, fw.fetchAgent an https.Agent trusting it (Baileys'
// `fetchAgent`: uploads) and fw.dispatcher an undici Agent trusting it (Baileys' downloads go
// through fetch: pass {options: {dispatcher}}).
export async function startFakewa({ tls = false, media = false } = {}) {
  const state = tmpDir('fakewa-state-');
  const level = process.env.FAKEWA_LOG || 'warn';
  const args = ['--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--state', state,
    '--log-level', level];
  if (tls) args.push('--listen-tls', '127.0.0.1:0');
  if (media) args.push('--media', '127.0.0.1:0');
  const proc = spawn(fakewaBin(), args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const info = await new Promise((resolve, reject) => {
    const kv = {};
    let buf = '';
    const t = setTimeout(() => reject(new Error('fakewa did not start')), 10000);
    proc.on('exit', (code) => reject(new Error(`fakewa exited with ${code}`)));
    proc.stdout.on('data', (d) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const [k, v] = buf.slice(0, i).split(' ');
        buf = buf.slice(i + 1);
        kv[k] = v;
        if (k === 'ready') { clearTimeout(t); resolve(kv); }
      }
    });
  });
  const stop = async () => {
    if (proc.exitCode === null) {
      const done = new Promise((r) => proc.on('exit', r));
      proc.kill('SIGTERM');
      await Promise.race([done, sleep(5000)]);
      if (proc.exitCode === null) proc.kill('SIGKILL');
    }
    rmSync(state, { recursive: true, force: true });
  };
  const fw = { url: `ws://${info.listen}/ws/chat`, admin: `http://${info.admin}`, root: info.root, proc, stop };
  if (tls) {
    fw.plainUrl = fw.url;
    fw.url = `wss://localhost:${info.listen_tls.split(':').pop()}/ws/chat`;
    fw.ca = info.ca;
    fw.agent = new https.Agent({ ca: readFileSync(info.ca) });
  }
  if (media) {
    fw.media = info.media;
    fw.ca = info.ca;
    const ca = readFileSync(info.ca);
    fw.fetchAgent = new https.Agent({ ca });
    fw.dispatcher = await undiciAgent(ca);
  }
  return fw;
}

// Node's bundled undici is not importable: its Agent class is the global dispatcher's,
// which exists once fetch has run.
async function undiciAgent(ca) {
  try { await fetch('http://127.0.0.1:1/'); } catch { /* only to create the dispatcher */ }
  const Agent = globalThis[Symbol.for('undici.globalDispatcher.1')]?.constructor;
  if (!Agent) throw new Error('no undici global dispatcher');
  return new Agent({ connect: { ca } });
}

export async function admin(fw, method, p, body) {
  const res = await fetch(fw.admin + p, {
    method, headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await res.json();
  return { status: res.status, json };
}

// Wait until pred() is truthy (polling), or throw after ms.
export async function waitFor(pred, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

// A Baileys client with auth state in dir. Re-creates its socket on close code 515 (as the
// Baileys example does). onQr(qr) is called for each QR string. Collects events.
export class Client {
  constructor(fw, dir, { onQr } = {}) {
    this.fw = fw; this.dir = dir; this.onQr = onQr;
    this.closes = []; this.qrs = []; this.messages = []; this.receipts = []; this.opened = 0;
    this.stopped = false;
    this.store = new Map();
  }

  async start() {
    WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(this.fw.root, 'hex');
    const { state, saveCreds } = await useMultiFileAuthState(this.dir);
    this.state = state; this.saveCreds = saveCreds;
    this.open = new Promise((resolve, reject) => { this._resolve = resolve; this._reject = reject; });
    this.connect();
    return this.open;
  }

  connect() {
    const logger = pino({ level: process.env.BAILEYS_LOG || 'silent' });
    const sock = makeWASocket({
      auth: this.state, waWebSocketUrl: this.fw.url, logger, printQRInTerminal: false,
      agent: this.fw.agent, // wss:// only: trusts fakewa's test CA
      fetchAgent: this.fw.fetchAgent, // media uploads (fakewa --media) trust it too
      markOnlineOnConnect: false, syncFullHistory: false, browser: Browsers.ubuntu('Chrome'),
      connectTimeoutMs: 20000, defaultQueryTimeoutMs: 20000, qrTimeout: 60000,
      // Baileys needs the original content to answer a retry receipt.
      getMessage: async (key) => this.store.get(key.id),
    });
    this.sock = sock;
    sock.ev.on('creds.update', this.saveCreds);
    sock.ev.on('connection.update', (u) => {
      if (u.qr) { this.qrs.push(u.qr); this.onQr?.(u.qr); }
      if (u.connection === 'open') { this.opened++; this._resolve(sock); }
      if (u.connection === 'close') {
        const code = u.lastDisconnect?.error?.output?.statusCode;
        this.closes.push(code);
        if (code === 515 && !this.stopped) this.connect();
        else if (!this.opened) this._reject(new Error(`closed before open: ${code}`));
      }
    });
    sock.ev.on('messages.upsert', ({ messages, type }) => {
      for (const m of messages) {
        this.messages.push({ type, key: m.key, message: m.message, stub: m.messageStubType });
        if (m.message) this.store.set(m.key.id, m.message);
      }
    });
    sock.ev.on('message-receipt.update', (r) => this.receipts.push(...r));
    sock.ev.on('messages.update', (r) => this.receipts.push(...r));
  }

  textOf(m) {
    return m.message?.conversation ?? m.message?.extendedTextMessage?.text;
  }

  async waitText(text, ms = 20000) {
    return waitFor(() => this.messages.find((m) => this.textOf(m) === text), ms, `message "${text}"`);
  }

  async stop() {
    this.stopped = true;
    await sleep(300); // let pending creds writes finish
    try { this.sock?.end(undefined); } catch { /* already closed */ }
    await sleep(200);
  }
}

export function cleanup(dir) {
  rmSync(dir, { recursive: true, force: true });
}

// Create (if needed) nothing; pair a fresh Baileys client to the account `phone` by QR and
// wait for "open". Returns the Client.
export async function pairClient(fw, phone, dir) {
  const scans = [];
  const c = new Client(fw, dir, {
    onQr: async (qr) => { scans.push(await admin(fw, 'POST', '/admin/scan', { qr, phone })); },
  });
  await c.start();
  if (scans.length !== 1 || scans[0].status !== 200) throw new Error(`scan failed: ${JSON.stringify(scans)}`);
  return c;
}

export async function inbox(fw, who) {
  return (await admin(fw, 'GET', `/admin/contacts/${encodeURIComponent(who)}/inbox`)).json;
}

// ---- the real gateway daemon (wagate) against fakewa ----

export function wagateBin() {
  const cands = [process.env.WAGATE_BIN,
    process.env.WAGATE_BUILD && path.join(process.env.WAGATE_BUILD, 'wagate'),
    path.join(root, 'build-asan', 'wagate'),
    path.join(root, 'build', 'wagate')].filter(Boolean);
  const found = cands.find((p) => existsSync(p));
  if (!found) throw new Error(`wagate not built (tried ${cands.join(', ')})`);
  return found;
}

// Start the daemon `wagate ... gateway --listen 127.0.0.1:0` with one WhatsApp account
// "default" pointed at fw. dir holds wagate.json, the state dir (state/) and the logs
// (gw.log, appended); pass the dir of an earlier (stopped) gateway to restart on the same
// state. Resolves {dir, state, proc, base, token, events, api(), status(), waitState(),
// link(phone), send(), inbox(), waitInbox(), log(), stop()}. `events` collects every event
// of the /api/v1/events WebSocket (replayed from since=0) as {seq, type, data}.
export async function startWagate(fw, { dir } = {}) {
  dir ??= tmpDir('wagate-');
  const state = path.join(dir, 'state');
  const cfgPath = path.join(dir, 'wagate.json');
  const cfg = { whatsapp: { endpoint: fw.plainUrl ?? fw.url, noise_root_pubkey: fw.root,
    accounts: { default: {} } } };
  if (fw.media) cfg.media = { ca_file: fw.ca }; // fakewa's media host: trust its test CA
  writeFileSync(cfgPath, JSON.stringify(cfg));
  const logPath = path.join(dir, 'gw.log');
  const logFd = openSync(logPath, 'a');
  const proc = spawn(wagateBin(), ['--config', cfgPath, '--state-dir', state, 'gateway',
    '--listen', '127.0.0.1:0'], { stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  const exited = new Promise((r) => proc.on('exit', (code, sig) => r({ code, sig })));
  const gw = { dir, state, proc, exited, events: [], log: () => readFileSync(logPath, 'utf8') };
  gw.base = await waitFor(async () => {
    if (proc.exitCode !== null) throw new Error(`wagate exited with ${proc.exitCode}:\n${gw.log()}`);
    try {
      const { listen } = JSON.parse(readFileSync(path.join(state, 'gateway.json'), 'utf8'));
      const base = `http://${listen}`;
      return (await fetch(`${base}/healthz`)).ok ? base : null;
    } catch { return null; }
  }, 10000, 'wagate gateway.json and /healthz');
  gw.token = readFileSync(path.join(state, 'token'), 'utf8').trim();

  gw.api = async (method, p, body) => {
    const res = await fetch(gw.base + p, {
      method, headers: { authorization: `Bearer ${gw.token}`,
        ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    let json = null;
    try { json = JSON.parse(text); } catch { json = text; }
    return { status: res.status, json };
  };
  gw.status = async () => (await gw.api('GET', '/api/v1/status')).json.channels
    ?.find((c) => c.account === 'default');
  gw.waitState = (want, ms = 15000) => waitFor(async () => {
    const s = await gw.status();
    return s?.state === want ? s : null;
  }, ms, `wagate channel state ${want}`);
  // Link by QR: login route -> fakewa scans as `phone` -> connected (after the 515).
  gw.link = async (phone) => {
    const qr = await waitFor(async () => {
      const r = await gw.api('POST', '/api/v1/channels/whatsapp/default/login');
      return r.json?.qr;
    }, 10000, 'wagate QR');
    const s = await admin(fw, 'POST', '/admin/scan', { qr, phone });
    if (s.status !== 200) throw new Error(`scan failed: ${JSON.stringify(s)}`);
    return gw.waitState('connected');
  };
  gw.send = async (to, text) => {
    const r = await gw.api('POST', '/api/v1/messages', { account: 'default', to, text });
    if (r.status !== 202) throw new Error(`send: ${r.status} ${JSON.stringify(r.json)}`);
    return r.json;
  };
  gw.inbox = async () => (await gw.api('GET', '/api/v1/messages?account=default&after=0&limit=1000'))
    .json.messages;
  gw.waitInbox = (text, ms = 20000) => waitFor(async () => (await gw.inbox())
    .find((m) => m.text === text), ms, `wagate inbox "${text}"`);
  gw.waitEvent = (pred, ms = 20000, what = 'event') => waitFor(() => gw.events.find(pred), ms, what);

  const ws = new WebSocket(`ws://${gw.base.slice(7)}/api/v1/events?since=0`,
    { headers: { authorization: `Bearer ${gw.token}` } });
  ws.on('message', (d) => { try { gw.events.push(JSON.parse(d.toString())); } catch { /* skip */ } });
  ws.on('error', () => {});
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });

  // SIGTERM; resolves the exit status (SIGKILL after 5 s). The dir is kept (restart on it).
  gw.stop = async () => {
    ws.terminate();
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const r = await Promise.race([exited, sleep(5000).then(() => null)]);
      if (!r) { proc.kill('SIGKILL'); await exited; return { code: null, sig: 'timeout' }; }
    }
    return exited;
  };
  return gw;
}

// ---- the usual pair: wagate and real Baileys on one fresh fakewa ----

// A fresh fakewa (with its HTTPS media host when `media`), the accounts gwPhone and blPhone,
// wagate linked as gwPhone and Baileys paired as blPhone, both with their pre-keys uploaded.
// t.after stops everything and removes the dirs, then fails on a sanitizer report in
// wagate's log or a non-zero exit. `checks(c)`, if given, runs first (the client still up)
// and may return a function of assertions that runs last. Resolves {fw, gw, c}.
export async function linkBoth(t, { media = false, gwPhone = '+15550001', blPhone = '+15550003',
  checks } = {}) {
  const fw = await startFakewa({ media });
  const bdir = tmpDir('baileys-auth-');
  let gw = null, c = null;
  t.after(async () => {
    const post = c && checks ? checks(c) : null;
    await c?.stop();
    const st = await gw?.stop();
    await fw.stop();
    cleanup(bdir);
    if (gw) {
      const log = gw.log();
      cleanup(gw.dir);
      assert.doesNotMatch(log, /ERROR: AddressSanitizer|runtime error:/, 'sanitizer report in the wagate log');
      assert.equal(st?.code, 0, `wagate exit ${JSON.stringify(st)}`);
    }
    post?.();
  });
  assert.equal((await admin(fw, 'POST', '/admin/accounts', { phone: gwPhone })).status, 201);
  assert.equal((await admin(fw, 'POST', '/admin/accounts', { phone: blPhone })).status, 201);
  gw = await startWagate(fw);
  await gw.link(gwPhone);
  c = await pairClient(fw, blPhone, bdir);
  for (const phone of [gwPhone, blPhone].map((p) => p.replace(/^\+/, '')))
    await waitFor(async () => (await admin(fw, 'GET', `/admin/devices?phone=${phone}`)).json
      .find((x) => x.device === 1 && x.prekeys > 0), 10000, `pre-keys of ${phone}`);
  return { fw, gw, c };
}
