/*
 * The parallel load (see pload.h): a queue of jobs (a table's part from its access
 * point, or one post-data statement) under one mutex, worker threads each with a
 * session (a loader of its own), and the main session's route hook that fills the
 * queue and waits where dump order requires it.
 */
#include "io/pload.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "catalog/catalog.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "io/access.h"
#include "io/ahead.h"
#include "postgres/dumpscan.h"
#include "postgres/loader.h"
#include "postgres/pg.h"

#define PART_CHUNK (1u << 20) /* bytes a session reads of its part at a time */
#define LOOKAHEAD 64          /* queued jobs a free session looks at for one it may run */
#define WAIT_MS 250           /* how often a waiting main session looks at the signal */

/* What a session runs at once beside others: the data, then index builds and
 * index-backed constraints, then foreign keys (each group after the one before). */
enum job_kind { JOB_DATA, JOB_INDEX, JOB_CONSTRAINT, JOB_FOREIGN_KEY };
enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_DONE };

struct job {
    enum job_kind kind;
    enum job_state state;
    const struct access_point *pt; /* JOB_DATA */
    char *sql;                     /* the others: the statement, its line */
    long line;
    char *tables[2]; /* the tables it locks (keys), NULL when fewer */
    size_t nsets;    /* the settings made before it, replayed first */
};

struct worker {
    struct pload *p;
    pthread_t thread;
    bool started;
    struct loader *l; /* its session */
    size_t applied;   /* settings replayed on it */
    unsigned char *buf;
    const struct access_point *part; /* the part being streamed: no statement may start */
};

enum phase { PH_PRE, PH_DATA, PH_POST };

struct piece {
    uint64_t raw, len;
    uint32_t crc;
};

struct pload {
    struct pload_config c;
    pthread_mutex_t mu;
    pthread_cond_t work; /* a job was queued or finished, or the load stops */
    pthread_cond_t done; /* a job finished, or failed */
    struct job *jobs;
    size_t njobs, capjobs, first_open; /* jobs before first_open are all done */
    size_t running;
    char **sets; /* SET statements of the dump, in order */
    size_t nsets, capsets;
    struct worker *w;
    int nw;
    bool stopping;
    volatile sig_atomic_t abort; /* the sessions' loaders stop when it is set */
    bool failed;
    struct err_saved why;
    /* the main session's side */
    enum phase phase;
    bool data_queued;
    /* gzip: the CRC-32 of every piece of the dump read (the sessions' parts, the main
     * session's ranges), combined at the end against the member's own */
    struct piece *pieces;
    size_t npieces, cappieces;
    bool fed_around; /* the main session read around the tables' data */
    char **keys;     /* tables with access points (a hash set of keys) */
    size_t nkeys_cap;
    double t0, t_data, t_post, t_end;
};

static char *table_key(const char *schema, const char *name)
{
    return xasprintf("%s\x1f%s", schema ? schema : "", name);
}

static uint64_t key_hash(const char *k)
{
    uint64_t h = 1469598103934665603u;
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 1099511628211u;
    return h;
}

/* The slot of key k in the hash set (an empty one if k is not in it). */
static size_t key_slot(const struct pload *p, const char *k)
{
    size_t i = (size_t)(key_hash(k) & (p->nkeys_cap - 1));
    while (p->keys[i] && strcmp(p->keys[i], k) != 0)
        i = (i + 1) & (p->nkeys_cap - 1);
    return i;
}

static bool has_points(const struct pload *p, const char *schema, const char *name)
{
    if (!p->keys)
        return false;
    char *k = table_key(schema, name);
    bool found = p->keys[key_slot(p, k)] != NULL;
    free(k);
    return found;
}

static void index_points(struct pload *p)
{
    p->nkeys_cap = 16;
    while (p->nkeys_cap < 2 * p->c.npoints)
        p->nkeys_cap *= 2;
    p->keys = xcalloc(p->nkeys_cap, sizeof(char *));
    for (size_t i = 0; i < p->c.npoints; i++) {
        char *k = table_key(p->c.points[i].schema_name, p->c.points[i].table_name);
        size_t s = key_slot(p, k);
        if (p->keys[s])
            free(k);
        else
            p->keys[s] = k;
    }
}

/* Whether the backup's parts can be read from their points (an encryption that cannot
 * be read from the middle: every table is loaded by the main session). */
static bool points_readable(const struct pload_config *c)
{
    if (c->npoints == 0)
        return false;
    struct access_reader *r = access_open(c->path, c->compression, c->encryption, c->keys,
                                          (uint64_t)c->points[0].comp_offset);
    if (!r) {
        log_info("backup file \"%s\" is loaded by one session: %s", c->path, err_msg());
        err_clear();
        return false;
    }
    access_close(r);
    return true;
}

/* ---- the sessions ---- */

static bool same_table(const struct job *a, const struct job *b)
{
    for (int i = 0; i < 2 && a->tables[i]; i++)
        for (int k = 0; k < 2 && b->tables[k]; k++)
            if (strcmp(a->tables[i], b->tables[k]) == 0)
                return true;
    return false;
}

/* Jobs whose locks on one table do not conflict: the parts of its data (COPY takes
 * ROW EXCLUSIVE), its index builds (SHARE). Anything else on a table runs alone. */
static bool shares_lock(const struct job *a, const struct job *b)
{
    return !(a->kind == b->kind && (a->kind == JOB_DATA || a->kind == JOB_INDEX));
}

static int job_group(const struct job *j)
{
    return j->kind == JOB_DATA ? 0 : j->kind == JOB_FOREIGN_KEY ? 2 : 1;
}

/* Whether job i may start: no job before it that is not done is of another group, or
 * needs a lock on one of its tables that conflicts with its own. */
static bool runnable(const struct pload *p, size_t i)
{
    const struct job *j = &p->jobs[i];
    for (size_t k = p->first_open; k < i; k++) {
        const struct job *o = &p->jobs[k];
        if (o->state == JOB_DONE)
            continue;
        if (job_group(o) != job_group(j))
            return false;
        if (shares_lock(o, j) && same_table(o, j))
            return false;
    }
    return true;
}

/* Every job queued is done (with the mutex held). */
static bool all_done(struct pload *p)
{
    while (p->first_open < p->njobs && p->jobs[p->first_open].state == JOB_DONE)
        p->first_open++;
    return p->first_open == p->njobs;
}

/* The sessions' loaders read the flag on their own threads: set and read atomically. */
static void set_abort(struct pload *p)
{
    __atomic_store_n(&p->abort, 1, __ATOMIC_SEQ_CST);
}

static bool aborted(struct pload *p)
{
    return __atomic_load_n(&p->abort, __ATOMIC_SEQ_CST) != 0;
}

/* The next job a free session may start, or SIZE_MAX. Called with the mutex held. */
static size_t pick(struct pload *p)
{
    all_done(p);
    size_t seen = 0;
    for (size_t i = p->first_open; i < p->njobs && seen < LOOKAHEAD; i++) {
        if (p->jobs[i].state != JOB_QUEUED)
            continue;
        seen++;
        if (runnable(p, i))
            return i;
    }
    return SIZE_MAX;
}

/* The first failure stops every session; its error is the load's. */
static void fail_load(struct pload *p)
{
    pthread_mutex_lock(&p->mu);
    if (!p->failed) {
        p->failed = true;
        err_save(&p->why);
    }
    err_clear();
    set_abort(p);
    pthread_cond_broadcast(&p->work);
    pthread_cond_broadcast(&p->done);
    pthread_mutex_unlock(&p->mu);
}

static int feed_text(struct loader *l, const char *s)
{
    return loader_feed(l, s, strlen(s));
}

/* A statement in the middle of a part's rows: the data is damaged (a "\." line came
 * early); nothing of it runs. */
static int part_guard(void *ctx, const struct dumpscan_stmt *st, const char *sql, long line)
{
    (void)st;
    (void)sql;
    const struct worker *w = ctx;
    if (!w->part)
        return 0;
    return err_set(ERR_INTEGRITY,
                   "backup file \"%s\" is corrupt: the rows of table %s from line %lld end "
                   "early, at line %ld",
                   w->p->c.path, w->part->table_name, (long long)w->part->line, line);
}

/* The session's connection. */
static int session_open(struct worker *w)
{
    struct pg *pg = NULL;
    if (pg_connect(w->p->c.conn, w->p->c.db, &pg) != 0)
        return -1;
    struct loader_options o = {.on_error = w->p->c.on_error,
                               .ctx = w->p->c.error_ctx,
                               .route = part_guard,
                               .route_ctx = w,
                               .cancel = &w->p->abort};
    w->l = loader_new(pg, &o);
    return feed_text(w->l, "SET synchronous_commit = off;\n");
}

/* Replays the settings made before the job (sets: a copy taken under the mutex). */
static int replay_settings(struct worker *w, char **sets, size_t upto)
{
    for (; w->applied < upto; w->applied++)
        if (feed_text(w->l, sets[w->applied]) != 0 || feed_text(w->l, "\n") != 0)
            return -1;
    return 0;
}

static void add_piece(struct pload *p, uint64_t raw, uint64_t len, uint32_t crc)
{
    pthread_mutex_lock(&p->mu);
    if (p->npieces == p->cappieces) {
        p->cappieces = p->cappieces ? 2 * p->cappieces : 64;
        p->pieces = xrealloc(p->pieces, p->cappieces * sizeof(*p->pieces));
    }
    p->pieces[p->npieces++] = (struct piece){raw, len, crc};
    pthread_mutex_unlock(&p->mu);
}

/* Hands the file's decompressed bytes from comp (raw position raw) on, at most limit of
 * them, to fn (with
 * ctx) chunk by chunk, decompressed ahead on a thread of their own; *got: how many. */
static int pump_from(struct pload *p, uint64_t comp, uint64_t raw, uint64_t limit,
                     unsigned char *buf, int (*fn)(void *ctx, const char *b, size_t n), void *ctx,
                     uint64_t *got)
{
    const struct pload_config *c = &p->c;
    uLong crc = crc32(0L, Z_NULL, 0);
    *got = 0;
    struct access_reader *r = access_open(c->path, c->compression, c->encryption, c->keys, comp);
    struct ahead *a = r ? ahead_start_access(r, limit) : NULL;
    if (!a)
        return -1;
    int rc = 0;
    for (;;) {
        if (c->cancel && __atomic_load_n(c->cancel, __ATOMIC_RELAXED)) {
            rc = err_set(ERR_FAILED, "interrupted");
            break;
        }
        ssize_t n = ahead_read(a, buf, PART_CHUNK);
        if (n <= 0) {
            rc = n < 0 ? -1 : 0;
            break;
        }
        *got += (uint64_t)n;
        crc = crc32(crc, buf, (uInt)n);
        if ((rc = fn(ctx, (const char *)buf, (size_t)n)) != 0)
            break;
    }
    ahead_free(a);
    if (rc == 0)
        add_piece(p, raw, *got, (uint32_t)crc);
    return rc;
}

static int feed_loader(void *ctx, const char *b, size_t n)
{
    return loader_feed(ctx, b, n);
}

/* Streams the part's raw bytes from its access point into the session's COPY. */
static int stream_part(struct worker *w, const struct access_point *pt)
{
    const struct pload_config *c = &w->p->c;
    uint64_t got;
    if (pump_from(w->p, (uint64_t)pt->comp_offset, (uint64_t)pt->raw_offset,
                  (uint64_t)pt->raw_bytes, w->buf, feed_loader, w->l, &got) != 0)
        return -1;
    if (got < (uint64_t)pt->raw_bytes)
        return err_set(ERR_INTEGRITY, "backup file \"%s\" ends inside the rows of table %s",
                       c->path, pt->table_name);
    return 0;
}

/* One part of a table: its COPY statement, its rows, the end marker; the rows the
 * server took must be the part's. */
static int run_part(struct worker *w, const struct access_point *pt)
{
    loader_set_line(w->l, pt->line > 1 ? pt->line - 1 : 1);
    if (feed_text(w->l, pt->statement) != 0 || feed_text(w->l, "\n") != 0)
        return -1;
    w->part = pt;
    int rc = stream_part(w, pt);
    w->part = NULL;
    if (rc != 0 || feed_text(w->l, "\\.\n") != 0)
        return -1;
    size_t n = loader_copy_count(w->l);
    int64_t rows = n ? loader_copy(w->l, n - 1)->rows : -1;
    if (rows != pt->rows)
        return err_set(ERR_INTEGRITY,
                       "table %s.%s: the part from line %lld loaded %lld rows, the catalog "
                       "says %lld (the file is corrupt, or its catalog)",
                       pt->schema_name ? pt->schema_name : "", pt->table_name, (long long)pt->line,
                       (long long)rows, (long long)pt->rows);
    return 0;
}

static int run_job(struct worker *w, const struct job *j, char **sets)
{
    if (replay_settings(w, sets, j->nsets) != 0)
        return -1;
    if (j->kind == JOB_DATA)
        return run_part(w, j->pt);
    loader_set_line(w->l, j->line);
    return feed_text(w->l, j->sql) != 0 || feed_text(w->l, "\n") != 0 ? -1 : 0;
}

/* Takes the next job it may run (waiting for one); SIZE_MAX when the load is over.
 * Called with the mutex held; *sets gets a copy of the settings list. */
static size_t next_job(struct pload *p, char ***sets)
{
    for (;;) {
        if (aborted(p))
            return SIZE_MAX;
        size_t i = pick(p);
        if (i != SIZE_MAX) {
            p->jobs[i].state = JOB_RUNNING;
            p->running++;
            *sets = xcalloc(p->nsets + 1, sizeof(char *));
            if (p->nsets)
                memcpy(*sets, p->sets, p->nsets * sizeof(char *));
            return i;
        }
        if (p->stopping && p->running == 0)
            return SIZE_MAX;
        pthread_cond_wait(&p->work, &p->mu);
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct pload *p = w->p;
    w->buf = xmalloc_io(PART_CHUNK);
    /* connected at once, while the main session creates the schema */
    if (session_open(w) != 0)
        fail_load(p);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        char **sets = NULL;
        size_t i = next_job(p, &sets);
        if (i == SIZE_MAX)
            break;
        struct job j = p->jobs[i];
        pthread_mutex_unlock(&p->mu);
        int rc = run_job(w, &j, sets);
        free(sets);
        if (rc != 0)
            fail_load(p);
        pthread_mutex_lock(&p->mu);
        p->jobs[i].state = JOB_DONE;
        p->running--;
        pthread_cond_broadcast(&p->work);
        pthread_cond_broadcast(&p->done);
        if (rc != 0)
            break;
    }
    pthread_mutex_unlock(&p->mu);
    if (w->l && loader_finish(w->l) != 0 && !aborted(p))
        fail_load(p);
    loader_free(w->l);
    w->l = NULL;
    free(w->buf);
    return NULL;
}

/* ---- the main session's side ---- */

static int start_workers(struct pload *p)
{
    for (int i = 0; i < p->nw; i++) {
        p->w[i].p = p;
        int e = pthread_create(&p->w[i].thread, NULL, worker_main, &p->w[i]);
        if (e != 0)
            return err_sys(e, "could not start a loading session's thread");
        p->w[i].started = true;
    }
    return 0;
}

struct pload *pload_new(const struct pload_config *c)
{
    struct pload *p = xcalloc(1, sizeof(*p));
    p->c = *c;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    p->t0 = time_mono();
    if (p->c.jobs > 1 && points_readable(&p->c))
        index_points(p);
    p->nw = p->c.jobs > 1 ? p->c.jobs : 0;
    p->w = xcalloc((size_t)(p->nw ? p->nw : 1), sizeof(struct worker));
    if (start_workers(p) != 0)
        fail_load(p);
    return p;
}

/* Appends a job (with the mutex held). */
static struct job *push_job(struct pload *p, enum job_kind kind)
{
    if (p->njobs == p->capjobs) {
        p->capjobs = p->capjobs ? 2 * p->capjobs : 64;
        p->jobs = xrealloc(p->jobs, p->capjobs * sizeof(*p->jobs));
    }
    struct job *j = &p->jobs[p->njobs++];
    *j = (struct job){.kind = kind, .state = JOB_QUEUED, .nsets = p->nsets};
    return j;
}

static int longest_first(const void *a, const void *b)
{
    const struct access_point *x = *(const struct access_point *const *)a;
    const struct access_point *y = *(const struct access_point *const *)b;
    return (x->raw_bytes < y->raw_bytes) - (x->raw_bytes > y->raw_bytes);
}

/* The first COPY of a table with points: every part of every table loaded is queued. */
static int start_data(struct pload *p)
{
    const struct access_point **v = xcalloc(p->c.npoints + 1, sizeof(*v));
    size_t n = 0;
    for (size_t i = 0; i < p->c.npoints; i++) {
        const struct access_point *pt = &p->c.points[i];
        if (!p->c.want_table || p->c.want_table(p->c.want_ctx, pt->schema_name, pt->table_name))
            v[n++] = pt;
    }
    qsort(v, n, sizeof(*v), longest_first);
    p->data_queued = true;
    pthread_mutex_lock(&p->mu);
    for (size_t i = 0; i < n; i++) {
        struct job *j = push_job(p, JOB_DATA);
        j->pt = v[i];
        j->tables[0] = table_key(v[i]->schema_name, v[i]->table_name);
    }
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    free(v);
    p->phase = PH_DATA;
    return 0;
}

/* The error of a failed session, as the main session's. */
static int failed(struct pload *p)
{
    pthread_mutex_lock(&p->mu);
    struct err_saved why = p->why;
    pthread_mutex_unlock(&p->mu);
    err_clear();
    return err_restore(&why);
}

/* Waits until every job queued is done; -1 when one failed or on a signal. */
static int wait_idle(struct pload *p)
{
    pthread_mutex_lock(&p->mu);
    while (!p->failed && !all_done(p)) {
        if (p->c.cancel && __atomic_load_n(p->c.cancel, __ATOMIC_RELAXED)) {
            set_abort(p);
            pthread_cond_broadcast(&p->work);
            pthread_mutex_unlock(&p->mu);
            return err_set(ERR_FAILED, "interrupted");
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += WAIT_MS * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&p->done, &p->mu, &until);
    }
    bool bad = p->failed;
    pthread_mutex_unlock(&p->mu);
    return bad ? failed(p) : 0;
}

/* The data is in (or there was none to share): the post-data phase begins. */
static int end_data(struct pload *p)
{
    if (p->phase == PH_POST)
        return 0;
    if (p->phase == PH_DATA && wait_idle(p) != 0)
        return -1;
    p->phase = PH_POST;
    p->t_post = time_mono();
    return 0;
}

static enum job_kind statement_job(enum dumpscan_kind k)
{
    return k == DSK_INDEX ? JOB_INDEX : k == DSK_CONSTRAINT ? JOB_CONSTRAINT : JOB_FOREIGN_KEY;
}

/* An index build, constraint or foreign key, for the sessions. */
static int queue_statement(struct pload *p, const struct dumpscan_stmt *st, const char *sql,
                           long line)
{
    pthread_mutex_lock(&p->mu);
    struct job *j = push_job(p, statement_job(st->kind));
    j->sql = xstrdup(sql);
    j->line = line;
    j->tables[0] = table_key(st->table->schema, st->table->name);
    if (st->ref)
        j->tables[1] = table_key(st->ref->schema, st->ref->name);
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    return 1;
}

static void add_setting(struct pload *p, const char *sql)
{
    pthread_mutex_lock(&p->mu);
    if (p->nsets == p->capsets) {
        p->capsets = p->capsets ? 2 * p->capsets : 16;
        p->sets = xrealloc(p->sets, (p->capsets + 1) * sizeof(char *));
    }
    p->sets[p->nsets++] = xstrdup(sql);
    pthread_mutex_unlock(&p->mu);
}

bool pload_segmented(const struct pload *p)
{
    if (!p->keys) /* no sessions, or the parts cannot be read from their points */
        return false;
    for (size_t i = 0; i < p->c.npoints; i++)
        if (p->c.points[i].end_comp_offset < 0)
            return false;
    return true;
}

/* The main session's loader, and where in the dump it is, for the progress line. */
struct main_feed {
    struct loader *l;
    uint64_t raw;
    void (*raw_done)(void *ctx, uint64_t at);
    void *ctx;
};

static int feed_main(void *ctx, const char *b, size_t n)
{
    struct main_feed *m = ctx;
    m->raw += n;
    if (m->raw_done)
        m->raw_done(m->ctx, m->raw);
    return loader_feed(m->l, b, n);
}

/* Feeds the main session the dump from comp for len bytes, or to its end (len < 0). */
static int feed_range(struct pload *p, struct main_feed *m, uint64_t comp, int64_t len)
{
    unsigned char *buf = xmalloc_io(PART_CHUNK);
    uint64_t got;
    int rc =
        pump_from(p, comp, m->raw, len < 0 ? UINT64_MAX : (uint64_t)len, buf, feed_main, m, &got);
    free(buf);
    if (rc == 0 && len >= 0 && got < (uint64_t)len)
        rc = err_set(ERR_INTEGRITY, "backup file \"%s\" ends before its recorded access points",
                     p->c.path);
    return rc;
}

int pload_feed_main(struct pload *p, struct loader *l, void (*raw_done)(void *ctx, uint64_t at),
                    void *ctx)
{
    const struct access_point *pts = p->c.points;
    struct main_feed m = {.l = l, .raw_done = raw_done, .ctx = ctx};
    uint64_t comp = 0;
    p->fed_around = true;
    for (size_t i = 0; i < p->c.npoints; i++) {
        if (i > 0 && pts[i].end_raw_offset == pts[i - 1].end_raw_offset)
            continue; /* not the table's first part */
        if (feed_range(p, &m, comp, pts[i].raw_offset - (int64_t)m.raw) != 0)
            return -1;
        if (loader_skip_copy(l) != 0)
            return err_set(ERR_INTEGRITY,
                           "backup file \"%s\" does not match its access points: no COPY "
                           "of table %s starts at byte %lld",
                           p->c.path, pts[i].table_name, (long long)pts[i].raw_offset);
        loader_set_line(l, pts[i].end_line);
        comp = (uint64_t)pts[i].end_comp_offset;
        m.raw = (uint64_t)pts[i].end_raw_offset;
    }
    return feed_range(p, &m, comp, -1);
}

int pload_route(void *ctx, const struct dumpscan_stmt *st, const char *sql, long line)
{
    struct pload *p = ctx;
    if (aborted(p))
        return failed(p);
    bool post = st->kind == DSK_INDEX || st->kind == DSK_CONSTRAINT || st->kind == DSK_FOREIGN_KEY;
    if (st->kind == DSK_COPY && !p->t_data)
        p->t_data = time_mono();
    if (p->nw == 0) {
        /* one session: everything runs here, in order */
        if (post && !p->t_post)
            p->t_post = time_mono();
        return 0;
    }
    switch (st->kind) {
    case DSK_COPY:
        if (!has_points(p, st->table->schema, st->table->name))
            return 0;
        if (p->data_queued)
            return 1;
        /* (data after post-data statements: those finish first) */
        return (p->phase == PH_POST && wait_idle(p) != 0) || start_data(p) != 0 ? -1 : 1;
    case DSK_SET:
        add_setting(p, sql);
        return 0;
    case DSK_SEQUENCE_SET:
        return 0;
    default:
        if (end_data(p) != 0)
            return -1;
        if (post)
            return queue_statement(p, st, sql, line);
        return wait_idle(p);
    }
}

static int piece_order(const void *a, const void *b)
{
    const struct piece *x = a, *y = b;
    return (x->raw > y->raw) - (x->raw < y->raw);
}

/* The gzip member's trailer: the CRC-32 and the length (mod 2^32) of what it holds. */
static int gzip_trailer(const char *path, uint32_t *crc, uint32_t *isize)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    unsigned char t[8];
    bool ok =
        fd >= 0 && fstat(fd, &st) == 0 && st.st_size >= 8 && pread(fd, t, 8, st.st_size - 8) == 8;
    int errnum = errno;
    if (fd >= 0)
        close(fd);
    if (!ok)
        return err_sys(errnum, "could not read the gzip trailer of file \"%s\"", path);
    *crc = (uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 | (uint32_t)t[3] << 24;
    *isize = (uint32_t)t[4] | (uint32_t)t[5] << 8 | (uint32_t)t[6] << 16 | (uint32_t)t[7] << 24;
    return 0;
}

/*
 * What the sessions read in parts is what the backup compressed: the CRC-32 of every
 * piece, combined in dump order (with the "\." lines no one read between a table's last
 * part and its end point), must be the gzip member's own, which gunzip would check.
 */
static int check_gzip_crc(struct pload *p)
{
    qsort(p->pieces, p->npieces, sizeof(*p->pieces), piece_order);
    uLong crc = crc32(0L, Z_NULL, 0);
    uint64_t at = 0;
    for (size_t i = 0; i < p->npieces; i++) {
        const struct piece *x = &p->pieces[i];
        uint64_t gap = x->raw - at;
        const char *line = gap == 3 ? "\\.\n" : gap == 4 ? "\\.\r\n" : NULL;
        if (x->raw < at || (gap && !line))
            return err_set(ERR_INTEGRITY,
                           "backup file \"%s\" does not match its access points: bytes %llu "
                           "to %llu were not read",
                           p->c.path, (unsigned long long)at, (unsigned long long)x->raw);
        if (gap)
            crc = crc32(crc, (const unsigned char *)line, (uInt)gap);
        crc = crc32_combine(crc, x->crc, (z_off_t)x->len);
        at = x->raw + x->len;
    }
    uint32_t want = 0, isize = 0;
    if (gzip_trailer(p->c.path, &want, &isize) != 0)
        return -1;
    if ((uint32_t)crc != want || (uint32_t)at != isize)
        return err_set(ERR_INTEGRITY,
                       "backup file \"%s\" is corrupt: what was loaded does not match its "
                       "gzip CRC-32",
                       p->c.path);
    return 0;
}

int pload_finish(struct pload *p)
{
    int rc = p->nw ? end_data(p) : 0;
    if (rc == 0 && p->nw)
        rc = wait_idle(p);
    bool plain_gzip = strcmp(p->c.compression, "gzip") == 0 &&
                      (!p->c.encryption || strcmp(p->c.encryption, "none") == 0);
    /* (a partial restore reads only its tables' data: not all the stream) */
    if (rc == 0 && p->fed_around && plain_gzip && !p->c.want_table)
        rc = check_gzip_crc(p);
    p->t_end = time_mono();
    return rc;
}

void pload_times(const struct pload *p, struct pload_times *t)
{
    double end = p->t_end ? p->t_end : time_mono();
    double data = p->t_data ? p->t_data : end;
    double post = p->t_post ? p->t_post : end;
    t->pre_data = data - p->t0;
    t->data = post - data;
    t->post_data = end - post;
}

void pload_free(struct pload *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    if (!all_done(p))
        set_abort(p); /* a load that did not finish: what still runs is cancelled */
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nw; i++)
        if (p->w[i].started)
            pthread_join(p->w[i].thread, NULL);
    for (size_t i = 0; i < p->njobs; i++) {
        free(p->jobs[i].sql);
        free(p->jobs[i].tables[0]);
        free(p->jobs[i].tables[1]);
    }
    free(p->jobs);
    free(p->pieces);
    for (size_t i = 0; i < p->nsets; i++)
        free(p->sets[i]);
    free(p->sets);
    for (size_t i = 0; p->keys && i < p->nkeys_cap; i++)
        free(p->keys[i]);
    free(p->keys);
    free(p->w);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
