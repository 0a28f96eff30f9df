/*
 * zref: what zlib alone needs to gzip a file on one core -- the reference for pgvault's
 * own CPU and output size. Part of tests/bench (not of pgvault).
 *
 *   zref LEVEL FILE
 *
 * Reads FILE in 1 MiB chunks (as pgvault reads pg_dump's pipe) and deflates it with
 * zlib in the gzip format (deflateInit2 windowBits 15+16, memLevel 8, the default
 * strategy: what pgvault's single-threaded path and gzip(1)-compatible writers use),
 * discarding the output. Prints "zcpu=S zsize=BYTES raw=BYTES" where zcpu is the
 * user+system CPU time of the deflate calls only (CLOCK_PROCESS_CPUTIME_ID around each
 * call: no file reading), zsize the compressed size including the gzip header and
 * trailer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define CHUNK (1u << 20)

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: zref LEVEL FILE\n");
        return 2;
    }
    int level = atoi(argv[1]);
    int fd = open(argv[2], O_RDONLY);
    if (fd < 0) {
        fprintf(stderr, "zref: %s: %s\n", argv[2], strerror(errno));
        return 2;
    }
    unsigned char *in = malloc(CHUNK), *out = malloc(CHUNK);
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (!in || !out ||
        deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        fprintf(stderr, "zref: cannot initialise zlib\n");
        return 2;
    }
    uint64_t raw = 0, zsize = 0;
    double cpu = 0;
    for (int done = 0; !done;) {
        ssize_t n = read(fd, in, CHUNK);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "zref: read: %s\n", strerror(errno));
            return 2;
        }
        done = n == 0;
        raw += (uint64_t)n;
        z.next_in = in;
        z.avail_in = (uInt)n;
        double c0 = cpu_now();
        int rc;
        do {
            z.next_out = out;
            z.avail_out = CHUNK;
            rc = deflate(&z, done ? Z_FINISH : Z_NO_FLUSH);
            zsize += CHUNK - z.avail_out;
        } while (done ? rc != Z_STREAM_END : z.avail_out == 0);
        cpu += cpu_now() - c0;
    }
    deflateEnd(&z);
    printf("zcpu=%.2f zsize=%llu raw=%llu\n", cpu, (unsigned long long)zsize,
           (unsigned long long)raw);
    return 0;
}
