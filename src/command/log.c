/*
 * pgvault log: the audit trail (the catalog's events), newest first, each with the OS user
 * who acted.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "policy/audit.h"
#include "catalog/catalog.h"
#include "command/commands.h"
#include "common/err.h"
#include "common/log.h"
#include "common/output.h"
#include "common/util.h"

static void log_json(const struct event_rec *e, size_t n)
{
    putchar('[');
    for (size_t i = 0; i < n; i++) {
        printf("%s{\"id\":%" PRId64 ",\"at\":", i ? "," : "", e[i].id);
        json_str_or_null(stdout, e[i].at);
        printf(",\"action\":");
        json_str_or_null(stdout, e[i].action);
        if (e[i].backup_id > 0)
            printf(",\"backup_id\":%" PRId64, e[i].backup_id);
        else
            printf(",\"backup_id\":null");
        printf(",\"db_name\":");
        json_str_or_null(stdout, e[i].db_name);
        printf(",\"file_name\":");
        json_str_or_null(stdout, e[i].file_name);
        printf(",\"actor\":");
        json_str_or_null(stdout, e[i].actor);
        printf(",\"outcome\":");
        json_str_or_null(stdout, e[i].outcome);
        printf(",\"detail\":");
        json_str_or_null(stdout, e[i].detail);
        putchar('}');
    }
    puts("]");
}

static void log_csv(const struct event_rec *e, size_t n)
{
    puts("id,at,action,backup_id,db_name,file_name,actor,outcome,detail");
    for (size_t i = 0; i < n; i++) {
        printf("%" PRId64 ",", e[i].id);
        csv_field(stdout, e[i].at);
        putchar(',');
        csv_field(stdout, e[i].action);
        putchar(',');
        if (e[i].backup_id > 0)
            printf("%" PRId64, e[i].backup_id);
        putchar(',');
        csv_field(stdout, e[i].db_name);
        putchar(',');
        csv_field(stdout, e[i].file_name);
        putchar(',');
        csv_field(stdout, e[i].actor);
        putchar(',');
        csv_field(stdout, e[i].outcome);
        putchar(',');
        csv_field(stdout, e[i].detail);
        putchar('\n');
    }
}

/* The width of a column that must hold s. */
static int widen(int w, const char *s)
{
    int len = s ? (int)strlen(s) : 0;
    return len > w ? len : w;
}

static void log_table(const struct event_rec *e, size_t n)
{
    int wa = 6, wd = 8, wu = 5, wo = 7; /* ACTION, DATABASE, ACTOR, OUTCOME */
    for (size_t i = 0; i < n; i++) {
        wa = widen(wa, e[i].action);
        wd = widen(wd, e[i].db_name);
        wu = widen(wu, e[i].actor);
        wo = widen(wo, e[i].outcome);
    }
    printf("%6s  %-19s  %-*s  %6s  %-*s  %-*s  %-*s  %s\n", "ID", "AT (UTC)", wa, "ACTION",
           "BACKUP", wd, "DATABASE", wu, "ACTOR", wo, "OUTCOME", "DETAIL");
    for (size_t i = 0; i < n; i++) {
        char at[20], id[24] = "-";
        /* "2026-11-25T15:27:54.123Z" → "2026-11-25 15:27:54" */
        snprintf(at, sizeof(at), "%.19s", e[i].at ? e[i].at : "");
        if (at[10] == 'T')
            at[10] = ' ';
        if (e[i].backup_id > 0)
            snprintf(id, sizeof(id), "%" PRId64, e[i].backup_id);
        char *detail = xstrdup(e[i].detail ? e[i].detail : "");
        for (char *c = detail; *c; c++)
            if (*c == '\n' || *c == '\r' || *c == '\t')
                *c = ' ';
        printf("%6" PRId64 "  %-19s  %-*s  %6s  %-*s  %-*s  %-*s  %s\n", e[i].id, at, wa,
               e[i].action ? e[i].action : "", id, wd, e[i].db_name ? e[i].db_name : "-", wu,
               e[i].actor ? e[i].actor : "", wo, e[i].outcome ? e[i].outcome : "", detail);
        free(detail);
    }
}

int cmd_log(const struct options *opt, const struct settings *set)
{
    struct catalog *cat = NULL;
    struct event_rec *ev = NULL;
    size_t n = 0;
    char since[25], *since_p = NULL;
    int rc = -1;

    /* 1. --since WHEN: a date, a time or an age */
    if (opt->since) {
        time_t t;
        if (audit_parse_when(opt->since, time(NULL), &t) != 0) {
            err_set(ERR_USAGE, "invalid value \"%s\" for --since", opt->since);
            err_hint("give a date (2026-11-01), a UTC time (2026-11-01T12:00:00Z) or an age "
                     "(90m, 24h, 7d, 2w)");
            return -1;
        }
        struct timespec ts = {.tv_sec = t};
        since_p = time_iso_ms(&ts, since);
    }

    /* 2. a repository without a catalog has no events */
    struct stat st;
    if (stat(set->catalog, &st) != 0 && errno == ENOENT) {
        if (opt->json)
            puts("[]");
        else if (opt->csv)
            log_csv(NULL, 0);
        else
            log_info("no events: catalog \"%s\" does not exist yet", set->catalog);
        return 0;
    }

    /* 3. read the events (no lock: readers never wait for a writer) */
    if (catalog_open(set->catalog, CATALOG_READONLY, &cat) != 0)
        goto out;
    if (catalog_events(cat, since_p, 0, opt->db, &ev, &n) != 0)
        goto out;

    /* 4. print, newest first */
    if (opt->json)
        log_json(ev, n);
    else if (opt->csv)
        log_csv(ev, n);
    else if (n == 0)
        log_info("no events%s%s", since_p ? " since " : "", since_p ? since_p : "");
    else
        log_table(ev, n);
    rc = 0;
out:
    event_recs_free(ev, n);
    catalog_close(cat);
    return rc;
}
