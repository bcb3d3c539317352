// SPDX-License-Identifier: MIT
// tls.test.mjs -- conformance 5: real Baileys over wss:// (fakewa --listen-tls, certificate
// from fakewa's test CA, trusted through an https.Agent with `ca` passed as Baileys' `agent`):
// QR pairing, 515, open, a message from alice; without the CA the TLS handshake fails and
// no QR is ever shown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Client, admin, cleanup, pairClient, startFakewa, tmpDir, waitFor } from './lib.mjs';

test('Baileys pairs and messages over wss:// with the test CA', { timeout: 90000 }, async () => {
  const fw = await startFakewa({ tls: true });
  const dir = tmpDir('baileys-auth-');
  try {
    assert.match(fw.url, /^wss:\/\/localhost:\d+\/ws\/chat$/);
    const ca = new X509Certificate(readFileSync(fw.ca));
    assert.ok(ca.ca, 'ca.pem is a CA certificate');
    assert.equal((await admin(fw, 'GET', '/admin/root')).json.ca, fw.ca);
    assert.equal((await admin(fw, 'POST', '/admin/accounts', { phone: '+15550001' })).status, 201);
    assert.equal((await admin(fw, 'POST', '/admin/contacts', { name: 'alice', phone: '+15550002' })).status, 201);
    const before = (await admin(fw, 'GET', '/admin/stats')).json;

    const c = await pairClient(fw, '+15550001', dir);
    assert.deepEqual(c.closes, [515]);
    assert.match(c.sock.user.id, /^15550001:1@s\.whatsapp\.net$/);
    const st = (await admin(fw, 'GET', '/admin/stats')).json;
    assert.equal(st.pairings, before.pairings + 1);
    assert.ok(st.handshakes >= 2, 'pairing and login connections completed Noise over TLS');
    await waitFor(async () => {
      const d = await admin(fw, 'GET', '/admin/devices?phone=15550001');
      return d.json.find((x) => x.device === 1 && x.online && x.prekeys > 0);
    }, 10000, 'device 1 online with pre-keys');

    const s1 = await admin(fw, 'POST', '/admin/contacts/alice/send', { to: '+15550001', text: 'hello over wss' });
    assert.equal(s1.status, 200, JSON.stringify(s1.json));
    const got = await c.waitText('hello over wss');
    assert.equal(got.key.id, s1.json.id);
    await c.stop();
  } finally {
    await fw.stop();
    cleanup(dir);
  }
});

test('Baileys without the test CA fails the TLS handshake (no QR)', { timeout: 60000 }, async () => {
  const fw = await startFakewa({ tls: true });
  const dir = tmpDir('baileys-auth-');
  try {
    const c = new Client({ ...fw, agent: undefined }, dir, { onQr: () => assert.fail('QR over an untrusted TLS connection') });
    await assert.rejects(c.start(), /closed before open/);
    assert.equal(c.qrs.length, 0);
    assert.equal((await admin(fw, 'GET', '/admin/stats')).json.handshakes, 0);
    await c.stop();
  } finally {
    await fw.stop();
    cleanup(dir);
  }
});
