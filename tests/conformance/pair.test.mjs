// SPDX-License-Identifier: MIT
// pair.test.mjs -- conformance 1: real Baileys pairs by QR with wagate-fakewa, survives the
// 515 restart, reaches "open", then logs in again from its saved creds without a QR.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, admin, cleanup, startFakewa, tmpDir, waitFor } from './lib.mjs';

test('pair by QR, 515, open, re-login from saved creds', { timeout: 90000 }, async () => {
  const fw = await startFakewa();
  const dir = tmpDir('baileys-auth-');
  try {
    const acc = await admin(fw, 'POST', '/admin/accounts', { phone: '+15550001' });
    assert.equal(acc.status, 201);
    const r = await admin(fw, 'GET', '/admin/root');
    assert.equal(r.json.pubkey, fw.root);

    const scans = [];
    const c1 = new Client(fw, dir, {
      onQr: async (qr) => {
        assert.match(qr, /^https:\/\/wa\.me\/settings\/linked_devices#2@/);
        scans.push(await admin(fw, 'POST', '/admin/scan', { qr, phone: '+15550001' }));
      },
    });
    const sock = await c1.start();
    assert.equal(scans.length, 1);
    assert.equal(scans[0].status, 200, JSON.stringify(scans[0].json));
    assert.deepEqual(c1.closes, [515]);
    assert.match(sock.user.id, /^15550001:1@s\.whatsapp\.net$/);
    assert.match(sock.user.lid, /^2\d{14}:1@lid$/);

    const devs = await waitFor(async () => {
      const d = await admin(fw, 'GET', '/admin/devices?phone=%2B15550001');
      const dev = d.json.find((x) => x.device === 1);
      return dev && dev.online && dev.prekeys > 0 ? d.json : null;
    }, 10000, 'device 1 online with pre-keys');
    assert.equal(devs.find((x) => x.device === 1).registered, true);
    await c1.stop();

    // Restart from the saved creds: no QR, straight to open.
    const c2 = new Client(fw, dir, { onQr: () => assert.fail('QR shown on re-login') });
    const sock2 = await c2.start();
    assert.equal(sock2.user.id, sock.user.id);
    assert.equal(c2.qrs.length, 0);
    const st = await admin(fw, 'GET', '/admin/stats');
    assert.equal(st.json.pairings, 1);
    assert.ok(st.json.logins >= 2);
    await c2.stop();
  } finally {
    await fw.stop();
    cleanup(dir);
  }
});
