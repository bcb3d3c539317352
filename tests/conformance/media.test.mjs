// SPDX-License-Identifier: MIT
// media.test.mjs -- conformance: fakewa's media host (--media) speaks what Baileys speaks.
// Real Baileys sends an image and a document to a simulated contact: its own upload path
// (media_conn iq for host and auth, encryptedStream, POST /mms/TYPE/TOKEN?auth=&token=) stores
// them in fakewa, and Baileys' own downloadMediaMessage of the sent messages (GET
// https://HOST + directPath, AES-CBC decrypt) gives the original bytes back. A file the
// simulated phone side puts (encrypted by wagate's src/wa/media.c through /admin/media/put) is
// decrypted by Baileys' downloadContentFromMessage to the original bytes; after
// /admin/media/expire the same download fails with 410, Baileys' updateMediaMessage (the
// server-error receipt, the mediaretry notification from the simulated phone, built by
// wagate's src/wa/mediaretry.c) gets a fresh directPath that downloads again; a corrupted
// file no longer decrypts to the original. wagate's own transfer code (tools/mediaxfer over
// src/wa/mediaxfer.c) downloads what Baileys uploaded and uploads what Baileys downloads, and
// refuses the corrupted file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { downloadContentFromMessage, downloadMediaMessage } from '@whiskeysockets/baileys';
import { admin, cleanup, inbox, pairClient, startFakewa, tmpDir, waitFor } from './lib.mjs';

const sha = (b) => createHash('sha256').update(b).digest();

// wagate's own transfer code (src/wa/mediaxfer.c) as a command: tools/mediaxfer.
function mediaxferBin() {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  const dirs = [process.env.WAGATE_BUILD, path.join(root, 'build-asan'), path.join(root, 'build')];
  const p = dirs.filter(Boolean).map((d) => path.join(d, 'wagate-mediaxfer')).find((f) => existsSync(f));
  if (!p) throw new Error('wagate-mediaxfer not built');
  return p;
}

function mediaxfer(args) {
  try {
    return JSON.parse(execFileSync(mediaxferBin(), args, { encoding: 'utf8' }));
  } catch (e) {
    throw new Error(`wagate-mediaxfer ${args[0]}: ${e.stdout || e.message}`);
  }
}

async function toBuffer(stream) {
  const parts = [];
  for await (const c of stream) parts.push(c);
  return Buffer.concat(parts);
}

// A real PNG (Baileys makes a JPEG thumbnail of an image with sharp), 48x32, with noise so
// that it does not compress to a few bytes.
async function png() {
  const { default: sharp } = await import('sharp');
  const raw = randomBytes(48 * 32 * 3);
  return sharp(raw, { raw: { width: 48, height: 32, channels: 3 } }).png().toBuffer();
}

test('Baileys uploads to and downloads from fakewa\'s media host', { timeout: 120000 }, async () => {
  const fw = await startFakewa({ media: true });
  const dir = tmpDir('baileys-auth-');
  try {
    assert.match(fw.media, /^127\.0\.0\.1:\d+$/);
    assert.equal((await admin(fw, 'POST', '/admin/accounts', { phone: '+15550001' })).status, 201);
    assert.equal((await admin(fw, 'POST', '/admin/contacts', { name: 'alice', phone: '+15550002' })).status, 201);
    const c = await pairClient(fw, '+15550001', dir);
    await waitFor(async () => {
      const d = await admin(fw, 'GET', '/admin/devices?phone=15550001');
      return d.json.find((x) => x.device === 1 && x.prekeys > 0);
    }, 10000, 'pre-keys');

    // media_conn as Baileys parses it: fakewa's host, its auth and ttl.
    const conn = await c.sock.refreshMediaConn(true);
    assert.deepEqual(conn.hosts.map((h) => h.hostname), [fw.media]);
    const st0 = (await admin(fw, 'GET', '/admin/media')).json;
    assert.equal(conn.auth, st0.auth);
    assert.equal(conn.ttl, st0.ttl);

    const image = await png();
    const doc = randomBytes(300 * 1024 + 7); // several TLS records and upload chunks
    const jid = '15550002@s.whatsapp.net';
    const sentImg = await c.sock.sendMessage(jid, { image, caption: 'a picture' });
    const sentDoc = await c.sock.sendMessage(jid, { document: doc, mimetype: 'application/octet-stream', fileName: 'blob.bin' });
    const im = sentImg.message.imageMessage, dm = sentDoc.message.documentMessage;
    assert.match(im.directPath, /^\/v\/t62\.7118-24\/[0-9a-f]{64}\.enc\?/);
    assert.ok(im.url.startsWith(`https://${fw.media}/`), im.url);
    assert.equal(Number(dm.fileLength), doc.length);
    assert.deepEqual(Buffer.from(dm.fileSha256), sha(doc));

    // fakewa stored exactly the enc files Baileys described.
    const st1 = (await admin(fw, 'GET', '/admin/media')).json;
    assert.equal(st1.uploads, 2);
    for (const m of [im, dm]) {
      const h = Buffer.from(m.fileEncSha256).toString('hex');
      const f = await admin(fw, 'GET', `/admin/media/file?enc_sha256=${h}`);
      assert.equal(f.status, 200, JSON.stringify(f.json));
      assert.deepEqual(sha(readFileSync(f.json.path)), Buffer.from(m.fileEncSha256));
    }

    // Baileys' own download of what it sent: the original bytes.
    const opts = { options: { dispatcher: fw.dispatcher } };
    assert.deepEqual(await downloadMediaMessage(sentImg, 'buffer', opts), image);
    assert.deepEqual(await downloadMediaMessage(sentDoc, 'buffer', opts), doc);
    // A byte range (Baileys fetches from the block before startByte: fakewa's 206).
    const part = await toBuffer(await downloadContentFromMessage(dm, 'document', { ...opts, startByte: 1000, endByte: 5000 }));
    assert.deepEqual(part, doc.subarray(1000, 5000));
    const st2 = (await admin(fw, 'GET', '/admin/media')).json;
    assert.equal(st2.downloads, 3, 'the three downloads were served by fakewa');
    assert.ok(st2.bytes_out >= image.length + doc.length + 4000, JSON.stringify(st2));
    // alice's phone got both messages.
    for (const s of [sentImg, sentDoc]) {
      const m = await waitFor(async () => (await inbox(fw, 'alice')).messages.find((x) => x.id === s.key.id),
        15000, 'alice inbox');
      assert.equal(m.ok, true, m.error);
    }

    // A file the phone side encrypts with wagate's wa/media.c: Baileys decrypts it.
    const plain = randomBytes(100000 + 3);
    const src = path.join(dir, 'voice.ogg');
    writeFileSync(src, plain);
    const put = await admin(fw, 'POST', '/admin/media/put', { path: src, type: 'audio', encrypt: true, msg_id: 'MEDIARETRY0001' });
    assert.equal(put.status, 200, JSON.stringify(put.json));
    assert.equal(put.json.file_sha256, sha(plain).toString('hex'));
    const msg = { mediaKey: Buffer.from(put.json.media_key, 'hex'), directPath: put.json.direct_path, url: put.json.url };
    assert.deepEqual(await toBuffer(await downloadContentFromMessage(msg, 'ptt', opts)), plain);

    // Expired: 410 (what makes a client send the media retry receipt).
    assert.equal((await admin(fw, 'POST', '/admin/media/expire', { enc_sha256: put.json.enc_sha256 })).status, 200);
    await assert.rejects(async () => toBuffer(await downloadContentFromMessage(msg, 'ptt', opts)),
      (e) => e.output?.statusCode === 410 || /410/.test(String(e)));
    // The media retry path: Baileys' own updateMediaMessage sends the server-error receipt,
    // alice's simulated phone "re-uploads" and answers with a mediaretry notification whose
    // payload Baileys decrypts to a fresh directPath; the download then works again.
    const wam = {
      key: { remoteJid: '15550002@s.whatsapp.net', id: 'MEDIARETRY0001', fromMe: false },
      message: { audioMessage: { ...msg, mimetype: 'audio/ogg', fileLength: plain.length } },
    };
    const updated = await c.sock.updateMediaMessage(wam);
    const fresh = updated.message.audioMessage.directPath;
    assert.notEqual(fresh, put.json.direct_path);
    assert.ok(updated.message.audioMessage.url.startsWith(`https://${fw.media}/`));
    assert.equal((await admin(fw, 'GET', '/admin/media')).json.retries_answered, 1);
    assert.deepEqual(await downloadMediaMessage(updated, 'buffer', opts), plain);
    // A message the phone does not know: the notification carries an error (Baileys: 404).
    const unknown = { key: { ...wam.key, id: 'NOSUCHMSG0001' }, message: wam.message };
    await assert.rejects(c.sock.updateMediaMessage(unknown), /re-upload media \(2\)/);

    // wagate's transfer code and Baileys on the same media host, both ways:
    // Baileys' upload -> wagate's download (MAC and both hashes verified) ...
    const got = path.join(dir, 'from-baileys.bin');
    const hx = (b) => Buffer.from(b).toString('hex');
    const dl = mediaxfer(['download', '--host', fw.media, '--type', 'document', '--ca', fw.ca,
      '--path', dm.directPath, '--key', hx(dm.mediaKey), '--sha256', hx(dm.fileSha256),
      '--enc-sha256', hx(dm.fileEncSha256), '--out', got]);
    assert.equal(dl.file_length, doc.length);
    assert.deepEqual(readFileSync(got), doc);
    // ... and wagate's upload (media_conn auth as Baileys got it) -> Baileys' download.
    const voice = randomBytes(70000 + 1);
    const vsrc = path.join(dir, 'voice2.ogg');
    writeFileSync(vsrc, voice);
    const auth = (await c.sock.refreshMediaConn(false)).auth;
    const up = mediaxfer(['upload', '--host', fw.media, '--auth', auth, '--type', 'ptt', '--ca', fw.ca, '--file', vsrc]);
    assert.equal(up.file_sha256, sha(voice).toString('hex'));
    const vmsg = { mediaKey: Buffer.from(up.media_key, 'hex'), directPath: up.direct_path, url: up.url };
    assert.deepEqual(await toBuffer(await downloadContentFromMessage(vmsg, 'ptt', opts)), voice);

    // Corrupted: the bytes no longer decrypt to the original (Baileys does not check the MAC).
    const dh = Buffer.from(dm.fileEncSha256).toString('hex');
    assert.equal((await admin(fw, 'POST', '/admin/media/corrupt', { enc_sha256: dh })).status, 200);
    const bad = await toBuffer(await downloadContentFromMessage(dm, 'document', opts)).catch(() => null);
    assert.ok(bad === null || !bad.equals(doc), 'a corrupted file must not decrypt to the original');
    // wagate refuses it outright (the MAC), and leaves no file.
    assert.throws(() => mediaxfer(['download', '--host', fw.media, '--type', 'document', '--ca', fw.ca,
      '--path', dm.directPath, '--key', hx(dm.mediaKey), '--out', path.join(dir, 'bad.bin')]), /Bad message/);
    assert.equal(existsSync(path.join(dir, 'bad.bin')), false);
    await c.stop();
  } finally {
    await fw.stop();
    cleanup(dir);
  }
});
