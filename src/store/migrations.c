/* SPDX-License-Identifier: MIT */
/* migrations.c -- schema of the per-account database, as numbered migrations (v1, v2, ...).
 *
 * Conventions: keys are raw 32-byte Curve25519 values (CHECK length = 32), signatures 64
 * bytes, ids of pre-keys 24-bit. JIDs are TEXT in their wire form. Times are Unix seconds.
 * Signal addresses are (name, device) with name = "user" or "user_<domain type>"
 * (sg_address_make). Records (sessions, pre-keys, sender keys) are libsignal serialisations
 * kept verbatim.
 */
#include "store/migrations.h"

/* v1: device credentials and the Signal key stores.
 *
 * creds            one row (id = 1): our keys and identity (wa-protocol.md §9.1)
 * identities       peers' identity keys by Signal address (TOFU record)
 * sessions         Signal session records by address; rewritten on every encrypt/decrypt
 * prekeys          our one-time pre-keys; deleted when a pkmsg consumes one; uploaded flag
 * signed_prekeys   our signed pre-key records
 * sender_keys      group sender-key records by (group JID, sender address)
 * sender_key_memory which devices already hold our sender key for a group
 * lid_map          LID user <-> phone-number user (both unique)
 */
static const char v1[] =
    "-- v1: credentials and Signal key stores\n"
    "CREATE TABLE creds (\n"
    "  id INTEGER PRIMARY KEY CHECK (id = 1),\n"
    "  noise_priv BLOB NOT NULL CHECK (length(noise_priv) = 32),\n"
    "  noise_pub BLOB NOT NULL CHECK (length(noise_pub) = 32),\n"
    "  identity_priv BLOB NOT NULL CHECK (length(identity_priv) = 32),\n"
    "  identity_pub BLOB NOT NULL CHECK (length(identity_pub) = 32),\n"
    "  registration_id INTEGER NOT NULL CHECK (registration_id BETWEEN 1 AND 4294967295),\n"
    "  spk_id INTEGER NOT NULL CHECK (spk_id BETWEEN 1 AND 16777215),\n"
    "  spk_priv BLOB NOT NULL CHECK (length(spk_priv) = 32),\n"
    "  spk_pub BLOB NOT NULL CHECK (length(spk_pub) = 32),\n"
    "  spk_sig BLOB NOT NULL CHECK (length(spk_sig) = 64),\n"
    "  adv_secret BLOB NOT NULL CHECK (length(adv_secret) = 32),\n"
    "  me_pn TEXT NOT NULL DEFAULT '',\n"
    "  me_lid TEXT NOT NULL DEFAULT '',\n"
    "  push_name TEXT NOT NULL DEFAULT '',\n"
    "  account BLOB CHECK (account IS NULL OR length(account) <= 4096),\n"
    "  platform TEXT NOT NULL DEFAULT '',\n"
    "  next_prekey_id INTEGER NOT NULL CHECK (next_prekey_id BETWEEN 1 AND 16777215),\n"
    "  first_unuploaded_prekey_id INTEGER NOT NULL\n"
    "    CHECK (first_unuploaded_prekey_id BETWEEN 1 AND 16777215),\n"
    "  created INTEGER NOT NULL,\n"
    "  updated INTEGER NOT NULL\n"
    ");\n"
    "CREATE TABLE identities (\n"
    "  name TEXT NOT NULL, device INTEGER NOT NULL,\n"
    "  key BLOB NOT NULL CHECK (length(key) = 32),\n"
    "  PRIMARY KEY (name, device)\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE sessions (\n"
    "  name TEXT NOT NULL, device INTEGER NOT NULL,\n"
    "  record BLOB NOT NULL,\n"
    "  PRIMARY KEY (name, device)\n"
    ");\n"
    "CREATE TABLE prekeys (\n"
    "  id INTEGER PRIMARY KEY CHECK (id BETWEEN 1 AND 16777215),\n"
    "  record BLOB NOT NULL,\n"
    "  uploaded INTEGER NOT NULL DEFAULT 0 CHECK (uploaded IN (0, 1))\n"
    ");\n"
    "CREATE TABLE signed_prekeys (\n"
    "  id INTEGER PRIMARY KEY CHECK (id BETWEEN 1 AND 16777215),\n"
    "  record BLOB NOT NULL\n"
    ");\n"
    "CREATE TABLE sender_keys (\n"
    "  group_id TEXT NOT NULL, sender_name TEXT NOT NULL, sender_device INTEGER NOT NULL,\n"
    "  record BLOB NOT NULL,\n"
    "  PRIMARY KEY (group_id, sender_name, sender_device)\n"
    ");\n"
    "CREATE TABLE sender_key_memory (\n"
    "  group_id TEXT NOT NULL, device_jid TEXT NOT NULL,\n"
    "  PRIMARY KEY (group_id, device_jid)\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE lid_map (\n"
    "  lid TEXT PRIMARY KEY CHECK (length(lid) BETWEEN 1 AND 128),\n"
    "  pn TEXT NOT NULL UNIQUE CHECK (length(pn) BETWEEN 1 AND 128)\n"
    ") WITHOUT ROWID;\n";

/* v2: the message store (design.md "Durability protocol").
 *
 * inbox      decrypted messages; `cursor` is AUTOINCREMENT so it only grows (never reused,
 *            even after deletions): the API's ?after=CURSOR. UNIQUE (chat, sender, msg_id)
 *            makes a redelivery a recognisable duplicate. delivered = handed to the agent.
 * outbox     messages to send; idem_key (caller's idempotency key) and msg_id unique;
 *            state queued -> sent -> delivered -> read, or failed.
 * retry_buffer plaintexts we sent, for peers' retry receipts (wa-protocol.md §7.7); purged
 *            after 7 days.
 * processed  sha256(ciphertext) of every message decrypted, so a redelivery is recognised
 *            without touching the Signal state.
 */
static const char v2[] =
    "-- v2: inbox, outbox, retry buffer, processed ciphertexts\n"
    "CREATE TABLE inbox (\n"
    "  cursor INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "  chat TEXT NOT NULL CHECK (length(chat) BETWEEN 1 AND 256),\n"
    "  sender TEXT NOT NULL CHECK (length(sender) <= 256),\n"
    "  msg_id TEXT NOT NULL CHECK (length(msg_id) BETWEEN 1 AND 128),\n"
    "  ts INTEGER NOT NULL,\n"
    "  type TEXT NOT NULL DEFAULT '' CHECK (length(type) <= 32),\n"
    "  payload BLOB NOT NULL,\n"
    "  received INTEGER NOT NULL,\n"
    "  delivered INTEGER NOT NULL DEFAULT 0 CHECK (delivered IN (0, 1)),\n"
    "  UNIQUE (chat, sender, msg_id)\n"
    ");\n"
    "CREATE INDEX inbox_undelivered ON inbox (delivered, cursor);\n"
    "CREATE TABLE outbox (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  idem_key TEXT NOT NULL UNIQUE CHECK (length(idem_key) BETWEEN 1 AND 128),\n"
    "  msg_id TEXT NOT NULL UNIQUE CHECK (length(msg_id) BETWEEN 1 AND 128),\n"
    "  to_jid TEXT NOT NULL CHECK (length(to_jid) BETWEEN 1 AND 256),\n"
    "  payload BLOB NOT NULL,\n"
    "  state TEXT NOT NULL DEFAULT 'queued'\n"
    "    CHECK (state IN ('queued', 'sent', 'delivered', 'read', 'failed')),\n"
    "  error TEXT,\n"
    "  attempts INTEGER NOT NULL DEFAULT 0,\n"
    "  created INTEGER NOT NULL,\n"
    "  updated INTEGER NOT NULL\n"
    ");\n"
    "CREATE INDEX outbox_state ON outbox (state, id);\n"
    "CREATE TABLE retry_buffer (\n"
    "  msg_id TEXT PRIMARY KEY CHECK (length(msg_id) BETWEEN 1 AND 128),\n"
    "  to_jid TEXT NOT NULL,\n"
    "  payload BLOB NOT NULL,\n"
    "  created INTEGER NOT NULL\n"
    ");\n"
    "CREATE INDEX retry_buffer_created ON retry_buffer (created);\n"
    "CREATE TABLE processed (\n"
    "  hash BLOB PRIMARY KEY CHECK (length(hash) = 32),\n"
    "  msg_id TEXT NOT NULL,\n"
    "  at INTEGER NOT NULL\n"
    ") WITHOUT ROWID;\n";

/* v3: the bytes of a received text as the peer sent them, kept only when they were not valid
 * UTF-8 (the payload then holds the repaired text, invalid sequences as U+FFFD). */
static const char v3[] = "-- v3: raw bytes of texts that were not valid UTF-8\n"
                         "ALTER TABLE inbox ADD COLUMN text_raw BLOB;\n";

/* v4: the access policy's state (gw/access).
 *
 * access_approved  senders the owner approved (a pairing code, or the API): their DMs reach
 *                  the agent under dm_policy "pairing"
 * access_pairing   the one pairing code sent to each unknown sender, until approved
 */
static const char v4[] = "-- v4: access policy: approved senders, pending pairing codes\n"
                         "CREATE TABLE access_approved (\n"
                         "  sender TEXT PRIMARY KEY CHECK (length(sender) BETWEEN 1 AND 256),\n"
                         "  approved INTEGER NOT NULL\n"
                         ") WITHOUT ROWID;\n"
                         "CREATE TABLE access_pairing (\n"
                         "  code TEXT PRIMARY KEY CHECK (length(code) BETWEEN 4 AND 16),\n"
                         "  sender TEXT NOT NULL UNIQUE CHECK (length(sender) BETWEEN 1 AND 256),\n"
                         "  created INTEGER NOT NULL\n"
                         ") WITHOUT ROWID;\n";

/* v5: messages that failed to decrypt and are being repaired (design.md "Session repair" 1).
 *
 * undecryptable  one row per (sender device, message id) from the first failure until the
 *                message decrypts (row deleted) or is given up (row deleted and an inbox row of
 *                type 'undecryptable' inserted in the same transaction). The row is committed
 *                before the failed message is acked, so a failure is never lost silently; after
 *                a restart the receiver resumes the rows (count = retry receipts sent).
 */
static const char v5[] = "-- v5: undecryptable messages under repair\n"
                         "CREATE TABLE undecryptable (\n"
                         "  device TEXT NOT NULL CHECK (length(device) BETWEEN 1 AND 256),\n"
                         "  msg_id TEXT NOT NULL CHECK (length(msg_id) BETWEEN 1 AND 128),\n"
                         "  chat TEXT NOT NULL CHECK (length(chat) BETWEEN 1 AND 256),\n"
                         "  sender TEXT NOT NULL CHECK (length(sender) <= 256),\n"
                         "  ts INTEGER NOT NULL,\n"
                         "  reason TEXT NOT NULL CHECK (length(reason) <= 128),\n"
                         "  count INTEGER NOT NULL CHECK (count BETWEEN 0 AND 100),\n"
                         "  first_seen INTEGER NOT NULL,\n"
                         "  PRIMARY KEY (device, msg_id)\n"
                         ") WITHOUT ROWID;\n";

/* v6: the agent's delivery state (gw/chhook.h: exactly-once to the exec hook across crashes).
 *
 * inbox.delivered (v2) now means "settled for the agent": 0 = the exec hook still has to
 * run for it (or it is waiting for a retry), 1 = done (the hook succeeded and its reply is
 * in the outbox, the message needs no hook, or the hook gave up on it). Rows stored before
 * v6 were handed over by the old in-memory path (or lost with it): they are settled here so
 * an upgrade does not replay the history to the agent.
 * hook_state  one row per message the hook has been started for: attempts (started runs,
 *             written BEFORE each start, so a run cut short by a crash counts), next_at
 *             (Unix ms before which no retry starts), the last error, gave_up.
 */
static const char v6[] =
    "-- v6: exec hook delivery state\n"
    "UPDATE inbox SET delivered = 1 WHERE delivered = 0;\n"
    "CREATE TABLE hook_state (\n"
    "  cursor INTEGER PRIMARY KEY REFERENCES inbox (cursor) ON DELETE CASCADE,\n"
    "  attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),\n"
    "  next_at INTEGER NOT NULL DEFAULT 0,\n"
    "  error TEXT NOT NULL DEFAULT '' CHECK (length(error) <= 512),\n"
    "  gave_up INTEGER NOT NULL DEFAULT 0 CHECK (gave_up IN (0, 1))\n"
    ");\n";

/* v7: webhook deliveries (gw/webhook.h: each event once per endpoint, retried from here).
 *
 * webhook_delivery  one row per (event, endpoint URL): the request body as first built (so
 *                   every retry sends the same bytes), delivery_id (the X-Wagate-Delivery
 *                   header, unique: enqueueing the same event twice is a no-op), state pending
 *                   until a 2xx answer (then the row is deleted; 'done' is allowed but not
 *                   kept) or dead (attempts used up, or the URL left the config: kept), attempts
 * started so far (written BEFORE each one), next_at (Unix ms before which no attempt starts; also
 * the lease of an attempt in flight, so one cut short by a crash is retried), the last error.
 * webhook_mark      one row: the inbox cursor up to which message.received deliveries were
 *                   enqueued; starts at the inbox's end so an upgrade does not replay history.
 */
static const char v7[] =
    "-- v7: webhook deliveries\n"
    "CREATE TABLE webhook_delivery (\n"
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "  delivery_id TEXT NOT NULL UNIQUE CHECK (length(delivery_id) BETWEEN 1 AND 64),\n"
    "  url TEXT NOT NULL CHECK (length(url) BETWEEN 1 AND 1024),\n"
    "  event_type TEXT NOT NULL CHECK (length(event_type) BETWEEN 1 AND 64),\n"
    "  body BLOB NOT NULL,\n"
    "  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'dead')),\n"
    "  attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),\n"
    "  next_at INTEGER NOT NULL DEFAULT 0,\n"
    "  error TEXT NOT NULL DEFAULT '' CHECK (length(error) <= 512),\n"
    "  created INTEGER NOT NULL,\n"
    "  updated INTEGER NOT NULL\n"
    ");\n"
    "CREATE INDEX webhook_delivery_due ON webhook_delivery (state, next_at);\n"
    "CREATE TABLE webhook_mark (\n"
    "  id INTEGER PRIMARY KEY CHECK (id = 1),\n"
    "  inbox_cursor INTEGER NOT NULL\n"
    ");\n"
    "INSERT INTO webhook_mark (id, inbox_cursor) SELECT 1, coalesce(max(cursor), 0) FROM inbox;\n";

/* v8: every message kind (issue 14: wa/msgmeta.h).
 *
 * inbox.meta        the message's metadata as a JSON object (media fields, location, contacts,
 *                   quoted message, mentions, reaction, edit/revoke target), NULL for none;
 *                   shown to the agent as is
 * inbox.edited_text, edited_at  the text of the last edit received for this message and when
 *                   (0 = never edited); inbox.revoked_at when the sender deleted it (0 = not)
 * inbox_msgid       finds the target of an edit, a revoke, a reaction or a reply by id
 * inbox_media       what a download needs, never shown raw to the agent: one row per media
 *                   message (cursor), with the keys and hashes as sent (the media key 32 bytes,
 *                   sha256 / enc_sha256 32 bytes each) and the CDN direct path / URL
 * Rows before v8 of type 'other' (content we did not model) are 'unknown' from now on.
 */
static const char v8[] =
    "-- v8: message kinds: metadata, edits, revokes, media references\n"
    "ALTER TABLE inbox ADD COLUMN meta TEXT CHECK (meta IS NULL OR length(meta) <= 262144);\n"
    "ALTER TABLE inbox ADD COLUMN edited_text TEXT CHECK (length(edited_text) <= 65536);\n"
    "ALTER TABLE inbox ADD COLUMN edited_at INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE inbox ADD COLUMN revoked_at INTEGER NOT NULL DEFAULT 0;\n"
    "CREATE INDEX inbox_msgid ON inbox (msg_id);\n"
    "UPDATE inbox SET type = 'unknown' WHERE type = 'other';\n"
    "CREATE TABLE inbox_media (\n"
    "  cursor INTEGER PRIMARY KEY REFERENCES inbox (cursor) ON DELETE CASCADE,\n"
    "  kind TEXT NOT NULL CHECK (length(kind) BETWEEN 1 AND 32),\n"
    "  mimetype TEXT NOT NULL DEFAULT '' CHECK (length(mimetype) <= 128),\n"
    "  file_length INTEGER NOT NULL DEFAULT 0 CHECK (file_length >= 0),\n"
    "  media_key BLOB CHECK (media_key IS NULL OR length(media_key) = 32),\n"
    "  sha256 BLOB CHECK (sha256 IS NULL OR length(sha256) = 32),\n"
    "  enc_sha256 BLOB CHECK (enc_sha256 IS NULL OR length(enc_sha256) = 32),\n"
    "  direct_path TEXT NOT NULL DEFAULT '' CHECK (length(direct_path) <= 2048),\n"
    "  url TEXT NOT NULL DEFAULT '' CHECK (length(url) <= 2048),\n"
    "  media_key_ts INTEGER NOT NULL DEFAULT 0\n"
    ");\n";

/* v9: signed pre-key rotation (wa/spkrot.c, store/spkstore.h).
 *
 * signed_prekeys gains its lifecycle: created (Unix s; rows from before v9 are dated at the
 * upgrade, so the first rotation comes one interval later), uploaded (0 = stored and in the
 * credentials but the server has not acknowledged the rotate iq yet: the next login uploads
 * it again), retired (Unix s at which a newer key was acknowledged; 0 = not retired). Retired
 * keys are kept for the grace period so pkmsgs built from an older bundle still decrypt.
 */
static const char v9[] =
    "-- v9: signed pre-key rotation state\n"
    "ALTER TABLE signed_prekeys ADD COLUMN created INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE signed_prekeys ADD COLUMN uploaded INTEGER NOT NULL DEFAULT 1\n"
    "  CHECK (uploaded IN (0, 1));\n"
    "ALTER TABLE signed_prekeys ADD COLUMN retired INTEGER NOT NULL DEFAULT 0;\n"
    "UPDATE signed_prekeys SET created = CAST(strftime('%s', 'now') AS INTEGER);\n";

/* v10: the received files (gw/chmedia.c, store/mediafile.h): each media row's download state
 * -- pending (to fetch), done (path holds the verified plaintext), failed (error says why, after
 * attempts tries), expired (the file was removed by the size budget or its age) -- so a file
 * acked before it was fetched is fetched after any crash, once.
 */
static const char v10[] =
    "-- v10: download state of received media\n"
    "ALTER TABLE inbox_media ADD COLUMN state TEXT NOT NULL DEFAULT 'pending'\n"
    "  CHECK (state IN ('pending', 'done', 'failed', 'expired'));\n"
    "ALTER TABLE inbox_media ADD COLUMN path TEXT NOT NULL DEFAULT ''\n"
    "  CHECK (length(path) <= 4096);\n"
    "ALTER TABLE inbox_media ADD COLUMN error TEXT NOT NULL DEFAULT ''\n"
    "  CHECK (length(error) <= 512);\n"
    "ALTER TABLE inbox_media ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE inbox_media ADD COLUMN fetched INTEGER NOT NULL DEFAULT 0;\n"
    "CREATE INDEX inbox_media_state ON inbox_media (state, cursor);\n";

static const char *const migrations[ST_SCHEMA_VERSION] = {v1, v2, v3, v4, v5, v6, v7, v8, v9, v10};

const char *st_migration_sql(int version)
{
    if (version < 1 || version > ST_SCHEMA_VERSION) return NULL;
    return migrations[version - 1];
}
