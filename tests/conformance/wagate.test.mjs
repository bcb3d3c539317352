// SPDX-License-Identifier: MIT
// wagate.test.mjs -- conformance 5: the real gateway daemon (wagate, account +15550001) and a
// real Baileys client (account +15550003), both linked to fakewa, exchange 1:1 texts both ways
// (pkmsg, then msg on the established sessions) with delivery receipts both ways, group texts
// both ways (SKDM + skmsg; alice, a simulated contact, in the group too), and the conversation
// continues after wagate restarts on the same state dir (login without a QR, sessions kept,
// what Baileys sent meanwhile delivered from the offline queue).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { admin, cleanup, inbox, pairClient, startFakewa, startWagate, tmpDir, waitFor } from './lib.mjs';

const GW = '+15550001', GW_JID = '15550001@s.whatsapp.net';
const BL = '+15550003';

const prekeys = (fw, phone) => waitFor(async () => (await admin(fw, 'GET', `/admin/devices?phone=${phone}`)).json
  .find((x) => x.device === 1 && x.prekeys > 0), 10000, `pre-keys of ${phone}`);

// The bare user of a JID ("15550001:1@s.whatsapp.net" -> "15550001").
const user = (jid) => jid?.split('@')[0].split(':')[0];

// Fresh fakewa with both accounts and alice, wagate linked as GW, Baileys paired as BL.
async function setup(t) {
  const fw = await startFakewa();
  const bdir = tmpDir('baileys-auth-');
  let gw = null, c = null;
  t.after(async () => {
    // no retry receipts (undecryptable messages) on either side
    const retries = c?.rawReceipts?.filter((x) => x.type === 'retry') ?? [];
    const undecrypted = c?.messages.filter((m) => m.stub === 2).map((m) => m.key) ?? []; // CIPHERTEXT
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
    assert.deepEqual(retries, [], 'wagate (or a simulated device) asked Baileys for a retry');
    assert.deepEqual(undecrypted, [], 'Baileys could not decrypt');
  });
  assert.equal((await admin(fw, 'POST', '/admin/accounts', { phone: GW })).status, 201);
  assert.equal((await admin(fw, 'POST', '/admin/accounts', { phone: BL })).status, 201);
  assert.equal((await admin(fw, 'POST', '/admin/contacts', { name: 'alice', phone: '+15550002' })).status, 201);
  gw = await startWagate(fw);
  const linked = await gw.link(GW);
  assert.match(linked.jid, /^15550001:\d+@s\.whatsapp\.net$/);
  c = await pairClient(fw, BL, bdir);
  // Raw <receipt> stanzas as Baileys gets them: their `from` names the sending device, which
  // tells wagate's receipts (device 1) from those of the simulated phone (device 0).
  c.rawReceipts = [];
  c.sock.ws.on('CB:receipt', (n) => c.rawReceipts.push({ ...n.attrs }));
  // ... and the <enc> types of each incoming <message> (pkmsg, msg, skmsg).
  c.encTypes = new Map();
  c.sock.ws.on('CB:message', (n) => c.encTypes.set(n.attrs.id, (Array.isArray(n.content) ? n.content : [])
    .filter((x) => x.tag === 'enc').map((x) => x.attrs.type)));
  await prekeys(fw, '15550001');
  await prekeys(fw, '15550003');
  const accts = (await admin(fw, 'GET', '/admin/accounts')).json;
  const lidOf = (phone) => (accts.accounts ?? accts).find((a) => a.phone === phone).lid;
  const ctx = { fw, gw, c, bdir, gwLid: lidOf('15550001'), blLid: lidOf('15550003') };
  // wagate's device JID (15550001:N@s.whatsapp.net) and its LID form
  ctx.dev = linked.jid;
  ctx.devLid = `${user(ctx.gwLid)}:${linked.jid.split(':')[1]}`.replace('@s.whatsapp.net', '@lid');
  // SIGTERM wagate, run whileDown(), start it again on the same dir.
  ctx.restartGw = async (whileDown) => {
    const st = await ctx.gw.stop();
    assert.equal(st.code, 0, `wagate exit ${JSON.stringify(st)}`);
    await whileDown?.();
    gw = ctx.gw = await startWagate(fw, { dir: ctx.gw.dir });
    return ctx.gw;
  };
  return ctx;
}

// wagate -> Baileys, checked at Baileys (decrypted text, sender, 1:1 chat).
async function gwToBaileys(ctx, text) {
  const { id } = await ctx.gw.send(BL, text);
  const m = await ctx.c.waitText(text);
  assert.equal(m.key.id, id);
  assert.equal(m.key.fromMe, false);
  // fakewa addresses 1:1 messages by LID, with the phone number as the alternate JID.
  assert.equal(user(m.key.remoteJid), user(ctx.gwLid), JSON.stringify(m.key));
  assert.equal(user(m.key.remoteJidAlt), '15550001', JSON.stringify(m.key));
  return id;
}

// Baileys -> wagate, checked in wagate's inbox route (text, sender, chat).
async function baileysToGw(ctx, text) {
  const sent = await ctx.c.sock.sendMessage(GW_JID, { text });
  const m = await ctx.gw.waitInbox(text);
  assert.equal(m.id, sent.key.id);
  assert.equal(m.type, 'text');
  assert.equal(user(m.sender), '15550003', JSON.stringify(m));
  assert.equal(user(m.chat), '15550003', JSON.stringify(m));
  // the same row went out as a message.received event
  const ev = await ctx.gw.waitEvent((e) => e.type === 'message.received' && e.data.id === m.id, 5000,
    `message.received ${m.id}`);
  assert.equal(ev.data.text, text);
  assert.equal(ev.data.cursor, m.cursor);
  return sent.key.id;
}

test('wagate <-> Baileys 1:1: pkmsg then msg both ways, receipts both ways', { timeout: 60000 }, async (t) => {
  const ctx = await setup(t);
  const { gw, c } = ctx;
  const ids = [];
  ids.push(await gwToBaileys(ctx, 'gw to baileys 1'));
  assert.deepEqual(c.encTypes.get(ids[0]), ['pkmsg']);           // a new session
  const b1 = await baileysToGw(ctx, 'baileys to gw 1');           // on Baileys' side of it
  ids.push(await gwToBaileys(ctx, 'gw to baileys 2'));
  assert.deepEqual(c.encTypes.get(ids[1]), ['msg']);              // the ratchet turned
  const b2 = await baileysToGw(ctx, 'baileys to gw 2');
  ids.push(await gwToBaileys(ctx, 'gw to baileys 3'));
  await baileysToGw(ctx, 'baileys to gw 3');
  // Delivery receipts reach wagate: message.state delivered for each (from Baileys' device
  // and from the simulated phone of +15550003, which cannot be told apart here) ...
  const stateOf = (id, state) => gw.waitEvent((e) => e.type === 'message.state' && e.data.id === id &&
    e.data.state === state, 10000, `${state} state of ${id}`);
  for (const id of ids) await stateOf(id, 'delivered');
  // ... and a read receipt, which only Baileys sends, moves the message to read.
  const last = c.messages.find((m) => m.key.id === ids[2]);
  await c.sock.readMessages([last.key]);
  await stateOf(ids[2], 'read');
  assert.ok(!gw.events.some((e) => e.type === 'message.state' && e.data.state === 'failed'));

  // wagate's receipts reach Baileys: a <receipt> from wagate's own device for each message.
  // wagate never sends presence 'available', so like Baileys itself in that state it sends
  // type='inactive' (wa-protocol.md 6.5/7.6), which Baileys does not turn into a
  // messages.update status (a delivered status there would come from the simulated phone).
  for (const id of [b1, b2]) {
    const r = await waitFor(() => c.rawReceipts.find((x) => x.id === id && [ctx.dev, ctx.devLid].includes(x.from)),
      10000, `wagate's receipt for ${id} at Baileys`);
    assert.equal(r.type, 'inactive', JSON.stringify(r));
  }
  assert.equal((await admin(ctx.fw, 'GET', '/admin/stats')).json.sim_decrypt_failures, 0);
});

test('wagate <-> Baileys <-> alice in a group: SKDM + skmsg both ways', { timeout: 60000 }, async (t) => {
  const ctx = await setup(t);
  const { fw, gw, c } = ctx;
  const g = await admin(fw, 'POST', '/admin/groups', { subject: 'g', members: [GW, BL, 'alice'] });
  assert.equal(g.status, 201, JSON.stringify(g.json));
  const gjid = g.json.jid;
  const aliceGot = (id) => waitFor(async () => (await inbox(fw, 'alice')).messages.find((x) => x.id === id),
    15000, `alice got ${id}`);
  for (const n of [1, 2]) { // the first round distributes the sender keys, the second reuses them
    // wagate -> group: Baileys and alice decrypt the skmsg
    const { id } = await gw.send(gjid, `gw to group ${n}`);
    const m = await c.waitText(`gw to group ${n}`);
    assert.equal(m.key.id, id);
    assert.equal(m.key.remoteJid, gjid);
    assert.equal(m.key.fromMe, false);
    // the first one carries the SKDM (in a 1:1 pkmsg) next to the skmsg, the second only the skmsg
    assert.deepEqual(c.encTypes.get(id), n === 1 ? ['pkmsg', 'skmsg'] : ['skmsg']);
    assert.ok([user(m.key.participant), user(m.key.participantAlt)].includes('15550001'), JSON.stringify(m.key));
    const a = await aliceGot(id);
    assert.equal(a.ok, true, a.error);
    assert.equal(a.text, `gw to group ${n}`);
    assert.equal(a.chat, gjid);
    assert.equal(a.kind, 'group');

    // Baileys -> group: wagate (and alice) decrypt
    const sent = await c.sock.sendMessage(gjid, { text: `baileys to group ${n}` });
    const r = await gw.waitInbox(`baileys to group ${n}`);
    assert.equal(r.id, sent.key.id);
    assert.equal(r.chat, gjid);
    assert.ok(['15550003', user(ctx.blLid)].includes(user(r.sender)), JSON.stringify(r));
    assert.equal((await aliceGot(sent.key.id)).text, `baileys to group ${n}`);
    // wagate's receipt for it reaches Baileys (participant = wagate's device)
    const rc = await waitFor(() => c.rawReceipts.find((x) => x.id === sent.key.id && x.from === gjid &&
      [ctx.dev, ctx.devLid].includes(x.participant)), 10000, `wagate's group receipt for ${sent.key.id}`);
    assert.equal(rc.type, 'inactive', JSON.stringify(rc));

    // alice -> group: wagate and Baileys decrypt
    const s = await admin(fw, 'POST', '/admin/contacts/alice/send', { to: gjid, text: `alice to group ${n}` });
    assert.equal(s.status, 200, JSON.stringify(s.json));
    const ra = await gw.waitInbox(`alice to group ${n}`);
    assert.equal(ra.id, s.json.id);
    assert.equal(ra.chat, gjid);
    assert.equal((await c.waitText(`alice to group ${n}`)).key.remoteJid, gjid);
  }
  assert.equal((await admin(fw, 'GET', '/admin/stats')).json.sim_decrypt_failures, 0);
});

test('wagate restarts on its state dir: no QR, the conversation continues both ways', { timeout: 60000 }, async (t) => {
  const ctx = await setup(t);
  const { fw, c } = ctx;
  await gwToBaileys(ctx, 'before restart 1');
  await baileysToGw(ctx, 'before restart 2');
  const g = await admin(fw, 'POST', '/admin/groups', { subject: 'g2', members: [GW, BL] });
  const gjid = g.json.jid;
  await ctx.gw.send(gjid, 'group before restart');
  await c.waitText('group before restart');

  const jid0 = (await ctx.gw.status()).jid;
  const n0 = (await admin(fw, 'GET', '/admin/devices?phone=15550001')).json.length;
  // Baileys writes while wagate is down: fakewa queues it for wagate's device.
  let offline;
  const gw = await ctx.restartGw(async () => {
    offline = await c.sock.sendMessage(GW_JID, { text: 'while wagate was down' });
  });
  const st = await gw.waitState('connected');
  assert.equal(st.jid, jid0);
  assert.ok(!gw.events.some((e) => e.type === 'channel.qr' || (e.type === 'channel.state' && e.data.to === 'pairing')),
    'no QR / pairing after the restart');

  const q = await gw.waitInbox('while wagate was down');
  assert.equal(q.id, offline.key.id);
  // The sessions were persisted: wagate goes on with msg (no new pkmsg), both ways, and
  // decrypts Baileys' msg without asking for a retry (checked in setup's teardown).
  assert.deepEqual(c.encTypes.get(await gwToBaileys(ctx, 'after restart 1')), ['msg']);
  await baileysToGw(ctx, 'after restart 2');
  await gwToBaileys(ctx, 'after restart 3');
  // the earlier inbox rows survived too
  assert.ok((await gw.inbox()).find((m) => m.text === 'before restart 2'));
  // groups: wagate's sender key persisted, and Baileys' skmsg still decrypts
  const { id } = await gw.send(gjid, 'group after restart');
  assert.equal((await c.waitText('group after restart')).key.id, id);
  assert.deepEqual(c.encTypes.get(id), ['skmsg']); // the sender key was distributed before
  const sent = await c.sock.sendMessage(gjid, { text: 'baileys group after restart' });
  assert.equal((await gw.waitInbox('baileys group after restart')).id, sent.key.id);
  // still the same linked device (no new companion registered)
  assert.equal((await admin(fw, 'GET', '/admin/devices?phone=15550001')).json.length, n0);
  assert.equal((await admin(fw, 'GET', '/admin/stats')).json.sim_decrypt_failures, 0);
});
