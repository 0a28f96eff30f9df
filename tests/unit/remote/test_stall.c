/* The stall guard: a socket blocked past the timeout is shut down; kicks and pauses keep
 * a live or idle one open. */
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "remote/stall.h"
#include "unit.h"

static void nap(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A read on a socket whose peer never writes returns (EOF) once the guard fires. */
static void test_fires_on_a_blocked_read(void)
{
    int sv[2];
    CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct stall_guard *g = stall_guard_new(sv[0], 0.2);
    CHECK(g != NULL);
    stall_guard_kick(g);
    double t0 = time_mono();
    char c;
    CHECK_INT(read(sv[0], &c, 1), 0);
    double waited = time_mono() - t0;
    CHECK(waited >= 0.15 && waited < 5);
    CHECK(stall_guard_fired(g));
    stall_guard_free(g);
    close(sv[0]);
    close(sv[1]);
}

/* Kicks more often than the timeout, then a pause: the socket stays usable. */
static void test_kicks_and_pause_keep_it_open(void)
{
    int sv[2];
    CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct stall_guard *g = stall_guard_new(sv[0], 0.3);
    for (int i = 0; i < 8; i++) {
        stall_guard_kick(g);
        nap(100);
    }
    stall_guard_pause(g);
    nap(500);
    CHECK(!stall_guard_fired(g));
    CHECK_INT(write(sv[1], "x", 1), 1);
    char c = 0;
    CHECK_INT(read(sv[0], &c, 1), 1);
    CHECK_INT(c, 'x');
    stall_guard_free(g);
    close(sv[0]);
    close(sv[1]);
}

static void test_free_of_an_idle_guard(void)
{
    stall_guard_free(NULL);
    struct stall_guard *g = stall_guard_new(-1, 10);
    stall_guard_free(g);
}

int main(void)
{
    RUN(test_fires_on_a_blocked_read);
    RUN(test_kicks_and_pause_keep_it_open);
    RUN(test_free_of_an_idle_guard);
    return UNIT_DONE();
}
