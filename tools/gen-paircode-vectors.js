#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// gen-paircode-vectors.js -- write tests/fixtures/paircode-vectors.json: the phone-number
// pairing-code exchange (wa-protocol.md §5.5) computed with Baileys' own functions.
//
// usage: node tools/gen-paircode-vectors.js [OUT]   (default OUT: tests/fixtures/paircode-vectors.json)
// Uses the pinned @whiskeysockets/baileys of tests/conformance (runs `npm ci` there if it is
// missing; node_modules/ is git-ignored). All inputs are fixed bytes, so the output is
// deterministic: the unit test tests/unit/test_paircode.c must reproduce every derived value
// byte for byte with src/wa/paircode.c.
//
// Baileys functions used: bytesToCrockford (code from 5 bytes), derivePairingCodeKey (PBKDF2),
// aesEncryptCTR / aesDecryptCTR (ephemeral key wrapping), Curve.sharedKey (X25519), hkdf
// (bundle key, adv secret), aesEncryptGCM (key bundle), encodeBinaryNode (the two iqs exactly
// as Baileys' requestPairingCode and its link_code_companion_reg handler build them).
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const { execFileSync } = require('child_process');
const { pathToFileURL } = require('url');

const ROOT = path.resolve(__dirname, '..');
const CONF = path.join(ROOT, 'tests/conformance');
const LIB = path.join(CONF, 'node_modules/@whiskeysockets/baileys/lib');

function fill(n, start, step) {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = (start + i * step) & 0xff;
    return b;
}

// An X25519 public key from a raw private key (node's crypto; clamping is X25519's own).
function x25519Pub(priv) {
    const der = Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), priv]);
    const key = crypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    const spki = crypto.createPublicKey(key).export({ format: 'der', type: 'spki' });
    return spki.subarray(spki.length - 32);
}

const hex = (b) => Buffer.from(b).toString('hex');

async function main() {
    const out = process.argv[2] || path.join(ROOT, 'tests/fixtures/paircode-vectors.json');
    if (!fs.existsSync(LIB)) execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: CONF, stdio: 'inherit' });
    const U = await import(pathToFileURL(path.join(LIB, 'Utils/index.js')).href);
    const B = await import(pathToFileURL(path.join(LIB, 'WABinary/index.js')).href);
    const pkg = JSON.parse(fs.readFileSync(path.join(LIB, '../package.json'), 'utf8'));

    // Code alphabet checks: a few fixed 5-byte inputs.
    const codes = [fill(5, 0, 0), Buffer.alloc(5, 0xff), fill(5, 0x12, 0x22), Buffer.from('a5c3e1f00f', 'hex')]
        .map((b) => ({ bytes: hex(b), code: U.bytesToCrockford(b) }));

    const codeBytes = Buffer.from('a5c3e1f00f', 'hex');
    const code = U.bytesToCrockford(codeBytes);
    const phone = '15550001234';

    // Companion side (companion_hello).
    const compEphPriv = fill(32, 0x10, 1);
    const compEphPub = x25519Pub(compEphPriv);
    const compSalt = fill(32, 0x40, 3);
    const compIv = fill(16, 0x90, 5);
    const compKey = await U.derivePairingCodeKey(code, compSalt);
    const wrappedComp = Buffer.concat([compSalt, compIv, U.aesEncryptCTR(compEphPub, compKey, compIv)]);
    const noisePub = x25519Pub(fill(32, 0x21, 7));

    // Primary side (the notification).
    const primEphPriv = fill(32, 0x30, 9);
    const primEphPub = x25519Pub(primEphPriv);
    const primSalt = fill(32, 0x55, 11);
    const primIv = fill(16, 0xa0, 13);
    const primKey = await U.derivePairingCodeKey(code, primSalt);
    const wrappedPrim = Buffer.concat([primSalt, primIv, U.aesEncryptCTR(primEphPub, primKey, primIv)]);
    const primIdentPriv = fill(32, 0x60, 17);
    const primIdentPub = x25519Pub(primIdentPriv);
    const ref = Buffer.from('2@paircode-ref-vector');

    // Companion: unwrap (Baileys' decipherLinkPublicKey), shared secrets, bundle, adv secret.
    const unwrapped = U.aesDecryptCTR(wrappedPrim.subarray(48, 80), await U.derivePairingCodeKey(code, wrappedPrim.subarray(0, 32)), wrappedPrim.subarray(32, 48));
    if (!unwrapped.equals(primEphPub)) throw new Error('CTR unwrap mismatch');
    const compIdentPriv = fill(32, 0x70, 19);
    const compIdentPub = x25519Pub(compIdentPriv);
    const shared = U.Curve.sharedKey(compEphPriv, primEphPub);
    if (!shared.equals(U.Curve.sharedKey(primEphPriv, compEphPub))) throw new Error('shared mismatch');
    const random = fill(32, 0x80, 23);
    const bundleSalt = fill(32, 0xb0, 29);
    const bundleKey = Buffer.from(U.hkdf(shared, 32, { salt: bundleSalt, info: 'link_code_pairing_key_bundle_encryption_key' }));
    const bundle = Buffer.concat([compIdentPub, primIdentPub, random]);
    const bundleIv = fill(12, 0xc0, 31);
    const wrappedBundle = Buffer.concat([bundleSalt, bundleIv, U.aesEncryptGCM(bundle, bundleKey, bundleIv, Buffer.alloc(0))]);
    const identShared = U.Curve.sharedKey(compIdentPriv, primIdentPub);
    if (!identShared.equals(U.Curve.sharedKey(primIdentPriv, compIdentPub))) throw new Error('identity shared mismatch');
    const advSecret = Buffer.from(U.hkdf(Buffer.concat([shared, identShared, random]), 32, { info: 'adv_secret' }));

    // The two iqs as Baileys builds them (requestPairingCode; the notification handler).
    const jid = `${phone}@s.whatsapp.net`;
    const hello = {
        tag: 'iq',
        attrs: { to: 's.whatsapp.net', type: 'set', id: 'vec-1', xmlns: 'md' },
        content: [{
            tag: 'link_code_companion_reg',
            attrs: { jid, stage: 'companion_hello', should_show_push_notification: 'true' },
            content: [
                { tag: 'link_code_pairing_wrapped_companion_ephemeral_pub', attrs: {}, content: wrappedComp },
                { tag: 'companion_server_auth_key_pub', attrs: {}, content: noisePub },
                { tag: 'companion_platform_id', attrs: {}, content: '1' },
                { tag: 'companion_platform_display', attrs: {}, content: 'Chrome (Linux)' },
                { tag: 'link_code_pairing_nonce', attrs: {}, content: '0' },
            ],
        }],
    };
    const finish = {
        tag: 'iq',
        attrs: { to: 's.whatsapp.net', type: 'set', id: 'vec-2', xmlns: 'md' },
        content: [{
            tag: 'link_code_companion_reg',
            attrs: { jid, stage: 'companion_finish' },
            content: [
                { tag: 'link_code_pairing_wrapped_key_bundle', attrs: {}, content: wrappedBundle },
                { tag: 'companion_identity_public', attrs: {}, content: compIdentPub },
                { tag: 'link_code_pairing_ref', attrs: {}, content: ref },
            ],
        }],
    };

    const v = {
        generator: `tools/gen-paircode-vectors.js with @whiskeysockets/baileys@${pkg.version}`,
        pbkdf2_iterations: 2 << 16,
        codes,
        code_bytes: hex(codeBytes),
        code,
        phone,
        companion_ephemeral_priv: hex(compEphPriv),
        companion_ephemeral_pub: hex(compEphPub),
        companion_salt: hex(compSalt),
        companion_iv: hex(compIv),
        companion_code_key: hex(compKey),
        wrapped_companion_ephemeral: hex(wrappedComp),
        noise_pub: hex(noisePub),
        primary_ephemeral_priv: hex(primEphPriv),
        primary_ephemeral_pub: hex(primEphPub),
        primary_salt: hex(primSalt),
        primary_iv: hex(primIv),
        primary_code_key: hex(primKey),
        wrapped_primary_ephemeral: hex(wrappedPrim),
        primary_identity_priv: hex(primIdentPriv),
        primary_identity_pub: hex(primIdentPub),
        ref: ref.toString(),
        companion_identity_priv: hex(compIdentPriv),
        companion_identity_pub: hex(compIdentPub),
        ephemeral_shared: hex(shared),
        identity_shared: hex(identShared),
        random: hex(random),
        bundle_salt: hex(bundleSalt),
        bundle_key: hex(bundleKey),
        bundle_iv: hex(bundleIv),
        wrapped_key_bundle: hex(wrappedBundle),
        adv_secret: hex(advSecret),
        hello_node: hex(B.encodeBinaryNode(hello)),
        finish_node: hex(B.encodeBinaryNode(finish)),
    };
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, JSON.stringify(v, null, 2) + '\n');
    process.stderr.write(`gen-paircode-vectors: wrote ${path.relative(ROOT, out)} (code ${code})\n`);
}

main().catch((e) => {
    process.stderr.write(`gen-paircode-vectors: ${e.stack || e}\n`);
    process.exit(1);
});
