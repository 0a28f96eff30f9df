#ifndef PGVAULT_COMMAND_COPIES_H
#define PGVAULT_COMMAND_COPIES_H

/*
 * Off-site copies: a backup's file on a remote (remote.NAME of the configuration) as the
 * object "<db>/<file>" (<db> encoded as in file names), the catalog as
 * "catalog/catalog.db" beside the previous snapshots "catalog/catalog-STAMP.db". A copy
 * counts ('complete') only once its upload finished and the size and checksum that the
 * remote reports match the catalog's. Nothing here depends on the remote's scheme.
 */
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog/catalog.h"
#include "config/config.h"
#include "config/options.h"
#include "remote/remote.h"

/* An open remote and the configuration it points into (do not move it once open). */
struct remote_handle {
    const struct remote_settings *rs;
    struct remote_conf conf;
    struct remote *r;
};

/* The remote called name in the settings; ERR_USAGE naming the known ones otherwise. */
int copies_find(const struct settings *set, const char *name, const struct remote_settings **out);
int copies_open(const struct remote_settings *rs, struct remote_handle *h);
void copies_close(struct remote_handle *h);

/* The object key of a backup file: "<encoded db>/<file_name>"; caller frees. */
char *copies_key(const char *db_name, const char *file_name);

/* What one copy of a backup came to. */
struct copy_outcome {
    const char *remote;
    const char *status; /* "complete" or "failed" */
    int64_t bytes;
    double seconds;
    char *error; /* owned, NULL when complete */
    int error_class;
};
void copy_outcomes_free(struct copy_outcome *o, size_t n);

/*
 * Copies backup b (complete, its file in the repository) to the open remote: the row
 * 'running', the upload, the read-back of size and checksum, then 'complete' or
 * 'failed' with the error, an event either way, and the remote's last answer. check_local:
 * first recompute the local file's checksum (push: a damaged file is never sent).
 */
int copies_upload(struct catalog *cat, const struct settings *set, struct remote_handle *h,
                  const struct backup_rec *b, bool check_local, bool progress,
                  volatile sig_atomic_t *cancel, struct copy_outcome *out);

/* After a complete backup: a copy to every remote, one outcome each (*outs, *n). Returns
 * 0, or -1 with the first failure's error (class ERR_REMOTE when any remote was
 * unreachable), the backup staying complete. */
int copies_after_backup(struct catalog *cat, const struct settings *set, const struct backup_rec *b,
                        bool progress, volatile sig_atomic_t *cancel, struct copy_outcome **outs,
                        size_t *n);

/*
 * Brings backup b's file back from a remote (from, else the first remote with a complete
 * copy) into the repository: a partial file, its size and checksum checked against the
 * catalog, committed (replacing a local file that no longer matches), and the backup
 * 'complete' again. b->status is updated.
 */
int copies_fetch(struct catalog *cat, const struct settings *set, const char *from,
                 struct backup_rec *b, bool progress, volatile sig_atomic_t *cancel);

/* True if b's file needs fetching before a restore: it is not complete, or its file is
 * not in the repository. */
bool copies_needs_fetch(const struct settings *set, const struct backup_rec *b);

/*
 * Retention on every remote (only remote name when not NULL) for database db (NULL:
 * all): each remote's own keys, the rules of set where it has none. A removed copy's
 * object goes and its row becomes 'pruned', with an event. report: one line per
 * removal (prefix before it). dry_run: only the lines. Returns 0, or -1 with the first
 * error (the others still run).
 */
int copies_retention(struct catalog *cat, const struct settings *set, const char *db,
                     const char *prefix, bool report, bool dry_run, volatile sig_atomic_t *cancel);

/* The catalog's snapshot to every remote whose last snapshot is older than the catalog's
 * newest event; a remote that fails is a warning. Does nothing without remotes or a
 * catalog. */
void copies_snapshot(const struct settings *set, volatile sig_atomic_t *cancel);

/*
 * import --from: the catalog of an empty repository (no catalog, or one without a single
 * backup) rebuilt from remote from's newest snapshot ("catalog/catalog.db", else the
 * newest "catalog/catalog-STAMP.db"), downloaded as a partial file and checked against
 * the checksum the remote holds.
 */
int copies_restore_catalog(const struct settings *set, const char *from,
                           volatile sig_atomic_t *cancel);

/*
 * Then: every complete backup whose file is not in the repository becomes 'missing' (a
 * restore downloads it from a copy), and each backup object on the remote that the
 * catalog does not know (newer than the snapshot) is downloaded into the repository;
 * *paths (*n) are those files, for import to adopt.
 */
int copies_remote_only(struct catalog *cat, const struct settings *set, const char *from,
                       volatile sig_atomic_t *cancel, char ***paths, size_t *n);

/* Records the adopted files (repository paths) as complete copies on remote from. */
void copies_adopted(struct catalog *cat, const struct settings *set, const char *from,
                    char *const *paths, size_t n);

struct progress;
struct repofile;

/* Streams key into the partial file f through its size and XXH3-128 (progress p may be
 * NULL); the caller compares them and commits or aborts f. */
int copies_get_file(struct remote_handle *h, const char *key, const struct repofile *f,
                    struct progress *p, volatile sig_atomic_t *cancel, uint64_t *size,
                    char sum[33]);

/* Moves the complete copies to the front, keeping their order; returns how many. */
size_t copies_only_complete(struct copy_rec *c, size_t n);

/* list --remote NAME: the copies on that remote (table, --json, --csv). */
int copies_list(const struct options *opt, const struct settings *set);
/* verify --remote NAME [--deep] [BACKUP…]: each copy's size and checksum as the remote
 * reports them (--deep: its bytes streamed back); exit 3 for a damaged or missing copy. */
int copies_verify(const struct options *opt, const struct settings *set);

#endif
