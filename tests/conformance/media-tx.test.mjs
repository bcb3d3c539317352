// SPDX-License-Identifier: MIT
// media-tx.test.mjs -- issue 14: the real wagate daemon (+15550001) sends an image, a voice
// note and a document (POST /api/v1/messages with {"path"}; the voice note also as a raw body)
// to real Baileys (+15550003) through fakewa and its HTTPS media host. wagate uploads each file
// (media_conn, its own encryption, POST /mms/...) and sends the message; Baileys receives it and
// downloads and decrypts the file with its own downloadMediaMessage from the url/directPath
// wagate put in the message: byte-identical to the originals, with wagate's metadata (caption,
// ptt, seconds, mimetype, fileName, fileSha256, fileLength).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { downloadMediaMessage } from '@whiskeysockets/baileys';
import { admin, cleanup, linkBoth, tmpDir, waitFor } from './lib.mjs';

const GW = '+15550001';
const BL = '+15550003';
const sha = (b) => createHash('sha256').update(b).digest('hex');

test('wagate sends an image, a voice note and a document; Baileys downloads them byte-identical', { timeout: 120000 }, async (t) => {
  const files = tmpDir('media-tx-');
  t.after(() => cleanup(files));
  const { fw, gw, c } = await linkBoth(t, { media: true, gwPhone: GW, blPhone: BL });

  const orig = {
    image: randomBytes(180 * 1024 + 3),
    ptt: randomBytes(23 * 1024 + 5),
    document: randomBytes(900 * 1024 + 11), // many TLS records, chunks and AES blocks
    rawptt: randomBytes(17 * 1024 + 1),
  };
  const p = (k) => path.join(files, k);
  writeFileSync(p('photo.jpg'), orig.image);
  writeFileSync(p('voice.ogg'), orig.ptt);
  writeFileSync(p('report.pdf'), orig.document);
  const reqs = {
    image: { image: { path: p('photo.jpg') }, caption: 'from wagate' },
    ptt: { audio: { path: p('voice.ogg') }, ptt: true, seconds: 4 },
    document: { document: { path: p('report.pdf') }, file_name: 'Q3 report.pdf', caption: 'the report' },
  };
  const ids = {};
  for (const [kind, body] of Object.entries(reqs)) {
    const r = await gw.api('POST', '/api/v1/messages', { to: BL, ...body });
    assert.equal(r.status, 202, JSON.stringify(r.json));
    ids[kind] = r.json.id;
  }
  const raw = await fetch(`${gw.base}/api/v1/messages?to=${encodeURIComponent(BL)}&type=ptt&seconds=2`, {
    method: 'POST', body: orig.rawptt,
    headers: { authorization: `Bearer ${gw.token}`, 'content-type': 'audio/ogg; codecs=opus' },
  });
  assert.equal(raw.status, 202);
  ids.rawptt = (await raw.json()).id;

  const opts = { options: { dispatcher: fw.dispatcher } };
  const content = { image: 'imageMessage', ptt: 'audioMessage', document: 'documentMessage', rawptt: 'audioMessage' };
  const got = {};
  for (const [kind, id] of Object.entries(ids)) {
    const m = await waitFor(() => c.messages.find((x) => x.key.id === id && x.message), 30000,
      `Baileys received the ${kind}`);
    const media = m.message[content[kind]];
    assert.ok(media, `${kind}: ${JSON.stringify(Object.keys(m.message))}`);
    assert.ok(media.url.startsWith(`https://${fw.media}/`), media.url);
    assert.equal(Buffer.from(media.fileSha256).toString('hex'), sha(orig[kind]), `${kind}: fileSha256`);
    assert.equal(Number(media.fileLength), orig[kind].length, `${kind}: fileLength`);
    assert.ok(Number(media.mediaKeyTimestamp) > 1.7e9, `${kind}: mediaKeyTimestamp`);
    const bytes = await downloadMediaMessage({ key: m.key, message: m.message }, 'buffer', opts);
    assert.equal(bytes.length, orig[kind].length, `${kind}: length`);
    assert.equal(sha(bytes), sha(orig[kind]), `${kind}: Baileys decrypted wagate's original`);
    got[kind] = media;
  }
  assert.equal(got.image.caption, 'from wagate');
  assert.equal(got.image.mimetype, 'image/jpeg');
  assert.equal(got.ptt.ptt, true);
  assert.equal(got.ptt.seconds, 4);
  assert.equal(got.ptt.mimetype, 'audio/ogg; codecs=opus');
  assert.equal(got.rawptt.ptt, true);
  assert.equal(got.rawptt.seconds, 2);
  assert.equal(got.document.fileName, 'Q3 report.pdf');
  assert.equal(got.document.caption, 'the report');
  assert.equal(got.document.mimetype, 'application/pdf');
  // every message acked, every copy gone
  for (const id of Object.values(ids))
    await waitFor(async () => ['sent', 'delivered', 'read']
      .includes((await gw.api('GET', `/api/v1/messages/${id}`)).json.state), 10000, `${id} acked`);
});
