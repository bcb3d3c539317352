// SPDX-License-Identifier: MIT
// media-tx.test.mjs -- issue 14: the real wagate daemon (+15550001) sends an image, a voice
// note and a document (POST /api/v1/messages with {"path"}; the voice note also as a raw body)
// to real Baileys (+15550003) through fakewa and its HTTPS media host. wagate uploads each file
// (media_conn, its own encryption, POST /mms/...) and sends the message; Baileys receives it and
// downloads and decrypts the file with its own downloadMediaMessage from the url/directPath
// wagate put in the message: byte-identical to the originals, with wagate's metadata (caption,
// ptt, seconds, mimetype, fileName, fileSha256, fileLength). Real files (made by
// wagate-test-mkmedia) then arrive with what wagate's probe read from them: an image's width,
// height and a jpegThumbnail that decodes to 32 x 24, a video's size and seconds, a voice
// note's seconds and 64-byte waveform -- the fields Baileys' own prepareWAMessageMedia fills in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { downloadMediaMessage } from '@whiskeysockets/baileys';
import { admin, cleanup, linkBoth, tmpDir, waitFor } from './lib.mjs';

const GW = '+15550001';
const BL = '+15550003';
const sha = (b) => createHash('sha256').update(b).digest('hex');
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const mkmedia = [process.env.WAGATE_BUILD && path.join(process.env.WAGATE_BUILD, 'wagate-test-mkmedia'),
  path.join(root, 'build-asan', 'wagate-test-mkmedia'), path.join(root, 'build', 'wagate-test-mkmedia')]
  .filter(Boolean).find((p) => existsSync(p));

test('wagate sends an image, a voice note and a document; Baileys downloads them byte-identical, with sizes, thumbnail, seconds and waveform', { timeout: 120000 }, async (t) => {
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
  // real files: what the probe read from them reaches Baileys
  assert.ok(mkmedia, 'wagate-test-mkmedia is built');
  execFileSync(mkmedia, ['jpeg', '1600', '1200', p('real.jpg')]);
  execFileSync(mkmedia, ['mp4', '1280', '720', '4600', p('real.mp4')]);
  execFileSync(mkmedia, ['opus', '3200', p('real.ogg')]);
  const real = {
    image: [{ image: { path: p('real.jpg') } }, 'imageMessage'],
    video: [{ video: { path: p('real.mp4') } }, 'videoMessage'],
    ptt: [{ audio: { path: p('real.ogg') }, ptt: true }, 'audioMessage'],
  };
  const seen = {};
  for (const [kind, [body, field]] of Object.entries(real)) {
    const r = await gw.api('POST', '/api/v1/messages', { to: BL, ...body });
    assert.equal(r.status, 202, JSON.stringify(r.json));
    ids[`real-${kind}`] = r.json.id;
    const m = await waitFor(() => c.messages.find((x) => x.key.id === r.json.id && x.message), 30000,
      `Baileys received the real ${kind}`);
    seen[kind] = m.message[field];
    assert.ok(seen[kind], `${kind}: ${JSON.stringify(Object.keys(m.message))}`);
  }
  assert.equal(seen.image.width, 1600);
  assert.equal(seen.image.height, 1200);
  const thumb = Buffer.from(seen.image.jpegThumbnail);
  assert.ok(thumb.length > 100 && thumb.length < 16384, `jpegThumbnail of ${thumb.length} bytes`);
  writeFileSync(p('thumb.jpg'), thumb);
  assert.match(execFileSync(mkmedia, ['jpeginfo', p('thumb.jpg')]).toString(), /^32 24 /);
  assert.equal(seen.video.width, 1280);
  assert.equal(seen.video.height, 720);
  assert.equal(seen.video.seconds, 5);
  assert.equal(seen.ptt.ptt, true);
  assert.equal(seen.ptt.seconds, 3);
  const wf = Buffer.from(seen.ptt.waveform);
  assert.equal(wf.length, 64);
  assert.equal(Math.max(...wf), 100);
  assert.ok(wf[0] < wf[60], `a rising tone: ${[...wf]}`);
  assert.equal(sha(await downloadMediaMessage({ key: { id: ids['real-ptt'] }, message: { audioMessage: seen.ptt } },
    'buffer', opts)), sha(readFileSync(p('real.ogg'))), 'the voice note decrypts to the original');
  // the random-bytes files went without (the probe found nothing), as before
  assert.equal(got.image.width ?? 0, 0);
  assert.equal(got.image.jpegThumbnail?.length ?? 0, 0);
  assert.equal(got.ptt.waveform?.length ?? 0, 0);
  // every message acked, every copy gone
  for (const id of Object.values(ids))
    await waitFor(async () => ['sent', 'delivered', 'read']
      .includes((await gw.api('GET', `/api/v1/messages/${id}`)).json.state), 10000, `${id} acked`);
});
