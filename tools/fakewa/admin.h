/* SPDX-License-Identifier: MIT */
/* admin.h -- fakewa's admin HTTP API (JSON), one request per connection.
 *
 * Routes (documented with curl examples in tools/fakewa/README.md):
 *   GET  /admin/root                      {"pubkey": "<hex>"}
 *   GET  /admin/accounts                  all accounts with their devices
 *   POST /admin/accounts {"phone"}        create an account (device 0 simulated)
 *   POST /admin/contacts {"name","phone"} create a named simulated contact
 *   POST /admin/contacts/<who>/send {"to","text"}   send a text from <who>'s phone
 *   GET  /admin/contacts/<who>/inbox      what <who>'s phone received and decrypted
 *   POST /admin/scan {"qr","phone"}       the account's phone scans a QR string
 *   POST /admin/groups {"subject","members":[...]}  create a group
 *   GET  /admin/devices?phone=...         devices of one account
 *   POST /admin/fault {...}               inject a fault (faults.h)
 *   GET  /admin/stats                     counters
 * <who> is a contact name, "+phone" or phone digits. Errors are {"error": "..."} with a
 * 4xx status. Caps: request head 16 KiB, body 1 MiB; connections idle > 10 s are closed.
 */
#pragma once
#include "server.h"

/* Listen on host:port (0 = any) and serve; *bound receives the port. */
int fw_admin_listen(struct fw_server *s, const char *host, int port, int *bound)
    __attribute__((warn_unused_result));
void fw_admin_shutdown(struct fw_server *s);
