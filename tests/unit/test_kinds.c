/* SPDX-License-Identifier: MIT */
/* test_kinds.c -- message kinds (issue 14): wa/msgmeta for each kind, its caps, the v8 store
 * (migration from a v7 database, edits, revokes, media references) and the message JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw/access.h"
#include "gw/chunk.h"
#include "gw/config.h"
#include "gw/json.h"
#include "store/db.h"
#include "store/migrations.h"
#include "store/msgstore.h"
#include "wa/msg.h"
#include "wa/msgmeta.h"
#include "wa/outmedia.h"
#include "wa/sendbuild.h"

/* Pack m, decode it as the receive path does, describe it: the meta JSON parsed. */
static cJSON *describe(const Wa__Message *m, struct wa_msgmeta *mm)
{
    size_t n = wa__message__get_packed_size(m);
    uint8_t *buf = malloc(n ? n : 1);
    assert_non_null(buf);
    wa__message__pack(m, buf);
    struct wa_msg_info mi;
    assert_int_equal(wa_msg_decode(buf, n, &mi), 0);
    assert_non_null(mi.content);
    assert_int_equal(wa_msgmeta_build(mi.content, mm), 0);
    /* the media reference points into the Message: check it before it goes */
    static char mime[256], path[4096];
    mime[0] = path[0] = 0;
    if (mm->has_media) {
        snprintf(mime, sizeof mime, "%s", mm->media.mimetype ? mm->media.mimetype : "(null)");
        snprintf(path, sizeof path, "%s", mm->media.direct_path ? mm->media.direct_path : "");
        mm->media.mimetype = mime;
        mm->media.direct_path = path;
        mm->media.media_key = mm->media.sha256 = mm->media.enc_sha256 = NULL;
        mm->media.url = NULL;
    }
    static char target[256];
    if (mm->target) {
        snprintf(target, sizeof target, "%s", mm->target);
        mm->target = target;
    }
    cJSON *j = mm->meta ? cJSON_Parse(mm->meta) : cJSON_CreateObject();
    assert_non_null(j);
    wa_msg_info_free(&mi);
    free(buf);
    return j;
}

static const char *jstr(const cJSON *o, const char *path)
{
    char p[128];
    snprintf(p, sizeof p, "%s", path);
    const cJSON *v = o;
    for (char *save = NULL, *k = strtok_r(p, ".", &save); k; k = strtok_r(NULL, ".", &save))
        v = cJSON_GetObjectItemCaseSensitive(v, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *o, const char *a, const char *b)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, a), b);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

static uint8_t k32[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};

static void test_image_quoted(void **state)
{
    (void)state;
    Wa__Message m = WA__MESSAGE__INIT;
    Wa__ImageMessage im = WA__IMAGE_MESSAGE__INIT;
    Wa__ContextInfo ci = WA__CONTEXT_INFO__INIT;
    char *mentions[] = {"111@s.whatsapp.net", "222@s.whatsapp.net"};
    ci.stanzaid = "3EB0AAAA";
    ci.participant = "333@s.whatsapp.net";
    ci.mentionedjid = mentions;
    ci.n_mentionedjid = 2;
    im.mimetype = "image/jpeg";
    im.caption = "look @111";
    im.has_filelength = im.has_width = im.has_height = 1;
    im.filelength = 12345, im.width = 640, im.height = 480;
    im.has_mediakey = im.has_filesha256 = im.has_fileencsha256 = 1;
    im.mediakey = im.filesha256 = im.fileencsha256 = (ProtobufCBinaryData){32, k32};
    im.directpath = "/v/t62.7118-24/abc";
    im.contextinfo = &ci;
    m.imagemessage = &im;
    struct wa_msgmeta mm;
    cJSON *j = describe(&m, &mm);
    assert_int_equal(mm.kind, WA_IN_IMAGE);
    assert_string_equal(wa_inmsg_kind_name(mm.kind), "image");
    assert_string_equal(jstr(j, "media.mimetype"), "image/jpeg");
    assert_string_equal(jstr(j, "media.caption"), "look @111");
    assert_int_equal((int)jnum(j, "media", "file_length"), 12345);
    assert_int_equal((int)jnum(j, "media", "width"), 640);
    assert_int_equal((int)jnum(j, "media", "height"), 480);
    assert_string_equal(jstr(j, "media.sha256"),
                        "0102030405060708090a00000000000000000000000000000000000000000000");
    assert_string_equal(jstr(j, "quoted.id"), "3EB0AAAA");
    assert_string_equal(jstr(j, "quoted.participant"), "333@s.whatsapp.net");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "mentions")), 2);
    /* the download fields are not in the agent's view */
    assert_null(strstr(mm.meta, "direct_path"));
    assert_null(strstr(mm.meta, "media_key"));
    assert_true(mm.has_media);
    assert_string_equal(mm.media.kind, "image");
    assert_string_equal(mm.media.direct_path, "/v/t62.7118-24/abc");
    cJSON_Delete(j);
    wa_msgmeta_free(&mm);
}

static void test_av_doc_sticker(void **state)
{
    (void)state;
    struct wa_msgmeta mm;
    Wa__Message m = WA__MESSAGE__INIT;
    Wa__AudioMessage au = WA__AUDIO_MESSAGE__INIT;
    au.mimetype = "audio/ogg; codecs=opus";
    au.has_seconds = au.has_ptt = 1, au.seconds = 7, au.ptt = 1;
    m.audiomessage = &au;
    cJSON *j = describe(&m, &mm);
    assert_int_equal(mm.kind, WA_IN_PTT);
    assert_int_equal((int)jnum(j, "media", "seconds"), 7);
    cJSON_Delete(j);
    wa_msgmeta_free(&mm);
    au.ptt = 0;
    j = describe(&m, &mm);
    assert_int_equal(mm.kind, WA_IN_AUDIO);
    cJSON_Delete(j);
    wa_msgmeta_free(&mm);

    Wa__Message v = WA__MESSAGE__INIT;
    Wa__VideoMessage vi = WA__VIDEO_MESSAGE__INIT;
    vi.mimetype = "video/mp4", vi.caption = "clip";
    vi.has_seconds = 1, vi.seconds = 42;
    v.videomessage = &vi;
    j = describe(&v, &mm);
    assert_int_equal(mm.kind, WA_IN_VIDEO);
    assert_int_equal((int)jnum(j, "media", "seconds"), 42);
    assert_string_equal(jstr(j, "media.caption"), "clip");
    cJSON_Delete(j);
    wa_msgmeta_free(&mm);

    Wa__Message d = WA__MESSAGE__INIT;
    Wa__DocumentMessage doc = WA__DOCUMENT_MESSAGE__INIT;
    doc.mimetype = "application/pdf", doc.filename = "report.pdf", doc.title = "Report";
    doc.has_pagecount = 1, doc.pagecount = 3;
    d.documentmessage = &doc;
    j = describe(&d, &mm);
    assert_int_equal(mm.kind, WA_IN_DOCUMENT);
    assert_string_equal(jstr(j, "media.file_name"), "report.pdf");
    assert_int_equal((int)jnum(j, "media", "page_count"), 3);
    cJSON_Delete(j);
    wa_msgmeta_free(&mm);

    /* documentWithCaptionMessage wraps a document: unwrapped by wa_msg_decode */
    Wa__Message outer = WA__MESSAGE__INIT;
    Wa__FutureProofMessage fp = WA__FUTURE_PROOF_MESSAGE__INIT;
    doc.caption = "see attached";
    fp.message = &d;
    outer.documentwithcaptionmessage = &fp;
    j = describe(&outer, &mm);
    assert_int_equal(mm.kind, WA_IN_DOCUMENT);
    assert_string_equal(jstr(j, "media.caption"), "see attached");
    cJSON_Delete(j);
    wa_msgmeta_free(&mm);

    Wa__Message s = WA__MESSAGE__INIT;
    Wa__StickerMessage st = WA__STICKER_MESSAGE__INIT;
    st.mimetype = "image/webp", st.has_isanimated = 1, st.isanimated = 1;
    s.stickermessage = &st;
    j = describe(&s, &mm);
    assert_int_equal(mm.kind, WA_IN_STICKER);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "media"), "animated")));
    cJSON_Delete(j);
    wa_msgmeta_free(&mm);
}

static void test_location_contacts(void **state)
{
    (void)state;
    struct wa_msgmeta mm;
    Wa__Message m = WA__MESSAGE__INIT;
    Wa__LocationMessage lo = WA__LOCATION_MESSAGE__INIT;
    lo.has_degreeslatitude = lo.has_degreeslongitude = 1;
    lo.degreeslatitude = 52.52, lo.degreeslongitude = 13.405;
    lo.name = "Berlin";
    m.locationmessage = &lo;
    cJSON *j = describe(&m, &mm);
    assert_int_equal(mm.kind, WA_IN_LOCATION);
    assert_true(jnum(j, "location", "lat") == 52.52);
    assert_true(jnum(j, "location", "long") == 13.405);
    assert_string_equal(jstr(j, "location.name"), "Berlin");
    assert_false(mm.has_media);
    cJSON_Delete(j);
    wa_msgmeta_free(&mm);

    /* an array of 20 contacts: WA_META_VCARDS_MAX kept; each vCard capped */
    Wa__Message c = WA__MESSAGE__INIT;
    Wa__ContactsArrayMessage ca = WA__CONTACTS_ARRAY_MESSAGE__INIT;
    Wa__ContactMessage cm[20], *cp[20];
    char *big = malloc(WA_META_VCARD_MAX + 100);
    assert_non_null(big);
    memset(big, 'v', WA_META_VCARD_MAX + 99);
    big[WA_META_VCARD_MAX + 99] = 0;
    for (int i = 0; i < 20; i++) {
        wa__contact_message__init(&cm[i]);
        cm[i].displayname = "Ann";
        cm[i].vcard = i == 0 ? big : "BEGIN:VCARD\nVERSION:3.0\nFN:Ann\nEND:VCARD";
        cp[i] = &cm[i];
    }
    ca.contacts = cp, ca.n_contacts = 20;
    c.contactsarraymessage = &ca;
    j = describe(&c, &mm);
    assert_int_equal(mm.kind, WA_IN_CONTACT);
    cJSON *arr = cJSON_GetObjectItem(j, "contacts");
    assert_int_equal(cJSON_GetArraySize(arr), WA_META_VCARDS_MAX);
    assert_int_equal(strlen(jstr(cJSON_GetArrayItem(arr, 0), "vcard")), WA_META_VCARD_MAX);
    assert_string_equal(jstr(cJSON_GetArrayItem(arr, 1), "name"), "Ann");
    cJSON_Delete(j);
    wa_msgmeta_free(&mm);
    free(big);
}

static void test_reaction_edit_revoke(void **state)
{
    (void)state;
    struct wa_msgmeta mm;
    Wa__Message m = WA__MESSAGE__INIT;
    Wa__ReactionMessage r = WA__REACTION_MESSAGE__INIT;
    Wa__MessageKey k = WA__MESSAGE_KEY__INIT;
    k.id = "3EB0TARGET", k.has_fromme = 1, k.fromme = 1;
    r.key = &k, r.text = "\xf0\x9f\x91\x8d"; /* thumbs up */
    m.reactionmessage = &r;
    cJSON *j = describe(&m, &mm);
    assert_int_equal(mm.kind, WA_IN_REACTION);
    assert_string_equal(jstr(j, "reaction.target"), "3EB0TARGET");
    assert_string_equal(jstr(j, "reaction.emoji"), "\xf0\x9f\x91\x8d");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "reaction"), "removed")));
    assert_true(
        cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "reaction"), "target_from_me")));
    cJSON_Delete(j);
    wa_msgmeta_free(&mm);
    r.text = ""; /* an empty emoji removes the reaction */
    j = describe(&m, &mm);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "reaction"), "removed")));
    cJSON_Delete(j);
    wa_msgmeta_free(&mm);

    /* an edit, as Baileys sends it: editedMessage { protocolMessage { MESSAGE_EDIT } } */
    Wa__Message outer = WA__MESSAGE__INIT, inner = WA__MESSAGE__INIT, nw = WA__MESSAGE__INIT;
    Wa__FutureProofMessage fp = WA__FUTURE_PROOF_MESSAGE__INIT;
    Wa__ProtocolMessage pm = WA__PROTOCOL_MESSAGE__INIT;
    nw.conversation = "fixed typo";
    pm.key = &k, pm.has_type = 1, pm.type = WA__PROTOCOL_MESSAGE__TYPE__MESSAGE_EDIT;
    pm.editedmessage = &nw;
    inner.protocolmessage = &pm;
    fp.message = &inner;
    outer.editedmessage = &fp;
    j = describe(&outer, &mm);
    assert_int_equal(mm.kind, WA_IN_EDIT);
    assert_string_equal(wa_inmsg_kind_name(mm.kind), "edit");
    assert_string_equal(mm.target, "3EB0TARGET");
    assert_string_equal(mm.edit_text, "fixed typo");
    assert_string_equal(jstr(j, "edit.text"), "fixed typo");
    cJSON_Delete(j);
    wa_msgmeta_free(&mm);

    Wa__Message rv = WA__MESSAGE__INIT;
    Wa__ProtocolMessage pr = WA__PROTOCOL_MESSAGE__INIT;
    pr.key = &k, pr.has_type = 1, pr.type = WA__PROTOCOL_MESSAGE__TYPE__REVOKE;
    rv.protocolmessage = &pr;
    j = describe(&rv, &mm);
    assert_int_equal(mm.kind, WA_IN_REVOKE);
    assert_string_equal(jstr(j, "revoke.target"), "3EB0TARGET");
    assert_null(mm.edit_text);
    cJSON_Delete(j);
    wa_msgmeta_free(&mm);

    /* another protocol message stays "protocol" */
    pr.type = WA__PROTOCOL_MESSAGE__TYPE__EPHEMERAL_SETTING;
    j = describe(&rv, &mm);
    assert_int_equal(mm.kind, WA_IN_PROTOCOL);
    assert_null(mm.target);
    cJSON_Delete(j);
    wa_msgmeta_free(&mm);
}

static void test_unknown_and_caps(void **state)
{
    (void)state;
    /* a poll (field 49, outside our subset) arrives as an unknown field */
    const uint8_t poll[] = {0x8a, 0x03, 0x03, 0x0a, 0x01, 'q'}; /* field 49, LEN 3: {1:"q"} */
    struct wa_msg_info mi;
    assert_int_equal(wa_msg_decode(poll, sizeof poll, &mi), 0);
    assert_non_null(mi.content);
    struct wa_msgmeta mm;
    assert_int_equal(wa_msgmeta_build(mi.content, &mm), 0);
    assert_int_equal(mm.kind, WA_IN_OTHER);
    assert_string_equal(wa_inmsg_kind_name(mm.kind), "unknown");
    assert_non_null(strstr(mm.meta, "\"field\":\"pollCreationMessage\""));
    wa_msgmeta_free(&mm);
    wa_msg_info_free(&mi);
    assert_int_equal(wa_inmsg_kind_parse("other"), WA_IN_OTHER); /* rows before v8 */

    /* caption over the cap, cut at a UTF-8 boundary; 40 mentions -> 32; long mimetype not
     * kept for the download */
    Wa__Message m = WA__MESSAGE__INIT;
    Wa__VideoMessage v = WA__VIDEO_MESSAGE__INIT;
    Wa__ContextInfo ci = WA__CONTEXT_INFO__INIT;
    char *cap = malloc(WA_META_CAPTION_MAX + 10), mime[300], *ment[40];
    assert_non_null(cap);
    memset(cap, 'a', WA_META_CAPTION_MAX - 1);
    strcpy(cap + WA_META_CAPTION_MAX - 1, "\xc3\xa9zzzzzz"); /* an é across the cap */
    memset(mime, 'm', sizeof mime - 1);
    mime[sizeof mime - 1] = 0;
    for (int i = 0; i < 40; i++)
        ment[i] = "444@s.whatsapp.net";
    ci.mentionedjid = ment, ci.n_mentionedjid = 40;
    v.caption = cap, v.mimetype = mime, v.contextinfo = &ci;
    m.videomessage = &v;
    cJSON *j = describe(&m, &mm);
    assert_int_equal(strlen(jstr(j, "media.caption")), WA_META_CAPTION_MAX - 1);
    assert_int_equal(strlen(jstr(j, "media.mimetype")), WA_META_MIME_MAX);
    assert_string_equal(mm.media.mimetype, "(null)");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "mentions")), WA_INMSG_MENTIONS_MAX);
    cJSON_Delete(j);
    wa_msgmeta_free(&mm);
    free(cap);
}

/* A v7 database (as this code builds it at v7) with rows, upgraded to v8 and read back. */
static void test_store_v8_migration(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_kinds.XXXXXX", path[64], err[256], cmd[96];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/wa.db", dir);
    struct st_db *db = NULL;
    struct st_db_opts o = {.target_version = 7};
    assert_int_equal(st_db_open_ex(path, &o, &db, err, sizeof err), 0);
    assert_int_equal(st_db_version(db), 7);
    assert_int_equal(st_db_close(db), 0);
    /* rows as v7 wrote them (a handle opened at a target version prepares no statements) */
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(h,
                     "INSERT INTO inbox (chat, sender, msg_id, ts, type, payload, received) VALUES"
                     " ('1@s.whatsapp.net', '1@s.whatsapp.net', 'M1', 10, 'text', 'hello', 10),"
                     " ('1@s.whatsapp.net', '1@s.whatsapp.net', 'M2', 11, 'other', x'1a00', 11)",
                     NULL, NULL, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_close(h), SQLITE_OK);
    int64_t c1 = 1, c3 = 0;

    assert_int_equal(st_db_open(path, &db, err, sizeof err), 0);
    assert_int_equal(st_db_version(db), ST_SCHEMA_VERSION);
    struct st_inbox_msg *v = NULL;
    size_t n = 0;
    assert_int_equal(st_inbox_list(db, 0, 10, &v, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].type, "text");
    assert_null(v[0].meta);
    assert_int_equal(v[0].edited_at, 0);
    assert_string_equal(v[1].type, "unknown"); /* was 'other' */
    st_inbox_list_free(v, n);

    /* an edit from another sender changes nothing; from the sender it does */
    assert_int_equal(st_inbox_edit(db, "1@s.whatsapp.net", "2@s.whatsapp.net", "M1", "x", 20), 0);
    assert_int_equal(st_inbox_edit(db, "1@s.whatsapp.net", "1@s.whatsapp.net", "M1", "hi!", 20), 1);
    assert_int_equal(st_inbox_revoke(db, "1@s.whatsapp.net", "1@s.whatsapp.net", "NOPE", 21), 0);
    assert_int_equal(st_inbox_revoke(db, "1@s.whatsapp.net", "1@s.whatsapp.net", "M2", 21), 1);
    /* a revoked row takes no edit */
    assert_int_equal(st_inbox_edit(db, "1@s.whatsapp.net", "1@s.whatsapp.net", "M2", "y", 22), 0);
    assert_int_equal(st_inbox_insert(db, "1@s.whatsapp.net", "1@s.whatsapp.net", "M3", 12, "image",
                                     (const uint8_t *)"\x1a\x00", 2, &c3),
                     0);
    assert_int_equal(st_inbox_set_meta(db, c3, "{\"media\":{\"mimetype\":\"image/png\"}}"), 0);
    assert_int_equal(st_inbox_set_meta(db, 9999, "{}"), -ENOENT);
    struct st_media_ref ref = {.kind = "image",
                               .mimetype = "image/png",
                               .file_length = 99,
                               .media_key = k32,
                               .direct_path = "/v/x"};
    assert_int_equal(st_media_put(db, c3, &ref), 0);
    assert_true(st_media_put(db, 9999, &ref) < 0); /* no such row: the foreign key */
    struct st_media_row mr;
    assert_int_equal(st_media_get(db, c3, &mr), 1);
    assert_string_equal(mr.kind, "image");
    assert_string_equal(mr.direct_path, "/v/x");
    assert_int_equal(mr.file_length, 99);
    assert_true(mr.has_media_key && !mr.has_sha256);
    assert_memory_equal(mr.media_key, k32, 32);
    assert_int_equal(st_media_get(db, c1, &mr), 0);

    struct st_inbox_msg r;
    assert_int_equal(st_inbox_get_by_id(db, "1@s.whatsapp.net", "M1", &r), 1);
    assert_string_equal(r.edited_text, "hi!");
    assert_int_equal(r.edited_at, 20);
    /* the JSON the agent sees: edited, then revoked and the merged metadata */
    struct wa_inmsg im;
    wa_inmsg_from_row(&r, &im);
    cJSON *j = gw_inmsg_json("acct", &im);
    assert_string_equal(jstr(j, "edited.text"), "hi!");
    assert_string_equal(jstr(j, "text"), "hello");
    cJSON_Delete(j);
    st_inbox_msg_free(&r);
    assert_int_equal(st_inbox_get_by_id(db, "1@s.whatsapp.net", "M2", &r), 1);
    assert_int_equal(r.revoked_at, 21);
    wa_inmsg_from_row(&r, &im);
    j = gw_inmsg_json("acct", &im);
    assert_int_equal((int)cJSON_GetObjectItem(j, "revoked")->valuedouble, 21);
    assert_string_equal(jstr(j, "type"), "unknown");
    cJSON_Delete(j);
    st_inbox_msg_free(&r);
    assert_int_equal(st_inbox_get_by_id(db, "1@s.whatsapp.net", "M3", &r), 1);
    wa_inmsg_from_row(&r, &im);
    j = gw_inmsg_json("acct", &im);
    assert_string_equal(jstr(j, "media.mimetype"), "image/png");
    assert_null(cJSON_GetObjectItem(j, "payload_hex")); /* media bytes hold the key */
    cJSON_Delete(j);
    st_inbox_msg_free(&r);
    assert_int_equal(st_inbox_get_by_id(db, "1@s.whatsapp.net", "NOPE", &r), 0);
    assert_int_equal(st_db_close(db), 0);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_chunks(void **state)
{
    (void)state;
    const char *t = "aaa bbb ccc ddd";
    size_t skip = 0;
    assert_int_equal(gw_chunk_next(t, strlen(t), 100, &skip), strlen(t)); /* fits */
    assert_int_equal(gw_chunk_next(t, strlen(t), 9, &skip), 7); /* "aaa bbb" + " " skipped */
    assert_int_equal(skip, 1);
    assert_int_equal(gw_chunk_next(t, strlen(t), 7, &skip), 7); /* the cut falls on a blank */
    assert_int_equal(gw_chunk_count(t, strlen(t), 7), 2);
    /* one word longer than max: cut at max characters, never inside a UTF-8 sequence */
    const char *w = "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"; /* four é, 8 bytes */
    assert_int_equal(gw_chunk_next(w, strlen(w), 3, &skip), 6);
    assert_int_equal(skip, 0);
    assert_int_equal(gw_chunk_count(w, strlen(w), 3), 2);
    /* characters, not bytes: 4 é fit in 4 */
    assert_int_equal(gw_chunk_next(w, strlen(w), 4, &skip), 8);
    /* newlines are breaks too; every chunk joined again is the text */
    const char *p = "line one\nline two\nline three";
    char out[64] = "";
    size_t off = 0, n = 0;
    while (off < strlen(p)) {
        size_t c = gw_chunk_next(p + off, strlen(p) - off, 10, &skip);
        assert_true(c <= 10 && c > 0);
        strncat(out, p + off, c);
        if (skip) strcat(out, "\n");
        off += c + skip;
        n++;
    }
    assert_int_equal(n, 3);
    assert_string_equal(out, p);
}

static Wa__Message *unpack_buf(const struct buf *b)
{
    Wa__Message *m = wa__message__unpack(NULL, b->len, b->data);
    assert_non_null(m);
    return m;
}

static void test_send_builders(void **state)
{
    (void)state;
    struct buf b, q;
    buf_init(&b, 1 << 20);
    buf_init(&q, 1 << 20);
    /* no quote, no mention: the plain conversation (byte-identical to before) */
    struct wa_send_ctx none = {0};
    assert_int_equal(wa_send_build_rich("hi", &none, &b), 0);
    Wa__Message *m = unpack_buf(&b);
    assert_string_equal(m->conversation, "hi");
    wa__message__free_unpacked(m, NULL);
    /* a reply with a mention, as Baileys builds one */
    assert_int_equal(wa_send_build_text("the original", &q), 0);
    const char *mj[] = {"15550002@s.whatsapp.net"};
    struct wa_send_ctx ctx = {.stanza_id = "3EB0Q",
                              .participant = "15550002@s.whatsapp.net",
                              .quoted = q.data,
                              .quoted_len = q.len,
                              .mentions = mj,
                              .n_mentions = 1};
    buf_reset(&b);
    assert_int_equal(wa_send_build_rich("answer @15550002", &ctx, &b), 0);
    m = unpack_buf(&b);
    assert_null(m->conversation);
    assert_non_null(m->extendedtextmessage);
    const Wa__ContextInfo *ci = m->extendedtextmessage->contextinfo;
    assert_string_equal(m->extendedtextmessage->text, "answer @15550002");
    assert_string_equal(ci->stanzaid, "3EB0Q");
    assert_string_equal(ci->participant, "15550002@s.whatsapp.net");
    assert_string_equal(ci->quotedmessage->conversation, "the original");
    assert_int_equal(ci->n_mentionedjid, 1);
    wa__message__free_unpacked(m, NULL);
    /* the reaction */
    struct wa_send_key k = {.chat = "15550002@s.whatsapp.net", .id = "3EB0T", .from_me = false};
    buf_reset(&b);
    assert_int_equal(wa_send_build_reaction(&k, "\xf0\x9f\x91\x8d", 1700000000000, &b), 0);
    m = unpack_buf(&b);
    assert_string_equal(m->reactionmessage->key->id, "3EB0T");
    assert_string_equal(m->reactionmessage->key->remotejid, "15550002@s.whatsapp.net");
    assert_true(m->reactionmessage->key->has_fromme && !m->reactionmessage->key->fromme);
    assert_string_equal(m->reactionmessage->text, "\xf0\x9f\x91\x8d");
    assert_int_equal(m->reactionmessage->sendertimestampms, 1700000000000);
    wa__message__free_unpacked(m, NULL);
    struct wa_node *n = wa_node_new("message");
    assert_int_equal(wa_send_set_kind_attrs(n, b.data, b.len), 0);
    assert_string_equal(wa_node_attr(n, "type"), "reaction");
    wa_node_free(n);
    /* edit and revoke */
    k.from_me = true;
    buf_reset(&b);
    assert_int_equal(wa_send_build_amend(&k, "new text", 1700000000000, &b), 0);
    m = unpack_buf(&b);
    assert_int_equal(m->protocolmessage->type, WA__PROTOCOL_MESSAGE__TYPE__MESSAGE_EDIT);
    assert_string_equal(m->protocolmessage->editedmessage->conversation, "new text");
    assert_true(m->protocolmessage->key->fromme);
    wa__message__free_unpacked(m, NULL);
    n = wa_node_new("message");
    assert_int_equal(wa_send_set_kind_attrs(n, b.data, b.len), 0);
    assert_string_equal(wa_node_attr(n, "edit"), "1");
    wa_node_free(n);
    buf_reset(&b);
    assert_int_equal(wa_send_build_amend(&k, NULL, 0, &b), 0);
    m = unpack_buf(&b);
    assert_int_equal(m->protocolmessage->type, WA__PROTOCOL_MESSAGE__TYPE__REVOKE);
    wa__message__free_unpacked(m, NULL);
    n = wa_node_new("message");
    assert_int_equal(wa_send_set_kind_attrs(n, b.data, b.len), 0);
    assert_string_equal(wa_node_attr(n, "edit"), "7");
    wa_node_free(n);
    /* chatstate and the read receipt */
    struct wa_jid to, part;
    assert_int_equal(wa_jid_parse(&to, "15550002@s.whatsapp.net", 23), 0);
    n = wa_send_build_chatstate(&to, "recording");
    assert_non_null(n);
    assert_string_equal(n->tag.s, "chatstate");
    assert_string_equal(wa_node_child_at(n, 0)->tag.s, "composing");
    assert_string_equal(wa_node_attr(wa_node_child_at(n, 0), "media"), "audio");
    wa_node_free(n);
    n = wa_send_build_chatstate(&to, "paused");
    assert_string_equal(wa_node_child_at(n, 0)->tag.s, "paused");
    wa_node_free(n);
    assert_null(wa_send_build_chatstate(&to, "dancing"));
    assert_int_equal(wa_jid_parse(&part, "15550003@s.whatsapp.net", 23), 0);
    n = wa_send_build_read("3EB0R", &to, &part, 1700000000);
    assert_string_equal(wa_node_attr(n, "type"), "read");
    assert_string_equal(wa_node_attr(n, "id"), "3EB0R");
    assert_string_equal(wa_node_attr(n, "t"), "1700000000");
    assert_non_null(wa_node_attr(n, "participant"));
    wa_node_free(n);
    buf_free(&b);
    buf_free(&q);
}

/* A media payload makes the stanza type="media" and puts mediatype on every enc, the
 * participants' and the group's (as Baileys' relayMessage); a ptt is "ptt". */
static void test_media_stanza_attrs(void **state)
{
    (void)state;
    struct buf b = {0};
    struct wa_outmedia md = {.type = WA_MEDIA_AUDIO,
                             .ptt = true,
                             .mimetype = "audio/ogg; codecs=opus",
                             .file_length = 10,
                             .seconds = 3};
    assert_int_equal(wa_outmedia_build(&md, NULL, NULL, &b), 0);
    struct wa_jid to;
    assert_int_equal(wa_jid_parse(&to, "15550002@s.whatsapp.net", 23), 0);
    const uint8_t ct[4] = {1, 2, 3, 4};
    struct wa_send_part parts[2] = {{.jid = to, .type = SG_MSG, .ct = ct, .len = 4},
                                    {.jid = to, .type = SG_PKMSG, .ct = ct, .len = 4}};
    struct wa_node *n = wa_send_build_stanza("3EB0M", &to, parts, 2, ct, 4, ct, 4);
    assert_non_null(n);
    assert_string_equal(wa_node_attr(n, "type"), "text");
    assert_int_equal(wa_send_set_kind_attrs(n, b.data, b.len), 0);
    assert_string_equal(wa_node_attr(n, "type"), "media");
    struct wa_node *ps = wa_node_child(n, "participants");
    assert_int_equal(wa_node_child_count(ps), 2);
    for (size_t i = 0; i < 2; i++)
        assert_string_equal(
            wa_node_attr(wa_node_child(wa_node_child_at(ps, i), "enc"), "mediatype"), "ptt");
    assert_string_equal(wa_node_attr(wa_node_child(n, "enc"), "mediatype"), "ptt");
    assert_null(wa_node_attr(wa_node_child(n, "device-identity"), "mediatype"));
    wa_node_free(n);
    /* a document; a text stays "text" with no mediatype */
    buf_reset(&b);
    md = (struct wa_outmedia){.type = WA_MEDIA_DOCUMENT,
                              .mimetype = "application/pdf",
                              .file_name = "a.pdf",
                              .file_length = 10};
    assert_int_equal(wa_outmedia_build(&md, "see", NULL, &b), 0);
    n = wa_send_build_stanza("3EB0N", &to, parts, 1, NULL, 0, NULL, 0);
    assert_int_equal(wa_send_set_kind_attrs(n, b.data, b.len), 0);
    assert_string_equal(wa_node_attr(n, "type"), "media");
    assert_string_equal(
        wa_node_attr(wa_node_child(wa_node_child_at(wa_node_child(n, "participants"), 0), "enc"),
                     "mediatype"),
        "document");
    wa_node_free(n);
    buf_reset(&b);
    assert_int_equal(wa_send_build_text("hi", &b), 0);
    n = wa_send_build_stanza("3EB0P", &to, parts, 1, NULL, 0, NULL, 0);
    assert_int_equal(wa_send_set_kind_attrs(n, b.data, b.len), 0);
    assert_string_equal(wa_node_attr(n, "type"), "text");
    assert_null(wa_node_attr(
        wa_node_child(wa_node_child_at(wa_node_child(n, "participants"), 0), "enc"), "mediatype"));
    wa_node_free(n);
    buf_free(&b);
}

static int no_send(void *ud, const struct wa_outmsg *m, struct gw_send_result *r)
{
    (void)ud, (void)m, (void)r;
    return 0;
}

/* A stored group row (read back after a restart) is admitted by require_mention when its
 * metadata names us. */
static void test_access_stored_mentions(void **state)
{
    (void)state;
    static struct wg_config cfg;
    cfg_defaults(&cfg);
    char err[256];
    const char *js = "{\"whatsapp\":{\"accounts\":{\"default\":{\"group_policy\":\"open\"}}}}";
    assert_int_equal(cfg_parse(&cfg, js, strlen(js), err, sizeof err), 0);
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct gw_access_opts o = {.loop = &loop, .account = "default", .cfg = &cfg, .send = no_send};
    struct gw_access *a = NULL;
    assert_int_equal(gw_access_new(&o, &a), 0);
    struct wa_creds creds = {0};
    snprintf(creds.me_pn, sizeof creds.me_pn, "15550001:3@s.whatsapp.net");
    struct wa_inmsg m = {.cursor = 77,
                         .chat = "120363000000000001@g.us",
                         .sender = "15550002@s.whatsapp.net",
                         .id = "3EB0G",
                         .kind = WA_IN_IMAGE};
    assert_false(gw_access_admit(a, &creds, &m)); /* no mention */
    m.meta = "{\"media\":{},\"mentions\":[\"15550009@s.whatsapp.net\"]}";
    assert_false(gw_access_admit(a, &creds, &m)); /* someone else */
    m.meta = "{\"media\":{},\"mentions\":[\"15550001@s.whatsapp.net\"]}";
    assert_true(gw_access_admit(a, &creds, &m));
    gw_access_free(a);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_image_quoted),
        cmocka_unit_test(test_av_doc_sticker),
        cmocka_unit_test(test_location_contacts),
        cmocka_unit_test(test_reaction_edit_revoke),
        cmocka_unit_test(test_unknown_and_caps),
        cmocka_unit_test(test_store_v8_migration),
        cmocka_unit_test(test_chunks),
        cmocka_unit_test(test_send_builders),
        cmocka_unit_test(test_media_stanza_attrs),
        cmocka_unit_test(test_access_stored_mentions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
