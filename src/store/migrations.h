/* SPDX-License-Identifier: MIT */
/* migrations.h -- the numbered schema migrations of the per-account database (the schema).
 *
 * The whole schema lives in migrations.c, one C string per migration; migration N (1-based)
 * brings a database from user_version N-1 to N. Each string's first line is `-- vN: why`.
 * st_db_open() runs each pending migration in its own BEGIN IMMEDIATE transaction together
 * with `PRAGMA user_version = N`, so a crash leaves the database at a whole version.
 * Never edit a migration that has shipped: add a new one. Tables are documented in
 * migrations.c and docs/internals/store.md.
 */
#pragma once
#include <stddef.h>

/* Schema version of this build (= number of migrations). */
#define ST_SCHEMA_VERSION 10

/* SQL text of migration `version` (1..ST_SCHEMA_VERSION), or NULL when out of range. */
const char *st_migration_sql(int version);
