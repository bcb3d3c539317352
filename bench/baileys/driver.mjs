// SPDX-License-Identifier: MIT
// driver.mjs -- the bench's Baileys side: an unmodified Baileys 7.0.0-rc14 client in the role
// of the anchor's WhatsApp channel (useMultiFileAuthState, a messages.upsert handler that hands
// each text to the application, sendMessage, the anchor's reconnect policy), for
// bench/compare.py. The only changes to Baileys' defaults are the two that point it at fakewa
// (WA_CERT_DETAILS.PUBLIC_KEY and waWebSocketUrl, as tests/conformance/lib.mjs does).
//
//   node driver.mjs --url ws://H:P/ws/chat --root HEX --dir DIR --accounts N --phone-base D
//
// Account i (0..N-1) keeps its auth state in DIR/a<i> and is the fakewa account +(D+i).
// One socket per account, all in this process. Lines on stdout:
//   qr <i> <qr>        pairing: the orchestrator scans it as account i's phone
//   open <i> <ms>      account i's socket opened (ms since this process started)
//   close <i> <code>   it closed (reconnect follows, as the anchor's channel does)
//   all-open <ms>      every account was open at least once
//   count <n>          answer to `count`: texts handed to the application so far
//   sent <n> <ms>      answer to `send`: n sendMessage calls resolved
// Commands on stdin, one a line: `count`, `send <i> <jid> <n> <concurrency>`, `quit`.
import { createInterface } from 'node:readline';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const mods = process.env.BAILEYS_MODULES
  || path.resolve(here, '..', '..', 'tests', 'conformance', 'node_modules');
const imp = (p) => import(pathToFileURL(path.join(mods, p)).href);
const B = await imp('@whiskeysockets/baileys/lib/index.js');
const pino = (await imp('pino/pino.js')).default;
const makeWASocket = B.default;
const { Browsers, WA_CERT_DETAILS, DisconnectReason, useMultiFileAuthState } = B;

const arg = (k, d) => {
  const i = process.argv.indexOf(`--${k}`);
  return i > 0 ? process.argv[i + 1] : d;
};
const url = arg('url');
const dir = arg('dir');
const n = Number(arg('accounts', '1'));
const phoneBase = Number(arg('phone-base', '15550100'));
WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(arg('root'), 'hex');

const t0 = performance.now() - process.uptime() * 1000; // process start, not module load
const ms = () => (performance.now() - t0).toFixed(1);
const out = (s) => process.stdout.write(`${s}\n`);
const logger = pino({ level: 'silent' });

// The application: what the gateway hands each inbound text to.
let delivered = 0;
const app = (account, from, text) => { if (typeof text === 'string') delivered++; };

class Account {
  constructor(i) { this.i = i; this.opened = false; this.attempt = 0; this.stopped = false; }

  async start() {
    const { state, saveCreds } = await useMultiFileAuthState(path.join(dir, `a${this.i}`));
    this.state = state; this.saveCreds = saveCreds;
    this.connect();
  }

  connect() {
    const sock = makeWASocket({
      auth: this.state, waWebSocketUrl: url, logger, printQRInTerminal: false,
      markOnlineOnConnect: false, syncFullHistory: false, browser: Browsers.ubuntu('Chrome'),
    });
    this.sock = sock;
    sock.ev.on('creds.update', this.saveCreds);
    sock.ev.on('connection.update', (u) => {
      if (u.qr) out(`qr ${this.i} ${u.qr}`);
      if (u.connection === 'open') {
        this.attempt = 0;
        out(`open ${this.i} ${ms()}`);
        if (!this.opened) { this.opened = true; opened(); }
      }
      if (u.connection === 'close') {
        const code = u.lastDisconnect?.error?.output?.statusCode;
        out(`close ${this.i} ${code}`);
        if (this.stopped || code === DisconnectReason.loggedOut) return;
        // The anchor's policy: restart-required at once, else 2 s x 1.8, cap 30 s, +0-25 %.
        const d = code === DisconnectReason.restartRequired ? 0
          : Math.min(30000, 2000 * 1.8 ** this.attempt++) * (1 + Math.random() * 0.25);
        setTimeout(() => this.connect(), d);
      }
    });
    sock.ev.on('messages.upsert', ({ messages, type }) => {
      if (type !== 'notify') return;
      for (const m of messages) {
        if (m.key.fromMe) continue;
        app(this.i, m.key.remoteJid, m.message?.conversation ?? m.message?.extendedTextMessage?.text);
      }
    });
  }
}

let openCount = 0;
function opened() { if (++openCount === n) out(`all-open ${ms()}`); }

const accounts = [];
for (let i = 0; i < n; i++) accounts.push(new Account(i));
await Promise.all(accounts.map((a) => a.start()));

async function send(i, jid, count, conc) {
  const s = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const k = next++;
      await accounts[i].sock.sendMessage(jid, { text: `bench outbound ${k}: the quick brown fox jumps over the lazy dog` });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, conc) }, worker));
  out(`sent ${count} ${(performance.now() - s).toFixed(1)}`);
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const [cmd, ...a] = line.trim().split(/\s+/);
  if (cmd === 'count') out(`count ${delivered}`);
  else if (cmd === 'send') send(Number(a[0]), a[1], Number(a[2]), Number(a[3] ?? 1))
    .catch((e) => out(`error send ${e.message}`));
  else if (cmd === 'quit') {
    for (const acc of accounts) { acc.stopped = true; try { acc.sock.end(undefined); } catch { /* closed */ } }
    setTimeout(() => process.exit(0), 300);
  }
});
