#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// gen-media-vectors.js -- write tests/fixtures/media-vectors.json: media files encrypted by
// Baileys' own upload path, and media retry payloads sealed by Baileys' own functions.
//
// usage: node tools/gen-media-vectors.js [OUT]   (default OUT: tests/fixtures/media-vectors.json)
// Uses the pinned @whiskeysockets/baileys of tests/conformance (runs `npm ci` there if it is
// missing; node_modules/ is git-ignored). Every input is fixed, so the output is
// deterministic: tests/unit/test_media.c must reproduce each value byte for byte with
// src/wa/media.c.
//
// Baileys functions used: encryptedStream (the function sendMessage uses to encrypt a file
// before the upload; its media key comes from crypto.randomBytes(32), which this script pins
// to a known key for the duration of the call and checks that Baileys used it), getMediaKeys
// (the HKDF expansion), hkdfInfoKey, encodeBase64EncodedStringForUpload (the upload token),
// encryptMediaRetryRequest (the receipt a client sends when a download URL expired; its nonce
// comes from crypto.randomBytes(12), pinned likewise), decryptMediaRetryData (the
// notification's payload), aesEncryptGCM (to seal a notification the way the phone does) and
// encodeBinaryNode (the receipt stanza exactly as Baileys sends it).
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const nodeModule = require('module');
const { execFileSync } = require('child_process');
const { pathToFileURL } = require('url');

const ROOT = path.resolve(__dirname, '..');
const CONF = path.join(ROOT, 'tests/conformance');
const LIB = path.join(CONF, 'node_modules/@whiskeysockets/baileys/lib');

const hex = (b) => Buffer.from(b).toString('hex');

function fill(n, start, step) {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = (start + i * step) & 0xff;
    return b;
}

// The plaintext of a vector: byte i = (seed + i * 31 + (i >> 8)) & 0xff (test_media.c makes
// the same bytes).
function pattern(len, seed) {
    const b = Buffer.alloc(len);
    for (let i = 0; i < len; i++) b[i] = (seed + i * 31 + (i >> 8)) & 0xff;
    return b;
}

// Run fn with crypto.randomBytes(n) answering `value` (once) for that n; Baileys' ESM
// `import * as Crypto from 'crypto'` sees the change through syncBuiltinESMExports.
async function withPinnedRandom(n, value, fn) {
    const orig = crypto.randomBytes;
    let used = false;
    crypto.randomBytes = (k, ...rest) => {
        if (k === n && !used && rest.length === 0) {
            used = true;
            return Buffer.from(value);
        }
        return orig(k, ...rest);
    };
    nodeModule.syncBuiltinESMExports();
    try {
        const r = await fn();
        if (!used) throw new Error(`Baileys did not draw randomBytes(${n})`);
        return r;
    } finally {
        crypto.randomBytes = orig;
        nodeModule.syncBuiltinESMExports();
    }
}

async function main() {
    const out = process.argv[2] || path.join(ROOT, 'tests/fixtures/media-vectors.json');
    if (!fs.existsSync(LIB)) execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: CONF, stdio: 'inherit' });
    const U = await import(pathToFileURL(path.join(LIB, 'Utils/index.js')).href);
    const { proto } = await import(pathToFileURL(path.join(LIB, '../WAProto/index.js')).href);
    const B = await import(pathToFileURL(path.join(LIB, 'WABinary/index.js')).href);
    const pkg = JSON.parse(fs.readFileSync(path.join(LIB, '../package.json'), 'utf8'));

    // Key expansion for every type name Baileys knows (the info strings and the split).
    const kdfKey = fill(32, 0x40, 3);
    const keys = [];
    for (const type of ['image', 'video', 'audio', 'ptt', 'document', 'sticker', 'gif', 'ptv',
        'thumbnail-link', 'thumbnail-image', 'thumbnail-video', 'thumbnail-document',
        'md-msg-hist', 'md-app-state']) {
        const k = await U.getMediaKeys(kdfKey, type);
        keys.push({ type, info: U.hkdfInfoKey(type), iv: hex(k.iv), cipher_key: hex(k.cipherKey), mac_key: hex(k.macKey) });
    }

    // Files: small ones carry the whole enc file; big ones its hash (same bytes either way).
    const files = [];
    const cases = [
        ['image', 0], ['image', 1], ['image', 15], ['image', 16], ['image', 17], ['image', 1000],
        ['video', 70001], ['audio', 4096], ['ptt', 33], ['document', 65536 + 5], ['sticker', 512],
        ['thumbnail-link', 100], ['md-msg-hist', 3000],
    ];
    for (let i = 0; i < cases.length; i++) {
        const [type, len] = cases[i];
        const mediaKey = fill(32, 0x11 * (i + 1), 7);
        const seed = (i * 37) & 0xff;
        const plain = pattern(len, seed);
        const r = await withPinnedRandom(32, mediaKey, () => U.encryptedStream(plain, type));
        if (!Buffer.from(r.mediaKey).equals(mediaKey)) throw new Error('media key not pinned');
        const enc = fs.readFileSync(r.encFilePath);
        fs.unlinkSync(r.encFilePath);
        if (!crypto.createHash('sha256').update(enc).digest().equals(r.fileEncSha256))
            throw new Error('fileEncSha256 is not the hash of the enc file');
        const v = {
            type, media_key: hex(mediaKey), plain_len: len, plain_seed: seed,
            file_length: r.fileLength, file_sha256: hex(r.fileSha256),
            file_enc_sha256: hex(r.fileEncSha256), mac: hex(r.mac), enc_len: enc.length,
            upload_token: U.encodeBase64EncodedStringForUpload(Buffer.from(r.fileEncSha256).toString('base64')),
        };
        if (enc.length <= 2048) v.enc = hex(enc);
        files.push(v);
    }

    // Media retry request (client -> server, receipt type='server-error').
    const retryMediaKey = fill(32, 0x90, 5);
    const retryIv = fill(12, 0xa0, 1);
    const msgId = '3EB0C0FFEE0123456789';
    const key = { id: msgId, remoteJid: '15550002222@s.whatsapp.net', fromMe: false };
    const node = await withPinnedRandom(12, retryIv,
        () => U.encryptMediaRetryRequest(key, retryMediaKey, '15550001111:3@s.whatsapp.net'));
    const encNode = node.content.find((c) => c.tag === 'encrypt');
    const encP = encNode.content.find((c) => c.tag === 'enc_p').content;
    const encIv = encNode.content.find((c) => c.tag === 'enc_iv').content;
    if (!Buffer.from(encIv).equals(retryIv)) throw new Error('retry iv not pinned');
    const receiptPlain = proto.ServerErrorReceipt.encode({ stanzaId: msgId }).finish();

    // Media retry notification (phone -> client): sealed as the phone does, opened by Baileys.
    const notifIv = fill(12, 0xb0, 3);
    const notifPlain = proto.MediaRetryNotification.encode({
        stanzaId: msgId, directPath: '/v/t62.7118-24/fresh.enc?ccb=11-4&oh=x&oe=y',
        result: proto.MediaRetryNotification.ResultType.SUCCESS,
    }).finish();
    const retryKey = U.hkdf(retryMediaKey, 32, { info: 'WhatsApp Media Retry Notification' });
    const notifCt = U.aesEncryptGCM(notifPlain, retryKey, notifIv, Buffer.from(msgId));
    const decoded = U.decryptMediaRetryData({ ciphertext: notifCt, iv: notifIv }, retryMediaKey, msgId);
    if (decoded.directPath !== '/v/t62.7118-24/fresh.enc?ccb=11-4&oh=x&oe=y') throw new Error('retry decode');

    const doc = {
        generator: `tools/gen-media-vectors.js with @whiskeysockets/baileys@${pkg.version}`,
        plain_pattern: 'byte i = (plain_seed + i*31 + (i>>8)) & 0xff',
        kdf_media_key: hex(kdfKey),
        keys,
        files,
        retry: {
            media_key: hex(retryMediaKey), msg_id: msgId, retry_key: hex(retryKey),
            own_jid: '15550001111@s.whatsapp.net', chat_jid: key.remoteJid,
            receipt_iv: hex(retryIv), receipt_plain: hex(receiptPlain), receipt_enc_p: hex(encP),
            receipt_node: hex(B.encodeBinaryNode(node)),
            notification_iv: hex(notifIv), notification_plain: hex(notifPlain),
            notification_enc_p: hex(notifCt),
        },
    };
    fs.writeFileSync(out, JSON.stringify(doc, null, 2) + '\n');
    console.log(`wrote ${out}: ${keys.length} key expansions, ${files.length} files, retry payloads`);
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
