// SPDX-License-Identifier: MIT
// faults.test.mjs -- conformance 4: two real Baileys clients on two accounts exchange
// messages; corrupted messages make alice (or Baileys) send a retry receipt that Baileys (or
// alice) answers by re-encrypting (a retry receipt with keys: on a new session, a pkmsg); injected stream errors and login failures reach Baileys with the right codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, admin, cleanup, inbox, pairClient, startFakewa, tmpDir, waitFor } from './lib.mjs';

const prekeys = (fw, phone) => waitFor(async () => (await admin(fw, 'GET', `/admin/devices?phone=${phone}`)).json
  .find((x) => x.device === 1 && x.prekeys > 0), 10000, `pre-keys of ${phone}`);

test('two Baileys clients, retry receipt, stream errors, failures', { timeout: 120000 }, async () => {
  const fw = await startFakewa();
  const d1 = tmpDir('baileys-a-'), d2 = tmpDir('baileys-b-');
  try {
    await admin(fw, 'POST', '/admin/accounts', { phone: '+15550001' });
    await admin(fw, 'POST', '/admin/accounts', { phone: '+15550003' });
    await admin(fw, 'POST', '/admin/contacts', { name: 'alice', phone: '+15550002' });
    const a = await pairClient(fw, '+15550001', d1);
    const b = await pairClient(fw, '+15550003', d2);
    await prekeys(fw, '15550001');
    await prekeys(fw, '15550003');

    // Baileys A <-> Baileys B
    await a.sock.sendMessage('15550003@s.whatsapp.net', { text: 'a to b' });
    await b.waitText('a to b');
    await b.sock.sendMessage('15550001@s.whatsapp.net', { text: 'b to a' });
    await a.waitText('b to a');

    // Retry: the next message delivered to alice's phone gets a broken MAC; alice sends a
    // retry receipt to A, A re-encrypts and alice decrypts the second copy.
    const f = await admin(fw, 'POST', '/admin/fault', { type: 'corrupt', phone: 'alice', device: 0 });
    assert.equal(f.status, 200);
    const sent = await a.sock.sendMessage('15550002@s.whatsapp.net', { text: 'retry me' });
    const ok = await waitFor(async () => (await inbox(fw, 'alice')).messages
      .filter((x) => x.id === sent.key.id), 20000, 'any copy').then(() => waitFor(async () => {
      const ms = (await inbox(fw, 'alice')).messages.filter((x) => x.id === sent.key.id);
      return ms.length >= 2 && ms.find((x) => x.ok) ? ms : null;
    }, 20000, 'retried copy'));
    assert.equal(ok[0].ok, false);
    assert.equal(ok.find((x) => x.ok).text, 'retry me');

    // The other way: a corrupted message to A makes A send a retry receipt; alice's phone
    // re-encrypts it for A's device only (enc count=1) and A decrypts the second copy.
    await admin(fw, 'POST', '/admin/fault', { type: 'corrupt', phone: '+15550001', device: 1 });
    const s2 = await admin(fw, 'POST', '/admin/contacts/alice/send', { to: '+15550001', text: 'fix me' });
    assert.equal(s2.status, 200);
    const fixed = await a.waitText('fix me');
    assert.equal(fixed.key.id, s2.json.id);
    const rr = (await inbox(fw, 'alice')).receipts.filter((x) => x.id === s2.json.id);
    assert.ok(rr.some((x) => x.type === 'retry'), JSON.stringify(rr));

    // Retry receipt WITH keys (what wagate sends from count 2): Baileys builds a new session
    // from the receipt's bundle and re-sends a pkmsg -- the rule fakewa's phones follow
    // (docs/internals/retry-receipts.md).
    const k1 = await a.sock.sendMessage('15550002@s.whatsapp.net', { text: 'keys please' });
    await waitFor(async () => (await inbox(fw, 'alice')).messages.find((x) => x.id === k1.key.id && x.ok),
      20000, 'first copy');
    const copies = (await inbox(fw, 'alice')).messages.filter((x) => x.id === k1.key.id);
    assert.equal(copies[0].enc, 'msg', 'the first copy went on the existing session');
    const before = copies.length;
    const rq = await admin(fw, 'POST', '/admin/contacts/alice/retry', { id: k1.key.id, count: 2, keys: true });
    assert.equal(rq.status, 200);
    const resent = await waitFor(async () => {
      const ms = (await inbox(fw, 'alice')).messages.filter((x) => x.id === k1.key.id);
      return ms.length > before ? ms[ms.length - 1] : null;
    }, 20000, 'resend after a retry receipt with keys');
    assert.equal(resent.ok, true, JSON.stringify(resent));
    assert.equal(resent.text, 'keys please');
    assert.equal(resent.enc, 'pkmsg', 'a new session from the receipt\'s keys');

    // stream:error 515 -> Baileys reconnects by itself (our Client re-creates the socket)
    const opened = b.opened;
    assert.equal((await admin(fw, 'POST', '/admin/fault', { type: 'stream_error', code: 515, phone: '+15550003' })).json.affected, 1);
    await waitFor(() => b.opened > opened, 15000, 'B reopened after 515');
    assert.ok(b.closes.includes(515));

    // conflict (440): Baileys reports connectionReplaced
    await admin(fw, 'POST', '/admin/fault', { type: 'stream_error', code: 440, phone: '+15550003' });
    await waitFor(() => b.closes.includes(440), 10000, 'B closed with 440');
    await b.stop();

    // failure 403 at the next login of A
    await admin(fw, 'POST', '/admin/fault', { type: 'failure', reason: 403, phone: '+15550001' });
    await waitFor(() => a.closes.length > 0, 10000, 'A closed');
    await a.stop();
    const a2 = new Client(fw, d1);
    await assert.rejects(a2.start(), /closed before open: 403/);
    await a2.stop();
    // one-shot: the next login works again
    const a3 = new Client(fw, d1);
    await a3.start();
    await a3.stop();
  } finally {
    await fw.stop();
    cleanup(d1);
    cleanup(d2);
  }
});
