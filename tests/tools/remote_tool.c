/*
 * A thin command line over src/remote/remote.h, for the tests of each backend against its
 * real server (Swift with s3api, OpenSSH):
 *
 *   remote_tool [KEY=VALUE …] URL put FILE OBJECT   stores FILE as OBJECT (checksum kept)
 *   remote_tool [KEY=VALUE …] URL stat OBJECT       prints "SIZE CHECKSUM"; exit 1: missing
 *   remote_tool [KEY=VALUE …] URL get OBJECT        writes OBJECT's bytes to stdout
 *   remote_tool [KEY=VALUE …] URL rm OBJECT
 *   remote_tool [KEY=VALUE …] URL ls [PREFIX]       prints "OBJECT SIZE CHECKSUM" lines
 *
 * SIGINT and SIGTERM interrupt a put or get (the backend's cancellation). With
 * REMOTE_TOOL_PROGRESS set, a put or get ends with "progress: CALLS calls, last DONE/TOTAL"
 * on stderr (the backend's progress callback).
 *
 * KEY is a remote.NAME key of the configuration: endpoint, region, access_key,
 * secret_key_file, path_style (0/1), part_size (bytes), max_keys (keys per list request),
 * identity_file, known_hosts, io_timeout. Errors print one line
 * and exit with the error's class (6: remote unreachable), as pgvault does.
 *
 * SIGINT and SIGTERM cancel a put or get (the backend stops between packets). With
 * REMOTE_TOOL_PACE_MS=N in the environment, each progress report of a put or get waits
 * N ms, so that a test can act while a transfer is under way.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "io/chain.h"
#include "io/filters.h"
#include "io/hash.h"
#include "remote/remote.h"

static volatile sig_atomic_t cancelled;

static void on_signal(int sig)
{
    (void)sig;
    cancelled = 1;
}

static struct {
    long calls;
    int64_t done, total;
} progress;

/* Records the progress calls (REMOTE_TOOL_PROGRESS) and, with REMOTE_TOOL_PACE_MS, sleeps
 * that long at each one, so that a test can stop a transfer in its middle. */
static void on_progress(void *arg, int64_t done, int64_t total)
{
    long ms = *(long *)arg;
    progress.calls++;
    progress.done = done;
    progress.total = total;
    if (ms > 0) {
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static int fail(void)
{
    fprintf(stderr, "remote_tool: %s\n", err_msg());
    if (err_hint_msg()[0])
        fprintf(stderr, "HINT: %s\n", err_hint_msg());
    return err_class() == ERR_NONE ? 1 : (int)err_class();
}

static int set_key(struct remote_conf *conf, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq)
        return -1;
    size_t n = (size_t)(eq - arg);
    const char *v = eq + 1;
    if (n == 8 && strncmp(arg, "endpoint", n) == 0)
        conf->endpoint = v;
    else if (n == 6 && strncmp(arg, "region", n) == 0)
        conf->region = v;
    else if (n == 10 && strncmp(arg, "access_key", n) == 0)
        conf->access_key = v;
    else if (n == 15 && strncmp(arg, "secret_key_file", n) == 0)
        conf->secret_key_file = v;
    else if (n == 10 && strncmp(arg, "path_style", n) == 0)
        conf->path_style = strcmp(v, "1") == 0;
    else if (n == 9 && strncmp(arg, "part_size", n) == 0)
        conf->part_size = strtoll(v, NULL, 10);
    else if (n == 8 && strncmp(arg, "max_keys", n) == 0)
        conf->max_keys = atoi(v);
    else if (n == 13 && strncmp(arg, "identity_file", n) == 0)
        conf->identity_file = v;
    else if (n == 11 && strncmp(arg, "known_hosts", n) == 0)
        conf->known_hosts = v;
    else if (n == 10 && strncmp(arg, "io_timeout", n) == 0)
        conf->io_timeout = atoi(v);
    else
        return -1;
    return 0;
}

static int print_entry(void *arg, const char *key, const struct remote_meta *meta)
{
    (void)arg;
    printf("%s %lld %s\n", key, (long long)meta->size, meta->checksum[0] ? meta->checksum : "-");
    return 0;
}

int main(int argc, char **argv)
{
    struct remote_conf conf = {.name = "test"};
    int i = 1;
    /* KEY=VALUE until the URL (a value may itself be a URL: the endpoint) */
    while (i < argc && strcspn(argv[i], "=") < strcspn(argv[i], ":")) {
        if (set_key(&conf, argv[i]) < 0) {
            fprintf(stderr, "remote_tool: unknown setting \"%s\"\n", argv[i]);
            return 2;
        }
        i++;
    }
    if (argc - i < 2) {
        fprintf(stderr, "usage: remote_tool [KEY=VALUE …] URL put|stat|get|rm|ls …\n");
        return 2;
    }
    conf.url = argv[i];
    const char *op = argv[i + 1];
    char **rest = argv + i + 2;
    int nrest = argc - i - 2;

    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    const char *pace_env = getenv("REMOTE_TOOL_PACE_MS");
    long pace_ms = pace_env ? atol(pace_env) : 0;
    remote_progress_fn show = getenv("REMOTE_TOOL_PROGRESS") || pace_ms > 0 ? on_progress : NULL;

    struct remote *r;
    if (remote_open(&conf, &r) < 0)
        return fail();
    int rc = 0;
    if (strcmp(op, "put") == 0 && nrest == 2) {
        struct remote_meta meta = {0};
        uint64_t size;
        if (hash_file(rest[0], meta.checksum, &size, NULL) < 0)
            rc = -1;
        meta.size = (int64_t)size;
        if (rc == 0)
            rc = remote_put_file(r, rest[0], rest[1], &meta, show, &pace_ms, &cancelled);
    } else if (strcmp(op, "stat") == 0 && nrest == 1) {
        struct remote_meta meta;
        rc = remote_stat(r, rest[0], &meta);
        if (rc == 0)
            printf("%lld %s\n", (long long)meta.size, meta.checksum[0] ? meta.checksum : "-");
        else if (rc == 1) {
            remote_close(r);
            return 1;
        }
    } else if (strcmp(op, "get") == 0 && nrest == 1) {
        struct chain *c = chain_new();
        chain_add(c, filter_fd_new(STDOUT_FILENO, "standard output"));
        rc = remote_get(r, rest[0], c, show, &pace_ms, &cancelled);
        chain_free(c);
    } else if (strcmp(op, "rm") == 0 && nrest == 1) {
        rc = remote_remove(r, rest[0]);
    } else if (strcmp(op, "ls") == 0 && nrest <= 1) {
        rc = remote_list(r, nrest ? rest[0] : "", print_entry, NULL);
    } else {
        fprintf(stderr, "remote_tool: bad operation \"%s\" or arguments\n", op);
        remote_close(r);
        return 2;
    }
    remote_close(r);
    if (show)
        fprintf(stderr, "progress: %ld calls, last %lld/%lld\n", progress.calls,
                (long long)progress.done, (long long)progress.total);
    return rc < 0 ? fail() : 0;
}
