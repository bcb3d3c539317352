// SPDX-License-Identifier: MIT
// message.test.mjs -- conformance 2: 1:1 messaging between real Baileys and a simulated
// contact with real Signal state (pkmsg then msg both ways), receipts both ways, and the
// DeviceSentMessage copy for the account's own (simulated) phone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { admin, cleanup, inbox, pairClient, startFakewa, tmpDir, waitFor } from './lib.mjs';

test('Baileys <-> alice text messages and receipts', { timeout: 90000 }, async () => {
  const fw = await startFakewa();
  const dir = tmpDir('baileys-auth-');
  try {
    assert.equal((await admin(fw, 'POST', '/admin/accounts', { phone: '+15550001' })).status, 201);
    const alice = await admin(fw, 'POST', '/admin/contacts', { name: 'alice', phone: '+15550002' });
    assert.equal(alice.status, 201);
    const c = await pairClient(fw, '+15550001', dir);
    // Wait for the pre-key upload (alice needs a bundle for device 1).
    await waitFor(async () => {
      const d = await admin(fw, 'GET', '/admin/devices?phone=15550001');
      return d.json.find((x) => x.device === 1 && x.prekeys > 0);
    }, 10000, 'pre-keys');

    // alice -> Baileys (pkmsg to device 1; the phone gets a copy too)
    const s1 = await admin(fw, 'POST', '/admin/contacts/alice/send', { to: '+15550001', text: 'hello from alice' });
    assert.equal(s1.status, 200, JSON.stringify(s1.json));
    const got = await c.waitText('hello from alice');
    assert.equal(got.key.id, s1.json.id);
    assert.equal(got.key.fromMe, false);
    // Baileys' receipt reaches alice
    await waitFor(async () => (await inbox(fw, 'alice')).receipts.find((r) => r.id === s1.json.id),
      10000, 'receipt for alice');

    // Baileys -> alice (usync, bundle fetch, fan-out to alice and to our own phone)
    const sent = await c.sock.sendMessage('15550002@s.whatsapp.net', { text: 'hi alice' });
    const m = await waitFor(async () => (await inbox(fw, 'alice')).messages.find((x) => x.id === sent.key.id),
      15000, 'alice inbox');
    assert.equal(m.ok, true, m.error);
    assert.equal(m.text, 'hi alice');
    const own = await waitFor(async () => (await inbox(fw, '+15550001')).messages.find((x) => x.id === sent.key.id),
      10000, 'own phone copy');
    assert.equal(own.ok, true, own.error);
    assert.equal(own.text, 'hi alice');
    // alice's delivery receipt flows back to Baileys
    await waitFor(() => c.receipts.find((r) => r.key?.id === sent.key.id), 10000, 'receipt at Baileys');

    // alice replies on the established session (msg)
    const s2 = await admin(fw, 'POST', '/admin/contacts/alice/send', { to: '+15550001', text: 'reply from alice' });
    assert.equal(s2.status, 200);
    await c.waitText('reply from alice');
    const st = (await admin(fw, 'GET', '/admin/stats')).json;
    assert.equal(st.sim_decrypt_failures, 0);
    await c.stop();
  } finally {
    await fw.stop();
    cleanup(dir);
  }
});
