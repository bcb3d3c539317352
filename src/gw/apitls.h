/* SPDX-License-Identifier: MIT */
/* apitls.h -- TLS for the control API: net/tls.h's server codec behind api_tls_ops.
 *
 * gateway.tls_cert and gateway.tls_key (PEM files: the leaf first, then intermediates; the
 * key unencrypted) turn the API port into HTTPS/WSS. The certificate is loaded once at
 * start-up (a reload needs a restart). TLS 1.2+, no client certificates.
 */
#pragma once
#include <stddef.h>

#include "api/server.h"

struct ntls_server;

/* The ops table for api_config.tls. */
extern const struct api_tls_ops gw_apitls_ops;
/* Load cert and key; the result goes to api_config.tls_ctx. NULL with a reason in err. */
struct ntls_server *gw_apitls_new(const char *cert_file, const char *key_file, char *err,
                                  size_t errlen);
/* NULL ok; after the API server is closed. Returns NULL. */
struct ntls_server *gw_apitls_free(struct ntls_server *s);
