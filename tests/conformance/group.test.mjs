// SPDX-License-Identifier: MIT
// group.test.mjs -- conformance 3: a group with real Baileys and the simulated contact alice.
// alice sends with sender keys (SKDM 1:1 + skmsg); Baileys fetches the group metadata
// (w:g2), the members' devices (usync) and sends its own skmsg, which alice decrypts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { admin, cleanup, inbox, pairClient, startFakewa, tmpDir, waitFor } from './lib.mjs';

test('group messages with sender keys both ways', { timeout: 90000 }, async () => {
  const fw = await startFakewa();
  const dir = tmpDir('baileys-auth-');
  try {
    await admin(fw, 'POST', '/admin/accounts', { phone: '+15550001' });
    await admin(fw, 'POST', '/admin/contacts', { name: 'alice', phone: '+15550002' });
    const c = await pairClient(fw, '+15550001', dir);
    await waitFor(async () => (await admin(fw, 'GET', '/admin/devices?phone=15550001')).json
      .find((x) => x.device === 1 && x.prekeys > 0), 10000, 'pre-keys');
    const g = await admin(fw, 'POST', '/admin/groups', { subject: 'g', members: ['+15550001', 'alice'] });
    assert.equal(g.status, 201);
    const gjid = g.json.jid;
    assert.match(gjid, /^\d+@g\.us$/);

    const meta = await c.sock.groupMetadata(gjid);
    assert.equal(meta.subject, 'g');
    assert.equal(meta.participants.length, 2);

    const s1 = await admin(fw, 'POST', '/admin/contacts/alice/send', { to: gjid, text: 'group hello' });
    assert.equal(s1.status, 200, JSON.stringify(s1.json));
    const got = await c.waitText('group hello');
    assert.equal(got.key.remoteJid, gjid);

    const s2 = await admin(fw, 'POST', '/admin/contacts/alice/send', { to: gjid, text: 'group hello 2' });
    assert.equal(s2.status, 200);
    await c.waitText('group hello 2');

    const sent = await c.sock.sendMessage(gjid, { text: 'hi group' });
    const m = await waitFor(async () => (await inbox(fw, 'alice')).messages.find((x) => x.id === sent.key.id),
      15000, 'alice group inbox');
    assert.equal(m.ok, true, m.error);
    assert.equal(m.text, 'hi group');
    assert.equal(m.chat, gjid);
    const sent2 = await c.sock.sendMessage(gjid, { text: 'hi group 2' });
    const m2 = await waitFor(async () => (await inbox(fw, 'alice')).messages.find((x) => x.id === sent2.key.id),
      15000, 'alice group inbox 2');
    assert.equal(m2.text, 'hi group 2');
    assert.equal((await admin(fw, 'GET', '/admin/stats')).json.sim_decrypt_failures, 0);
    await c.stop();
  } finally {
    await fw.stop();
    cleanup(dir);
  }
});
