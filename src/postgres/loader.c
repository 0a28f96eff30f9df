/*
 * The dump loader over libpq: the dump scanner splits the stream into statements,
 * meta-commands and COPY data (see dumpscan.h), and this file runs them on one
 * connection. Line numbers for messages come from counting the newlines of each chunk up
 * to where a statement starts.
 */
#include "postgres/loader.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "postgres/dumpscan.h"
#include "postgres/internal.h"

#define STMT_SHOWN 60 /* characters of a statement an error quotes */

struct loader {
    struct pg *pg;
    struct loader_options o;
    struct dumpscan *scan;
    bool failed, began;
    struct sbuf stmt; /* the statement being read, comments before it included */
    long stmt_line;   /* the line its first byte is on */
    struct sbuf meta; /* the meta-command being read, without its backslash */
    long meta_line;
    const char *chunk_end, *cursor; /* the chunk being fed, counted up to cursor */
    long line;                      /* the line cursor is on */
    bool copying;                   /* the server takes COPY data */
    bool copy_skip;                 /* the COPY of a table not loaded */
    char *restrict_key;             /* between \restrict and \unrestrict */
    struct loader_copy *copies;
    size_t ncopies, capcopies;
};

/* The line that p (in the chunk being fed, or NULL) is on. */
static long line_at(struct loader *l, const char *p)
{
    if (!p || !l->cursor || p < l->cursor || p > l->chunk_end)
        return l->line;
    for (const char *q = l->cursor; (q = memchr(q, '\n', (size_t)(p - q))) != NULL; q++)
        l->line++;
    l->cursor = p;
    return l->line;
}

static void sbuf_reset(struct sbuf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

/* Past the blanks and comments before a statement's first token; *lines counts the
 * newlines passed. */
static const char *skip_trivia(const char *s, long *lines)
{
    for (;;) {
        while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f')
            *lines += *s++ == '\n';
        if (s[0] == '-' && s[1] == '-') {
            while (*s && *s != '\n')
                s++;
        } else if (s[0] == '/' && s[1] == '*') {
            int depth = 0;
            for (s += 2; *s && !(depth == 0 && s[0] == '*' && s[1] == '/'); s++) {
                *lines += *s == '\n';
                depth += (s[0] == '/' && s[1] == '*') - (s[0] == '*' && s[1] == '/');
            }
            s += *s ? 2 : 0;
        } else {
            return s;
        }
    }
}

/* Appends at most max characters of s on one line: control characters become spaces, and
 * with squeeze, runs of blanks become one. */
static void add_shown(struct sbuf *b, const char *s, size_t max, bool squeeze)
{
    size_t n = 0;
    for (; *s && n < max; s++) {
        bool blank = (unsigned char)*s < ' ' || *s == 0x7f || (squeeze && *s == ' ');
        if (blank && squeeze && (n == 0 || b->data[b->len - 1] == ' '))
            continue;
        sbuf_add(b, blank ? " " : s, 1);
        n++;
    }
    while (b->len > 0 && b->data[b->len - 1] == ' ')
        b->data[--b->len] = '\0';
    if (*s)
        sbuf_puts(b, "…");
}

void loader_error_text(const struct loader_error *e, char *buf, size_t size)
{
    struct sbuf b = {0};
    sbuf_printf(&b, "line %ld: ", e->line);
    add_shown(&b, e->message, 400, false);
    if (*e->statement) {
        sbuf_puts(&b, ": ");
        add_shown(&b, e->statement, STMT_SHOWN, true);
    }
    snprintf(buf, size, "%s", b.data);
    sbuf_free(&b);
}

/* A statement (or meta-command) starting at line that failed with message: the owner's
 * on_error decides, else the load stops. 0 goes on, -1 stops. */
static int failed_at(struct loader *l, long line, const char *sqlstate, const char *message,
                     const char *text)
{
    long skipped = 0;
    const char *stmt = skip_trivia(text, &skipped);
    struct loader_error e = {line + skipped, sqlstate, message, stmt};
    if (l->o.on_error && l->o.on_error(l->o.ctx, &e) == 0)
        return 0;
    if (!l->o.on_error) {
        char msg[900];
        loader_error_text(&e, msg, sizeof(msg));
        err_set(ERR_FAILED, "%s", msg);
    }
    l->failed = true;
    return -1;
}

/* The server's error as "ERROR:  message". */
static int result_failed(struct loader *l, PGresult *res, long line, const char *text)
{
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY);
    const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    char *msg = primary ? xasprintf("%s:  %s", sev ? sev : "ERROR", primary)
                        : xstrdup(PQresultErrorMessage(res));
    int rc = failed_at(l, line, state ? state : "", msg, text);
    free(msg);
    return rc;
}

static int stop(struct loader *l)
{
    l->failed = true;
    return -1;
}

static bool cancelled(struct loader *l)
{
    /* another thread may set it (a parallel load stopping): read it atomically */
    if (!l->o.cancel || !__atomic_load_n(l->o.cancel, __ATOMIC_RELAXED))
        return false;
    err_set(ERR_FAILED, "interrupted");
    return true;
}

static int connection_lost(struct loader *l)
{
    /* mid-load, a lost connection fails the load (it is not an unreachable server) */
    err_set(ERR_FAILED, "lost the connection to the server: %s", pgx_message(l->pg->conn));
    return stop(l);
}

/* The next result of the query in flight (NULL: no more); -1 when the connection fails
 * or the load is cancelled (the query is then cancelled on the server). */
static int next_result(struct loader *l, PGresult **res)
{
    PGconn *c = l->pg->conn;
    while (PQisBusy(c)) {
        if (cancelled(l)) {
            PGcancel *k = PQgetCancel(c);
            char buf[256];
            if (k)
                PQcancel(k, buf, sizeof(buf));
            PQfreeCancel(k);
            return stop(l);
        }
        struct pollfd pfd = {.fd = PQsocket(c), .events = POLLIN};
        if (poll(&pfd, 1, 250) < 0 && errno != EINTR) {
            err_sys(errno, "could not wait for the server");
            return stop(l);
        }
        if (!PQconsumeInput(c))
            return connection_lost(l);
    }
    *res = PQgetResult(c);
    return 0;
}

/* Runs sql (which started at line); 1 when the server now takes COPY data (copy true),
 * 0 when it ran (or failed and the owner goes on), -1 when the load stops. */
static int run_sql(struct loader *l, const char *sql, long line, bool copy)
{
    PGconn *c = l->pg->conn;
    PGresult *res = NULL, *err = NULL;
    if (!PQsendQuery(c, sql))
        return connection_lost(l);
    for (;;) {
        if (next_result(l, &res) != 0) {
            PQclear(err);
            return -1;
        }
        if (!res)
            break;
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_COPY_IN && copy && !err) {
            PQclear(res);
            l->copying = true;
            return 1;
        }
        if (st == PGRES_COPY_IN)
            PQputCopyEnd(c, "no COPY data expected here");
        else if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY &&
                 !err) {
            err = res;
            continue;
        }
        PQclear(res);
    }
    int rc = err ? result_failed(l, err, line, sql) : 0;
    PQclear(err);
    return rc;
}

/* Whether the statement just read is one the options leave out. */
static bool skipped(struct loader *l, const struct dumpscan_stmt *st)
{
    if (l->o.no_owner && (st->kind == DSK_OWNER || st->kind == DSK_SESSION_AUTH))
        return true;
    if (l->o.no_privileges && st->kind == DSK_ACL)
        return true;
    if (!l->o.want_table)
        return false;
    if (st->kind == DSK_COPY)
        return !l->o.want_table(l->o.ctx, st->table->schema, st->table->name);
    if (st->kind != DSK_FOREIGN_KEY ||
        !l->o.want_table(l->o.ctx, st->table->schema, st->table->name) ||
        l->o.want_table(l->o.ctx, st->ref->schema, st->ref->name))
        return false;
    log_warn("skipped a foreign key of table %s.%s: it references table %s.%s, whose rows are "
             "not restored",
             st->table->schema, st->table->name, st->ref->schema, st->ref->name);
    return true;
}

static void copy_begin(struct loader *l, const struct dumpscan_table *t)
{
    if (l->ncopies == l->capcopies) {
        l->capcopies = l->capcopies ? 2 * l->capcopies : 16;
        l->copies = xrealloc(l->copies, l->capcopies * sizeof(*l->copies));
    }
    l->copies[l->ncopies++] = (struct loader_copy){
        .schema = t->schema ? xstrdup(t->schema) : NULL, .name = xstrdup(t->name), .rows = 0};
}

static void statement_end(struct loader *l)
{
    const struct dumpscan_stmt *st = dumpscan_statement(l->scan);
    bool copy = st->kind == DSK_COPY;
    const char *sql = l->stmt.data ? l->stmt.data : "";
    int where = skipped(l, st) ? 1
                : l->o.route   ? l->o.route(l->o.route_ctx, st, sql, l->stmt_line)
                               : 0;
    if (where < 0) {
        stop(l);
    } else if (where > 0) {
        l->copy_skip = copy;
    } else if (run_sql(l, sql, l->stmt_line, copy) == 1) {
        copy_begin(l, st->table);
        return; /* the statement stays for the messages of its data */
    }
    sbuf_reset(&l->stmt);
}

/* The "\." line: the server ends the COPY and says how many rows it took. */
static void copy_end(struct loader *l)
{
    if (l->copying) {
        l->copying = false;
        PGresult *res = NULL, *last = NULL;
        if (PQputCopyEnd(l->pg->conn, NULL) != 1) {
            connection_lost(l);
            return;
        }
        while (next_result(l, &res) == 0 && res) {
            PQclear(last);
            last = res;
        }
        if (!l->failed && last && PQresultStatus(last) == PGRES_COMMAND_OK)
            l->copies[l->ncopies - 1].rows = strtoll(PQcmdTuples(last), NULL, 10);
        else if (!l->failed && last)
            result_failed(l, last, l->stmt_line, l->stmt.data);
        PQclear(last);
    }
    l->copy_skip = false;
    sbuf_reset(&l->stmt);
}

static void copy_data(struct loader *l, const char *buf, size_t len)
{
    if (l->copying && PQputCopyData(l->pg->conn, buf, (int)len) != 1)
        connection_lost(l);
}

/* The first word of a meta-command's argument (quotes of psql's kinds removed). */
static char *meta_arg(const char **p)
{
    const char *s = *p;
    while (*s == ' ' || *s == '\t' || *s == '\r')
        s++;
    struct sbuf b = {0};
    sbuf_puts(&b, "");
    char q = 0;
    for (; *s && (q || (*s != ' ' && *s != '\t' && *s != '\r')); s++) {
        if (!q && (*s == '\'' || *s == '"')) {
            q = *s;
        } else if (q && *s == q && s[1] == q) {
            sbuf_add(&b, s++, 1);
        } else if (q && *s == q) {
            q = 0;
        } else {
            sbuf_add(&b, s, 1);
        }
    }
    *p = s;
    return b.data;
}

/* \connect [-reuse-previous=on] DBNAME-or-connection-string: the database it names. */
static char *connect_target(const char *args)
{
    char *a = meta_arg(&args);
    while (a[0] == '-' && a[1] != '\0') {
        free(a);
        a = meta_arg(&args);
    }
    if (!strchr(a, '='))
        return a;
    char *dbname = NULL;
    PQconninfoOption *opts = PQconninfoParse(a, NULL);
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (strcmp(o->keyword, "dbname") == 0 && o->val)
            dbname = xstrdup(o->val);
    PQconninfoFree(opts);
    free(a);
    return dbname ? dbname : xstrdup("");
}

static int meta_refused(struct loader *l, const char *fmt, const char *what)
{
    char *msg = xasprintf(fmt, what);
    int rc = failed_at(l, l->meta_line, "", msg, "");
    free(msg);
    return rc;
}

/* \connect: the owner gives the connection to go on with. */
static void meta_connect(struct loader *l, const char *args)
{
    char *db = connect_target(args);
    struct pg *pg = NULL;
    if (!l->o.on_connect)
        meta_refused(l, "the dump connects to database \"%s\" (\\connect)", db);
    else if (l->o.on_connect(l->o.ctx, db, &pg) != 0)
        stop(l);
    else {
        pg_free(l->pg);
        l->pg = pg;
    }
    free(db);
}

/* \restrict KEY … \unrestrict KEY (pg_dump's guard): between them, no other
 * meta-command runs, and the keys must match. */
static void meta_end(struct loader *l)
{
    const char *p = l->meta.data ? l->meta.data : "";
    char *cmd = meta_arg(&p);
    char *arg = meta_arg(&p);
    bool ok_key = *arg && l->restrict_key && strcmp(arg, l->restrict_key) == 0;
    if (strcmp(cmd, "restrict") == 0 && !l->restrict_key && *arg) {
        l->restrict_key = xstrdup(arg);
    } else if (strcmp(cmd, "unrestrict") == 0 && ok_key) {
        free(l->restrict_key);
        l->restrict_key = NULL;
    } else if (strcmp(cmd, "unrestrict") == 0) {
        meta_refused(l, "%s", "\\unrestrict does not match the key of \\restrict");
    } else if (l->restrict_key || strcmp(cmd, "restrict") == 0) {
        meta_refused(l, "psql meta-command \"\\%s\" refused between \\restrict and \\unrestrict",
                     cmd);
    } else if (strcmp(cmd, "connect") == 0 || strcmp(cmd, "c") == 0) {
        meta_connect(l, p);
    } else {
        meta_refused(l, "unsupported psql meta-command \"\\%s\"", cmd);
    }
    free(cmd);
    free(arg);
    sbuf_reset(&l->meta);
    /* the comments before a meta-command are not part of the next statement */
    long lines = 0;
    if (l->stmt.data && !*skip_trivia(l->stmt.data, &lines))
        sbuf_reset(&l->stmt);
}

static void on_event(void *ctx, enum dumpscan_event ev, const char *buf, size_t len)
{
    struct loader *l = ctx;
    if (l->failed)
        return;
    switch (ev) {
    case DS_SQL:
        if (l->stmt.len == 0)
            l->stmt_line = line_at(l, buf);
        sbuf_add(&l->stmt, buf, len);
        break;
    case DS_STMT_END:
        statement_end(l);
        break;
    case DS_META:
        if (l->meta.len == 0)
            l->meta_line = line_at(l, buf);
        sbuf_add(&l->meta, buf, len);
        break;
    case DS_META_END:
        meta_end(l);
        break;
    case DS_COPY_DATA:
        copy_data(l, buf, len);
        break;
    case DS_COPY_END:
        copy_end(l);
        break;
    }
}

/* The server's warnings go to the log; its notices, as psql -q would not show them
 * either in a restore's output, are dropped. */
static void on_notice(void *arg, const char *message)
{
    (void)arg;
    if (strncmp(message, "WARNING:", 8) != 0)
        return;
    size_t n = strcspn(message, "\n");
    log_warn("the server said: %.*s", (int)n, message);
}

struct loader *loader_new(struct pg *pg, const struct loader_options *o)
{
    struct loader *l = xcalloc(1, sizeof(*l));
    l->pg = pg;
    l->o = *o;
    l->line = 1;
    l->scan = dumpscan_new();
    dumpscan_set_sink(l->scan, on_event, l);
    PQsetNoticeProcessor(pg->conn, on_notice, NULL);
    return l;
}

int loader_feed(struct loader *l, const char *buf, size_t len)
{
    if (!l->failed && cancelled(l))
        return stop(l);
    if (!l->failed && l->o.single_transaction && !l->began) {
        l->began = true;
        run_sql(l, "BEGIN", 0, false);
    }
    if (l->failed)
        return -1;
    l->cursor = buf;
    l->chunk_end = buf + len;
    dumpscan_feed(l->scan, buf, len);
    line_at(l, l->chunk_end);
    l->cursor = l->chunk_end = NULL;
    return l->failed ? -1 : 0;
}

int loader_skip_copy(struct loader *l)
{
    if (l->failed)
        return -1;
    return l->copying || dumpscan_skip_copy(l->scan) != 0 ? -1 : 0;
}

void loader_set_line(struct loader *l, long line)
{
    l->line = line;
    /* blanks read since the last statement are not where the next one starts */
    long lines = 0;
    if (l->stmt.data && !*skip_trivia(l->stmt.data, &lines))
        sbuf_reset(&l->stmt);
}

int loader_finish(struct loader *l)
{
    if (l->failed)
        return -1;
    if (dumpscan_finish(l->scan) != 0 || l->failed) {
        if (!l->failed)
            err_set(ERR_FAILED,
                    "the dump ends inside a statement or a COPY block (line %ld): "
                    "it is incomplete",
                    l->line);
        return stop(l);
    }
    if (l->began && run_sql(l, "COMMIT", l->line, false) != 0)
        return stop(l);
    l->began = false;
    return 0;
}

size_t loader_copy_count(const struct loader *l)
{
    return l->ncopies;
}

const struct loader_copy *loader_copy(const struct loader *l, size_t i)
{
    return i < l->ncopies ? &l->copies[i] : NULL;
}

void loader_free(struct loader *l)
{
    if (!l)
        return;
    pg_free(l->pg);
    dumpscan_free(l->scan);
    sbuf_free(&l->stmt);
    sbuf_free(&l->meta);
    free(l->restrict_key);
    for (size_t i = 0; i < l->ncopies; i++) {
        free(l->copies[i].schema);
        free(l->copies[i].name);
    }
    free(l->copies);
    free(l);
}
