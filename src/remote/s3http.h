#ifndef PGVAULT_S3HTTP_H
#define PGVAULT_S3HTTP_H

#include <curl/curl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/util.h"
#include "remote/remote.h"

/*
 * The S3 backend's internals. Its HTTP layer: one signed request (SigV4 by libcurl), retried with
 * backoff on 5xx answers, timeouts and connection resets, and the one-line error that
 * names the remote, the endpoint and the S3 error code. Only remote/s3.c uses it.
 */

/* One opened s3:// remote. */
struct s3 {
    struct remote base;
    char *bucket;
    char *prefix;   /* "" or "PATH/" */
    char *endpoint; /* as configured (for messages) */
    char *base_url; /* scheme://host[:port]/BUCKET (path style) or scheme://BUCKET.host[:port] */
    char *access_key;
    char *secret;
    char *token; /* AWS_SESSION_TOKEN or NULL */
    char sigv4[128];
    int64_t part_size;
    int max_keys;
    CURL *curl;
};

/* One request; the caller fills the first block, s3_request the second. */
struct s3_req {
    const char *method;         /* GET, HEAD, PUT, POST, DELETE */
    const char *what;           /* for messages: "upload \"shop/x.sql.gz\"" */
    const char *key;            /* object key (the prefix included); NULL: the bucket */
    const char *query;          /* canonical query string (sorted, encoded) or NULL */
    struct curl_slist *headers; /* extra headers (the caller frees them) */
    int fd;                     /* PUT: the body is bytes [offset, offset + length) of fd, */
    const char *path;           /*      the file path (for messages), */
    int64_t offset, length;     /*      or -1 for fd and the body below */
    const char *body;           /* PUT, POST: the body from memory */
    size_t body_len;
    struct chain *sink; /* GET: the body goes into this chain (chain_write) */
    bool missing_ok;    /* a 404 is an answer (s3_request returns 1), not an error */
    int attempts;       /* 0: the default (5) */
    remote_progress_fn progress;
    void *arg;
    int64_t progress_base, progress_total;
    volatile sig_atomic_t *cancel;

    long status;
    int64_t content_length; /* of the answer, -1 when it gave none */
    char checksum[33];      /* its x-amz-meta-xxh3-128, "" when none */
    char etag[80];
    struct sbuf resp; /* the answer's body unless sink took it (the caller frees it) */
    int64_t sent, delivered;
    int tries;
    int read_errno;
    bool read_short, sink_failed, resp_overflow;
    CURL *curl;
};

/* A request with the defaults (no body, no sink, fd -1). */
#define S3_REQ(m, w, k, q)                                                                         \
    (struct s3_req)                                                                                \
    {                                                                                              \
        .method = (m), .what = (w), .key = (k), .query = (q), .fd = -1                             \
    }

/* Runs rq with retries: 0 on a 2xx answer, 1 on a 404 when rq->missing_ok, else -1 with
 * the error set (ERR_REMOTE: unreachable, credentials refused, bucket missing, 5xx after
 * the retries; ERR_FAILED otherwise; "interrupted" when *rq->cancel became non-zero). */
int s3_request(struct s3 *s, struct s3_req *rq);

/* Records the error of an answer that is not a success (S3 code and message from its XML
 * body); returns -1. */
int s3_http_error(struct s3 *s, const struct s3_req *rq);

/* Percent-encodes s as SigV4 wants it (unreserved characters kept, and '/' if
 * keep_slash); caller frees. */
char *s3_encode(const char *s, bool keep_slash);

/* The text of the first <tag>…</tag> in [doc, end), unescaped, or NULL; *next (may be
 * NULL) points after the element. Caller frees. */
char *s3_xml_text(const char *doc, const char *end, const char *tag, const char **next);

/* The parts a multipart upload may have at most (S3 allows 10,000). */
#define S3_PART_TARGET 9000

/* The part size for a file of size bytes: part_size, or more (rounded up to whole MiB)
 * so that the file needs at most S3_PART_TARGET parts; never below 5 MiB. */
int64_t s3_part_size(int64_t part_size, int64_t size);

#endif
