// SPDX-License-Identifier: MIT
// media-rx.test.mjs -- issue 14: real Baileys (+15550003) sends an image, a voice note and a
// document to the real wagate daemon (+15550001) through fakewa and its HTTPS media host.
// Baileys uploads each file its own way (media_conn, encryptedStream, POST /mms/...); wagate
// stores the message, fetches the file from the directPath Baileys' message names, decrypts
// and verifies it: the files under wagate's state dir, and what GET /api/v1/media serves, are
// byte-identical to what Baileys sent; the inbox rows carry Baileys' metadata.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { admin, linkBoth, waitFor } from './lib.mjs';

const GW = '+15550001', GW_JID = '15550001@s.whatsapp.net';
const BL = '+15550003';
const sha = (b) => createHash('sha256').update(b).digest('hex');

async function png() {
  const { default: sharp } = await import('sharp');
  return sharp(randomBytes(64 * 48 * 3), { raw: { width: 64, height: 48, channels: 3 } }).png().toBuffer();
}

test('Baileys sends an image, a voice note and a document; wagate\'s files are byte-identical', { timeout: 120000 }, async (t) => {
  const { fw, gw, c } = await linkBoth(t, { media: true, gwPhone: GW, blPhone: BL });

  const image = await png();
  const voice = randomBytes(23 * 1024 + 5);
  const doc = randomBytes(700 * 1024 + 11); // many TLS records, chunks and AES blocks
  const sent = {
    image: await c.sock.sendMessage(GW_JID, { image, caption: 'from baileys' }),
    ptt: await c.sock.sendMessage(GW_JID, { audio: voice, ptt: true, seconds: 4, mimetype: 'audio/ogg; codecs=opus' }),
    document: await c.sock.sendMessage(GW_JID, { document: doc, mimetype: 'application/pdf', fileName: 'report.pdf' }),
  };
  const orig = { image, ptt: voice, document: doc };
  const uploads = (await admin(fw, 'GET', '/admin/media')).json.uploads;
  assert.ok(uploads >= 3, `Baileys uploaded ${uploads} files`);

  for (const [kind, s] of Object.entries(sent)) {
    const row = await waitFor(async () => (await gw.inbox())
      .find((m) => m.id === s.key.id && m.file?.state !== 'pending'), 30000, `wagate fetched the ${kind}`);
    assert.equal(row.type, kind, JSON.stringify(row));
    assert.equal(row.file.state, 'done', JSON.stringify(row.file));
    const bytes = readFileSync(row.file.path);
    assert.equal(bytes.length, orig[kind].length, `${kind}: length`);
    assert.equal(sha(bytes), sha(orig[kind]), `${kind}: the file wagate stored is Baileys' original`);
    assert.ok(row.file.path.endsWith(`/media/${sha(orig[kind])}`), row.file.path);
    assert.equal(statSync(row.file.path).mode & 0o777, 0o600, `${kind}: mode 0600`);
    assert.equal(row.media?.sha256, sha(orig[kind]), `${kind}: the metadata's sha256`);
    assert.equal(Number(row.media?.file_length), orig[kind].length);
    // and the API serves the same bytes
    const res = await fetch(`${gw.base}${row.file.url}`, { headers: { authorization: `Bearer ${gw.token}` } });
    assert.equal(res.status, 200);
    assert.equal(sha(Buffer.from(await res.arrayBuffer())), sha(orig[kind]), `${kind}: GET /api/v1/media`);
  }
  const rows = await gw.inbox();
  const img = rows.find((m) => m.id === sent.image.key.id);
  assert.equal(img.media.caption, 'from baileys');
  assert.equal(img.media.mimetype, sent.image.message.imageMessage.mimetype); // Baileys' label
  const ptt = rows.find((m) => m.id === sent.ptt.key.id);
  assert.equal(ptt.media.seconds, 4);
  const d = rows.find((m) => m.id === sent.document.key.id);
  assert.equal(d.media.file_name, 'report.pdf');
  assert.equal(d.media.mimetype, 'application/pdf');
});
