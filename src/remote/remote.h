#ifndef PGVAULT_REMOTE_H
#define PGVAULT_REMOTE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * An off-site store of backup files: a named remote of the configuration
 * (remote.NAME.url = s3://BUCKET/PREFIX, sftp://USER@HOST[:PORT]/PATH or file:///PATH).
 * Each backend (remote/s3.c, remote/sftp.c, remote/local.c) fills a struct remote_ops;
 * the commands only ever call the remote_* functions below.
 *
 * Keys are paths relative to the remote's prefix ("shop/shop_20261201_020000.sql.gz",
 * "catalog/catalog-20261201T020000Z.db"), '/'-separated, never starting with '/' and
 * never containing "..".
 *
 * Every function returns 0 on success and -1 with one error recorded (err_set): class
 * ERR_REMOTE (exit 6) when the remote cannot be reached or refuses the credentials,
 * ERR_FAILED for any other failure (a missing bucket, a full disk on the far side),
 * ERR_USAGE for a bad configuration. remote_stat returns 1 when the object is missing.
 */

struct chain;

/* The keys of one remote.NAME section; strings are owned by the configuration. */
struct remote_conf {
    const char *name;            /* NAME */
    const char *url;             /* s3://…, sftp://…, file://… */
    const char *endpoint;        /* S3: https://host[:port] (default AWS for region) */
    const char *region;          /* S3: default "us-east-1" */
    const char *access_key;      /* S3: or AWS_ACCESS_KEY_ID */
    const char *secret_key_file; /* S3: mode 0600 or stricter; or AWS_SECRET_ACCESS_KEY */
    bool path_style;             /* S3: https://endpoint/BUCKET/KEY instead of BUCKET.endpoint */
    int64_t part_size;           /* S3: bytes per multipart part (0: 16 MiB; 5 MiB..5 GiB) */
    int max_keys;                /* S3: keys per list request (0: 1000; small in tests) */
    const char *identity_file;   /* SFTP: private key (default ~/.ssh/id_ed25519, id_rsa) */
    const char *known_hosts;     /* SFTP: default ~/.ssh/known_hosts */
    int io_timeout;              /* SFTP: seconds an operation may wait for the server
                                  * before it is given up (exit 6); 0: 120 */
};

/* What an object carries besides its bytes. */
struct remote_meta {
    int64_t size;      /* bytes */
    char checksum[33]; /* XXH3-128 of the bytes as 32 hex digits; "" when none recorded */
};

/* Called as an upload or download advances (bytes so far, of total; total -1: unknown). */
typedef void (*remote_progress_fn)(void *arg, int64_t done, int64_t total);

/* Called once per object by remote_list (key relative to the prefix); non-zero stops. */
typedef int (*remote_list_fn)(void *arg, const char *key, const struct remote_meta *meta);

struct remote;

struct remote_ops {
    const char *scheme; /* "s3", "sftp", "file" */
    /* Checks the configuration and prepares (no network yet); fills *out. */
    int (*open)(const struct remote_conf *conf, struct remote **out);
    /* Stores the local file path as key, atomically: the object appears whole or not at
     * all (S3: PUT or a completed multipart upload, aborted on failure; SFTP and file:
     * a temporary name, then rename). meta->checksum is stored with it (S3: metadata
     * x-amz-meta-xxh3-128; SFTP and file: a sidecar KEY.xxh3 written before the rename). */
    int (*put_file)(struct remote *r, const char *path, const char *key,
                    const struct remote_meta *meta, remote_progress_fn progress, void *arg,
                    volatile sig_atomic_t *cancel);
    /* Reads back the size and the stored checksum of key; 1 when it does not exist. */
    int (*stat)(struct remote *r, const char *key, struct remote_meta *out);
    /* Streams key's bytes into the chain c (chain_write), then chain_finish; nothing
     * touches the local disk. */
    int (*get)(struct remote *r, const char *key, struct chain *c, remote_progress_fn progress,
               void *arg, volatile sig_atomic_t *cancel);
    /* Removes key (and its sidecar); a missing key is not an error. */
    int (*remove)(struct remote *r, const char *key);
    /* Calls fn for every object whose key starts with prefix ("" for all). */
    int (*list)(struct remote *r, const char *prefix, remote_list_fn fn, void *arg);
    void (*close)(struct remote *r);
};

/* Opens the remote described by conf with the backend its URL's scheme names. */
int remote_open(const struct remote_conf *conf, struct remote **out);
void remote_close(struct remote *r);

int remote_put_file(struct remote *r, const char *path, const char *key,
                    const struct remote_meta *meta, remote_progress_fn progress, void *arg,
                    volatile sig_atomic_t *cancel);
int remote_stat(struct remote *r, const char *key, struct remote_meta *out);
int remote_get(struct remote *r, const char *key, struct chain *c, remote_progress_fn progress,
               void *arg, volatile sig_atomic_t *cancel);
int remote_remove(struct remote *r, const char *key);
int remote_list(struct remote *r, const char *prefix, remote_list_fn fn, void *arg);

/* Every backend's struct remote starts with this. */
struct remote {
    const struct remote_ops *ops;
    const struct remote_conf *conf;
};

#endif
