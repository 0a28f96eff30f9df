#ifndef PGVAULT_TABLES_H
#define PGVAULT_TABLES_H

#include <stddef.h>
#include <stdint.h>

#include "catalog/catalog.h"
#include "postgres/dumpscan.h"

/*
 * The per-table row counts that backup and import record, built from what the dump
 * scanner saw: one entry per COPY block first, then one per table.
 */

/* One table_rec per COPY block of scan, in order: its schema ("" when the block named
 * none), name, relkind 'r' and rows; the array has room for extra entries more. *n is the
 * number of blocks, *rows the sum of their rows. Free with table_recs_free. */
struct table_rec *tables_from_copies(const struct dumpscan *scan, size_t extra, size_t *n,
                                     int64_t *rows);

/* Sorts t[0..n) by schema and name and merges the entries of one table (loaded by several
 * COPY blocks) into the first, adding their rows; returns how many entries are left. */
size_t tables_merge(struct table_rec *t, size_t n);

#endif
