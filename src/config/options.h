#ifndef PGVAULT_OPTIONS_H
#define PGVAULT_OPTIONS_H

#include <stdbool.h>

enum command {
    CMD_NONE = 0,
    CMD_HELP,
    CMD_VERSION,
    CMD_BACKUP,
    CMD_RESTORE,
    CMD_LIST,
    CMD_SHOW,
    CMD_VERIFY,
    CMD_PRUNE,
    CMD_PIN,
    CMD_UNPIN,
    CMD_LOG,
    CMD_QUERY,
    CMD_DIFF,
    CMD_IMPORT,
    CMD_CHECK,
    CMD_EXTRACT,
    CMD_PUSH,
    CMD_TEST_RESTORE,
    CMD_REPORT,
};

/* A repeatable option's values, in the order given. */
#define OPTLIST_MAX 64
struct optlist {
    const char *v[OPTLIST_MAX];
    int n;
};

/* Tri-state for options a user may force either way. */
enum tristate { TRI_AUTO = -1, TRI_OFF = 0, TRI_ON = 1 };

/*
 * Everything the command line said, unresolved: NULL / -1 mean "not given", so that
 * config_resolve() can apply the precedence: flags, the origin's DB_* variables, libpq's
 * environment, the config file, the built-in defaults.
 */
struct options {
    enum command cmd;
    bool help; /* "pgvault COMMAND --help" */

    /* common */
    const char *config_file;
    const char *catalog;
    const char *dir;
    const char *host;
    const char *port;
    const char *user;
    const char *db;
    const char *metrics_file;
    bool quiet;
    bool json;
    bool csv;
    enum tristate progress;

    /* backup */
    long retention_days;     /* -r, -1 unset */
    long keep_count;         /* -c, -1 unset */
    bool no_compress;        /* -n */
    const char *compression; /* --compress, NULL unset */
    long level;              /* -Z, -1 unset, 0 outside every compression's range */
    long jobs;               /* --jobs, -1 unset */
    long lock_wait_timeout;  /* --lock-wait-timeout seconds, -1 unset */
    bool all;                /* --all (backup, verify) */
    const char *label;
    bool no_prune;
    bool with_owners;          /* deprecated, no effect: owners are kept unless no_owner */
    bool no_owner;             /* backup: pg_dump --no-owner; restore: skip ownership statements */
    bool no_privileges;        /* backup: pg_dump --no-privileges; restore: skip GRANT/REVOKE */
    struct optlist encrypt_to; /* --encrypt-to, repeatable */

    /* restore */
    bool force; /* -f */
    bool list;  /* -l / --list */
    const char *target;
    bool in_place;
    bool keep_old;
    struct optlist tables;  /* --table SCHEMA.TABLE: only these tables' rows */
    struct optlist schemas; /* --schema NAME: only the rows of this schema's tables */
    const char *identity;   /* --identity (restore, verify, import) */

    /* list */
    bool all_status;

    /* verify */
    bool deep;

    /* prune */
    long keep_daily;   /* -1 unset */
    long keep_weekly;  /* -1 unset */
    long keep_monthly; /* -1 unset */
    long min_keep;     /* -1 unset */
    bool dry_run;

    /* log */
    const char *since;

    /* report */
    const char *output; /* -o FILE, "-" for stdout */

    /* check */
    long max_age_hours;     /* -1 unset */
    long max_test_age_days; /* -1 unset */

    /* test-restore */
    const char *check_sql;

    /* import */
    bool scan;

    /* remote copies */
    const char *remote; /* --remote NAME (push, list, verify) */
    const char *from;   /* --from NAME (restore, import) */
    bool no_copy;       /* backup --no-copy */

    /* positional arguments after the command (BACKUP ids, SQL, files) */
    char **args;
    int nargs;
};

#endif
