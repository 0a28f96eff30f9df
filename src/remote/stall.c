#include "remote/stall.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "common/err.h"
#include "common/util.h"

struct stall_guard {
    int fd;
    double timeout_s;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct timespec deadline; /* valid while armed */
    bool armed, fired, stop;
};

static struct timespec deadline_from_now(double s)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    long ns = (long)((s - (double)(long)s) * 1e9) + t.tv_nsec;
    t.tv_sec += (time_t)s + ns / 1000000000L;
    t.tv_nsec = ns % 1000000000L;
    return t;
}

static bool passed(const struct timespec *d)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > d->tv_sec || (now.tv_sec == d->tv_sec && now.tv_nsec >= d->tv_nsec);
}

static void *watch(void *arg)
{
    struct stall_guard *g = arg;
    pthread_mutex_lock(&g->mu);
    while (!g->stop) {
        if (!g->armed) {
            pthread_cond_wait(&g->cv, &g->mu);
        } else if (passed(&g->deadline)) {
            shutdown(g->fd, SHUT_RDWR);
            g->fired = true;
            g->armed = false;
        } else {
            /* a kick moves the deadline back without waking us: check again then */
            struct timespec d = g->deadline;
            pthread_cond_timedwait(&g->cv, &g->mu, &d);
        }
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

struct stall_guard *stall_guard_new(int fd, double timeout_s)
{
    struct stall_guard *g = xcalloc(1, sizeof(*g));
    g->fd = fd;
    g->timeout_s = timeout_s;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&g->mu, NULL);
    int rc = pthread_create(&g->thread, NULL, watch, g);
    if (rc != 0) {
        pthread_cond_destroy(&g->cv);
        pthread_mutex_destroy(&g->mu);
        free(g);
        err_sys(rc, "could not start a thread");
        return NULL;
    }
    return g;
}

void stall_guard_kick(struct stall_guard *g)
{
    pthread_mutex_lock(&g->mu);
    bool was_armed = g->armed;
    g->deadline = deadline_from_now(g->timeout_s);
    g->armed = !g->fired;
    if (!was_armed)
        pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

void stall_guard_pause(struct stall_guard *g)
{
    pthread_mutex_lock(&g->mu);
    g->armed = false;
    pthread_mutex_unlock(&g->mu);
}

bool stall_guard_fired(struct stall_guard *g)
{
    pthread_mutex_lock(&g->mu);
    bool fired = g->fired;
    pthread_mutex_unlock(&g->mu);
    return fired;
}

void stall_guard_free(struct stall_guard *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->mu);
    g->stop = true;
    pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mu);
    pthread_join(g->thread, NULL);
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    free(g);
}
