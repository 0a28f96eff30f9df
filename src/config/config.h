#ifndef PGVAULT_CONFIG_H
#define PGVAULT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "config/options.h"

/* Connection parameters; NULL means "let libpq decide" (PG* variables, defaults). */
struct conn_params {
    char *host;
    char *port;
    char *user;
    char *dbname;
    char *password; /* only from DB_PASSWORD, PGPASSWORD or the config file */
    /* the password is the config file's: the user's own passfile (PGPASSFILE or
     * ~/.pgpass) ranks above it, so it is offered only where that file has no entry */
    bool password_below_passfile;
};

/* One remote.NAME section of the config file (an off-site store of copies). Strings
 * owned; NULL unset. The retention keys are -1 where the remote takes the local rule. */
struct remote_settings {
    char *name;
    char *url; /* s3://BUCKET/PREFIX, sftp://USER@HOST[:PORT]/PATH, file:///PATH */
    char *endpoint, *region, *access_key, *secret_key_file; /* S3 */
    char *identity_file, *known_hosts;                      /* SFTP */
    bool path_style;
    long part_size;  /* S3 multipart part size in bytes, -1: the backend's choice */
    long io_timeout; /* SFTP: seconds without an answer before giving up, -1: 120 */
    long retention_days, keep_count, keep_daily, keep_weekly, keep_monthly, min_keep;
    int line; /* where the section starts, for messages */
};

/* Settings after applying the precedence (flags, DB_* variables, libpq's environment, the
 * config file, the defaults). All strings owned. */
struct settings {
    struct conn_params conn;
    char *dir;         /* repository */
    char *catalog;     /* catalog path */
    char *config_file; /* the file that was read, or NULL */
    long retention_days;
    long keep_count;
    const char *compression; /* "gzip", "zstd" or "none" (common/compression.h's name) */
    long level;              /* in that compression's range; 0 for none */
    long jobs;               /* backup: compression threads */
    long restore_jobs;       /* restore: loading sessions */
    long min_keep;
    long keep_daily, keep_weekly, keep_monthly;
    char *pg_bindir; /* where pg_dump/psql come from, NULL = search */
    char *metrics_file;
    char *pre_backup_hook;
    char *post_backup_hook;
    long hook_timeout;
    long lock_wait_timeout;          /* seconds pg_dump waits for a table lock */
    long access_point_interval;      /* bytes of a table's data between its access points */
    struct remote_settings *remotes; /* in the order of the file */
    size_t nremotes;
    /* the mail after a run: to whom ("a@x, b@y"; NULL: none), when, how, from whom */
    char *notify_email;
    bool notify_always; /* notify_on = always (default failure) */
    char *sendmail_path;
    char *notify_from; /* NULL: pgvault@HOST */
    /* the recipients a backup is encrypted to: --encrypt-to, else the file's encrypt_to
     * and the lines of its encrypt_to_file; none: not encrypted */
    char **encrypt_to;
    int n_encrypt_to;
    char *identity_file; /* --identity, else identity_file: the age identities */
};

/* Built-in defaults, the last step of the precedence. */
#define DEFAULT_DIR "backups"
#define DEFAULT_RETENTION_DAYS 7
#define DEFAULT_KEEP_COUNT 10
#define DEFAULT_MIN_KEEP 1
#define DEFAULT_LOCK_WAIT_TIMEOUT 600
#define DEFAULT_ACCESS_POINT_INTERVAL (32L << 20)
#define DEFAULT_SENDMAIL_PATH "/usr/sbin/sendmail -t -oi"
#define DEFAULT_CONFIG_FILE PGVAULT_SYSCONFDIR "/pgvault/pgvault.conf"

/*
 * Resolves settings: flags > DB_HOST/DB_PORT/DB_USER/DB_PASSWORD/DB_NAME/BACKUP_DIR >
 * libpq's PG* variables (left for libpq to read) > config file > defaults.
 * env is an environ-style array (tests pass their own). The config file is opt->config_file,
 * else PGVAULT_CONFIG from env, else DEFAULT_CONFIG_FILE when it exists.
 * Returns 0, or -1 with ERR_USAGE set (bad file, bad value, password file readable by others).
 */
int config_resolve(const struct options *opt, char *const *env, struct settings *out);
void settings_free(struct settings *s);

/* Looks a variable up in an environ-style array; NULL if absent. */
const char *env_get(char *const *env, const char *name);

/*
 * Parses "key = value" lines with '#' comments. Calls fn for each pair; returns 0, or -1
 * with ERR_USAGE set naming the file and line. Values may be double-quoted.
 */
int config_parse_text(const char *text, const char *origin,
                      int (*fn)(void *ctx, const char *key, const char *value, int line),
                      void *ctx);

/*
 * libpq's "options" for every session of ours, pgvault's own connections and its
 * children's alike: the user's PGOPTIONS, then statement_timeout, lock_timeout and
 * idle_in_transaction_session_timeout set to 0 (a startup option outranks a database's
 * or a role's setting, so neither can make a backup or a restore time out).
 */
char *conn_options(void);

/*
 * A libpq connection string for children ("host='…' port='…' dbname='…' options='…'"),
 * quoting every value so that no database name can become an option or another
 * keyword. No password.
 */
char *conn_string(const struct conn_params *cp, const char *dbname);

#endif
