/* Unit tests for src/config/cli.c: option parsing, range and conflict checks, usage texts. */
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

#include "config/cli.h"
#include "common/err.h"
#include "unit.h"

/* argv as a NULL-terminated compound literal; getopt may permute it, never its strings */
#define ARGV(...) ((char *[]){"pgvault", __VA_ARGS__, NULL})

static int argv_count(char **argv)
{
    int n = 0;
    while (argv[n])
        n++;
    return n;
}

static int parse(struct options *o, char **argv)
{
    err_clear();
    return cli_parse(argv_count(argv), argv, o);
}

/*
 * The hint is 'Try "pgvault CMD --help" for more information.' (err.c drops a final
 * period when it stores a message, so the stored text may lack it).
 */
static bool hint_is(const char *hint_cmd)
{
    char want[128];
    snprintf(want, sizeof(want), "Try \"pgvault %s%s--help\" for more information", hint_cmd,
             *hint_cmd ? " " : "");
    const char *got = err_hint_msg();
    size_t n = strlen(want);
    return strncmp(got, want, n) == 0 && (strcmp(got + n, "") == 0 || strcmp(got + n, ".") == 0);
}

/* Parses argv and reports (with the caller's line) unless it succeeds. */
#define PARSE_OK(o, ...) parse_ok(__LINE__, (o), ARGV(__VA_ARGS__))
static int parse_ok(int line, struct options *o, char **argv)
{
    int rc = parse(o, argv);
    if (rc != 0) {
        fprintf(stderr, "%s:%d: cli_parse failed: %s\n", __FILE__, line, err_msg());
        unit_failed_checks++;
    }
    return rc;
}

/*
 * Parses argv and checks that it fails with ERR_USAGE, exactly msg, and the hint naming
 * hint_cmd ("" for the overview).
 */
#define FAILS(msg, hint_cmd, ...) fails(__LINE__, (msg), (hint_cmd), ARGV(__VA_ARGS__))
static void fails(int line, const char *msg, const char *hint_cmd, char **argv)
{
    struct options o;
    int rc = parse(&o, argv);
    if (rc != -1 || err_class() != ERR_USAGE || strcmp(err_msg(), msg) != 0 || !hint_is(hint_cmd)) {
        fprintf(stderr,
                "%s:%d: expected failure \"%s\" for \"%s\"\n    got rc %d, class %d, "
                "\"%s\" / \"%s\"\n",
                __FILE__, line, msg, hint_cmd, rc, (int)err_class(), err_msg(), err_hint_msg());
        unit_failed_checks++;
    }
}

static void check_unset(const struct options *o)
{
    CHECK(!o->help);
    CHECK(o->config_file == NULL);
    CHECK(o->catalog == NULL);
    CHECK(o->dir == NULL);
    CHECK(o->host == NULL);
    CHECK(o->port == NULL);
    CHECK(o->user == NULL);
    CHECK(o->db == NULL);
    CHECK(o->metrics_file == NULL);
    CHECK(!o->quiet);
    CHECK(!o->json);
    CHECK(!o->csv);
    CHECK_INT(o->progress, TRI_AUTO);
    CHECK_INT(o->retention_days, -1);
    CHECK_INT(o->keep_count, -1);
    CHECK(!o->no_compress);
    CHECK_INT(o->level, -1);
    CHECK_INT(o->jobs, -1);
    CHECK_INT(o->lock_wait_timeout, -1);
    CHECK(!o->all);
    CHECK(o->label == NULL);
    CHECK(!o->no_prune);
    CHECK(!o->with_owners);
    CHECK(!o->force);
    CHECK(!o->list);
    CHECK(o->target == NULL);
    CHECK(!o->in_place);
    CHECK(!o->keep_old);
    CHECK(!o->all_status);
    CHECK(!o->deep);
    CHECK_INT(o->keep_daily, -1);
    CHECK_INT(o->keep_weekly, -1);
    CHECK_INT(o->keep_monthly, -1);
    CHECK_INT(o->min_keep, -1);
    CHECK(!o->dry_run);
    CHECK(o->since == NULL);
    CHECK_INT(o->max_age_hours, -1);
    CHECK(!o->scan);
}

static void test_defaults_unset(void)
{
    struct options o;
    static const char *cmds[] = {"backup", "list", "prune", "log", "check"};
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        /* memset to garbage first: cli_parse must reset everything itself */
        memset(&o, 0x5a, sizeof(o));
        char *argv[] = {"pgvault", (char *)cmds[i], NULL};
        CHECK_INT(parse(&o, argv), 0);
        CHECK_STR(cli_command_name(o.cmd), cmds[i]);
        check_unset(&o);
        CHECK_INT(o.nargs, 0);
    }
}

static void test_backup_short(void)
{
    struct options o;
    PARSE_OK(&o, "backup", "-d", "/srv/b", "-r", "14", "-c", "3", "-Z", "9", "-j", "4", "-q");
    CHECK_INT(o.cmd, CMD_BACKUP);
    CHECK_STR(o.dir, "/srv/b");
    CHECK_INT(o.retention_days, 14);
    CHECK_INT(o.keep_count, 3);
    CHECK_INT(o.level, 9);
    CHECK_INT(o.jobs, 4);
    CHECK(o.quiet);
    CHECK(!o.no_compress);
    CHECK_INT(o.nargs, 0);

    PARSE_OK(&o, "backup", "-nq", "-r0", "-c0");
    CHECK(o.no_compress);
    CHECK(o.quiet);
    CHECK_INT(o.retention_days, 0);
    CHECK_INT(o.keep_count, 0);
    CHECK_INT(o.level, -1);
}

static void test_backup_long(void)
{
    struct options o;
    PARSE_OK(&o, "backup", "--dir=/srv/b", "--retention-days", "30", "--count=5",
             "--compress-level", "1", "--jobs=256", "--label", "before upgrade", "--no-prune",
             "--with-owners", "--db", "shop", "--host", "db1", "--port=5433", "--user", "bk",
             "--config", "/etc/x.conf", "--catalog", "/srv/cat.db", "--json", "--progress",
             "--metrics-file", "/var/lib/m.prom");
    CHECK_INT(o.cmd, CMD_BACKUP);
    CHECK_STR(o.dir, "/srv/b");
    CHECK_INT(o.retention_days, 30);
    CHECK_INT(o.keep_count, 5);
    CHECK_INT(o.level, 1);
    CHECK_INT(o.jobs, 256);
    CHECK_STR(o.label, "before upgrade");
    CHECK(o.no_prune);
    CHECK(o.with_owners);
    CHECK_STR(o.db, "shop");
    CHECK_STR(o.host, "db1");
    CHECK_STR(o.port, "5433");
    CHECK_STR(o.user, "bk");
    CHECK_STR(o.config_file, "/etc/x.conf");
    CHECK_STR(o.catalog, "/srv/cat.db");
    CHECK(o.json);
    CHECK_INT(o.progress, TRI_ON);
    CHECK_STR(o.metrics_file, "/var/lib/m.prom");

    PARSE_OK(&o, "backup", "--all", "--no-compress", "--no-progress");
    CHECK(o.all);
    CHECK(o.no_compress);
    CHECK_INT(o.progress, TRI_OFF);

    /* the last of --progress / --no-progress wins */
    PARSE_OK(&o, "backup", "--no-progress", "--progress");
    CHECK_INT(o.progress, TRI_ON);

    /* an empty label is allowed, an empty directory is not */
    PARSE_OK(&o, "backup", "--label=");
    CHECK_STR(o.label, "");
    FAILS("option -d/--dir requires a value", "backup", "backup", "--dir=");
    FAILS("option --db requires a value", "backup", "backup", "--db", "");
}

static void test_restore(void)
{
    struct options o;
    PARSE_OK(&o, "restore", "-f", "--target", "shop_copy", "--keep-old", "latest");
    CHECK_INT(o.cmd, CMD_RESTORE);
    CHECK(o.force);
    CHECK_STR(o.target, "shop_copy");
    CHECK(o.keep_old);
    CHECK(!o.in_place);
    CHECK(!o.list);
    CHECK_INT(o.nargs, 1);
    CHECK_STR(o.args[0], "latest");

    /* positionals may come before options (GNU permutation) */
    PARSE_OK(&o, "restore", "42", "--in-place", "--force");
    CHECK(o.in_place);
    CHECK(o.force);
    CHECK_INT(o.nargs, 1);
    CHECK_STR(o.args[0], "42");

    FAILS("no backup given", "restore", "restore", "-f");
    FAILS("too many command-line arguments (first is \"b\")", "restore", "restore", "a", "b");
    FAILS("options --in-place and --target cannot be used together", "restore", "restore",
          "--in-place", "--target", "x", "1");
    FAILS("options --in-place and --keep-old cannot be used together", "restore", "restore",
          "--keep-old", "--in-place", "1");
    FAILS("option \"--csv\" requires -l/--list", "restore", "restore", "--csv", "1");
}

static void test_restore_list(void)
{
    struct options o;
    PARSE_OK(&o, "restore", "-l");
    CHECK_INT(o.cmd, CMD_LIST);
    CHECK(o.list);
    CHECK_INT(o.nargs, 0);

    PARSE_OK(&o, "restore", "--list", "-d", "/srv/b", "--db", "shop", "--csv");
    CHECK_INT(o.cmd, CMD_LIST);
    CHECK(o.list);
    CHECK(o.csv);
    CHECK_STR(o.dir, "/srv/b");
    CHECK_STR(o.db, "shop");

    FAILS("options -l/--list and -f/--force cannot be used together", "restore", "restore", "-l",
          "-f");
    FAILS("options -l/--list and --target cannot be used together", "restore", "restore", "-l",
          "--target", "x");
    FAILS("options -l/--list and --in-place cannot be used together", "restore", "restore",
          "--in-place", "-l");
    FAILS("options -l/--list and --keep-old cannot be used together", "restore", "restore", "-l",
          "--keep-old");
    FAILS("too many command-line arguments (first is \"latest\")", "restore", "restore", "-l",
          "latest");
    FAILS("option \"--all-status\" is not valid for \"restore\"", "restore", "restore", "-l",
          "--all-status");

    /* with --help, restore -l stays restore */
    PARSE_OK(&o, "restore", "-l", "--help");
    CHECK_INT(o.cmd, CMD_RESTORE);
    CHECK(o.help);
}

static void test_list_show(void)
{
    struct options o;
    PARSE_OK(&o, "list", "--db", "shop", "--all-status", "--csv");
    CHECK_INT(o.cmd, CMD_LIST);
    CHECK_STR(o.db, "shop");
    CHECK(o.all_status);
    CHECK(o.csv);
    CHECK(!o.json);
    CHECK(!o.list);
    FAILS("too many command-line arguments (first is \"x\")", "list", "list", "x");

    PARSE_OK(&o, "show", "latest", "--json");
    CHECK_INT(o.cmd, CMD_SHOW);
    CHECK(o.json);
    CHECK_INT(o.nargs, 1);
    CHECK_STR(o.args[0], "latest");
    FAILS("no backup given", "show", "show");
    FAILS("too many command-line arguments (first is \"2\")", "show", "show", "1", "2");
    FAILS("option \"--csv\" is not valid for \"show\"", "show", "show", "1", "--csv");
}

static void test_verify(void)
{
    struct options o;
    PARSE_OK(&o, "verify", "--deep", "--all");
    CHECK_INT(o.cmd, CMD_VERIFY);
    CHECK(o.deep);
    CHECK(o.all);
    CHECK_INT(o.nargs, 0);

    PARSE_OK(&o, "verify", "1", "shop_20240101_000000.sql.gz", "latest");
    CHECK(!o.deep);
    CHECK(!o.all);
    CHECK_INT(o.nargs, 3);
    CHECK_STR(o.args[0], "1");
    CHECK_STR(o.args[1], "shop_20240101_000000.sql.gz");
    CHECK_STR(o.args[2], "latest");

    /* --all with --db is fine for verify (all backups of one database) */
    PARSE_OK(&o, "verify", "--all", "--db", "shop");
    CHECK(o.all);
    CHECK_STR(o.db, "shop");

    FAILS("no backup given; name one or more, or use --all", "verify", "verify");
    FAILS("no backup given; name one or more, or use --all", "verify", "verify", "--deep");
    FAILS("option --all cannot be used with a backup name", "verify", "verify", "--all", "3");
}

static void test_prune(void)
{
    struct options o;
    PARSE_OK(&o, "prune", "-r", "7", "-c", "10", "--keep-daily", "7", "--keep-weekly=4",
             "--keep-monthly", "12", "--min-keep", "2", "--db", "shop", "--dry-run");
    CHECK_INT(o.cmd, CMD_PRUNE);
    CHECK_INT(o.retention_days, 7);
    CHECK_INT(o.keep_count, 10);
    CHECK_INT(o.keep_daily, 7);
    CHECK_INT(o.keep_weekly, 4);
    CHECK_INT(o.keep_monthly, 12);
    CHECK_INT(o.min_keep, 2);
    CHECK_STR(o.db, "shop");
    CHECK(o.dry_run);
    CHECK_INT(o.nargs, 0);
    FAILS("too many command-line arguments (first is \"shop\")", "prune", "prune", "shop");
}

static void test_pin_log_query_diff(void)
{
    struct options o;
    PARSE_OK(&o, "pin", "17");
    CHECK_INT(o.cmd, CMD_PIN);
    CHECK_STR(o.args[0], "17");
    PARSE_OK(&o, "unpin", "latest", "--db", "shop");
    CHECK_INT(o.cmd, CMD_UNPIN);
    CHECK_STR(o.args[0], "latest");
    FAILS("no backup given", "pin", "pin");
    FAILS("too many command-line arguments (first is \"2\")", "unpin", "unpin", "1", "2");

    PARSE_OK(&o, "log", "--since", "2024-01-01", "--csv");
    CHECK_INT(o.cmd, CMD_LOG);
    CHECK_STR(o.since, "2024-01-01");
    CHECK(o.csv);

    PARSE_OK(&o, "query", "SELECT count(*) FROM backups", "--json");
    CHECK_INT(o.cmd, CMD_QUERY);
    CHECK(o.json);
    CHECK_INT(o.nargs, 1);
    CHECK_STR(o.args[0], "SELECT count(*) FROM backups");
    /* "--" ends the options: SQL that starts with a dash */
    PARSE_OK(&o, "query", "--", "-- comment\nSELECT 1");
    CHECK_INT(o.nargs, 1);
    CHECK_STR(o.args[0], "-- comment\nSELECT 1");
    FAILS("no SQL statement given", "query", "query");
    FAILS("too many command-line arguments (first is \"SELECT 2\")", "query", "query", "SELECT 1",
          "SELECT 2");

    PARSE_OK(&o, "diff", "3", "latest");
    CHECK_INT(o.cmd, CMD_DIFF);
    CHECK_INT(o.nargs, 2);
    CHECK_STR(o.args[0], "3");
    CHECK_STR(o.args[1], "latest");
    FAILS("two backups needed, 0 given", "diff", "diff");
    FAILS("two backups needed, 1 given", "diff", "diff", "3");
    FAILS("too many command-line arguments (first is \"5\")", "diff", "diff", "3", "4", "5");
}

static void test_import_check(void)
{
    struct options o;
    PARSE_OK(&o, "import", "a.sql.gz", "b.sql");
    CHECK_INT(o.cmd, CMD_IMPORT);
    CHECK(!o.scan);
    CHECK_INT(o.nargs, 2);
    CHECK_STR(o.args[1], "b.sql");
    PARSE_OK(&o, "import", "--scan", "-d", "/srv/b");
    CHECK(o.scan);
    CHECK_INT(o.nargs, 0);
    FAILS("no file given; name one or more, or use --scan", "import", "import");
    FAILS("option --scan cannot be used with a file name", "import", "import", "--scan", "a.sql");

    PARSE_OK(&o, "check", "--db", "shop", "--max-age", "26");
    CHECK_INT(o.cmd, CMD_CHECK);
    CHECK_STR(o.db, "shop");
    CHECK_INT(o.max_age_hours, 26);
    FAILS("too many command-line arguments (first is \"x\")", "check", "check", "x");
}

/* Every numeric option: bounds accepted, one past them rejected, junk rejected. */
static void test_numeric_ranges(void)
{
    static const struct {
        const char *cmd, *opt, *name;
        long min, max;
        size_t field;
    } nums[] = {
        {"backup", "-r", "-r/--retention-days", 0, 36500, offsetof(struct options, retention_days)},
        {"backup", "--count", "-c/--count", 0, 1000000, offsetof(struct options, keep_count)},
        {"backup", "--jobs", "-j/--jobs", 1, 256, offsetof(struct options, jobs)},
        {"backup", "--lock-wait-timeout", "--lock-wait-timeout", 1, 86400,
         offsetof(struct options, lock_wait_timeout)},
        {"prune", "--retention-days", "-r/--retention-days", 0, 36500,
         offsetof(struct options, retention_days)},
        {"prune", "-c", "-c/--count", 0, 1000000, offsetof(struct options, keep_count)},
        {"prune", "--keep-daily", "--keep-daily", 0, 100000, offsetof(struct options, keep_daily)},
        {"prune", "--keep-weekly", "--keep-weekly", 0, 100000,
         offsetof(struct options, keep_weekly)},
        {"prune", "--keep-monthly", "--keep-monthly", 0, 100000,
         offsetof(struct options, keep_monthly)},
        {"prune", "--min-keep", "--min-keep", 0, 1000000, offsetof(struct options, min_keep)},
        {"check", "--max-age", "--max-age", 1, 876000, offsetof(struct options, max_age_hours)},
    };
    static const char *malformed[] = {"abc", "1.5", "-", "", " 3", "+3", "3x", "0x10", "3 "};
    static const char *overflow[] = {"99999999999999999999", "-99999999999999999999"};

    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        struct options o;
        char low[32], high[32], below[32], above[32], range_msg[128], bad_msg[128];
        snprintf(low, sizeof(low), "%ld", nums[i].min);
        snprintf(high, sizeof(high), "%ld", nums[i].max);
        snprintf(below, sizeof(below), "%ld", nums[i].min - 1);
        snprintf(above, sizeof(above), "%ld", nums[i].max + 1);
        snprintf(range_msg, sizeof(range_msg), "%s must be in range %ld..%ld", nums[i].name,
                 nums[i].min, nums[i].max);

        char *ok_low[] = {"pgvault", (char *)nums[i].cmd, (char *)nums[i].opt, low, NULL};
        CHECK_INT(parse(&o, ok_low), 0);
        CHECK_INT(*(long *)((char *)&o + nums[i].field), nums[i].min);
        char *ok_high[] = {"pgvault", (char *)nums[i].cmd, (char *)nums[i].opt, high, NULL};
        CHECK_INT(parse(&o, ok_high), 0);
        CHECK_INT(*(long *)((char *)&o + nums[i].field), nums[i].max);

        fails(__LINE__, range_msg, nums[i].cmd,
              (char *[]){"pgvault", (char *)nums[i].cmd, (char *)nums[i].opt, below, NULL});
        fails(__LINE__, range_msg, nums[i].cmd,
              (char *[]){"pgvault", (char *)nums[i].cmd, (char *)nums[i].opt, above, NULL});
        for (size_t k = 0; k < sizeof(overflow) / sizeof(overflow[0]); k++)
            fails(__LINE__, range_msg, nums[i].cmd,
                  (char *[]){"pgvault", (char *)nums[i].cmd, (char *)nums[i].opt,
                             (char *)overflow[k], NULL});
        for (size_t k = 0; k < sizeof(malformed) / sizeof(malformed[0]); k++) {
            snprintf(bad_msg, sizeof(bad_msg), "invalid value \"%s\" for %s", malformed[k],
                     nums[i].name);
            fails(__LINE__, bad_msg, nums[i].cmd,
                  (char *[]){"pgvault", (char *)nums[i].cmd, (char *)nums[i].opt,
                             (char *)malformed[k], NULL});
        }
    }

    /* the "=value" and attached forms go through the same checks */
    FAILS("invalid value \"abc\" for --max-age", "check", "check", "--max-age=abc");
    FAILS("-r/--retention-days must be in range 0..36500", "backup", "backup", "-r", "-1");
}

/* -Z's range depends on the compression, which the config file may give: the command line
 * takes any level of some compression (1..19), and stores anything else as 0, outside
 * every range, for config_resolve to refuse with the range of the compression in use. */
static void test_compression_level(void)
{
    static const struct {
        const char *arg;
        long level;
    } cases[] = {{"1", 1},  {"9", 9}, {"10", 10}, {"19", 19},
                 {"20", 0}, {"0", 0}, {"-1", 0},  {"99999999999999999999", 0}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct options o;
        char *argv[] = {"pgvault", "backup", "-Z", (char *)cases[i].arg, NULL};
        CHECK_INT(parse(&o, argv), 0);
        CHECK_INT(o.level, cases[i].level);
        char *argv2[] = {"pgvault", "backup",           "--compress",
                         "zstd",    "--compress-level", (char *)cases[i].arg,
                         NULL};
        CHECK_INT(parse(&o, argv2), 0);
        CHECK_INT(o.level, cases[i].level);
        CHECK_STR(o.compression, "zstd");
    }
    FAILS("invalid value \"3x\" for -Z/--compress-level", "backup", "backup", "-Z3x");
    FAILS("invalid value \"\" for -Z/--compress-level", "backup", "backup", "--compress-level=");

    struct options o;
    PARSE_OK(&o, "backup", "--compress=zstd");
    CHECK_STR(o.compression, "zstd");
    PARSE_OK(&o, "backup", "--compress", "none", "-n");
    CHECK_STR(o.compression, "none");
    CHECK(o.no_compress);
    FAILS("invalid value \"lz4\" for --compress (gzip, zstd or none)", "backup", "backup",
          "--compress", "lz4");
    FAILS("invalid value \"Zstd\" for --compress (gzip, zstd or none)", "backup", "backup",
          "--compress=Zstd");
    FAILS("option --compress requires a value", "backup", "backup", "--compress=");
    FAILS("option \"--compress\" is not valid for \"restore\"", "restore", "restore", "--compress",
          "zstd", "1");
}

static void test_conflicts(void)
{
    FAILS("options -n/--no-compress and --compress cannot be used together", "backup", "backup",
          "--compress", "zstd", "-n");
    FAILS("options -n/--no-compress and --compress cannot be used together", "backup", "backup",
          "-n", "--compress=gzip");
    FAILS("options --compress none and -Z/--compress-level cannot be used together", "backup",
          "backup", "--compress", "none", "-Z", "3");
    FAILS("options -n/--no-compress and -Z/--compress-level cannot be used together", "backup",
          "backup", "-n", "-Z", "3");
    FAILS("options -n/--no-compress and -Z/--compress-level cannot be used together", "backup",
          "backup", "-Z3", "--no-compress");
    FAILS("options --all and --db cannot be used together", "backup", "backup", "--all", "--db",
          "x");
    FAILS("options --json and --csv cannot be used together", "list", "list", "--json", "--csv");
    FAILS("options --json and --csv cannot be used together", "log", "--csv", "log", "--json");
    FAILS("options --json and --csv cannot be used together", "query", "query", "--csv", "--json",
          "SELECT 1");
}

/* --encrypt-to is repeatable, in order; --identity is for the commands that decrypt. */
static void test_encryption_options(void)
{
    struct options o;
    PARSE_OK(&o, "backup", "--encrypt-to", "age1aaa", "--encrypt-to=age1bbb", "--db", "shop");
    CHECK_INT(o.encrypt_to.n, 2);
    CHECK_STR(o.encrypt_to.v[0], "age1aaa");
    CHECK_STR(o.encrypt_to.v[1], "age1bbb");
    PARSE_OK(&o, "restore", "--identity", "/k/key.txt", "latest");
    CHECK_STR(o.identity, "/k/key.txt");
    PARSE_OK(&o, "verify", "--deep", "--identity=/k", "3");
    CHECK_STR(o.identity, "/k");
    PARSE_OK(&o, "import", "--identity", "/k", "f.sql.gz.age");
    CHECK_STR(o.identity, "/k");
    FAILS("option --encrypt-to requires a value", "backup", "backup", "--encrypt-to");
    FAILS("option --encrypt-to requires a value", "backup", "backup", "--encrypt-to=");
    FAILS("option \"--identity\" is not valid for \"backup\"", "backup", "backup", "--identity",
          "/k");
    FAILS("option \"--encrypt-to\" is not valid for \"restore\"", "restore", "restore",
          "--encrypt-to", "age1x", "1");
    char *argv[OPTLIST_MAX * 2 + 5] = {"pgvault", "backup"};
    for (int i = 0; i <= OPTLIST_MAX; i++) {
        argv[2 + 2 * i] = "--encrypt-to";
        argv[3 + 2 * i] = "age1x";
    }
    fails(__LINE__, "option --encrypt-to is given more than 64 times", "backup", argv);
}

static void test_bad_options(void)
{
    FAILS("unrecognized option \"--bogus\"", "backup", "backup", "--bogus");
    FAILS("unrecognized option \"--bogus\"", "backup", "backup", "--bogus=1");
    FAILS("unrecognized option \"-x\"", "list", "list", "-x");
    FAILS("unrecognized option \"-x\"", "list", "list", "-qx");
    FAILS("option \"--deep\" is not valid for \"backup\"", "backup", "backup", "--deep");
    FAILS("option \"--dry-run\" is not valid for \"backup\"", "backup", "backup", "--dry-run=1");
    FAILS("option \"-f\" is not valid for \"backup\"", "backup", "backup", "-f");
    FAILS("option \"-Z\" is not valid for \"prune\"", "prune", "prune", "-Z", "3");
    FAILS("option \"--scan\" is not valid for \"verify\"", "verify", "verify", "--scan");
    FAILS("option \"--csv\" is not valid for \"backup\"", "backup", "backup", "--csv");
    FAILS("option \"--csv\" is not valid for \"check\"", "check", "--csv", "check");
    FAILS("option \"--version\" is not valid for \"list\"", "list", "list", "--version");
    FAILS("option \"--keep\" is ambiguous", "prune", "prune", "--keep", "3");
    FAILS("option --deep does not take a value", "verify", "verify", "--deep=yes", "--all");
    FAILS("option --force does not take a value", "restore", "restore", "--force=1", "1");
    FAILS("option -Z/--compress-level requires a value", "backup", "backup", "-Z");
    FAILS("option --label requires a value", "backup", "backup", "--label");
    FAILS("option -d/--dir requires a value", "", "-d");

    /* a command's own option before the command word */
    FAILS("option \"--deep\" must follow the command", "", "--deep", "verify", "--all");
    FAILS("option \"-Z\" must follow the command", "", "-Z", "3", "backup");
    FAILS("unrecognized option \"--bogus\"", "", "--bogus", "list");

    /* an abbreviation that is unique within the command is accepted, as getopt_long does */
    struct options o;
    PARSE_OK(&o, "verify", "--de", "--all");
    CHECK(o.deep);
}

static void test_commands(void)
{
    FAILS("no command given", "", "-d", "/srv/b");
    FAILS("unknown command \"frobnicate\"", "", "frobnicate");
    FAILS("unknown command \"Backup\"", "", "Backup");
    /* the first problem is reported */
    FAILS("unrecognized option \"--bogus\"", "", "--bogus", "frob");

    struct options o;
    char *none[] = {"pgvault", NULL};
    CHECK_INT(parse(&o, none), -1);
    CHECK_STR(err_msg(), "no command given");
    CHECK(hint_is(""));
    CHECK_INT(err_class(), ERR_USAGE);

    static const struct {
        const char *name;
        enum command cmd;
    } names[] = {
        {"backup", CMD_BACKUP}, {"restore", CMD_RESTORE}, {"list", CMD_LIST},
        {"show", CMD_SHOW},     {"verify", CMD_VERIFY},   {"prune", CMD_PRUNE},
        {"pin", CMD_PIN},       {"unpin", CMD_UNPIN},     {"log", CMD_LOG},
        {"query", CMD_QUERY},   {"diff", CMD_DIFF},       {"import", CMD_IMPORT},
        {"check", CMD_CHECK},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        CHECK_STR(cli_command_name(names[i].cmd), names[i].name);
        char *argv[] = {"pgvault", (char *)names[i].name, "--help", NULL};
        CHECK_INT(parse(&o, argv), 0);
        CHECK_INT(o.cmd, names[i].cmd);
        CHECK(o.help);
    }
    CHECK_STR(cli_command_name(CMD_NONE), "pgvault");
    CHECK_STR(cli_command_name(CMD_HELP), "pgvault");
    CHECK_STR(cli_command_name(CMD_VERSION), "pgvault");
}

static void test_help_version(void)
{
    struct options o;
    PARSE_OK(&o, "-h");
    CHECK_INT(o.cmd, CMD_HELP);
    PARSE_OK(&o, "--help");
    CHECK_INT(o.cmd, CMD_HELP);
    PARSE_OK(&o, "help");
    CHECK_INT(o.cmd, CMD_HELP);
    PARSE_OK(&o, "-d", "x", "--help");
    CHECK_INT(o.cmd, CMD_HELP);

    /* help about one command, however asked */
    PARSE_OK(&o, "help", "backup");
    CHECK_INT(o.cmd, CMD_BACKUP);
    CHECK(o.help);
    PARSE_OK(&o, "-h", "prune");
    CHECK_INT(o.cmd, CMD_PRUNE);
    CHECK(o.help);
    PARSE_OK(&o, "restore", "-h");
    CHECK_INT(o.cmd, CMD_RESTORE);
    CHECK(o.help);
    CHECK(o.host == NULL);

    /* with --help nothing else is validated */
    PARSE_OK(&o, "backup", "-Z", "99", "--deep", "--help", "extra");
    CHECK_INT(o.cmd, CMD_BACKUP);
    CHECK(o.help);
    PARSE_OK(&o, "restore", "--help");
    CHECK(o.help);
    PARSE_OK(&o, "diff", "-h");
    CHECK(o.help);

    /* -h never means host */
    PARSE_OK(&o, "list", "-h", "db1");
    CHECK(o.help);
    CHECK(o.host == NULL);

    PARSE_OK(&o, "--version");
    CHECK_INT(o.cmd, CMD_VERSION);
    PARSE_OK(&o, "-V");
    CHECK_INT(o.cmd, CMD_VERSION);
    FAILS("unknown command \"nope\"", "", "help", "nope");
}

/* An option a command does not use is refused, before or after the command. */
static void test_unused_options_refused(void)
{
    FAILS("option \"--db\" is not valid for \"query\"", "query", "query", "--db", "x", "SELECT 1");
    FAILS("option \"--db\" is not valid for \"query\"", "query", "--db", "x", "query", "SELECT 1");
    FAILS("option \"--db\" is not valid for \"import\"", "import", "import", "--db", "x", "--scan");
    FAILS("option \"--host\" is not valid for \"list\"", "list", "--host", "h", "list");
    FAILS("option \"--user\" is not valid for \"verify\"", "verify", "verify", "--user", "u",
          "--all");
    FAILS("option \"--port\" is not valid for \"show\"", "show", "--port", "1", "show", "1");
    FAILS("option \"--metrics-file\" is not valid for \"prune\"", "prune", "--metrics-file",
          "m.prom", "prune");
    FAILS("option \"--metrics-file\" is not valid for \"restore\"", "restore", "restore",
          "--metrics-file", "m.prom", "latest");
    FAILS("option \"--csv\" is not valid for \"show\"", "show", "--csv", "show", "1");
    struct options o;
    PARSE_OK(&o, "--db", "shop", "log");
    CHECK_STR(o.db, "shop");
    PARSE_OK(&o, "--host", "h", "restore", "-f", "latest");
    CHECK_STR(o.host, "h");
    PARSE_OK(&o, "--metrics-file", "m.prom", "backup", "--all");
    CHECK_STR(o.metrics_file, "m.prom");
}

static void test_global_options(void)
{
    struct options o;
    /* before the command */
    PARSE_OK(&o, "-d", "/srv/b", "--config", "c.conf", "--catalog=cat.db", "--host", "h", "--port",
             "6000", "--user", "u", "--db", "shop", "-q", "--json", "--no-progress",
             "--metrics-file", "m.prom", "backup");
    CHECK_INT(o.cmd, CMD_BACKUP);
    CHECK_STR(o.dir, "/srv/b");
    CHECK_STR(o.config_file, "c.conf");
    CHECK_STR(o.catalog, "cat.db");
    CHECK_STR(o.host, "h");
    CHECK_STR(o.port, "6000");
    CHECK_STR(o.user, "u");
    CHECK_STR(o.db, "shop");
    CHECK(o.quiet);
    CHECK(o.json);
    CHECK_INT(o.progress, TRI_OFF);
    CHECK_STR(o.metrics_file, "m.prom");
    CHECK_INT(o.nargs, 0);

    /* after it, mixed with the command's own; the later value wins */
    PARSE_OK(&o, "-d", "first", "verify", "--deep", "-d", "second", "--db", "shop", "7", "--quiet");
    CHECK_INT(o.cmd, CMD_VERIFY);
    CHECK_STR(o.dir, "second");
    CHECK_STR(o.db, "shop");
    CHECK(o.deep);
    CHECK(o.quiet);
    CHECK_INT(o.nargs, 1);
    CHECK_STR(o.args[0], "7");

    /* --csv before a listing command is fine */
    PARSE_OK(&o, "--csv", "log");
    CHECK(o.csv);
}

static void test_args_point_into_argv(void)
{
    struct options o;
    char sql[] = "SELECT 1";
    char *argv[] = {"pgvault", "-q", "query", sql, "--csv", NULL};
    CHECK_INT(parse(&o, argv), 0);
    CHECK_INT(o.nargs, 1);
    CHECK(o.args[0] == sql);
    CHECK(o.args >= argv && o.args < argv + 5);

    char dir[] = "/srv/b";
    char *argv2[] = {"pgvault", "backup", "-d", dir, NULL};
    CHECK_INT(parse(&o, argv2), 0);
    CHECK(o.dir == dir);
}

static void test_repeated_parse(void)
{
    /* getopt state must not leak between calls, even after an error in a group */
    struct options o;
    FAILS("unrecognized option \"-x\"", "backup", "backup", "-nx");
    PARSE_OK(&o, "backup", "-nq");
    CHECK(o.no_compress);
    CHECK(o.quiet);
    for (int i = 0; i < 3; i++) {
        PARSE_OK(&o, "prune", "-c", "2", "--dry-run");
        CHECK_INT(o.keep_count, 2);
        CHECK(o.dry_run);
    }
}

static char *usage_of(enum command cmd)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cli_usage(cmd, f);
    fclose(f);
    return buf;
}

/* Every usage text fits an 80-column terminal. */
static void test_usage_width(void)
{
    for (int c = CMD_NONE; c <= CMD_CHECK; c++) {
        char *s = usage_of((enum command)c);
        CHECK(strlen(s) > 100);
        for (char *line = s; *line;) {
            size_t len = strcspn(line, "\n");
            if (len > 80) {
                fprintf(stderr, "usage of %s: line longer than 80: %.*s\n",
                        cli_command_name((enum command)c), (int)len, line);
                unit_failed_checks++;
            }
            line += len;
            if (*line)
                line++;
        }
        free(s);
    }
}

static void test_usage(void)
{
    char *s = usage_of(CMD_NONE);
    static const char *overview[] = {
        "Usage:",
        "backup",
        "restore",
        "list",
        "show",
        "verify",
        "prune",
        "pin",
        "unpin",
        "log",
        "query",
        "diff",
        "import",
        "check",
        "--config=FILE",
        "--catalog",
        "-d, --dir=DIR",
        "--host",
        "--port",
        "--user",
        "--db=NAME",
        "-q, --quiet",
        "--json",
        "--csv",
        "--progress",
        "--no-progress",
        "--metrics-file",
        "-V, --version",
        "-h, --help",
        "DB_HOST",
        "DB_PORT",
        "DB_USER",
        "DB_PASSWORD",
        "DB_NAME",
        "BACKUP_DIR",
        "PGHOST",
        "PGPASSFILE",
        "0  success",
        "1  operation failed",
        "2  usage or configuration error",
        "3  integrity failure",
        "4  repository busy",
        "5  database unreachable",
    };
    for (size_t i = 0; i < sizeof(overview) / sizeof(overview[0]); i++)
        if (!strstr(s, overview[i])) {
            fprintf(stderr, "overview lacks \"%s\"\n", overview[i]);
            unit_failed_checks++;
        }
    free(s);

    s = usage_of(CMD_HELP);
    CHECK(strstr(s, "DB_PASSWORD") != NULL);
    free(s);

    s = usage_of(CMD_BACKUP);
    CHECK(strstr(s, "pgvault backup [OPTION]...") != NULL);
    CHECK(strstr(s, "-r, --retention-days=DAYS") != NULL);
    CHECK(strstr(s, "-c, --count=COUNT") != NULL);
    CHECK(strstr(s, "-n, --no-compress") != NULL);
    CHECK(strstr(s, "-Z, --compress-level=LEVEL") != NULL);
    CHECK(strstr(s, "-j, --jobs=N") != NULL);
    CHECK(strstr(s, "--with-owners") != NULL);
    CHECK(strstr(s, "--host=HOST") != NULL);
    CHECK(strstr(s, "-h, --help") != NULL);
    CHECK(strstr(s, "--deep") == NULL);
    CHECK(strstr(s, "--csv") == NULL);
    CHECK(strstr(s, "--version") == NULL);
    free(s);

    s = usage_of(CMD_RESTORE);
    CHECK(strstr(s, "pgvault restore [OPTION]... BACKUP") != NULL);
    CHECK(strstr(s, "pgvault restore -l") != NULL);
    CHECK(strstr(s, "--in-place") != NULL);
    CHECK(strstr(s, "--keep-old") != NULL);
    CHECK(strstr(s, "\"latest\"") != NULL);
    free(s);

    s = usage_of(CMD_VERIFY);
    CHECK(strstr(s, "--deep") != NULL);
    CHECK(strstr(s, "--all") != NULL);
    CHECK(strstr(s, "-Z") == NULL);
    free(s);

    s = usage_of(CMD_PRUNE);
    CHECK(strstr(s, "--keep-monthly=N") != NULL);
    CHECK(strstr(s, "--min-keep=N") != NULL);
    CHECK(strstr(s, "--dry-run") != NULL);
    free(s);

    s = usage_of(CMD_LIST);
    CHECK(strstr(s, "--all-status") != NULL);
    CHECK(strstr(s, "--csv") != NULL);
    free(s);

    s = usage_of(CMD_CHECK);
    CHECK(strstr(s, "--max-age=HOURS") != NULL);
    CHECK(strstr(s, "CRITICAL") != NULL);
    free(s);

    s = usage_of(CMD_IMPORT);
    CHECK(strstr(s, "--scan") != NULL);
    free(s);

    s = usage_of(CMD_LOG);
    CHECK(strstr(s, "--since=WHEN") != NULL);
    free(s);

    s = usage_of(CMD_DIFF);
    CHECK(strstr(s, "pgvault diff [OPTION]... BACKUP BACKUP") != NULL);
    free(s);

    s = usage_of(CMD_QUERY);
    CHECK(strstr(s, "pgvault query [OPTION]... SQL") != NULL);
    free(s);
}

static void test_wanted(void)
{
    struct options o = {.progress = TRI_ON, .quiet = true, .json = true};
    CHECK(cli_progress_wanted(&o));
    o.progress = TRI_OFF;
    o.quiet = o.json = false;
    CHECK(!cli_progress_wanted(&o));
    o.progress = TRI_AUTO;
    CHECK(cli_progress_wanted(&o) == (isatty(STDERR_FILENO) == 1));
    o.quiet = true;
    CHECK(!cli_progress_wanted(&o));
    o.quiet = false;
    o.json = true;
    CHECK(!cli_progress_wanted(&o));
}

int main(void)
{
    RUN(test_wanted);
    RUN(test_defaults_unset);
    RUN(test_backup_short);
    RUN(test_backup_long);
    RUN(test_restore);
    RUN(test_restore_list);
    RUN(test_list_show);
    RUN(test_verify);
    RUN(test_prune);
    RUN(test_pin_log_query_diff);
    RUN(test_import_check);
    RUN(test_numeric_ranges);
    RUN(test_compression_level);
    RUN(test_conflicts);
    RUN(test_encryption_options);
    RUN(test_bad_options);
    RUN(test_commands);
    RUN(test_help_version);
    RUN(test_global_options);
    RUN(test_unused_options_refused);
    RUN(test_args_point_into_argv);
    RUN(test_repeated_parse);
    RUN(test_usage);
    RUN(test_usage_width);
    return UNIT_DONE();
}
