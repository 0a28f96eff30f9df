/* Configuration precedence (flags, DB_* variables, libpq's, the file, the defaults) and the
 * config-file parser. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "common/err.h"
#include "unit.h"
#include "common/util.h"

static char tmpdir[256];

static void blank_options(struct options *o)
{
    memset(o, 0, sizeof(*o));
    o->retention_days = o->keep_count = o->level = o->jobs = o->lock_wait_timeout = -1;
    o->keep_daily = o->keep_weekly = o->keep_monthly = o->min_keep = o->max_age_hours = -1;
    o->progress = TRI_AUTO;
}

static char *write_file(const char *name, const char *text, mode_t mode)
{
    char *path = xasprintf("%s/%s", tmpdir, name);
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        abort();
    fchmod(fd, mode);
    close(fd);
    return path;
}

static const char *full_config = "# every connection key\n"
                                 "host = filehost\n"
                                 "port = 5999\n"
                                 "user = fileuser\n"
                                 "dbname = filedb\n"
                                 "backup_dir = /srv/file-backups   # trailing comment\n"
                                 "retention_days = 30\n"
                                 "keep_count = 4\n"
                                 "compress_level = 9\n"
                                 "label_unused_ok = \n";

static void test_defaults(void)
{
    struct options o;
    blank_options(&o);
    char *env[] = {"PGVAULT_CONFIG=/dev/null", NULL};
    struct settings s;
    CHECK_INT(config_resolve(&o, env, &s), 0);
    CHECK_STR(s.dir, "backups");
    CHECK_STR(s.catalog, "backups/catalog.db");
    CHECK_INT(s.retention_days, 7);
    CHECK_INT(s.keep_count, 10);
    CHECK_INT(s.level, 6);
    CHECK_STR(s.compression, "gzip");
    CHECK_INT(s.min_keep, 1);
    CHECK(s.conn.host == NULL && s.conn.dbname == NULL && s.conn.password == NULL);
    CHECK(s.jobs >= 1);
    CHECK_INT(s.lock_wait_timeout, 600);
    settings_free(&s);
}

/* One default config file, the one every document names, whatever the install prefix. */
static void test_default_config_file(void)
{
    CHECK_STR(DEFAULT_CONFIG_FILE, "/etc/pgvault/pgvault.conf");
}

static void test_unknown_key_refused(void)
{
    struct options o;
    blank_options(&o);
    char *path = write_file("bad.conf", full_config, 0600);
    o.config_file = path;
    struct settings s;
    err_clear();
    CHECK_INT(config_resolve(&o, NULL, &s), -1);
    CHECK_INT(err_class(), ERR_USAGE);
    CHECK(strstr(err_msg(), "unknown setting \"label_unused_ok\"") != NULL);
    CHECK(strstr(err_msg(), "line 10") != NULL);
    err_clear();
    free(path);
}

static char *good_config(void)
{
    char *text = xstrndup(full_config, strstr(full_config, "label_unused_ok") - full_config);
    char *path = write_file("good.conf", text, 0600);
    free(text);
    return path;
}

static void test_file_below_libpq_and_origin(void)
{
    struct options o;
    blank_options(&o);
    char *path = good_config();
    o.config_file = path;
    struct settings s;

    /* file only */
    CHECK_INT(config_resolve(&o, NULL, &s), 0);
    CHECK_STR(s.conn.host, "filehost");
    CHECK_STR(s.conn.port, "5999");
    CHECK_STR(s.conn.user, "fileuser");
    CHECK_STR(s.conn.dbname, "filedb");
    CHECK_STR(s.dir, "/srv/file-backups");
    CHECK_STR(s.catalog, "/srv/file-backups/catalog.db");
    CHECK_INT(s.retention_days, 30);
    CHECK_INT(s.keep_count, 4);
    CHECK_INT(s.level, 9);
    settings_free(&s);

    /* libpq's variables beat the file: left NULL so libpq reads them */
    char *env_pg[] = {"PGHOST=/run/pg", "PGDATABASE=pgdb", NULL};
    CHECK_INT(config_resolve(&o, env_pg, &s), 0);
    CHECK(s.conn.host == NULL);
    CHECK(s.conn.dbname == NULL);
    CHECK_STR(s.conn.user, "fileuser");
    settings_free(&s);

    /* a connection service beats the file: the service names the whole connection */
    char *env_svc[] = {"PGSERVICE=shop", NULL};
    CHECK_INT(config_resolve(&o, env_svc, &s), 0);
    CHECK(s.conn.host == NULL && s.conn.port == NULL && s.conn.user == NULL);
    CHECK(s.conn.dbname == NULL);
    CHECK_STR(s.dir, "/srv/file-backups");
    settings_free(&s);

    /* the origin's variables beat libpq's */
    char *env_db[] = {"PGHOST=/run/pg",
                      "DB_HOST=dbhost",
                      "DB_NAME=dbname_env",
                      "BACKUP_DIR=/envdir",
                      "DB_PORT=7000",
                      "DB_USER=envuser",
                      NULL};
    CHECK_INT(config_resolve(&o, env_db, &s), 0);
    CHECK_STR(s.conn.host, "dbhost");
    CHECK_STR(s.conn.dbname, "dbname_env");
    CHECK_STR(s.conn.port, "7000");
    CHECK_STR(s.conn.user, "envuser");
    CHECK_STR(s.dir, "/envdir");
    settings_free(&s);

    /* flags beat everything */
    o.host = "flaghost";
    o.db = "flagdb";
    o.dir = "/flagdir";
    o.retention_days = 2;
    o.level = 1;
    CHECK_INT(config_resolve(&o, env_db, &s), 0);
    CHECK_STR(s.conn.host, "flaghost");
    CHECK_STR(s.conn.dbname, "flagdb");
    CHECK_STR(s.dir, "/flagdir");
    CHECK_STR(s.catalog, "/flagdir/catalog.db");
    CHECK_INT(s.retention_days, 2);
    CHECK_INT(s.level, 1);
    settings_free(&s);

    /* -n turns compression off */
    blank_options(&o);
    o.config_file = path;
    o.no_compress = true;
    CHECK_INT(config_resolve(&o, NULL, &s), 0);
    CHECK_STR(s.compression, "none");
    CHECK_INT(s.level, 0);
    settings_free(&s);
    free(path);
}

/* The default --jobs: a thread a core for gzip and for zstd from level 10; one thread
 * for zstd's fast levels; -j and the file's jobs win either way. */
static void test_default_jobs(void)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu > 256)
        ncpu = 256;
    static const struct {
        const char *file, *compression;
        long level, jobs, expect; /* expect 0: the number of cores */
    } cases[] = {
        {"", NULL, -1, -1, 0},   {"", "zstd", -1, -1, 1}, {"", "zstd", 9, -1, 1},
        {"", "zstd", 10, -1, 0}, {"", "zstd", -1, 4, 4},  {"jobs = 3\n", "zstd", -1, -1, 3},
        {"", "gzip", 1, -1, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct options o;
        blank_options(&o);
        char *path = write_file("jobs.conf", cases[i].file, 0600);
        o.config_file = path;
        o.compression = cases[i].compression;
        o.level = cases[i].level;
        o.jobs = cases[i].jobs;
        struct settings s;
        CHECK_INT(config_resolve(&o, NULL, &s), 0);
        CHECK_INT(s.jobs, cases[i].expect ? cases[i].expect : ncpu);
        settings_free(&s);
        free(path);
    }
}

/* The compression and its level from -n, --compress, -Z and the file's compression,
 * compress and compress_level: each level in its compression's range. */
static void test_compression_choice(void)
{
    static const struct {
        const char *file;   /* the config file's text */
        const char *flag;   /* --compress, or "-n" */
        long level;         /* -Z, -1 unset */
        const char *expect; /* the compression and expect_level; NULL: refused */
        long expect_level;
        const char *message; /* the refusal (%s: the file's path) */
    } cases[] = {
        {"", NULL, -1, "gzip", 6, NULL},
        {"", "zstd", -1, "zstd", 3, NULL},
        {"", "zstd", 19, "zstd", 19, NULL},
        {"", "zstd", 1, "zstd", 1, NULL},
        {"", "gzip", 9, "gzip", 9, NULL},
        {"", "none", -1, "none", 0, NULL},
        {"", "-n", -1, "none", 0, NULL},
        {"", NULL, 9, "gzip", 9, NULL},
        {"", NULL, 12, NULL, 0, "-Z/--compress-level must be in range 1..9 for gzip"},
        {"", "gzip", 10, NULL, 0, "-Z/--compress-level must be in range 1..9 for gzip"},
        /* -Z 20 and -Z 0 are stored as 0 by the command line: outside every range */
        {"", "zstd", 0, NULL, 0, "-Z/--compress-level must be in range 1..19 for zstd"},
        {"", NULL, 0, NULL, 0, "-Z/--compress-level must be in range 1..9 for gzip"},
        {"compression = zstd\n", NULL, -1, "zstd", 3, NULL},
        {"compression = zstd\n", NULL, 15, "zstd", 15, NULL},
        {"compression = zstd\ncompress_level = 12\n", NULL, -1, "zstd", 12, NULL},
        {"compression = zstd\ncompress_level = 12\n", "-n", -1, "none", 0, NULL},
        /* the file's level is for the file's compression */
        {"compression = zstd\ncompress_level = 12\n", "gzip", -1, "gzip", 6, NULL},
        {"compress_level = 9\n", "zstd", -1, "zstd", 3, NULL},
        {"compress_level = 12\n", NULL, -1, NULL, 0,
         "invalid value \"12\" for \"compress_level\" in \"%s\" line 1 (1..9 for gzip)"},
        {"compression = none\n", NULL, -1, "none", 0, NULL},
        {"compression = none\n", "zstd", -1, "zstd", 3, NULL},
        /* a level asks for compression: the default one when the file says none */
        {"compression = none\n", NULL, 5, "gzip", 5, NULL},
        {"compress = no\n", NULL, -1, "none", 0, NULL},
        {"compress = no\n", NULL, 4, "gzip", 4, NULL},
        {"compress = yes\ncompress_level = 2\n", NULL, -1, "gzip", 2, NULL},
        {"compress = no\ncompression = zstd\n", NULL, -1, "zstd", 3, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct options o;
        blank_options(&o);
        char *path = write_file("compression.conf", cases[i].file, 0600);
        o.config_file = path;
        if (cases[i].flag && strcmp(cases[i].flag, "-n") == 0)
            o.no_compress = true;
        else
            o.compression = cases[i].flag;
        o.level = cases[i].level;
        struct settings s;
        err_clear();
        int rc = config_resolve(&o, NULL, &s);
        if (cases[i].expect) {
            CHECK_INT(rc, 0);
            if (rc == 0) {
                if (strcmp(s.compression, cases[i].expect) != 0 || s.level != cases[i].expect_level)
                    fprintf(stderr, "case %zu: %s level %ld\n", i, s.compression, s.level);
                CHECK_STR(s.compression, cases[i].expect);
                CHECK_INT(s.level, cases[i].expect_level);
                settings_free(&s);
            }
        } else {
            char *want = xasprintf(cases[i].message, path);
            CHECK_INT(rc, -1);
            CHECK_INT(err_class(), ERR_USAGE);
            CHECK_STR(err_msg(), want);
            free(want);
        }
        err_clear();
        free(path);
    }
}

static void test_password_sources(void)
{
    struct options o;
    blank_options(&o);
    struct settings s;
    char *path = write_file("pw.conf", "password = \"file secret # not a comment\"\n", 0600);
    o.config_file = path;

    CHECK_INT(config_resolve(&o, NULL, &s), 0);
    CHECK_STR(s.conn.password, "file secret # not a comment");
    settings_free(&s);

    /* PGPASSWORD is taken over (so children get a passfile instead) and beats the file */
    char *env1[] = {"PGPASSWORD=pgsecret", NULL};
    CHECK_INT(config_resolve(&o, env1, &s), 0);
    CHECK_STR(s.conn.password, "pgsecret");
    settings_free(&s);

    /* DB_PASSWORD beats PGPASSWORD */
    char *env2[] = {"PGPASSWORD=pgsecret", "DB_PASSWORD=dbsecret", NULL};
    CHECK_INT(config_resolve(&o, env2, &s), 0);
    CHECK_STR(s.conn.password, "dbsecret");
    settings_free(&s);

    /* the config file's password ranks below the user's passfile (PGPASSFILE or
     * ~/.pgpass): kept, but marked so (see test_pgtools) */
    CHECK_INT(config_resolve(&o, NULL, &s), 0);
    CHECK(s.conn.password_below_passfile);
    settings_free(&s);
    char *env3[] = {"PGPASSFILE=/somewhere/.pgpass", NULL};
    CHECK_INT(config_resolve(&o, env3, &s), 0);
    CHECK_STR(s.conn.password, "file secret # not a comment");
    CHECK(s.conn.password_below_passfile);
    settings_free(&s);
    CHECK_INT(config_resolve(&o, env2, &s), 0);
    CHECK(!s.conn.password_below_passfile);
    settings_free(&s);
    free(path);

    /* a password in a world-readable file is refused */
    path = write_file("pw-open.conf", "password = x\n", 0644);
    o.config_file = path;
    err_clear();
    CHECK_INT(config_resolve(&o, NULL, &s), -1);
    CHECK_INT(err_class(), ERR_USAGE);
    CHECK(strstr(err_msg(), "holds a password and is accessible by others") != NULL);
    CHECK(strstr(err_msg(), "x\"") == NULL || strstr(err_msg(), "pw-open.conf") != NULL);
    err_clear();
    free(path);

    /* group-readable (root:postgres 0640, as packaged) is accepted */
    path = write_file("pw-group.conf", "password = x\n", 0640);
    o.config_file = path;
    CHECK_INT(config_resolve(&o, NULL, &s), 0);
    settings_free(&s);
    free(path);
}

static void test_parser_errors(void)
{
    struct options o;
    blank_options(&o);
    struct settings s;
    static const struct {
        const char *text, *expect;
    } cases[] = {
        {"host\n", "line 1: expected key = value"},
        {"# c\n = x\n", "line 2: missing key"},
        {"compress_level = 10\n", "invalid value \"10\" for \"compress_level\""},
        {"compress_level = 3x\n", "invalid value \"3x\""},
        {"retention_days = -1\n", "invalid value \"-1\""},
        {"host = \"unterminated\n", "unterminated quoted value"},
        {"compress = maybe\n", "invalid value \"maybe\" for \"compress\""},
        {"compression = lz4\n", "invalid value \"lz4\" for \"compression\" in \""},
        {"compression = lz4\n", "line 1 (gzip, zstd or none)"},
        {"compression = ZSTD\n", "invalid value \"ZSTD\" for \"compression\""},
        {"compress_level = 20\n", "invalid value \"20\" for \"compress_level\""},
        {"compression = zstd\ncompress_level = 0\n", "line 2"},
        {"# c\nbackup_dir =\n", "empty value for \"backup_dir\" in \""},
        {"catalog = \"\"\n", "empty value for \"catalog\""},
        {"pg_bindir = \n", "empty value for \"pg_bindir\""},
        {"metrics_file =\n", "empty value for \"metrics_file\""},
        {"\n\nbackup_dir =\n", "line 3"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *path = write_file("err.conf", cases[i].text, 0600);
        o.config_file = path;
        err_clear();
        CHECK_INT(config_resolve(&o, NULL, &s), -1);
        CHECK_INT(err_class(), ERR_USAGE);
        if (!strstr(err_msg(), cases[i].expect))
            fprintf(stderr, "case %zu: got \"%s\"\n", i, err_msg());
        CHECK(strstr(err_msg(), cases[i].expect) != NULL);
        free(path);
    }
    err_clear();

    /* an explicit config file that does not exist is an error; the default is optional */
    o.config_file = "/nonexistent/pgvault.conf";
    CHECK_INT(config_resolve(&o, NULL, &s), -1);
    CHECK(strstr(err_msg(), "could not open config file") != NULL);
    err_clear();
}

#define TIMEOUTS_OFF                                                                               \
    "-c statement_timeout=0 -c lock_timeout=0 -c idle_in_transaction_session_timeout=0"

/* notify_email: comma-separated, and a repeated key adds; notify_on; the sendmail default */
static void test_notify_keys(void)
{
    struct options o;
    blank_options(&o);
    struct settings s;
    char *env[] = {"PGVAULT_CONFIG=/dev/null", NULL};
    CHECK_INT(config_resolve(&o, env, &s), 0);
    CHECK(s.notify_email == NULL && !s.notify_always && s.notify_from == NULL);
    CHECK_STR(s.sendmail_path, "/usr/sbin/sendmail -t -oi");
    settings_free(&s);

    o.config_file = write_file("notify.conf",
                               "notify_email = a@example.org ,b@example.org,, \n"
                               "notify_email = root\n"
                               "notify_on = always\n"
                               "sendmail_path = /usr/bin/msmtp -t\n"
                               "notify_from = Backups <b@example.org>\n",
                               0600);
    CHECK_INT(config_resolve(&o, NULL, &s), 0);
    CHECK_STR(s.notify_email, "a@example.org, b@example.org, root");
    CHECK(s.notify_always);
    CHECK_STR(s.sendmail_path, "/usr/bin/msmtp -t");
    CHECK_STR(s.notify_from, "Backups <b@example.org>");
    settings_free(&s);
    free((char *)o.config_file);

    o.config_file = write_file("notify.conf", "notify_on = failure\n", 0600);
    CHECK_INT(config_resolve(&o, NULL, &s), 0);
    CHECK(!s.notify_always);
    settings_free(&s);
    free((char *)o.config_file);

    const char *bad[] = {"notify_on = never\n", "notify_email = , ,\n", "sendmail_path =\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        o.config_file = write_file("notify.conf", bad[i], 0600);
        err_clear();
        CHECK_INT(config_resolve(&o, NULL, &s), -1);
        CHECK_INT(err_class(), ERR_USAGE);
        free((char *)o.config_file);
    }
    err_clear();
}

/* access_point_interval: a size with or without a unit, at least 64 kB. */
static void test_access_point_interval(void)
{
    struct options o;
    blank_options(&o);
    struct settings s;
    char *env[] = {"PGVAULT_CONFIG=/dev/null", NULL};
    CHECK_INT(config_resolve(&o, env, &s), 0);
    CHECK_INT(s.access_point_interval, 32L << 20);
    settings_free(&s);
    static const struct {
        const char *text;
        long want;
    } good[] = {{"64kB", 64L << 10},   {"65536", 65536},  {"1 MiB", 1L << 20}, {"2g", 2L << 30},
                {"100MB", 100L << 20}, {"1TB", 1L << 40}, {"70000 b", 70000}};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        char *text = xasprintf("access_point_interval = %s\n", good[i].text);
        o.config_file = write_file("points.conf", text, 0600);
        CHECK_INT(config_resolve(&o, NULL, &s), 0);
        CHECK_INT(s.access_point_interval, good[i].want);
        settings_free(&s);
        free((char *)o.config_file);
        free(text);
    }
    const char *bad[] = {"63kB", "65535", "0", "-1MB", "32 parsecs", "MB", "2TB", "1.5MB", "1kBb"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *text = xasprintf("access_point_interval = %s\n", bad[i]);
        o.config_file = write_file("points.conf", text, 0600);
        err_clear();
        CHECK_INT(config_resolve(&o, NULL, &s), -1);
        CHECK_INT(err_class(), ERR_USAGE);
        CHECK(strstr(err_msg(), "\"access_point_interval\"") != NULL);
        free((char *)o.config_file);
        free(text);
    }
    err_clear();
}

static void test_conn_string_quoting(void)
{
    unsetenv("PGOPTIONS");
    struct conn_params cp = {.host = "/run/post gres", .port = "5432", .user = "o'neil"};
    char *s = conn_string(&cp, "a\"; DROP DATABASE victim; --");
    CHECK_STR(s, "host='/run/post gres' port='5432' user='o\\'neil' "
                 "dbname='a\"; DROP DATABASE victim; --' options='" TIMEOUTS_OFF "'");
    free(s);
    struct conn_params none = {0};
    s = conn_string(&none, "dbname=postgres host=evil");
    CHECK_STR(s, "dbname='dbname=postgres host=evil' options='" TIMEOUTS_OFF "'");
    free(s);
    s = conn_string(&none, "back\\slash");
    CHECK_STR(s, "dbname='back\\\\slash' options='" TIMEOUTS_OFF "'");
    free(s);
}

/* Our timeouts come after the user's PGOPTIONS, so they win over a -c of the same name
 * there, and the user's other options stay. */
static void test_conn_options(void)
{
    unsetenv("PGOPTIONS");
    char *o = conn_options();
    CHECK_STR(o, TIMEOUTS_OFF);
    free(o);
    setenv("PGOPTIONS", "", 1);
    o = conn_options();
    CHECK_STR(o, TIMEOUTS_OFF);
    free(o);
    setenv("PGOPTIONS", "-c search_path=x -c statement_timeout=5", 1);
    o = conn_options();
    CHECK_STR(o, "-c search_path=x -c statement_timeout=5 " TIMEOUTS_OFF);
    free(o);
    struct conn_params none = {0};
    char *s = conn_string(&none, "d");
    CHECK_STR(s, "dbname='d' options='-c search_path=x -c statement_timeout=5 " TIMEOUTS_OFF "'");
    free(s);
    unsetenv("PGOPTIONS");
}

/* remote.NAME.KEY sections: their keys, the local rules where unset, the errors. */
static void test_remotes(void)
{
    struct options o;
    blank_options(&o);
    char *cfg;
    free(write_file("secret", "s3cr3t\n", 0600));
    char *loose = write_file("loose", "s3cr3t\n", 0644);
    char *text = xasprintf("remote.nas.url = file:///srv/nas\n"
                           "remote.nas.keep_count = 30\n"
                           "remote.s3.url = s3://bucket/prefix\n"
                           "remote.s3.path_style = yes\n"
                           "remote.s3.secret_key_file = %s/secret\n"
                           "remote.s3.part_size = 8388608\n"
                           "remote.nas.io_timeout = 30\n",
                           tmpdir);
    o.config_file = cfg = write_file("remotes.conf", text, 0600);
    free(text);
    struct settings s;
    CHECK_INT(config_resolve(&o, NULL, &s), 0);
    free(cfg);
    CHECK_INT((long)s.nremotes, 2);
    CHECK_STR(s.remotes[0].name, "nas");
    CHECK_STR(s.remotes[0].url, "file:///srv/nas");
    CHECK_INT(s.remotes[0].keep_count, 30);
    CHECK_INT(s.remotes[0].retention_days, -1);
    CHECK(s.remotes[1].path_style);
    CHECK_INT(s.remotes[1].part_size, 8388608);
    CHECK_INT(s.remotes[0].io_timeout, 30);
    CHECK_INT(s.remotes[1].io_timeout, -1);
    settings_free(&s);

    static const char *const bad[][2] = {
        {"remote.nas.keep_count = 3\n", "remote \"nas\" in"},
        {"remote.nas.url = file:///x\nremote.nas.colour = red\n", "line 2"},
        {"remote..url = file:///x\n", "invalid remote setting"},
        {"remote.nas.url = file:///x\nremote.nas.path_style = maybe\n", "path_style"},
        {"remote.nas.url = file:///x\nremote.nas.part_size = 10\n", "part_size"},
        {"remote.nas.url = file:///x\nremote.nas.io_timeout = 0\n", "io_timeout"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        o.config_file = cfg = write_file("bad-remote.conf", bad[i][0], 0600);
        err_clear();
        CHECK_INT(config_resolve(&o, NULL, &s), -1);
        CHECK_INT(err_class(), ERR_USAGE);
        CHECK(strstr(err_msg(), bad[i][1]) != NULL);
        free(cfg);
    }
    text = xasprintf("remote.s3.url = s3://b\nremote.s3.secret_key_file = %s\n", loose);
    o.config_file = cfg = write_file("loose.conf", text, 0600);
    free(text);
    err_clear();
    CHECK_INT(config_resolve(&o, NULL, &s), -1);
    CHECK(strstr(err_msg(), "accessible by group or others") != NULL);
    free(loose);
    free(cfg);
    err_clear();
}

/* --encrypt-to replaces the file's encrypt_to lines and encrypt_to_file; --identity
 * outranks identity_file. */
static void test_encryption_keys(void)
{
    struct options o;
    struct settings s;
    blank_options(&o);
    o.cmd = CMD_BACKUP;
    char *list = write_file("recipients", "# the team\n\n  age1two  \nage1three\r\n", 0644);
    char *text =
        xasprintf("encrypt_to = age1one\nencrypt_to_file = %s\nidentity_file = /k/id\n", list);
    char *conf = write_file("enc.conf", text, 0644);
    char *env_var = xasprintf("PGVAULT_CONFIG=%s", conf);
    char *env[] = {env_var, NULL};
    CHECK_INT(config_resolve(&o, env, &s), 0);
    CHECK_INT(s.n_encrypt_to, 3);
    if (s.n_encrypt_to == 3) {
        CHECK_STR(s.encrypt_to[0], "age1one");
        CHECK_STR(s.encrypt_to[1], "age1two");
        CHECK_STR(s.encrypt_to[2], "age1three");
    }
    CHECK_STR(s.identity_file, "/k/id");
    settings_free(&s);
    o.encrypt_to.v[0] = "age1flag";
    o.encrypt_to.n = 1;
    o.identity = "/flag/id";
    CHECK_INT(config_resolve(&o, env, &s), 0);
    CHECK_INT(s.n_encrypt_to, 1);
    CHECK_STR(s.encrypt_to[0], "age1flag");
    CHECK_STR(s.identity_file, "/flag/id");
    settings_free(&s);

    /* a missing or empty recipients file is a configuration error, for a backup; a
     * command that encrypts nothing does not read it */
    blank_options(&o);
    unlink(list);
    CHECK_INT(config_resolve(&o, env, &s), 0);
    CHECK_INT(s.n_encrypt_to, 1);
    settings_free(&s);
    o.cmd = CMD_BACKUP;
    err_clear();
    CHECK_INT(config_resolve(&o, env, &s), -1);
    CHECK_INT(err_class(), ERR_USAGE);
    CHECK(strstr(err_msg(), "could not open encrypt_to_file") != NULL);
    free(write_file("recipients", "# nobody\n", 0644));
    err_clear();
    CHECK_INT(config_resolve(&o, env, &s), -1);
    CHECK(strstr(err_msg(), "names no recipient") != NULL);
    /* a device is no list of recipients (reading /dev/zero would never end) */
    char *dev = write_file("dev.conf", "encrypt_to_file = /dev/zero\n", 0644);
    char *env_dev = xasprintf("PGVAULT_CONFIG=%s", dev);
    char *env3[] = {env_dev, NULL};
    err_clear();
    CHECK_INT(config_resolve(&o, env3, &s), -1);
    CHECK(strstr(err_msg(), "\"/dev/zero\" is not a regular file") != NULL);
    free(env_dev);
    free(dev);
    char *empty = write_file("empty.conf", "encrypt_to =\n", 0644);
    char *env_empty = xasprintf("PGVAULT_CONFIG=%s", empty);
    char *env2[] = {env_empty, NULL};
    err_clear();
    CHECK_INT(config_resolve(&o, env2, &s), -1);
    CHECK(strstr(err_msg(), "empty value for \"encrypt_to\"") != NULL);
    err_clear();
    free(env_empty);
    free(empty);
    free(env_var);
    free(conf);
    free(text);
    free(list);
}

int main(void)
{
    const char *base = getenv("PGVAULT_TEST_TMP");
    if (!base)
        base = "/tmp";
    mkdir(base, 0700);
    snprintf(tmpdir, sizeof(tmpdir), "%s/config-XXXXXX", base);
    if (!mkdtemp(tmpdir))
        return 2;
    umask(0);
    RUN(test_defaults);
    RUN(test_default_config_file);
    RUN(test_unknown_key_refused);
    RUN(test_file_below_libpq_and_origin);
    RUN(test_password_sources);
    RUN(test_compression_choice);
    RUN(test_default_jobs);
    RUN(test_parser_errors);
    RUN(test_notify_keys);
    RUN(test_access_point_interval);
    RUN(test_conn_string_quoting);
    RUN(test_conn_options);
    RUN(test_remotes);
    RUN(test_encryption_keys);
    return UNIT_DONE();
}
