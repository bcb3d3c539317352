// SPDX-License-Identifier: MIT
// kinds.test.mjs -- issue 14: replies, reactions, mentions, edits and revokes between the real gateway daemon
// (wagate, +15550001) and a real Baileys client (+15550003) through fakewa, both ways. Baileys
// quotes, reacts to and mentions wagate: the inbox rows carry quoted / reaction / mentions;
// wagate replies to (reply_to), reacts to and mentions Baileys: Baileys decodes the
// contextInfo (stanzaId, participant, quotedMessage, mentionedJid) and the reactionMessage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { admin, linkBoth, waitFor } from './lib.mjs';

const GW = '+15550001', GW_JID = '15550001@s.whatsapp.net';
const BL = '+15550003', BL_JID = '15550003@s.whatsapp.net';
const user = (jid) => jid?.split('@')[0].split(':')[0];

async function setup(t) {
  const r = await linkBoth(t, {
    gwPhone: GW, blPhone: BL,
    checks: (c) => {
      const undecrypted = c.messages.filter((m) => m.stub === 2).map((m) => m.key);
      return () => assert.deepEqual(undecrypted, [], 'Baileys could not decrypt');
    },
  });
  r.c.reactions = [];
  r.c.sock.ev.on('messages.reaction', (x) => r.c.reactions.push(...x));
  return r;
}

const row = (gw, id, pred = () => true) => waitFor(async () => (await gw.inbox())
  .find((m) => m.id === id && pred(m)), 20000, `wagate inbox row ${id}`);

test('Baileys quotes, reacts to and mentions wagate; wagate does the same to Baileys', { timeout: 90000 }, async (t) => {
  const { gw, c } = await setup(t);

  // ---- Baileys -> wagate ----
  const orig = await c.sock.sendMessage(GW_JID, { text: 'quote me' });
  const q = await row(gw, orig.key.id);
  assert.equal(q.type, 'text');

  const reply = await c.sock.sendMessage(GW_JID, { text: 'a reply from baileys' }, { quoted: orig });
  const r = await row(gw, reply.key.id);
  assert.equal(r.text, 'a reply from baileys');
  assert.equal(r.quoted?.id, orig.key.id, JSON.stringify(r));
  assert.equal(user(r.quoted?.participant), '15550003', JSON.stringify(r));

  const react = await c.sock.sendMessage(GW_JID, { react: { text: '👍', key: orig.key } });
  const rx = await row(gw, react.key.id);
  assert.equal(rx.type, 'reaction', JSON.stringify(rx));
  assert.equal(rx.reaction.target, orig.key.id);
  assert.equal(rx.reaction.emoji, '👍');
  assert.equal(rx.reaction.removed, false);
  const unreact = await c.sock.sendMessage(GW_JID, { react: { text: '', key: orig.key } });
  assert.equal((await row(gw, unreact.key.id)).reaction.removed, true);

  const ment = await c.sock.sendMessage(GW_JID, { text: 'hey @15550001', mentions: [GW_JID] });
  const mr = await row(gw, ment.key.id);
  assert.deepEqual(mr.mentions?.map(user), ['15550001'], JSON.stringify(mr));
  // the same metadata on the event stream
  const ev = await gw.waitEvent((e) => e.type === 'message.received' && e.data.id === reply.key.id, 5000);
  assert.equal(ev.data.quoted.id, orig.key.id);

  // ---- wagate -> Baileys ----
  const send = async (body) => {
    const res = await gw.api('POST', '/api/v1/messages', { account: 'default', to: BL, ...body });
    assert.equal(res.status, 202, JSON.stringify(res.json));
    return res.json.id;
  };
  const ctxOf = (m) => m.message?.extendedTextMessage?.contextInfo;

  const gid = await send({ text: 'a reply from wagate', reply_to: orig.key.id });
  const got = await c.waitText('a reply from wagate');
  assert.equal(got.key.id, gid);
  const ci = ctxOf(got);
  assert.equal(ci?.stanzaId, orig.key.id, JSON.stringify(got.message));
  assert.equal(user(ci.participant), '15550003');
  assert.equal(ci.quotedMessage?.conversation, 'quote me');

  // a reply to what Baileys quoted wagate with: its quoted message is that reply's text
  await send({ text: 'replying to the reply', reply_to: reply.key.id });
  const got2 = await c.waitText('replying to the reply');
  assert.equal(ctxOf(got2)?.stanzaId, reply.key.id);
  assert.equal(ctxOf(got2)?.quotedMessage?.conversation ?? ctxOf(got2)?.quotedMessage?.extendedTextMessage?.text,
    'a reply from baileys');

  const rid = await send({ reaction: { message_id: orig.key.id, emoji: '🔥' } });
  // Baileys upserts the reactionMessage (and emits messages.reaction {key: target, reaction})
  const target = await waitFor(() => {
    const m = c.messages.find((x) => x.key.id === rid && x.message?.reactionMessage);
    if (m) return { text: m.message.reactionMessage.text, id: m.message.reactionMessage.key?.id };
    const e = c.reactions.find((x) => x.reaction?.text === '🔥');
    return e ? { text: e.reaction.text, id: e.key?.id } : null;
  }, 20000, 'the reaction at Baileys');
  assert.deepEqual(target, { text: '🔥', id: orig.key.id });

  await send({ text: 'hi @15550003', mentions: [BL] });
  const gm = await c.waitText('hi @15550003');
  assert.deepEqual(ctxOf(gm)?.mentionedJid, [BL_JID], JSON.stringify(gm.message));
});

// The protocolMessage of an edit / revoke as either side sends it, found in what Baileys got.
const protoOf = (m) => m.message?.protocolMessage ?? m.message?.editedMessage?.message?.protocolMessage;

test('edits and revokes between Baileys and wagate, both ways', { timeout: 90000 }, async (t) => {
  const { gw, c } = await setup(t);
  const a = await c.sock.sendMessage(GW_JID, { text: 'typo heer' });
  const b = await c.sock.sendMessage(GW_JID, { text: 'delete me' });
  await row(gw, a.key.id);
  await row(gw, b.key.id);
  // Baileys edits and deletes its own messages: wagate marks the rows and delivers both
  await c.sock.sendMessage(GW_JID, { text: 'typo here', edit: a.key });
  const ea = await row(gw, a.key.id, (m) => m.edited);
  assert.equal(ea.edited.text, 'typo here');
  assert.equal(ea.text, 'typo heer'); // the original kept
  await c.sock.sendMessage(GW_JID, { delete: b.key });
  const rb = await row(gw, b.key.id, (m) => m.revoked);
  assert.ok(rb.revoked > 0);
  const kinds = (await gw.inbox()).filter((m) => m.type === 'edit' || m.type === 'revoke')
    .map((m) => [m.type, m.edit?.target ?? m.revoke?.target]);
  assert.deepEqual(kinds, [['edit', a.key.id], ['revoke', b.key.id]]);

  // wagate edits and deletes its own: Baileys decodes the protocol messages (edit="1" / "7")
  const send = async (body) => {
    const res = await gw.api('POST', '/api/v1/messages', { account: 'default', to: BL, ...body });
    assert.equal(res.status, 202, JSON.stringify(res.json));
    return res.json.id;
  };
  const own = await send({ text: 'wagate typo' });
  await c.waitText('wagate typo');
  await send({ edit: { message_id: own, text: 'wagate fixed' } });
  const pe = await waitFor(() => c.messages.map(protoOf).find((p) => p?.key?.id === own && p.type === 14),
    20000, 'the edit at Baileys');
  assert.equal(pe.editedMessage?.conversation, 'wagate fixed');
  assert.equal(pe.key.fromMe, true);
  await send({ revoke: { message_id: own } });
  await waitFor(() => c.messages.map(protoOf).find((p) => p?.key?.id === own && (p.type ?? 0) === 0),
    20000, 'the revoke at Baileys');
});
