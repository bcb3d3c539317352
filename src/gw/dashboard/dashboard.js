// SPDX-License-Identifier: MIT
// The wagate dashboard: account cards, the pairing QR, notifications, the inbox and a send
// box, kept live by the event stream (/api/v1/events, resumed by seq after a reconnect).
// Everything comes from the control API with the token of the URL fragment (#token=...).
'use strict';

const API = '/api/v1';
const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};

const S = {
  token: '',
  channels: new Map(), // account -> status entry (GET /api/v1/status)
  qr: new Map(),       // account -> {payload, url, expires}
  lastSeq: -1,         // cursor of the event stream (-1: nothing seen yet)
  epoch: 0,            // daemon processes seen (seqs are per process)
  ws: null,
  retryMs: 500,
  notes: [],           // notifications, newest first
  inbox: [],           // inbox rows, newest first
  chat: new Map(),     // message id -> <li> of a message sent from here
  inboxSeen: new Set(),
};
const MAX_NOTES = 100, MAX_INBOX = 50;

// ---- token and API ----

function takeToken() {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    S.token = decodeURIComponent(m[1]);
    try { sessionStorage.setItem('wagate.token', S.token); } catch (e) { /* private mode */ }
    history.replaceState(null, '', location.pathname + location.search); // off the address bar
  } else {
    try { S.token = sessionStorage.getItem('wagate.token') || ''; } catch (e) { S.token = ''; }
  }
  return S.token !== '';
}

async function api(method, path, body) {
  const opt = { method, headers: { Authorization: 'Bearer ' + S.token } };
  if (body !== undefined) {
    opt.headers['Content-Type'] = 'application/json';
    opt.body = JSON.stringify(body);
  }
  const res = await fetch(API + path, opt);
  if (res.status === 401) fatal('The token was refused: open the page again with wagate dashboard.');
  return res;
}

async function apiJson(method, path, body) {
  const res = await api(method, path, body);
  let j = {};
  try { j = await res.json(); } catch (e) { /* empty body */ }
  return { status: res.status, ok: res.ok, body: j };
}

function fatal(text) {
  const f = $('fatal');
  f.textContent = text;
  f.hidden = false;
}

// ---- time ----

const chPath = (acct) => '/channels/whatsapp/' + encodeURIComponent(acct);

function dur(ms) {
  let s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  s %= 60;
  if (h) return h + ' h ' + m + ' min';
  if (m) return m + ' min ' + s + ' s';
  return s + ' s';
}

function clock(t) {
  const d = new Date(t);
  return isNaN(d) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

// ---- account cards ----

const STATE_TEXT = {
  stopped: 'stopped', starting: 'starting', connecting: 'connecting', pairing: 'waiting for a scan',
  connected: 'linked', backoff: 'reconnecting', conflict: 'replaced elsewhere',
  logged_out: 'logged out', repairing: 'repairing',
};

// "ws: HTTP 503 Service Unavailable" -> stage "ws", cause the rest.
function splitError(e) {
  const m = /^([a-z_]+): (.*)$/s.exec(e || '');
  return m ? { stage: m[1], cause: m[2] } : { stage: '', cause: e || '' };
}

function number(jid) {
  if (!jid) return '';
  const m = /^(\d+)(?::(\d+))?@/.exec(jid);
  return m ? '+' + m[1] + (m[2] ? ' (device ' + m[2] + ')' : '') : jid;
}

function cardFor(acct) {
  let c = document.querySelector('.card[data-account="' + CSS.escape(acct) + '"]');
  if (c) return c;
  c = el('article', 'card');
  c.dataset.account = acct;
  c.setAttribute('aria-labelledby', 'card-' + acct);
  const head = el('div', 'card-head');
  const h = el('h3', null, acct);
  h.id = 'card-' + acct;
  const badge = el('span', 'badge');
  badge.setAttribute('role', 'status');
  head.append(h, badge);
  const dl = el('dl');
  const qr = el('div', 'qr');
  qr.hidden = true;
  const phone = phoneForm(acct);
  const buttons = el('div', 'buttons');
  const mk = (name, label, cls) => {
    const b = el('button', cls, label);
    b.type = 'button';
    b.dataset.action = name;
    b.addEventListener('click', () => action(acct, name, b));
    return b;
  };
  buttons.append(mk('restart', 'Restart'), mk('relink', 'Re-link'), mk('logout', 'Log out', 'danger'));
  const msg = el('p', 'hint');
  msg.setAttribute('role', 'status');
  c.append(head, dl, qr, phone, buttons, msg);
  $('cards').append(c);
  return c;
}

function row(dl, key, value, cls) {
  const dt = el('dt', null, key), dd = el('dd', cls);
  if (value instanceof Node) dd.append(value); else dd.textContent = value;
  dd.dataset.field = key;
  dl.append(dt, dd);
  return dd;
}

function renderCard(st) {
  const c = cardFor(st.account);
  c.dataset.state = st.state;
  c.querySelector('.badge').textContent = st.pairing && st.pairing.method === 'code'
    ? 'waiting for the code' : STATE_TEXT[st.state] || st.state;
  const dl = c.querySelector('dl');
  dl.replaceChildren();
  row(dl, 'state', st.state);
  const since = row(dl, 'since', '');
  since.dataset.since = st.since || '';
  if (st.jid) row(dl, 'number', number(st.jid));
  if (st.down_since) {
    const d = row(dl, 'outage', '', 'err');
    d.dataset.downSince = st.down_since;
  }
  if (st.next_retry) {
    const d = row(dl, 'next retry', '');
    d.dataset.nextRetry = st.next_retry;
  }
  if (st.last_error) {
    const { stage, cause } = splitError(st.last_error);
    const f = document.createDocumentFragment();
    if (stage) f.append(el('span', 'stage', stage + ': '));
    f.append(cause);
    row(dl, 'last error', f, 'err');
  }
  if (st.attempts || st.reconnects) row(dl, 'attempts', st.attempts + ' failed, ' + st.reconnects + ' reconnects');
  if (typeof st.queued === 'number' && st.queued > 0) row(dl, 'queued', String(st.queued));
  const out = st.state === 'logged_out';
  c.querySelector('[data-action="restart"]').disabled = out;
  c.querySelector('[data-action="relink"]').textContent = out ? 'Link' : 'Re-link';
  c.querySelector('[data-action="logout"]').disabled = out && !st.jid;
  if (st.state === 'pairing' || st.qr_available) refreshQr(st.account); else dropQr(st.account);
  const ph = c.querySelector('.phone');
  ph.hidden = !(st.state === 'pairing' || st.state === 'logged_out' || st.pairing);
  if (st.pairing && st.pairing.method === 'code') ph.open = true;
  if (st.state === 'connected') ph.querySelector('.code').replaceChildren();
  renderWebhooks(c, st);
  tick();
}

// ---- webhooks (hooks.webhook): each endpoint's queue, dead letters and last error ----

function renderWebhooks(c, st) {
  let sec = c.querySelector('.webhooks');
  const list = st.webhooks && st.webhooks.list;
  if (!list || !list.length) {
    if (sec) sec.remove();
    return;
  }
  if (!sec) {
    sec = el('section', 'webhooks');
    sec.setAttribute('aria-label', 'Webhooks of ' + st.account);
    c.insertBefore(sec, c.querySelector('.buttons'));
  }
  const ul = el('ul');
  let dead = 0;
  for (const e of list) {
    const li = el('li', 'webhook');
    const known = typeof e.pending === 'number';
    li.dataset.url = e.url;
    li.dataset.state = !known ? 'unknown' : e.dead_letter > 0 ? 'dead' : e.pending > 0 ? 'pending' : 'ok';
    li.append(el('code', 'url', e.url));
    const n = el('span', 'counts', known ? e.pending + ' pending, ' + e.dead_letter + ' dead' : 'store closed');
    if (known) {
      n.dataset.pending = e.pending;
      n.dataset.dead = e.dead_letter;
      dead += e.dead_letter;
    }
    li.append(' ', n);
    if (e.last_error) {
      const le = el('span', 'err last-error', e.last_error);
      if (e.last_error_at) le.title = 'at ' + e.last_error_at;
      li.append(le);
    }
    ul.append(li);
  }
  const kids = [el('h4', null, 'Webhooks'), ul];
  if (dead > 0) {
    const b = el('button', null, 'Retry ' + dead + ' dead letter' + (dead === 1 ? '' : 's'));
    b.type = 'button';
    b.dataset.action = 'webhooks-retry';
    b.addEventListener('click', async () => {
      b.disabled = true;
      try { await apiJson('POST', chPath(st.account) + '/webhooks/retry'); } catch (e) { /* shown by the refresh */ }
      refreshSoon();
    });
    kids.push(b);
  }
  sec.replaceChildren(...kids);
}

// Deliveries and failed attempts publish no event of their own (a dead letter does): while a
// queue is not empty the status is read again every 2 s.
function webhooksBusy() {
  for (const st of S.channels.values())
    for (const e of (st.webhooks && st.webhooks.list) || [])
      if (e.pending > 0) return true;
  return false;
}

// ---- link with a phone number (pairing code) ----

// "Link with phone number instead": a number -> POST .../login {"phone"} -> the code, grouped
// as WhatsApp shows it, with what to do on the phone.
function phoneForm(acct) {
  const d = el('details', 'phone');
  d.hidden = true;
  d.append(el('summary', null, 'Link with phone number instead'));
  const f = el('form');
  const label = el('label', null, 'Phone number ');
  const input = el('input');
  input.type = 'tel';
  input.name = 'phone';
  input.placeholder = '+15550001234';
  input.required = true;
  input.autocomplete = 'tel';
  label.append(input);
  const b = el('button', null, 'Get code');
  b.type = 'submit';
  const out = el('div', 'code');
  out.setAttribute('role', 'status');
  f.append(label, b);
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    b.disabled = true;
    out.replaceChildren();
    try {
      const r = await apiJson('POST', chPath(acct) + '/login', { phone: input.value });
      if (r.ok) {
        out.append(el('strong', 'paircode', r.body.code),
          el('p', null, 'On the phone with ' + r.body.phone + ': WhatsApp > Settings > Linked devices > ' +
            'Link a device > Link with phone number instead, then enter this code (valid ' +
            Math.round(r.body.valid_ms / 1000) + ' s).'));
      } else {
        out.append(el('p', 'err', r.body.error || 'HTTP ' + r.status));
      }
    } catch (e) {
      out.append(el('p', 'err', 'The gateway does not answer.'));
    }
    b.disabled = false;
    refreshSoon();
  });
  d.append(f, out);
  return d;
}

function renderAll() {
  const sel = $('send-account'), keep = sel.value;
  sel.replaceChildren();
  for (const st of S.channels.values()) {
    renderCard(st);
    const o = el('option', null, st.account);
    o.value = st.account;
    sel.append(o);
  }
  if (keep) sel.value = keep;
  for (const c of document.querySelectorAll('.card'))
    if (!S.channels.has(c.dataset.account)) c.remove();
  if (!S.channels.size) $('cards').replaceChildren(el('p', 'hint', 'No WhatsApp account is configured.'));
}

// Live counters: since, outage length, next-retry countdown, QR validity.
function tick() {
  const now = Date.now();
  for (const d of document.querySelectorAll('[data-since]'))
    d.textContent = d.dataset.since ? clock(d.dataset.since) + ' (' + dur(now - Date.parse(d.dataset.since)) + ' ago)' : '';
  for (const d of document.querySelectorAll('[data-down-since]'))
    d.textContent = 'down for ' + dur(now - Date.parse(d.dataset.downSince));
  for (const d of document.querySelectorAll('[data-next-retry]')) {
    const left = Date.parse(d.dataset.nextRetry) - now;
    d.textContent = left > 0 ? 'in ' + (left / 1000).toFixed(1) + ' s' : 'now';
  }
  for (const [acct, q] of S.qr) {
    const p = cardFor(acct).querySelector('.qr p');
    if (p) p.textContent = 'Scan with WhatsApp: Settings \u203a Linked devices \u203a Link a device. ' +
      (q.expires > now ? 'Refreshes in ' + dur(q.expires - now) + '.' : 'Refreshing\u2026');
  }
}

let refreshTimer = null, refreshing = false, refreshAgain = false;
function refreshSoon() { // coalesce bursts of events into one status request
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => { refreshTimer = null; refresh(); }, 30);
}
async function refresh() {
  if (refreshing) { refreshAgain = true; return; }
  refreshing = true;
  try {
    const r = await apiJson('GET', '/status');
    if (r.ok && Array.isArray(r.body.channels)) {
      S.channels = new Map(r.body.channels.map((c) => [c.account, c]));
      renderAll();
    }
  } catch (e) { /* the stream's reconnect shows the outage */ }
  refreshing = false;
  if (refreshAgain) { refreshAgain = false; refresh(); }
}

// ---- QR ----

const qrBusy = new Map(); // account -> a refresh is running (true) / another one is wanted ('again')
async function refreshQr(acct, payload) {
  if (qrBusy.get(acct)) { qrBusy.set(acct, 'again'); return; }
  qrBusy.set(acct, true);
  try { await loadQr(acct, payload); } catch (e) { /* the next event or status retries */ }
  const again = qrBusy.get(acct) === 'again';
  qrBusy.delete(acct);
  if (again) refreshQr(acct);
}

const pairing = (acct) => { const st = S.channels.get(acct); return !!st && (st.state === 'pairing' || st.qr_available); };

async function loadQr(acct, payload) {
  const have = S.qr.get(acct);
  if (have && (!payload || have.payload === payload) && have.expires > Date.now() + 500) return;
  const j = await apiJson('GET', chPath(acct) + '/qr?format=json');
  if (!j.ok) { dropQr(acct); return; }
  if (have && have.payload === j.body.qr) { have.expires = Date.now() + j.body.valid_ms; return; }
  const res = await api('GET', chPath(acct) + '/qr?format=svg');
  if (!res.ok) { dropQr(acct); return; }
  const blob = await res.blob();
  if (!pairing(acct)) { dropQr(acct); return; } // linked meanwhile
  const url = URL.createObjectURL(blob);
  const box = cardFor(acct).querySelector('.qr');
  const img = el('img');
  img.src = url;
  img.alt = 'QR code to link WhatsApp account ' + acct;
  img.dataset.payload = j.body.qr;
  box.replaceChildren(img, el('p'));
  box.hidden = false;
  if (have) URL.revokeObjectURL(have.url);
  S.qr.set(acct, { payload: j.body.qr, url, expires: Date.now() + j.body.valid_ms });
  tick();
}

function dropQr(acct) {
  const q = S.qr.get(acct);
  if (!q) return;
  URL.revokeObjectURL(q.url);
  S.qr.delete(acct);
  const box = cardFor(acct).querySelector('.qr');
  box.replaceChildren();
  box.hidden = true;
}

// ---- card actions ----

function confirmLogout(acct) {
  const d = $('confirm');
  $('confirm-text').textContent = 'Log out account "' + acct + '"? This device is unlinked here ' +
    '(its database is kept aside) and a new QR code is shown to link a phone again.';
  return new Promise((resolve) => {
    d.addEventListener('close', () => resolve(d.returnValue === 'ok'), { once: true });
    d.returnValue = '';
    d.showModal();
  });
}

async function action(acct, name, button) {
  const msg = cardFor(acct).querySelector('.hint');
  if (name === 'logout' && !(await confirmLogout(acct))) return;
  button.disabled = true;
  msg.textContent = '';
  try {
    let r;
    if (name === 'restart') r = await apiJson('POST', chPath(acct) + '/restart');
    if (name === 'relink') r = await apiJson('POST', chPath(acct) + '/login');
    if (name === 'logout') {
      r = await apiJson('POST', chPath(acct) + '/logout');
      if (r.ok || r.status === 409) r = await apiJson('POST', chPath(acct) + '/login');
    }
    msg.textContent = r.ok ? (r.body.action || name + ': ' + (r.body.state || 'done'))
                           : (r.body.error || 'HTTP ' + r.status);
  } catch (e) {
    msg.textContent = 'The gateway does not answer.';
  }
  button.disabled = false;
  refreshSoon();
}

// ---- notifications ----

// The daemon's notifications (gw/notify.h, docs/api.md): `notification` events, their
// `notification.resolved` follow-ups (which mark the one they resolve), and
// GET /api/v1/notifications for the ones the event ring no longer holds. Other notify-shaped
// events (any notify.* event, or data with a "notify" object) are listed the same way. The
// older channel.notice/down/restored events are not listed: each has a notification now.
const LEGACY = new Set(['channel.notice', 'channel.down', 'channel.restored']);

function asNote(ev) {
  const d = ev.data || {};
  const n = d.notify && typeof d.notify === 'object' ? d.notify : d;
  if (!ev.type.startsWith('notify.') && !(d.notify && typeof d.notify === 'object')) return null;
  const resolves = n.resolves || (ev.type.endsWith('.resolved') ? ev.type.slice(0, -'.resolved'.length) : null);
  return {
    id: S.epoch + ':' + ev.seq, ts: ev.ts, type: ev.type, account: n.account || d.account || '',
    kind: n.kind || ev.type, level: n.level || n.severity || (resolves ? 'info' : 'warn'),
    text: n.text || n.message || n.title || JSON.stringify(d), resolves, key: n.key || n.id || null,
  };
}

function sortNotes() {
  S.notes.sort((a, b) => (a.ts < b.ts ? 1 : a.ts > b.ts ? -1 : 0));
  S.notes.length = Math.min(S.notes.length, MAX_NOTES);
  renderNotes();
}

// One notification of the daemon (the event's data or a list entry), merged by its id.
function addNotification(n, ts) {
  if (typeof n.id !== 'number') return;
  const id = S.epoch + ':n' + n.id;
  const res = n.resolved ? { ts: n.resolved.at, text: n.resolved.text, kind: n.resolved.kind } : null;
  const cur = S.notes.find((x) => x.id === id);
  if (cur) {
    cur.repeats = Math.max(cur.repeats || 0, n.repeats || 0);
    if (res && !cur.resolvedBy) cur.resolvedBy = res;
    cur.open = cur.open && !cur.resolvedBy;
    renderNotes();
    return;
  }
  S.notes.push({
    id, ts: n.created || ts, type: 'notification', account: n.account || '', kind: n.kind,
    level: n.level || 'warn', text: n.text || '', key: n.key, open: !!n.open && !res,
    repeats: n.repeats || 0, resolvedBy: res,
  });
  sortNotes();
}

function resolveNotification(f, ts) {
  if (!f.resolves || typeof f.resolves.id !== 'number') return;
  const x = S.notes.find((n) => n.id === S.epoch + ':n' + f.resolves.id);
  if (!x) { loadNotes(); return; } // older than what the page has seen
  x.resolvedBy = { ts: f.created || ts, text: f.text, kind: f.kind };
  x.open = false;
  renderNotes();
}

async function loadNotes() {
  try {
    const r = await apiJson('GET', '/notifications');
    if (r.ok && Array.isArray(r.body.notifications))
      for (const n of r.body.notifications) addNotification(n, n.created);
  } catch (e) { /* the stream brings them */ }
}

function addNote(ev) {
  if (LEGACY.has(ev.type)) return;
  const n = asNote(ev);
  if (!n || S.notes.some((x) => x.id === n.id)) return;
  if (n.resolves) {
    const open = S.notes.find((x) => !x.resolvedBy && x.account === n.account &&
      (n.key ? x.key === n.key : (x.kind === n.resolves || x.type === n.resolves)));
    if (open) open.resolvedBy = n;
  }
  S.notes.push(n);
  sortNotes();
}

function renderNotes() {
  const ol = $('notes');
  ol.replaceChildren(...S.notes.map((n) => {
    const li = el('li', 'note' + (n.resolvedBy ? ' resolved' : n.open ? ' open' : ''));
    li.dataset.level = n.level;
    li.dataset.type = n.type;
    li.dataset.kind = n.kind;
    li.dataset.account = n.account;
    li.append(el('strong', 'kind', n.kind.replace(/_/g, ' ')), ' ', n.text);
    if (n.open) li.append(' ', el('span', 'state', 'open'));
    if (n.repeats) li.append(' ', el('span', 'state', 'repeated ' + n.repeats + '\u00d7'));
    if (n.resolvedBy) {
      const k = n.resolvedBy.kind ? n.resolvedBy.kind.replace(/_/g, ' ') + ' ' : 'resolved ';
      li.append(el('span', 'resolution', k + clock(n.resolvedBy.ts) + ': ' + n.resolvedBy.text));
    }
    li.append(el('span', 'meta', clock(n.ts) + (n.account ? ' \u00b7 ' + n.account : '')));
    return li;
  }));
  $('notes-empty').hidden = S.notes.length > 0;
}

// ---- inbox and chat ----

function msgText(m) {
  if (typeof m.text === 'string') return m.text;
  return '[' + (m.type || 'message') + ']';
}

function addInbox(m) {
  const key = (m.account || '') + '/' + m.cursor;
  if (S.inboxSeen.has(key)) return;
  S.inboxSeen.add(key);
  S.inbox.unshift(m);
  S.inbox.sort((a, b) => (b.ts - a.ts) || (b.cursor - a.cursor));
  S.inbox.length = Math.min(S.inbox.length, MAX_INBOX);
  renderInbox();
  const to = digits($('send-to').value);
  if (to && digits(m.chat) === to) chatLine('in', msgText(m), clock(m.ts * 1000) + ' \u00b7 ' + number(m.sender || m.chat));
}

function renderInbox() {
  $('inbox').replaceChildren(...S.inbox.map((m) => {
    const li = el('li');
    li.append(el('strong', null, number(m.chat) + ': '), msgText(m),
      el('span', 'meta', clock(m.ts * 1000) + ' \u00b7 ' + m.account));
    return li;
  }));
  $('inbox-empty').hidden = S.inbox.length > 0;
}

const digits = (s) => (String(s || '').split('@')[0].split(':')[0].match(/\d+/g) || []).join('');

async function loadInbox() {
  for (const acct of S.channels.keys()) {
    let after = 0;
    for (let page = 0; page < 5; page++) { // the newest of at most 5000 rows
      const r = await apiJson('GET', '/messages?account=' + encodeURIComponent(acct) + '&after=' + after + '&limit=1000');
      if (!r.ok || !Array.isArray(r.body.messages)) break;
      for (const m of r.body.messages.slice(-MAX_INBOX)) addInbox(m);
      if (r.body.messages.length < 1000) break;
      after = r.body.next_cursor;
    }
  }
}

function chatLine(dir, text, meta, id) {
  const li = el('li', dir);
  li.append(text, el('span', 'meta', meta));
  if (id) { li.dataset.id = id; S.chat.set(id, li); }
  const ol = $('chat');
  ol.append(li);
  while (ol.children.length > 100) ol.firstElementChild.remove();
  ol.scrollTop = ol.scrollHeight;
  return li;
}

function setChatState(id, state) {
  const li = S.chat.get(id);
  if (!li) return;
  li.dataset.state = state;
  li.querySelector('.meta').textContent = li.dataset.when + ' \u00b7 ' + state;
}

async function send(ev) {
  ev.preventDefault();
  const account = $('send-account').value, to = $('send-to').value.trim(), text = $('send-text').value;
  const status = $('send-status');
  if (!to || !text.trim()) { status.textContent = 'Fill in a number and a message.'; return; }
  $('send-btn').disabled = true;
  const key = 'dash-' + (crypto.randomUUID ? crypto.randomUUID() : Date.now() + '-' + Math.random());
  try {
    const r = await apiJson('POST', '/messages', { account, to, text, idempotency_key: key });
    if (r.ok) {
      const li = chatLine('out', text, '', r.body.id);
      li.dataset.when = clock(Date.now());
      setChatState(r.body.id, r.body.state);
      $('send-text').value = '';
      status.textContent = '';
    } else {
      status.textContent = r.body.error || 'HTTP ' + r.status;
    }
  } catch (e) {
    status.textContent = 'The gateway does not answer.';
  }
  $('send-btn').disabled = false;
  $('send-text').focus();
}

// ---- the event stream ----

function setConn(state, text) {
  const c = $('conn');
  c.dataset.state = state;
  c.textContent = text;
}

function onEvent(ev) {
  const d = ev.data || {};
  if (ev.type === 'stream.gap' && d.reason === 'cursor_ahead') {
    // a new daemon process: its seqs start again at 1, so the cursor starts over with them
    // and the seqs seen so far name other events (a new epoch for de-duplication)
    S.epoch++;
    S.lastSeq = ev.seq;
    loadNotes();
  } else if (typeof ev.seq === 'number' && ev.seq > S.lastSeq) {
    S.lastSeq = ev.seq;
  }
  switch (ev.type) {
    case 'channel.state': {
      const st = S.channels.get(d.account);
      if (st) { // show the new state at once; the status request fills in the rest
        st.state = d.to;
        st.since = ev.ts;
        if (d.to !== 'pairing') st.qr_available = false;
        if (d.to === 'connected') st.down_since = null; // the outage is over (its last error stays)
        if (typeof d.next_retry_ms === 'number') st.next_retry = new Date(Date.now() + d.next_retry_ms).toISOString();
        else delete st.next_retry;
        renderCard(st);
      }
      refreshSoon();
      break;
    }
    case 'channel.qr':
      if (S.channels.has(d.account)) refreshQr(d.account, d.qr);
      break;
    case 'message.received':
      addInbox(d);
      if (S.channels.get(d.account) && S.channels.get(d.account).webhooks) refreshSoon();
      break;
    case 'message.state':
      setChatState(d.id, d.state);
      break;
    case 'stream.gap':
      refreshSoon();
      loadNotes(); // what the gap lost
      break;
    case 'notification':
      addNotification(d, ev.ts);
      return;
    case 'notification.resolved':
      resolveNotification(d, ev.ts);
      return;
    default:
      if (ev.type.startsWith('channel.') || ev.type.startsWith('webhook.')) refreshSoon();
  }
  addNote(ev);
}

function connect() {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  // first connection: replay the ring from the start (notifications, recent events)
  const url = proto + '//' + location.host + API + '/events?since=' + (S.lastSeq < 0 ? 0 : S.lastSeq);
  // The token travels as a subprotocol (browsers cannot set headers on a WebSocket, and a
  // URL ends up in logs): the page comes from the same daemon, so it always speaks its API.
  let ws;
  try {
    ws = new WebSocket(url, ['wagate.v1', 'wagate.bearer.' + S.token]);
  } catch (e) {
    return retry();
  }
  S.ws = ws;
  ws.onopen = () => {
    S.retryMs = 500;
    setConn('live', 'live');
    refreshSoon();
  };
  ws.onmessage = (m) => {
    try { onEvent(JSON.parse(m.data)); } catch (e) { /* not an event */ }
  };
  ws.onclose = () => {
    S.ws = null;
    retry();
  };
}

function retry() {
  const ms = S.retryMs;
  S.retryMs = Math.min(S.retryMs * 2, 10000);
  setConn('retrying', 'event stream lost; reconnecting in ' + (ms / 1000).toFixed(1) + ' s');
  setTimeout(connect, ms);
}

// ---- start ----

function start() {
  $('send').addEventListener('submit', send);
  $('send-text').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) $('send').requestSubmit();
  });
  if (!takeToken()) {
    $('notoken').hidden = false;
    setConn('denied', 'no token');
    return;
  }
  setInterval(tick, 250);
  setInterval(() => { if (webhooksBusy()) refreshSoon(); }, 2000);
  refresh().then(loadInbox).then(loadNotes);
  connect();
}

start();
