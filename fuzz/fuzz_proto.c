/* SPDX-License-Identifier: MIT */
/* fuzz_proto.c -- unpack/pack/unpack consistency for the wa.proto messages we parse.
 *
 * Input byte 0 selects the message type; the rest is unpacked. Whatever unpacks must pack,
 * and the packed bytes must unpack again to a message that packs identically. */
#include "wa.pb-c.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const ProtobufCMessageDescriptor *const descs[] = {
    &wa__handshake_message__descriptor,
    &wa__cert_chain__descriptor,
    &wa__cert_chain__noise_certificate__details__descriptor,
    &wa__client_payload__descriptor,
    &wa__device_props__descriptor,
    &wa__advsigned_device_identity_hmac__descriptor,
    &wa__advsigned_device_identity__descriptor,
    &wa__advdevice_identity__descriptor,
    &wa__advkey_index_list__descriptor,
    &wa__advsigned_key_index_list__descriptor,
    &wa__message__descriptor,
};

static uint8_t *pack(const ProtobufCMessage *m, size_t *n)
{
    *n = protobuf_c_message_get_packed_size(m);
    uint8_t *p = malloc(*n ? *n : 1);
    if (!p) abort();
    if (protobuf_c_message_pack(m, p) != *n) abort();
    return p;
}

/* True if m or any sub-message holds an unknown field numbered 0. protobuf-c accepts such a
 * tag when its varint is non-minimal (e.g. 85 00) but refuses the minimal form it writes back,
 * so those messages cannot round-trip; wagate never re-serialises received messages. */
static bool has_tag0(const ProtobufCMessage *m)
{
    for (unsigned i = 0; i < m->n_unknown_fields; i++)
        if (m->unknown_fields[i].tag == 0) return true;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE) continue;
        const char *base = (const char *)m;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            ProtobufCMessage *const *arr = *(ProtobufCMessage *const *const *)(base + f->offset);
            for (size_t j = 0; j < n; j++)
                if (has_tag0(arr[j])) return true;
        } else {
            const ProtobufCMessage *sub = *(ProtobufCMessage *const *)(base + f->offset);
            if (sub && has_tag0(sub)) return true;
        }
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const ProtobufCMessageDescriptor *d = descs[data[0] % (sizeof descs / sizeof descs[0])];
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, size - 1, data + 1);
    if (!m) return 0;
    size_t n1, n2;
    uint8_t *p1 = pack(m, &n1);
    ProtobufCMessage *m2 = protobuf_c_message_unpack(d, NULL, n1, p1);
    if (!m2) {
        if (!has_tag0(m)) abort();
        free(p1);
        protobuf_c_message_free_unpacked(m, NULL);
        return 0;
    }
    uint8_t *p2 = pack(m2, &n2);
    if (n1 != n2 || memcmp(p1, p2, n1)) abort();
    free(p1);
    free(p2);
    protobuf_c_message_free_unpacked(m, NULL);
    protobuf_c_message_free_unpacked(m2, NULL);
    return 0;
}
