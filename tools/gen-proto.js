#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// gen-proto.js -- the message part of src/proto/wa.proto, extracted from Baileys' WAProto.proto.
//
// Field numbers are protocol data, so they are not typed by hand: this script reads the
// WAProto.proto shipped in the npm package @whiskeysockets/baileys (tests/conformance after
// `npm ci` there), keeps the messages and fields listed in SPEC below (flattened to top-level
// names: Baileys' Message.ImageMessage is our ImageMessage) and writes them between the
// "BEGIN generated" / "END generated" markers of src/proto/wa.proto. A field whose type is a
// message outside SPEC becomes `bytes` (same wire type, kept opaque); an enum outside SPEC
// becomes `int32` (same varint). Then it checks every hand-kept message of wa.proto (the part
// outside the markers) against WAProto by name and prints each field whose number, type or
// label differs. Exit status 1 when a difference is found or (with --check) the generated
// part in the file is not what this script would write.
//
//   node tools/gen-proto.js [--check] [--proto PATH/WAProto.proto] [--out src/proto/wa.proto]
'use strict';
const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const DEFAULT_WAPROTO = path.join(ROOT,
    'tests/conformance/node_modules/@whiskeysockets/baileys/WAProto/WAProto.proto');

// Baileys path -> {as: our flat name, fields: kept field names, enums: {Name: [values]},
// nested: {Name: spec}, opaque: fields declared bytes whatever their type}. Output order is
// this order; fields are sorted by number.
const MEDIA = ['url', 'mimetype', 'fileSha256', 'fileLength', 'mediaKey', 'fileEncSha256',
    'directPath', 'mediaKeyTimestamp', 'contextInfo'];
const SPEC = [
    ['MessageKey', {fields: ['remoteJid', 'fromMe', 'id', 'participant']}],
    ['ContextInfo', {fields: ['stanzaId', 'participant', 'quotedMessage', 'remoteJid',
        'mentionedJid', 'forwardingScore', 'isForwarded', 'expiration']}],
    ['Message.SenderKeyDistributionMessage',
        {fields: ['groupId', 'axolotlSenderKeyDistributionMessage']}],
    ['Message.ExtendedTextMessage',
        {fields: ['text', 'matchedText', 'description', 'title', 'contextInfo']}],
    ['Message.ImageMessage',
        {fields: [...MEDIA, 'caption', 'height', 'width', 'jpegThumbnail', 'viewOnce']}],
    ['Message.VideoMessage', {fields: [...MEDIA, 'seconds', 'caption', 'gifPlayback', 'height',
        'width', 'jpegThumbnail', 'viewOnce']}],
    ['Message.AudioMessage', {fields: [...MEDIA, 'seconds', 'ptt', 'waveform', 'viewOnce']}],
    ['Message.DocumentMessage', {fields: [...MEDIA, 'title', 'pageCount', 'fileName',
        'jpegThumbnail', 'caption']}],
    ['Message.StickerMessage', {fields: [...MEDIA, 'height', 'width', 'isAnimated']}],
    ['Message.LocationMessage', {fields: ['degreesLatitude', 'degreesLongitude', 'name',
        'address', 'url', 'isLive', 'comment', 'contextInfo']}],
    ['Message.ContactMessage', {fields: ['displayName', 'vcard', 'contextInfo']}],
    ['Message.ContactsArrayMessage', {fields: ['displayName', 'contacts', 'contextInfo']}],
    ['Message.PeerDataOperationRequestMessage', {as: 'PeerDataOperationRequest',
        fields: ['peerDataOperationRequestType', 'placeholderMessageResendRequest'],
        nested: [['PlaceholderMessageResendRequest', {fields: ['messageKey']}]]}],
    ['Message.PeerDataOperationRequestResponseMessage', {as: 'PeerDataOperationResponse',
        fields: ['peerDataOperationRequestType', 'stanzaId', 'peerDataOperationResult'],
        nested: [['PeerDataOperationResult', {as: 'Result',
            fields: ['placeholderMessageResendResponse'],
            nested: [['PlaceholderMessageResendResponse', {fields: ['webMessageInfoBytes']}]]}]]}],
    ['WebMessageInfo', {fields: ['key', 'message', 'messageTimestamp', 'participant']}],
    ['Message.ProtocolMessage', {fields: ['key', 'type', 'ephemeralExpiration',
        'ephemeralSettingTimestamp', 'historySyncNotification', 'appStateSyncKeyShare',
        'appStateSyncKeyRequest', 'editedMessage', 'timestampMs', 'peerDataOperationRequestMessage',
        'peerDataOperationRequestResponseMessage', 'lidMigrationMappingSyncMessage'],
        enums: {Type: ['REVOKE', 'EPHEMERAL_SETTING', 'HISTORY_SYNC_NOTIFICATION',
            'APP_STATE_SYNC_KEY_SHARE', 'APP_STATE_SYNC_KEY_REQUEST', 'MESSAGE_EDIT',
            'PEER_DATA_OPERATION_REQUEST_MESSAGE', 'PEER_DATA_OPERATION_REQUEST_RESPONSE_MESSAGE',
            'LID_MIGRATION_MAPPING_SYNC']},
        // the code packs/unpacks these two itself (recv_repair.c): bytes on the wire
        opaque: ['peerDataOperationRequestMessage', 'peerDataOperationRequestResponseMessage']}],
    ['Message.ReactionMessage', {fields: ['key', 'text', 'groupingKey', 'senderTimestampMs']}],
    ['Message.DeviceSentMessage', {fields: ['destinationJid', 'message', 'phash']}],
    ['MessageContextInfo', {fields: ['deviceListMetadata', 'deviceListMetadataVersion',
        'messageSecret']}],
    ['Message.FutureProofMessage', {fields: ['message']}],
    ['Message', {fields: ['conversation', 'senderKeyDistributionMessage', 'imageMessage',
        'contactMessage', 'locationMessage', 'extendedTextMessage', 'documentMessage',
        'audioMessage', 'videoMessage', 'protocolMessage', 'contactsArrayMessage',
        'stickerMessage', 'deviceSentMessage', 'messageContextInfo', 'viewOnceMessage',
        'ephemeralMessage', 'reactionMessage', 'documentWithCaptionMessage', 'viewOnceMessageV2',
        'editedMessage', 'ptvMessage']}],
];

// ---- a line parser for protoc-style files (one declaration per line, as Baileys writes) ----
function parse(text)
{
    const root = {name: '', path: '', kind: 'message', fields: [], children: new Map()};
    const stack = [root];
    for (const raw of text.split('\n')) {
        const line = raw.replace(/\/\/.*$/, '').trim();
        if (!line) continue;
        const top = stack[stack.length - 1];
        let m;
        if ((m = /^(message|enum|oneof)\s+(\w+)\s*\{$/.exec(line))) {
            if (m[1] === 'oneof') { stack.push({kind: 'oneof', fields: top.fields, parent: top}); continue; }
            const p = top.path ? top.path + '.' + m[2] : m[2];
            const n = {name: m[2], path: p, kind: m[1], fields: [], values: [], children: new Map()};
            top.children.set(m[2], n);
            stack.push(n);
        } else if (line === '}') {
            stack.pop();
        } else if ((m = /^(optional|repeated|required)?\s*([\w.]+)\s+(\w+)\s*=\s*(\d+)\s*(\[[^\]]*\])?\s*;$/.exec(line)) && top.kind !== 'enum') {
            const scope = top.kind === 'oneof' ? top.parent : top;
            scope.fields.push({label: m[1] || 'optional', type: m[2], name: m[3], num: +m[4],
                opts: m[5] || '', scope: scope.path});
        } else if ((m = /^(\w+)\s*=\s*(-?\d+)\s*;$/.exec(line)) && top.kind === 'enum') {
            top.values.push({name: m[1], num: +m[2]});
        }
    }
    return root;
}

function lookup(root, p)
{
    let n = root;
    for (const part of p.split('.')) {
        n = n && n.children.get(part);
        if (!n) return null;
    }
    return n;
}

// Resolve a type name used in scope (protobuf rules: innermost scope outwards).
function resolve(root, scope, type)
{
    const parts = scope ? scope.split('.') : [];
    for (let i = parts.length; i >= 0; i--) {
        const base = parts.slice(0, i).join('.');
        const n = lookup(root, base ? base + '.' + type : type);
        if (n) return n;
    }
    return null;
}

const SCALARS = new Set(['double', 'float', 'int32', 'int64', 'uint32', 'uint64', 'sint32',
    'sint64', 'fixed32', 'fixed64', 'sfixed32', 'sfixed64', 'bool', 'string', 'bytes']);

// ---- generation ----
function generate(root)
{
    const flat = new Map(); // Baileys path -> our name (messages and kept enums)
    const walk = (entries, prefix, ourPrefix) => {
        for (const [p, s] of entries) {
            const full = prefix ? prefix + '.' + p : p;
            const ours = (ourPrefix ? ourPrefix + '.' : '') + (s.as || full.split('.').pop());
            flat.set(full, ours);
            for (const e of Object.keys(s.enums || {})) flat.set(full + '.' + e, ours + '.' + e);
            if (s.nested) walk(s.nested, full, ours);
        }
    };
    walk(SPEC, '', '');
    const out = [];
    const emit = (entries, prefix, indent) => {
        for (const [p, s] of entries) {
            const full = prefix ? prefix + '.' + p : p;
            const n = lookup(root, full);
            if (!n || n.kind !== 'message') throw new Error(`WAProto has no message ${full}`);
            const ours = flat.get(full).split('.').pop();
            out.push(`${indent}message ${ours} {`);
            for (const [e, vals] of Object.entries(s.enums || {})) {
                const en = n.children.get(e);
                if (!en) throw new Error(`${full} has no enum ${e}`);
                out.push(`${indent}  enum ${e} {`);
                for (const v of vals) {
                    const ev = en.values.find(x => x.name === v);
                    if (!ev) throw new Error(`${full}.${e} has no value ${v}`);
                    out.push(`${indent}    ${v} = ${ev.num};`);
                }
                out.push(`${indent}  }`);
            }
            if (s.nested) emit(s.nested, full, indent + '  ');
            const kept = s.fields.map(fname => {
                const f = n.fields.find(x => x.name === fname);
                if (!f) throw new Error(`${full} has no field ${fname}`);
                return f;
            }).sort((a, b) => a.num - b.num); // wire order, as Baileys encodes
            for (const f of kept) {
                const fname = f.name;
                let type = f.type, note = '';
                if (!SCALARS.has(type) && (s.opaque || []).includes(fname)) {
                    note = ` // ${f.type}, kept opaque`, type = 'bytes';
                } else if (!SCALARS.has(type)) {
                    const t = resolve(root, f.scope, type);
                    if (!t) throw new Error(`${full}.${fname}: unknown type ${type}`);
                    if (flat.has(t.path)) {
                        type = flat.get(t.path);
                        const own = flat.get(full);
                        if (type.startsWith(own + '.')) type = type.slice(own.length + 1);
                    } else if (t.kind === 'enum') {
                        type = 'int32', note = ` // enum ${t.path}`;
                    } else {
                        type = 'bytes', note = ` // ${t.path}, kept opaque`;
                    }
                }
                const opts = f.opts && type !== 'bytes' ? ' ' + f.opts : '';
                out.push(`${indent}  ${f.label} ${type} ${fname} = ${f.num}${opts};${note}`);
            }
            out.push(`${indent}}`);
            if (!indent) out.push('');
        }
    };
    emit(SPEC, '', '');
    return out.join('\n');
}

// ---- the hand-kept part, checked field by field ----
const ALIAS = {AppVersion: 'ClientPayload.UserAgent.AppVersion'}; // our name -> WAProto path
function check(root, ours)
{
    const diffs = [];
    const cmp = (mine, theirsPath) => {
        const t = lookup(root, theirsPath) || lookup(root, 'Message.' + theirsPath);
        if (!t) {
            diffs.push(`${mine.path}: no such message in WAProto (not checked)`);
            return;
        }
        for (const f of mine.fields) {
            const g = t.fields.find(x => x.name === f.name);
            if (!g) { diffs.push(`${mine.path}.${f.name}: not in WAProto ${t.path}`); continue; }
            if (g.num !== f.num) diffs.push(`${mine.path}.${f.name}: number ${f.num}, WAProto ${g.num}`);
            if (g.label !== f.label) diffs.push(`${mine.path}.${f.name}: ${f.label}, WAProto ${g.label}`);
            const gt = SCALARS.has(g.type) ? g.type : (resolve(root, g.scope, g.type) || {}).kind;
            const ft = SCALARS.has(f.type) ? f.type : 'named';
            const ok = gt === ft || (ft === 'bytes' && gt === 'message') ||
                (ft === 'named' && (gt === 'message' || gt === 'enum')) ||
                (gt === 'enum' && ['int32', 'uint32'].includes(ft));
            if (!ok) diffs.push(`${mine.path}.${f.name}: type ${f.type}, WAProto ${g.type}`);
        }
        for (const [name, c] of mine.children) {
            if (c.kind === 'message') cmp(c, t.path + '.' + name);
            if (c.kind === 'enum') {
                const te = t.children.get(name);
                for (const v of c.values) {
                    const tv = te && te.values.find(x => x.name === v.name);
                    if (!tv) diffs.push(`${c.path}.${v.name}: not in WAProto`);
                    else if (tv.num !== v.num) diffs.push(`${c.path}.${v.name}: ${v.num}, WAProto ${tv.num}`);
                }
            }
        }
    };
    for (const [name, m] of ours.children) {
        if (m.kind === 'message') cmp(m, ALIAS[name] || name);
        else if (m.kind === 'enum') {
            const te = lookup(root, name);
            for (const v of m.values) {
                const tv = te && te.values.find(x => x.name === v.name);
                if (!tv || tv.num !== v.num) diffs.push(`${name}.${v.name}: differs from WAProto`);
            }
        }
    }
    return diffs;
}

const BEGIN = '// ---- BEGIN generated by tools/gen-proto.js from Baileys WAProto.proto: do not edit ----';
const END = '// ---- END generated ----';

function main()
{
    const args = process.argv.slice(2);
    const opt = (k, d) => { const i = args.indexOf(k); return i >= 0 ? args[i + 1] : d; };
    const waproto = opt('--proto', DEFAULT_WAPROTO);
    const outPath = opt('--out', path.join(ROOT, 'src/proto/wa.proto'));
    const root = parse(fs.readFileSync(waproto, 'utf8'));
    const gen = generate(root);
    const cur = fs.readFileSync(outPath, 'utf8');
    const b = cur.indexOf(BEGIN), e = cur.indexOf(END);
    if (b < 0 || e < b) throw new Error(`${outPath}: no generated markers`);
    const next = cur.slice(0, b) + BEGIN + '\n' + gen + END + cur.slice(e + END.length);
    const hand = cur.slice(0, b) + cur.slice(e + END.length);
    const diffs = check(root, parse(hand));
    for (const d of diffs) console.log('hand-kept: ' + d);
    let status = diffs.length ? 1 : 0;
    if (args.includes('--check')) {
        if (next !== cur) { console.log(`${outPath}: generated part is stale`); status = 1; }
    } else if (next !== cur) {
        fs.writeFileSync(outPath, next);
        console.log(`${outPath}: generated part rewritten`);
    }
    // Every top-level Message field's number and name, for naming content we do not model.
    const msg = lookup(root, 'Message');
    const rows = msg.fields.slice().sort((a, b) => a.num - b.num)
        .map(f => `    {${f.num}, "${f.name}"},`).join('\n');
    const hdr = `/* SPDX-License-Identifier: MIT */
/* msgfields_gen.h -- GENERATED by tools/gen-proto.js from Baileys' WAProto.proto: do not edit.
 * The top-level fields of Message (number, name), in number order. */
#pragma once
static const struct {
    unsigned num;
    const char *name;
} wa_message_fields[] = {
${rows}
};
`;
    const hpath = path.join(ROOT, 'src/wa/msgfields_gen.h');
    const hcur = fs.existsSync(hpath) ? fs.readFileSync(hpath, 'utf8') : '';
    if (hcur !== hdr) {
        if (args.includes('--check')) { console.log(`${hpath}: stale`); status = 1; }
        else { fs.writeFileSync(hpath, hdr); console.log(`${hpath}: rewritten`); }
    }
    if (!status) console.log('wa.proto agrees with WAProto');
    process.exit(status);
}

main();
