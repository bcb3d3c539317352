/* SPDX-License-Identifier: MIT */
/* nodeb.c -- shared stanza builders. */
#include "wa/nodeb.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

bool wa_nb_is(const struct wa_node *n, const char *tag)
{
    return n && n->tag.s && strcmp(n->tag.s, tag) == 0;
}

long wa_nb_attr_long(const struct wa_node *n, const char *key, long def)
{
    const char *v = n ? wa_node_attr(n, key) : NULL;
    if (!v || !*v) return def;
    char *end;
    errno = 0;
    long r = strtol(v, &end, 10);
    return errno || *end ? def : r;
}

struct wa_node *wa_nb_child(struct wa_node *parent, const char *tag)
{
    struct wa_node *c = parent ? wa_node_new(tag) : NULL;
    if (c && wa_node_add_child(parent, c) < 0) {
        wa_node_free(c);
        return NULL;
    }
    return c;
}

int wa_nb_bytes(struct wa_node *parent, const char *tag, const void *p, size_t len)
{
    if (!parent) return -EINVAL;
    struct wa_node *c = wa_node_new(tag);
    int rc = c ? wa_node_set_bytes(c, p, len) : -ENOMEM;
    if (rc == 0) rc = wa_node_add_child(parent, c);
    if (rc < 0) wa_node_free(c);
    return rc;
}

int wa_nb_copy_jid(struct wa_node *dst, const char *dkey, const struct wa_node *src,
                   const char *skey)
{
    struct wa_jid j;
    int rc = wa_node_attr_jid(src, skey, &j);
    if (rc == -ENOENT) return 0;
    if (rc < 0) return rc;
    return wa_node_set_attr_jid(dst, dkey, &j);
}

struct wa_node *wa_nb_reply(const char *tag, const struct wa_node *n, bool recipient)
{
    const char *id = n ? wa_node_attr(n, "id") : NULL;
    struct wa_node *r = id ? wa_node_new(tag) : NULL;
    int rc = r ? wa_node_set_attr(r, "id", id) : -ENOMEM;
    if (rc == 0) rc = wa_nb_copy_jid(r, "to", n, "from");
    if (rc == 0) rc = wa_nb_copy_jid(r, "participant", n, "participant");
    if (rc == 0 && recipient) rc = wa_nb_copy_jid(r, "recipient", n, "recipient");
    if (rc < 0) {
        wa_node_free(r);
        return NULL;
    }
    return r;
}

struct wa_node *wa_nb_ack(const struct wa_node *n, const char *cls, bool copy_type,
                          const char *error)
{
    struct wa_node *a = wa_nb_reply("ack", n, false);
    const char *type = a ? wa_node_attr(n, "type") : NULL;
    int rc = a ? wa_node_set_attr(a, "class", cls) : -ENOMEM;
    if (rc == 0 && copy_type && type) rc = wa_node_set_attr(a, "type", type);
    if (rc == 0 && error) rc = wa_node_set_attr(a, "error", error);
    if (rc < 0) {
        wa_node_free(a);
        return NULL;
    }
    return a;
}
