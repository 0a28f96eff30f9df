#ifndef PGVAULT_METRICS_H
#define PGVAULT_METRICS_H

#include <stddef.h>
#include <stdio.h>

#include "catalog/catalog.h"

/*
 * Prometheus textfile metrics (node_exporter's textfile collector): after each backup
 * run the file named by metrics_file / --metrics-file is rewritten from the catalog, per
 * database, with this run's exit codes for the databases it touched.
 */

/* The exit code of each database a run touched (a database may not be in the catalog:
 * one that could not be reached has no row). */
struct metrics_run {
    struct metrics_db {
        char *db;
        int exit_code;
    } * dbs;
    size_t n;
};

/* Records db's exit code in this run (a later one for the same db replaces it). */
void metrics_run_note(struct metrics_run *run, const char *db, int exit_code);
void metrics_run_free(struct metrics_run *run);

/*
 * Writes the exposition text to out: HELP and TYPE lines, then one sample per database
 * (label db, with \\, \" and \n escaped) for each metric that has a value, then the
 * repository's totals and the run's exit code and time (now, Unix seconds).
 */
void metrics_render(FILE *out, const struct catalog_db_summary *dbs, size_t n,
                    const struct metrics_run *run, int run_exit_code, double now);

/* The copies' families, per remote (label remote): the newest complete copy's time, the
 * bytes and number of complete copies, the failed or missing ones. Nothing without copies. */
void metrics_render_copies(FILE *out, const struct copy_rec *c, size_t n);

/*
 * Rewrites path from the catalog: a temporary file in the same directory (mkstemp, mode
 * 0644 so that node_exporter can read it), fsync, rename over path, fsync the directory.
 * Only a regular file is replaced: a device, FIFO or symlink at path is refused and left
 * as it is. Returns 0, or -1 with the error set (the temporary file removed).
 */
int metrics_write(struct catalog *cat, const char *path, const struct metrics_run *run,
                  int run_exit_code);

#endif
