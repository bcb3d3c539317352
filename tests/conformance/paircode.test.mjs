// SPDX-License-Identifier: MIT
// paircode.test.mjs -- conformance: real Baileys links to wagate-fakewa with a phone-number
// pairing code (requestPairingCode), proving fakewa's primary side of wa-protocol.md §5.5:
// a wrong code typed on the "phone" is refused (no device is linked), the right code links a
// new client, it survives the 515, reaches "open" and logs in again without a QR.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, admin, cleanup, startFakewa, tmpDir, waitFor } from './lib.mjs';

const PHONE = '+15550002';

// Start a Baileys client that asks for a code on its first QR; resolves to {c, code, opened}.
async function codeClient(fw, dir) {
  let code = null;
  const c = new Client(fw, dir, {
    onQr: async () => {
      if (code === null) code = await c.sock.requestPairingCode(PHONE.slice(1));
    },
  });
  const opened = c.start();
  opened.catch(() => {}); // a wrong code ends it before open
  await waitFor(() => code, 20000, 'the pairing code');
  assert.match(code, /^[1-9A-HJ-NP-TV-Z]{8}$/);
  return { c, code, opened };
}

// The hello goes out without waiting for its result: retry until fakewa has it.
async function type(fw, code) {
  return waitFor(async () => {
    const r = await admin(fw, 'POST', '/admin/paircode', { phone: PHONE, code });
    return r.status === 404 ? null : r;
  }, 10000, 'fakewa has the companion_hello');
}

test('pair by code: a wrong code links nothing; the right one links, 515, re-login', { timeout: 90000 }, async () => {
  const fw = await startFakewa();
  const dirs = [tmpDir('baileys-code-'), tmpDir('baileys-code-')];
  try {
    assert.equal((await admin(fw, 'POST', '/admin/accounts', { phone: PHONE })).status, 201);

    // A wrong code: fakewa refuses Baileys' companion_finish (401 incorrect-code; Baileys'
    // notification handler throws, and what it does then varies). No device is linked.
    const w = await codeClient(fw, dirs[0]);
    const wrong = (w.code[0] === 'A' ? 'B' : 'A') + w.code.slice(1);
    const t1 = await type(fw, wrong);
    assert.equal(t1.status, 200, JSON.stringify(t1.json));
    await waitFor(async () => (await admin(fw, 'GET', '/admin/stats')).json.paircode_rejected, 10000,
      'fakewa refused the finish');
    assert.equal(w.c.opened, 0);
    const d0 = await admin(fw, 'GET', `/admin/devices?phone=${encodeURIComponent(PHONE)}`);
    assert.equal(d0.json.filter((x) => x.device > 0).length, 0, 'a wrong code linked a device');
    await w.c.stop();

    // The right code (typed as WhatsApp shows it, ABCD-EFGH) links a fresh client.
    const r = await codeClient(fw, dirs[1]);
    const t2 = await type(fw, r.code.slice(0, 4) + '-' + r.code.slice(4));
    assert.equal(t2.status, 200, JSON.stringify(t2.json));
    const sock = await r.opened.catch((e) => { throw new Error(`right-code client: ${e.message}; closes ${r.c.closes} opened ${r.c.opened}`); });
    assert.deepEqual(r.c.closes, [515]);
    assert.match(sock.user.id, /^15550002:1@s\.whatsapp\.net$/);
    await r.c.stop();

    const c2 = new Client(fw, dirs[1], { onQr: () => assert.fail('QR shown on re-login') });
    const sock2 = await c2.start();
    assert.equal(sock2.user.id, sock.user.id);
    const st = await admin(fw, 'GET', '/admin/stats');
    assert.equal(st.json.pairings, 1);
    await c2.stop();
  } finally {
    await fw.stop();
    dirs.forEach(cleanup);
  }
});
