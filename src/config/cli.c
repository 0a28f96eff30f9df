#include "config/cli.h"

#include <getopt.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "common/compression.h"
#include "common/err.h"
#include "common/util.h"

/*
 * One table describes every option: its names, which commands take it, the range of a
 * numeric value and its line in the usage text. The getopt tables of each command, the
 * "not valid for" diagnosis and the usage texts are all derived from it, so they cannot
 * disagree.
 */

/* getopt values of the options without a short form */
enum {
    OPT_CONFIG = 256,
    OPT_CATALOG,
    OPT_HOST,
    OPT_PORT,
    OPT_USER,
    OPT_DB,
    OPT_JSON,
    OPT_CSV,
    OPT_PROGRESS,
    OPT_NO_PROGRESS,
    OPT_METRICS_FILE,
    OPT_ALL,
    OPT_LABEL,
    OPT_NO_PRUNE,
    OPT_WITH_OWNERS,
    OPT_TARGET,
    OPT_IN_PLACE,
    OPT_KEEP_OLD,
    OPT_ALL_STATUS,
    OPT_DEEP,
    OPT_KEEP_DAILY,
    OPT_KEEP_WEEKLY,
    OPT_KEEP_MONTHLY,
    OPT_MIN_KEEP,
    OPT_DRY_RUN,
    OPT_SINCE,
    OPT_MAX_AGE,
    OPT_SCAN,
    OPT_LOCK_WAIT_TIMEOUT,
    OPT_COMPRESS,
    OPT_NO_OWNER,
    OPT_NO_PRIVILEGES,
    OPT_TABLE,
    OPT_SCHEMA,
    OPT_REMOTE,
    OPT_FROM,
    OPT_NO_COPY,
    OPT_CHECK_SQL,
    OPT_MAX_TEST_AGE,
    OPT_ENCRYPT_TO,
    OPT_IDENTITY,
};

#define BIT(c) (1u << (c))
/* "before the command": the options "pgvault [GLOBAL-OPTIONS] COMMAND" accepts */
#define GLOBAL BIT(CMD_NONE)
#define ALL_CMDS                                                                                   \
    (BIT(CMD_BACKUP) | BIT(CMD_RESTORE) | BIT(CMD_LIST) | BIT(CMD_SHOW) | BIT(CMD_VERIFY) |        \
     BIT(CMD_PRUNE) | BIT(CMD_PIN) | BIT(CMD_UNPIN) | BIT(CMD_LOG) | BIT(CMD_QUERY) |              \
     BIT(CMD_DIFF) | BIT(CMD_IMPORT) | BIT(CMD_CHECK) | BIT(CMD_EXTRACT) | BIT(CMD_PUSH) |         \
     BIT(CMD_TEST_RESTORE) | BIT(CMD_REPORT))
#define COMMON (GLOBAL | ALL_CMDS)
/* commands that connect to the server (check and prune only to report pgvault's own
 * leftover databases) */
#define CONNECTS                                                                                   \
    (BIT(CMD_BACKUP) | BIT(CMD_RESTORE) | BIT(CMD_PRUNE) | BIT(CMD_CHECK) | BIT(CMD_TEST_RESTORE))
/* commands that select a database (to back up, restore, list, or that "latest" names) */
#define SELECTS_DB                                                                                 \
    (CONNECTS | BIT(CMD_LIST) | BIT(CMD_SHOW) | BIT(CMD_VERIFY) | BIT(CMD_PRUNE) | BIT(CMD_PIN) |  \
     BIT(CMD_UNPIN) | BIT(CMD_LOG) | BIT(CMD_DIFF) | BIT(CMD_CHECK) | BIT(CMD_EXTRACT) |           \
     BIT(CMD_PUSH) | BIT(CMD_REPORT))
/* commands that write Prometheus metrics */
#define WRITES_METRICS BIT(CMD_BACKUP)
/* commands that print a listing, where --csv makes sense ("restore" only with -l) */
#define LISTINGS                                                                                   \
    (BIT(CMD_LIST) | BIT(CMD_LOG) | BIT(CMD_QUERY) | BIT(CMD_RESTORE) | BIT(CMD_EXTRACT))

/* where an option appears in a command's usage text */
enum group { GRP_MAIN, GRP_CONN, GRP_OTHER };

/* how an option's value is stored in struct options */
enum store {
    ST_NONE,    /* nothing (-V: cli_parse turns it into CMD_VERSION) */
    ST_FLAG,    /* bool set true */
    ST_NUMBER,  /* long, range checked */
    ST_LEVEL,   /* long, 0 outside min..max: its range depends on the compression, which
                   the config file may give, so config_resolve checks it */
    ST_STRING,  /* const char *, the argument itself */
    ST_TRI_ON,  /* enum tristate set TRI_ON */
    ST_TRI_OFF, /* enum tristate set TRI_OFF */
    ST_LIST,    /* struct optlist: one more value (repeatable) */
};

/* The offset of field f of struct options, which must have type t (checked at compile
 * time: _Generic has no match otherwise). */
#define FIELD(f, t)                                                                                \
    (offsetof(struct options, f) + 0 * sizeof(_Generic(((struct options *)0)->f, t : 1)))
#define FLAG(f) ST_FLAG, FIELD(f, bool)
#define NUMBER(f) ST_NUMBER, FIELD(f, long)
#define LEVEL(f) ST_LEVEL, FIELD(f, long)
#define STRING(f) ST_STRING, FIELD(f, const char *)
#define LIST(f) ST_LIST, FIELD(f, struct optlist)
#define TRI(on_off, f) ST_TRI_##on_off, FIELD(f, enum tristate)
#define NOWHERE ST_NONE, 0

struct optdef {
    int val;          /* the short option character, or an OPT_* value */
    const char *name; /* long name */
    const char *arg;  /* value placeholder; NULL for a flag */
    unsigned cmds;    /* BIT(command) for every command that takes it */
    long min, max;    /* range of a numeric value; min == max == 0 for others */
    enum group group;
    enum store store; /* how and where (off, in struct options) its value goes */
    size_t off;
    const char *help;
};

static const struct optdef optdefs[] = {
    {'d', "dir", "DIR", COMMON, 0, 0, GRP_MAIN, STRING(dir),
     "backup directory (default \"backups\")"},
    /* backup, prune */
    {'r', "retention-days", "DAYS", BIT(CMD_BACKUP) | BIT(CMD_PRUNE), 0, 36500, GRP_MAIN,
     NUMBER(retention_days), "remove backups older than DAYS days (default 7)"},
    {'c', "count", "COUNT", BIT(CMD_BACKUP) | BIT(CMD_PRUNE), 0, 1000000, GRP_MAIN,
     NUMBER(keep_count), "keep only the newest COUNT backups (default 10)"},
    /* backup */
    {OPT_COMPRESS, "compress", "METHOD", BIT(CMD_BACKUP), 0, 0, GRP_MAIN, STRING(compression),
     "gzip (the default), zstd or none"},
    {'n', "no-compress", NULL, BIT(CMD_BACKUP), 0, 0, GRP_MAIN, FLAG(no_compress),
     "write plain SQL (.sql): --compress none"},
    {'Z', "compress-level", "LEVEL", BIT(CMD_BACKUP), 1, 19, GRP_MAIN, LEVEL(level),
     "gzip 1..9 (default 6), zstd 1..19 (default 3)"},
    {'j', "jobs", "N", BIT(CMD_BACKUP) | BIT(CMD_RESTORE) | BIT(CMD_TEST_RESTORE), 1, 256, GRP_MAIN,
     NUMBER(jobs), "compress with N threads, or load with N sessions"},
    {OPT_ALL, "all", NULL,
     BIT(CMD_BACKUP) | BIT(CMD_VERIFY) | BIT(CMD_PUSH) | BIT(CMD_TEST_RESTORE), 0, 0, GRP_MAIN,
     FLAG(all), "back up every database and the cluster's globals"},
    {OPT_LABEL, "label", "TEXT", BIT(CMD_BACKUP), 0, 0, GRP_MAIN, STRING(label),
     "attach a label to the backup"},
    {OPT_NO_PRUNE, "no-prune", NULL, BIT(CMD_BACKUP), 0, 0, GRP_MAIN, FLAG(no_prune),
     "do not apply retention after the backup"},
    {OPT_WITH_OWNERS, "with-owners", NULL, BIT(CMD_BACKUP), 0, 0, GRP_MAIN, FLAG(with_owners),
     "deprecated, no effect (owners are kept)"},
    {OPT_NO_OWNER, "no-owner", NULL, BIT(CMD_BACKUP) | BIT(CMD_RESTORE), 0, 0, GRP_MAIN,
     FLAG(no_owner), "leave out who owns each object (pg_dump's flag)"},
    {OPT_NO_PRIVILEGES, "no-privileges", NULL, BIT(CMD_BACKUP) | BIT(CMD_RESTORE), 0, 0, GRP_MAIN,
     FLAG(no_privileges), "leave out GRANT and REVOKE (pg_dump's flag)"},
    {OPT_LOCK_WAIT_TIMEOUT, "lock-wait-timeout", "SECONDS", BIT(CMD_BACKUP), 1, 86400, GRP_MAIN,
     NUMBER(lock_wait_timeout), "wait at most SECONDS for table locks (default 600)"},
    {OPT_NO_COPY, "no-copy", NULL, BIT(CMD_BACKUP), 0, 0, GRP_MAIN, FLAG(no_copy),
     "do not copy the backup to the remotes"},
    /* remote copies */
    {OPT_REMOTE, "remote", "NAME", BIT(CMD_PUSH) | BIT(CMD_LIST) | BIT(CMD_VERIFY), 0, 0, GRP_MAIN,
     STRING(remote), "only the copies on remote NAME (remote.NAME.url)"},
    {OPT_FROM, "from", "NAME", BIT(CMD_RESTORE) | BIT(CMD_IMPORT), 0, 0, GRP_MAIN, STRING(from),
     "download the backup from remote NAME first"},
    {OPT_ENCRYPT_TO, "encrypt-to", "RECIPIENT", BIT(CMD_BACKUP), 0, 0, GRP_MAIN, LIST(encrypt_to),
     "encrypt to an age1... or OpenPGP key (repeatable)"},
    {OPT_IDENTITY, "identity", "FILE",
     BIT(CMD_RESTORE) | BIT(CMD_VERIFY) | BIT(CMD_IMPORT) | BIT(CMD_TEST_RESTORE) |
         BIT(CMD_EXTRACT),
     0, 0, GRP_MAIN, STRING(identity), "decrypt with the age identities in FILE"},
    /* restore */
    {'f', "force", NULL, BIT(CMD_RESTORE), 0, 0, GRP_MAIN, FLAG(force),
     "do not ask for confirmation"},
    {OPT_TARGET, "target", "NAME", BIT(CMD_RESTORE), 0, 0, GRP_MAIN, STRING(target),
     "restore into NAME, leaving the original alone"},
    {OPT_IN_PLACE, "in-place", NULL, BIT(CMD_RESTORE), 0, 0, GRP_MAIN, FLAG(in_place),
     "drop and recreate instead of a safe swap"},
    {OPT_KEEP_OLD, "keep-old", NULL, BIT(CMD_RESTORE), 0, 0, GRP_MAIN, FLAG(keep_old),
     "keep the replaced database instead of dropping it"},
    {OPT_TABLE, "table", "SCHEMA.TABLE", BIT(CMD_RESTORE) | BIT(CMD_EXTRACT), 0, 0, GRP_MAIN,
     LIST(tables), "only this table's rows (repeatable; with --target)"},
    {OPT_SCHEMA, "schema", "NAME", BIT(CMD_RESTORE), 0, 0, GRP_MAIN, LIST(schemas),
     "only its tables' rows (repeatable; with --target)"},
    {'l', "list", NULL, BIT(CMD_RESTORE), 0, 0, GRP_MAIN, FLAG(list),
     "list the backups instead (same as \"pgvault list\")"},
    /* list */
    {OPT_ALL_STATUS, "all-status", NULL, BIT(CMD_LIST), 0, 0, GRP_MAIN, FLAG(all_status),
     "include failed, pruned and missing backups"},
    /* verify */
    {OPT_DEEP, "deep", NULL, BIT(CMD_VERIFY), 0, 0, GRP_MAIN, FLAG(deep),
     "also decompress and check the raw checksum"},
    /* prune */
    {OPT_KEEP_DAILY, "keep-daily", "N", BIT(CMD_PRUNE), 0, 100000, GRP_MAIN, NUMBER(keep_daily),
     "keep the newest of each of the last N days"},
    {OPT_KEEP_WEEKLY, "keep-weekly", "N", BIT(CMD_PRUNE), 0, 100000, GRP_MAIN, NUMBER(keep_weekly),
     "keep the newest of each of the last N weeks"},
    {OPT_KEEP_MONTHLY, "keep-monthly", "N", BIT(CMD_PRUNE), 0, 100000, GRP_MAIN,
     NUMBER(keep_monthly), "keep the newest of each of the last N months"},
    {OPT_MIN_KEEP, "min-keep", "N", BIT(CMD_PRUNE), 0, 1000000, GRP_MAIN, NUMBER(min_keep),
     "always keep the newest N backups (default 1)"},
    {OPT_DRY_RUN, "dry-run", NULL, BIT(CMD_PRUNE), 0, 0, GRP_MAIN, FLAG(dry_run),
     "print the plan and its reasons; change nothing"},
    /* log */
    {OPT_SINCE, "since", "WHEN", BIT(CMD_LOG) | BIT(CMD_REPORT), 0, 0, GRP_MAIN, STRING(since),
     "only events since WHEN"},
    /* report */
    {'o', "output", "FILE", BIT(CMD_REPORT), 0, 0, GRP_MAIN, STRING(output),
     "write the HTML page to FILE (\"-\": standard output, the default)"},
    /* check */
    {OPT_MAX_AGE, "max-age", "HOURS", BIT(CMD_CHECK), 1, 876000, GRP_MAIN, NUMBER(max_age_hours),
     "critical if no complete backup in HOURS hours"},
    {OPT_MAX_TEST_AGE, "max-test-age", "DAYS", BIT(CMD_CHECK), 1, 36500, GRP_MAIN,
     NUMBER(max_test_age_days), "warn if no backup was test-restored in DAYS days"},
    /* test-restore */
    {OPT_CHECK_SQL, "check-sql", "FILE", BIT(CMD_TEST_RESTORE), 0, 0, GRP_MAIN, STRING(check_sql),
     "statements that must each return true"},
    /* import */
    {OPT_SCAN, "scan", NULL, BIT(CMD_IMPORT), 0, 0, GRP_MAIN, FLAG(scan),
     "adopt every dump not yet in the catalog"},
    /* common */
    {OPT_DB, "db", "NAME", GLOBAL | SELECTS_DB, 0, 0, GRP_MAIN, STRING(db),
     "database name (default: libpq's)"},
    {OPT_HOST, "host", "HOST", GLOBAL | CONNECTS, 0, 0, GRP_CONN, STRING(host),
     "database server host or socket directory"},
    {OPT_PORT, "port", "PORT", GLOBAL | CONNECTS, 0, 0, GRP_CONN, STRING(port),
     "database server port"},
    {OPT_USER, "user", "NAME", GLOBAL | CONNECTS, 0, 0, GRP_CONN, STRING(user),
     "connect as this database user"},
    {OPT_CONFIG, "config", "FILE", COMMON, 0, 0, GRP_OTHER, STRING(config_file),
     "settings file (default " DEFAULT_CONFIG_FILE ")"},
    {OPT_CATALOG, "catalog", "PATH", COMMON, 0, 0, GRP_OTHER, STRING(catalog),
     "catalog file (default DIR/catalog.db)"},
    {'q', "quiet", NULL, COMMON, 0, 0, GRP_OTHER, FLAG(quiet), "print only warnings and errors"},
    {OPT_JSON, "json", NULL, COMMON, 0, 0, GRP_OTHER, FLAG(json),
     "print one JSON document on stdout"},
    {OPT_CSV, "csv", NULL, GLOBAL | LISTINGS, 0, 0, GRP_OTHER, FLAG(csv), "print CSV on stdout"},
    {OPT_PROGRESS, "progress", NULL, COMMON, 0, 0, GRP_OTHER, TRI(ON, progress),
     "show a progress line (default: only on a TTY)"},
    {OPT_NO_PROGRESS, "no-progress", NULL, COMMON, 0, 0, GRP_OTHER, TRI(OFF, progress),
     "never show a progress line"},
    {OPT_METRICS_FILE, "metrics-file", "PATH", GLOBAL | WRITES_METRICS, 0, 0, GRP_OTHER,
     STRING(metrics_file), "write Prometheus textfile metrics to PATH"},
    {'V', "version", NULL, GLOBAL, 0, 0, GRP_OTHER, NOWHERE, "print the version, then exit"},
    {'h', "help", NULL, COMMON, 0, 0, GRP_OTHER, FLAG(help), "show this help, then exit"},
};

#define NOPTDEFS (sizeof(optdefs) / sizeof(optdefs[0]))

/* Texts that differ by command. */
static const struct {
    enum command cmd;
    int val;
    const char *help;
} help_overrides[] = {
    {CMD_BACKUP, OPT_DB, "database to back up (default: libpq's)"},
    {CMD_VERIFY, OPT_ALL, "verify every backup in the catalog"},
    {CMD_TEST_RESTORE, OPT_ALL, "test the latest backup of every database"},
    {CMD_LIST, OPT_DB, "list only the backups of database NAME"},
    {CMD_PRUNE, OPT_DB, "apply retention to database NAME only"},
    {CMD_CHECK, OPT_DB, "check database NAME only"},
    {CMD_TEST_RESTORE, OPT_DB, "database that \"latest\" refers to"},
    {CMD_LOG, OPT_DB, "only events of database NAME's backups"},
    {CMD_REPORT, OPT_DB, "report on database NAME only"},
    {CMD_REPORT, OPT_SINCE, "only backups since WHEN (default: all)"},
    {CMD_RESTORE, OPT_DB, "database that \"latest\" refers to"},
    {CMD_SHOW, OPT_DB, "database that \"latest\" refers to"},
    {CMD_VERIFY, OPT_DB, "database that \"latest\" refers to"},
    {CMD_PIN, OPT_DB, "database that \"latest\" refers to"},
    {CMD_UNPIN, OPT_DB, "database that \"latest\" refers to"},
    {CMD_DIFF, OPT_DB, "database that \"latest\" refers to"},
    {CMD_EXTRACT, OPT_DB, "database that \"latest\" refers to"},
    {CMD_EXTRACT, OPT_TABLE, "the table whose rows to write (one)"},
    {CMD_EXTRACT, OPT_CSV, "write CSV with a header line instead of COPY text"},
    {CMD_IMPORT, OPT_FROM, "rebuild the catalog from remote NAME's snapshot"},
    {CMD_PUSH, OPT_ALL, "every backup the remote lacks (the default)"},
    {CMD_PUSH, OPT_DB, "only the backups of database NAME"},
    {CMD_LIST, OPT_REMOTE, "list the copies on remote NAME instead"},
    {CMD_VERIFY, OPT_REMOTE, "check the copies on remote NAME instead"},
    {CMD_NONE, OPT_CSV, "print CSV on stdout (list, log, query, restore -l)"},
    {CMD_RESTORE, OPT_CSV, "print CSV on stdout (with -l)"},
    {CMD_RESTORE, OPT_NO_OWNER, "skip ownership statements (ALTER ... OWNER TO)"},
    {CMD_RESTORE, OPT_NO_PRIVILEGES, "skip privilege statements (GRANT, REVOKE)"},
};

static const struct {
    const char *name;
    enum command cmd;
    const char *synopsis; /* after "pgvault NAME "; lines separated by '\n' */
    const char *summary;  /* for the overview */
    const char *about;    /* for the command's usage */
} commands[] = {
    {"backup", CMD_BACKUP, "[OPTION]... [--db NAME | --all]", "back up a database",
     "Dumps a database with pg_dump, compresses it, records it in the catalog\n"
     "and then applies retention."},
    {"restore", CMD_RESTORE, "[OPTION]... BACKUP\n-l [OPTION]...", "restore a backup",
     "Checks a backup's checksum, loads it into a fresh database, checks the row\n"
     "counts against the catalog, and only then replaces the old database."},
    {"list", CMD_LIST, "[OPTION]...", "list backups", "Lists the backups recorded in the catalog."},
    {"show", CMD_SHOW, "[OPTION]... BACKUP", "show one backup in detail",
     "Shows one backup in detail, with its tables and row counts."},
    {"verify", CMD_VERIFY, "[OPTION]... BACKUP...\n[OPTION]... --all",
     "check backup files against the catalog",
     "Recomputes the checksum of backup files and compares it with the catalog."},
    {"prune", CMD_PRUNE, "[OPTION]...", "apply retention",
     "Removes the backups that the retention rules no longer keep. Pinned backups\n"
     "are never removed; a removed backup stays in the catalog as \"pruned\"."},
    {"pin", CMD_PIN, "[OPTION]... BACKUP", "protect a backup from retention",
     "Protects a backup from retention."},
    {"unpin", CMD_UNPIN, "[OPTION]... BACKUP", "remove that protection",
     "Removes the protection that \"pgvault pin\" gave a backup."},
    {"log", CMD_LOG, "[OPTION]...", "show the audit trail",
     "Shows the audit trail: every backup, restore, verify, prune, pin, unpin,\n"
     "import and crash recovery (recover)."},
    {"query", CMD_QUERY, "[OPTION]... SQL", "run read-only SQL on the catalog",
     "Runs one read-only SQL statement against the catalog."},
    {"diff", CMD_DIFF, "[OPTION]... BACKUP BACKUP", "compare two backups",
     "Compares two backups: tables added or dropped, and row count changes."},
    {"import", CMD_IMPORT, "[OPTION]... FILE...\n[OPTION]... --scan", "adopt existing dump files",
     "Adopts existing dump files into the catalog; with --scan, every dump in the\n"
     "directory (which rebuilds a lost catalog)."},
    {"extract", CMD_EXTRACT, "[OPTION]... BACKUP --table SCHEMA.TABLE",
     "write one table's rows from a backup",
     "Writes the rows of one table of a backup to stdout, in COPY text format or\n"
     "as CSV, without a database. The whole file is read and its checksum checked."},
    {"push", CMD_PUSH, "[OPTION]... [BACKUP]...", "copy backups to the remotes",
     "Copies to every remote (or --remote NAME) each complete backup it lacks:\n"
     "never copied, or whose copy failed or went missing. Running it again is harmless."},
    {"check", CMD_CHECK, "[OPTION]...", "check for monitoring (Nagios)",
     "Prints one Nagios-style line about the newest backups and exits 0 OK,\n"
     "1 WARNING or 2 CRITICAL: newest complete backup older than --max-age, last\n"
     "run failed, suspect size, missing file, no test restore within\n"
     "--max-test-age; 3 UNKNOWN for bad arguments."},
    {"test-restore", CMD_TEST_RESTORE, "[OPTION]... [BACKUP]\n[OPTION]... --all",
     "prove that a backup restores",
     "Restores a backup (default: latest) into a scratch database through the\n"
     "normal restore path (checksum, load, row counts), runs the --check-sql\n"
     "statements on it, then drops it and records the test in the catalog."},
    {"report", CMD_REPORT, "[OPTION]... [-o FILE]", "write an HTML report of the backups",
     "Writes one self-contained HTML page about the backups of each database: sizes\n"
     "and durations over time, a status timeline, the tables that moved, and the\n"
     "retention rule that keeps each backup."},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* Parsing state: the first usage error is kept, and reported only if no help was asked. */
struct parse {
    struct options *opt;
    enum command cmd; /* the command being parsed, CMD_NONE before it */
    bool failed;
    enum command err_cmd; /* the command the error's hint names */
    char msg[512];
    bool seen[NOPTDEFS]; /* seen[i]: optdefs[i] was given, before or after the command */
};

static void usage_error(struct parse *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void usage_error(struct parse *p, const char *fmt, ...)
{
    if (p->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->msg, sizeof(p->msg), fmt, ap);
    va_end(ap);
    p->failed = true;
    p->err_cmd = p->cmd;
}

static int command_index(enum command cmd)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (commands[i].cmd == cmd)
            return (int)i;
    return -1;
}

const char *cli_command_name(enum command cmd)
{
    int i = command_index(cmd);
    return i < 0 ? "pgvault" : commands[i].name;
}

static const struct optdef *find_by_val(int val)
{
    for (size_t i = 0; i < NOPTDEFS; i++)
        if (optdefs[i].val == val)
            return &optdefs[i];
    return NULL;
}

static const struct optdef *find_by_name(const char *name, size_t len)
{
    for (size_t i = 0; i < NOPTDEFS; i++)
        if (strlen(optdefs[i].name) == len && strncmp(optdefs[i].name, name, len) == 0)
            return &optdefs[i];
    return NULL;
}

static bool takes(const struct optdef *d, enum command cmd)
{
    return (d->cmds & BIT(cmd)) != 0;
}

/* "-Z/--compress-level" or "--label": how messages name an option */
static const char *display_name(const struct optdef *d, char *buf, size_t size)
{
    if (d->val < 256)
        snprintf(buf, size, "-%c/--%s", d->val, d->name);
    else
        snprintf(buf, size, "--%s", d->name);
    return buf;
}

/* The getopt tables for one command (CMD_NONE: the options before the command). */
struct getopt_tables {
    char shorts[64];
    struct option longs[NOPTDEFS + 1];
};

static void build_tables(enum command cmd, struct getopt_tables *t)
{
    size_t ns = 0, nl = 0;
    /* '+' before the command: stop at the command word; ':' reports a missing value */
    if (cmd == CMD_NONE)
        t->shorts[ns++] = '+';
    t->shorts[ns++] = ':';
    for (size_t i = 0; i < NOPTDEFS; i++) {
        const struct optdef *d = &optdefs[i];
        if (!takes(d, cmd))
            continue;
        if (d->val < 256) {
            t->shorts[ns++] = (char)d->val;
            if (d->arg)
                t->shorts[ns++] = ':';
        }
        t->longs[nl++] =
            (struct option){d->name, d->arg ? required_argument : no_argument, NULL, d->val};
    }
    t->shorts[ns] = '\0';
    t->longs[nl] = (struct option){NULL, 0, NULL, 0};
}

/* True if s is an optional '-' followed by decimal digits and nothing else. */
static bool integer_syntax(const char *s)
{
    if (*s == '-')
        s++;
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static void set_number(struct parse *p, const struct optdef *d, const char *arg, long *out)
{
    char name[64];
    long v;
    display_name(d, name, sizeof(name));
    if (!integer_syntax(arg))
        usage_error(p, "invalid value \"%s\" for %s", arg, name);
    else if (parse_int(arg, d->min, d->max, &v) == 0)
        *out = v;
    else if (d->store == ST_LEVEL)
        *out = 0;
    else
        usage_error(p, "%s must be in range %ld..%ld", name, d->min, d->max);
}

static void set_string(struct parse *p, const struct optdef *d, const char *arg, const char **out)
{
    char name[64];
    /* an empty directory, database or file name is a mistake; an empty label is not */
    if (!*arg && d->val != OPT_LABEL)
        usage_error(p, "option %s requires a value", display_name(d, name, sizeof(name)));
    else
        *out = arg;
}

static void add_to_list(struct parse *p, const struct optdef *d, const char *arg, struct optlist *l)
{
    char name[64];
    if (l->n == OPTLIST_MAX)
        usage_error(p, "option %s is given more than %d times", display_name(d, name, sizeof(name)),
                    OPTLIST_MAX);
    else if (!*arg)
        usage_error(p, "option %s requires a value", display_name(d, name, sizeof(name)));
    else
        l->v[l->n++] = arg;
}

/* Stores one recognized option where its definition says. */
static void apply_option(struct parse *p, const struct optdef *d, const char *arg)
{
    char *field = (char *)p->opt + d->off;
    switch (d->store) {
    case ST_FLAG:
        *(bool *)field = true;
        break;
    case ST_NUMBER:
    case ST_LEVEL:
        set_number(p, d, arg, (long *)field);
        break;
    case ST_STRING:
        set_string(p, d, arg, (const char **)field);
        break;
    case ST_LIST:
        add_to_list(p, d, arg, (struct optlist *)field);
        break;
    case ST_TRI_ON:
        *(enum tristate *)field = TRI_ON;
        break;
    case ST_TRI_OFF:
        *(enum tristate *)field = TRI_OFF;
        break;
    case ST_NONE:
        break;
    }
}

/*
 * Explains an option getopt rejected: unknown, another command's, ambiguous, or a flag
 * given a value. getopt leaves optopt 0 for an unknown long option (argv[optind - 1]
 * is then that argument), the option's value for a long flag given "=value", and the
 * character for an unknown short option.
 */
static void bad_option(struct parse *p, int opt_char, const char *arg,
                       const struct getopt_tables *t)
{
    const struct optdef *d = find_by_val(opt_char);
    char shown[64];

    if (opt_char != 0 && d && takes(d, p->cmd)) {
        usage_error(p, "option --%s does not take a value", d->name);
        return;
    }
    if (opt_char != 0) {
        snprintf(shown, sizeof(shown), "-%c", opt_char);
    } else {
        /* "--name=value" is shown as "--name" */
        const char *name = arg && strncmp(arg, "--", 2) == 0 ? arg + 2 : "";
        size_t len = strcspn(name, "=");
        snprintf(shown, sizeof(shown), "--%.*s", (int)len, name);
        int matches = 0;
        for (const struct option *lo = t->longs; lo->name; lo++)
            if (len > 0 && strncmp(lo->name, name, len) == 0)
                matches++;
        if (matches > 1) {
            usage_error(p, "option \"%s\" is ambiguous", shown);
            return;
        }
        d = find_by_name(name, len);
    }

    if (!d)
        usage_error(p, "unrecognized option \"%s\"", shown);
    else if (p->cmd == CMD_NONE)
        usage_error(p, "option \"%s\" must follow the command", shown);
    else
        usage_error(p, "option \"%s\" is not valid for \"%s\"", shown, cli_command_name(p->cmd));
}

/*
 * Runs getopt_long over argv[0..argc) (argv[0] being the program or command name) with
 * the tables of p->cmd. Returns optind, the index of the first argument not consumed.
 * Sets *version when -V/--version was given.
 */
static int parse_options(struct parse *p, int argc, char **argv, bool *version)
{
    struct getopt_tables t;
    build_tables(p->cmd, &t);

    optind = 0; /* full reinitialization, so that cli_parse can be called again */
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, t.shorts, t.longs, NULL)) != -1) {
        if (c == '?') {
            bad_option(p, optopt, optind > 0 && optind <= argc ? argv[optind - 1] : NULL, &t);
            continue;
        }
        if (c == ':') {
            const struct optdef *d = find_by_val(optopt);
            char name[64];
            if (d)
                usage_error(p, "option %s requires a value", display_name(d, name, sizeof(name)));
            else
                usage_error(p, "option requires a value");
            continue;
        }
        const struct optdef *d = find_by_val(c);
        if (!d)
            continue;
        p->seen[d - optdefs] = true;
        if (c == 'V')
            *version = true;
        apply_option(p, d, optarg);
    }
    return optind;
}

static enum command lookup_command(const char *word)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, word) == 0)
            return commands[i].cmd;
    return CMD_NONE;
}

/* Exactly n positional arguments; what names a missing one ("no backup given"). */
static void want_args(struct parse *p, int n, const char *what)
{
    const struct options *o = p->opt;
    if (o->nargs < n)
        usage_error(p, "no %s given", what ? what : "argument");
    else if (o->nargs > n)
        usage_error(p, "too many command-line arguments (first is \"%s\")", o->args[n]);
}

static void conflict(struct parse *p, const char *a, const char *b)
{
    usage_error(p, "options %s and %s cannot be used together", a, b);
}

/* backup's --compress names a compression; -n is --compress none, which takes no -Z (the
 * level's range, which depends on the compression, config_resolve checks). */
static void validate_compression(struct parse *p)
{
    const struct options *o = p->opt;
    bool none = o->compression && strcmp(o->compression, "none") == 0;
    if (o->compression && !compression_find(o->compression))
        usage_error(p, "invalid value \"%s\" for --compress (%s)", o->compression,
                    compression_names);
    if (o->no_compress && o->compression && !none)
        conflict(p, "-n/--no-compress", "--compress");
    if (o->no_compress && o->level != -1)
        conflict(p, "-n/--no-compress", "-Z/--compress-level");
    if (none && o->level != -1)
        conflict(p, "--compress none", "-Z/--compress-level");
}

/* The checks that need the whole command line: conflicts and positional arguments. */
static void validate(struct parse *p)
{
    struct options *o = p->opt;

    if (o->json && o->csv)
        conflict(p, "--json", "--csv");
    /* an option given before the command that the command does not use */
    for (size_t i = 0; i < NOPTDEFS; i++)
        if (p->seen[i] && optdefs[i].val != 'V' && !takes(&optdefs[i], o->cmd))
            usage_error(p, "option \"--%s\" is not valid for \"%s\"", optdefs[i].name,
                        cli_command_name(o->cmd));

    switch (o->cmd) {
    case CMD_BACKUP:
        validate_compression(p);
        if (o->all && o->db)
            conflict(p, "--all", "--db");
        want_args(p, 0, NULL);
        break;
    case CMD_RESTORE:
        if (o->list) {
            if (o->force)
                conflict(p, "-l/--list", "-f/--force");
            if (o->target)
                conflict(p, "-l/--list", "--target");
            if (o->in_place)
                conflict(p, "-l/--list", "--in-place");
            if (o->keep_old)
                conflict(p, "-l/--list", "--keep-old");
            if (o->tables.n || o->schemas.n)
                conflict(p, "-l/--list", o->tables.n ? "--table" : "--schema");
            want_args(p, 0, NULL);
            break;
        }
        if (o->csv)
            usage_error(p, "option \"--csv\" requires -l/--list");
        if (o->in_place && o->target)
            conflict(p, "--in-place", "--target");
        if (o->in_place && o->keep_old)
            conflict(p, "--in-place", "--keep-old");
        if ((o->tables.n || o->schemas.n) && !o->target)
            usage_error(p, "option %s needs --target: a partial restore never replaces a database",
                        o->tables.n ? "--table" : "--schema");
        want_args(p, 1, "backup");
        break;
    case CMD_EXTRACT:
        if (o->tables.n != 1)
            usage_error(p, "extract needs exactly one --table, %d given", o->tables.n);
        else
            want_args(p, 1, "backup");
        break;
    case CMD_TEST_RESTORE:
        if (o->all && o->nargs > 0)
            usage_error(p, "option --all cannot be used with a backup name");
        else if (o->all && o->db)
            conflict(p, "--all", "--db");
        else if (o->all && o->check_sql)
            conflict(p, "--all", "--check-sql");
        else if (o->nargs > 1)
            want_args(p, 1, "backup");
        break;
    case CMD_SHOW:
    case CMD_PIN:
    case CMD_UNPIN:
        want_args(p, 1, "backup");
        break;
    case CMD_VERIFY:
        if (o->all && o->nargs > 0)
            usage_error(p, "option --all cannot be used with a backup name");
        else if (!o->all && o->nargs == 0 && !o->remote)
            usage_error(p, "no backup given; name one or more, or use --all");
        break;
    case CMD_QUERY:
        want_args(p, 1, "SQL statement");
        break;
    case CMD_DIFF:
        if (o->nargs < 2)
            usage_error(p, "two backups needed, %d given", o->nargs);
        else
            want_args(p, 2, NULL);
        break;
    case CMD_PUSH:
        if (o->all && o->nargs > 0)
            usage_error(p, "option --all cannot be used with a backup name");
        break;
    case CMD_IMPORT:
        if (o->from && (o->scan || o->nargs > 0))
            usage_error(p, "option --from cannot be used with --scan or a file name");
        else if (o->scan && o->nargs > 0)
            usage_error(p, "option --scan cannot be used with a file name");
        else if (!o->from && !o->scan && o->nargs == 0)
            usage_error(p, "no file given; name one or more, or use --scan");
        break;
    case CMD_LIST:
    case CMD_PRUNE:
    case CMD_LOG:
    case CMD_CHECK:
    case CMD_REPORT:
        want_args(p, 0, NULL);
        break;
    default:
        break;
    }
}

static void reset_options(struct options *o)
{
    *o = (struct options){0};
    o->cmd = CMD_NONE;
    o->progress = TRI_AUTO;
    o->retention_days = -1;
    o->keep_count = -1;
    o->level = -1;
    o->jobs = -1;
    o->lock_wait_timeout = -1;
    o->keep_daily = -1;
    o->keep_weekly = -1;
    o->keep_monthly = -1;
    o->min_keep = -1;
    o->max_age_hours = -1;
    o->max_test_age_days = -1;
    o->args = NULL;
    o->nargs = 0;
}

int cli_parse(int argc, char **argv, struct options *opt)
{
    struct parse p = {.opt = opt, .cmd = CMD_NONE};
    bool version = false;
    reset_options(opt);

    /* 1. The options before the command */
    int i = argc > 0 ? parse_options(&p, argc, argv, &version) : argc;

    /* 2. "--version" and "--help" before any command word */
    if (version && !p.failed) {
        opt->cmd = CMD_VERSION;
        return 0;
    }
    bool global_help = opt->help;
    if (i < argc && strcmp(argv[i], "help") == 0) {
        global_help = true;
        i++;
    }
    if (i >= argc) {
        if (global_help) {
            opt->cmd = CMD_HELP;
            opt->help = false;
            return 0;
        }
        usage_error(&p, "no command given");
        goto fail;
    }

    /* 3. The command word */
    enum command cmd = lookup_command(argv[i]);
    if (cmd == CMD_NONE) {
        usage_error(&p, "unknown command \"%s\"", argv[i]);
        goto fail;
    }
    opt->cmd = p.cmd = cmd;

    /* 4. Its options, global ones included, and its positional arguments */
    int sub_argc = argc - i;
    char **sub_argv = argv + i;
    int first = parse_options(&p, sub_argc, sub_argv, &version);
    opt->args = sub_argv + first;
    opt->nargs = sub_argc - first;
    if (global_help || opt->help) {
        /* help asked: nothing else matters */
        opt->help = true;
        return 0;
    }

    /* 5. Conflicts and positional arguments */
    validate(&p);
    if (p.failed)
        goto fail;

    /* "restore -l" is "list" */
    if (opt->cmd == CMD_RESTORE && opt->list)
        opt->cmd = CMD_LIST;
    return 0;

fail:
    err_set(ERR_USAGE, "%s", p.msg);
    if (p.err_cmd != CMD_NONE)
        err_hint("Try \"pgvault %s --help\" for more information.", cli_command_name(p.err_cmd));
    else
        err_hint("Try \"pgvault --help\" for more information.");
    return -1;
}

/* --- usage texts --- */

static const char *help_text(const struct optdef *d, enum command cmd)
{
    for (size_t i = 0; i < sizeof(help_overrides) / sizeof(help_overrides[0]); i++)
        if (help_overrides[i].cmd == cmd && help_overrides[i].val == d->val)
            return help_overrides[i].help;
    return d->help;
}

/* One option line in the style of pg_dump --help. */
static void print_option(const struct optdef *d, enum command cmd, FILE *out)
{
    char left[64];
    if (d->val < 256)
        snprintf(left, sizeof(left), "  -%c, --%s%s%s", d->val, d->name, d->arg ? "=" : "",
                 d->arg ? d->arg : "");
    else
        snprintf(left, sizeof(left), "  --%s%s%s", d->name, d->arg ? "=" : "",
                 d->arg ? d->arg : "");
    if (strlen(left) < 29)
        fprintf(out, "%-29s %s\n", left, help_text(d, cmd));
    else
        fprintf(out, "%s\n%-29s %s\n", left, "", help_text(d, cmd));
}

/* The options of group g that cmd takes, under title; nothing when it takes none. */
static void print_group(enum command cmd, enum group g, const char *title, FILE *out)
{
    bool titled = false;
    for (size_t i = 0; i < NOPTDEFS; i++) {
        if (optdefs[i].group != g || !takes(&optdefs[i], cmd))
            continue;
        if (!titled)
            fprintf(out, "\n%s\n", title);
        titled = true;
        print_option(&optdefs[i], cmd, out);
    }
}

static void print_overview(FILE *out)
{
    fputs("pgvault makes logical backups of PostgreSQL databases with pg_dump, checks\n"
          "them, keeps a catalog of them and restores them safely.\n"
          "\n"
          "Usage:\n"
          "  pgvault [OPTION]... COMMAND [OPTION]... [ARG]...\n"
          "\n"
          "Commands:\n",
          out);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);

    fputs("\nOptions for every command (before or after it):\n", out);
    for (size_t i = 0; i < NOPTDEFS; i++)
        if (takes(&optdefs[i], CMD_NONE) &&
            ((optdefs[i].cmds & ALL_CMDS) == ALL_CMDS || optdefs[i].val == 'V'))
            print_option(&optdefs[i], CMD_NONE, out);
    fputs("\nOptions for some commands (before or after it; see \"pgvault COMMAND --help\"):\n",
          out);
    for (size_t i = 0; i < NOPTDEFS; i++)
        if (takes(&optdefs[i], CMD_NONE) && (optdefs[i].cmds & ALL_CMDS) != ALL_CMDS &&
            optdefs[i].val != 'V')
            print_option(&optdefs[i], CMD_NONE, out);

    fputs("\n"
          "Environment (command-line options take precedence):\n"
          "  DB_HOST, DB_PORT, DB_USER   connection, like --host, --port, --user\n"
          "  DB_NAME                     database, like --db\n"
          "  DB_PASSWORD                 password (never given on the command line)\n"
          "  BACKUP_DIR                  backup directory, like -d/--dir\n"
          "  PGHOST, PGPORT, PGUSER, PGDATABASE, PGSERVICE, PGPASSFILE\n"
          "                              libpq's own, used where the above are unset;\n"
          "                              the config file comes after them\n"
          "  PGVAULT_CONFIG              config file when --config is not given\n"
          "\n"
          "Exit status:\n"
          "  0  success\n"
          "  1  operation failed\n"
          "  2  usage or configuration error\n"
          "  3  integrity failure (checksum or count mismatch)\n"
          "  4  repository busy (lock held)\n"
          "  5  database unreachable or authentication failed\n"
          "  6  remote storage unreachable or credentials refused\n"
          "(\"pgvault check\" exits 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN: bad arguments.)\n"
          "\n"
          "BACKUP is a catalog id, a file name or path in the directory, or \"latest\".\n"
          "Run \"pgvault COMMAND --help\" for the options of a command.\n",
          out);
}

void cli_usage(enum command cmd, FILE *out)
{
    int ci = command_index(cmd);
    if (ci < 0) {
        print_overview(out);
        return;
    }

    /* synopsis: one "pgvault NAME ..." line per alternative */
    fprintf(out, "%s\n\nUsage:\n", commands[ci].about);
    const char *s = commands[ci].synopsis;
    while (*s) {
        size_t len = strcspn(s, "\n");
        fprintf(out, "  pgvault %s %.*s\n", commands[ci].name, (int)len, s);
        s += len;
        if (*s == '\n')
            s++;
    }

    print_group(cmd, GRP_MAIN, "Options:", out);
    print_group(cmd, GRP_CONN, "Connection options:", out);
    print_group(cmd, GRP_OTHER, "Other options:", out);

    if (strstr(commands[ci].synopsis, "BACKUP"))
        fputs("\nBACKUP is a catalog id, a file name or path in the directory, or \"latest\"\n"
              "(the newest complete backup of the selected database).\n",
              out);
    fputs("\nRun \"pgvault --help\" for the environment variables and exit codes.\n", out);
}

bool cli_progress_wanted(const struct options *opt)
{
    if (opt->progress == TRI_ON)
        return true;
    if (opt->progress == TRI_OFF || opt->quiet || opt->json)
        return false;
    return isatty(STDERR_FILENO) == 1;
}
