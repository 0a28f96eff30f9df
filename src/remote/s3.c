/*
 * The S3 backend: remote.NAME.url = s3://BUCKET[/PREFIX], over libcurl's SigV4 signing
 * (AWS S3, MinIO, Ceph, OpenStack Swift's s3api). The keys of remote.NAME:
 *
 *   endpoint         http(s)://host[:port] (default https://s3.REGION.amazonaws.com)
 *   region           the signing region (default us-east-1)
 *   access_key       the access key ID (default: AWS_ACCESS_KEY_ID); may contain ':'
 *   secret_key_file  a file holding the secret key, mode 0600 or stricter, refused
 *                    otherwise (default: AWS_SECRET_ACCESS_KEY, and then AWS_SESSION_TOKEN,
 *                    when set, is sent as x-amz-security-token)
 *   path_style       1: http(s)://endpoint/BUCKET/KEY; 0 (default): BUCKET.endpoint/KEY
 *   part_size        bytes per multipart part (default 16 MiB, 5 MiB to 5 GiB); a file
 *                    up to this size is one PUT, a larger one a multipart upload whose
 *                    parts grow (whole MiB) so that no file needs more than 9,000 parts
 *
 * Objects are stored as PREFIX/KEY with their XXH3-128 in x-amz-meta-xxh3-128. An upload
 * counts only once a HEAD reads back its size and checksum; a multipart upload that fails
 * or is interrupted is aborted, and one left open by a process that died is aborted by
 * the next upload of the same key. Parts are read from the finished file while they are
 * sent (pread through libcurl's read callback), so memory does not grow with the file: the
 * copy starts once the backup is complete and its checksum (metadata given when the
 * upload starts) is known, and a part that must be sent again is read again, where
 * uploading while the dump streams would have to hold each part in memory until stored.
 * remote_list gives each object's key and size; its checksum is "" there (one HEAD per
 * object, remote_stat, reads it). remote_stat returns 1 for a missing bucket too (the
 * answer to a HEAD has no error code); the other operations name NoSuchBucket.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "io/chain.h"
#include "remote/s3http.h"

#define S3_DEFAULT_PART (16LL << 20)
#define S3_MIN_PART (5LL << 20)
#define S3_MAX_PART (5LL << 30)
#define S3_DEFAULT_MAX_KEYS 1000
#define S3_ABORT_ATTEMPTS 3

/* --- opening ------------------------------------------------------------------------ */

/* Reads the secret from path, which must be a regular file that only its owner can read. */
static int read_secret_file(const char *name, const char *path, char **out)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return err_set(ERR_USAGE, "remote \"%s\": could not open secret key file \"%s\": %s", name,
                       path, strerror(errno));
    struct stat st;
    char buf[4096];
    ssize_t n = -1;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        err_set(ERR_USAGE, "remote \"%s\": secret key file \"%s\" is not a regular file", name,
                path);
    } else if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        err_set(ERR_USAGE,
                "remote \"%s\": secret key file \"%s\" is accessible by others (mode %04o)", name,
                path, (unsigned)(st.st_mode & 07777));
        err_hint("run chmod 600 \"%s\"", path);
    } else if ((n = read(fd, buf, sizeof(buf) - 1)) < 0) {
        err_sys(errno, "remote \"%s\": could not read secret key file \"%s\"", name, path);
    }
    close(fd);
    if (n < 0)
        return -1;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        n--;
    buf[n] = '\0';
    if (n == 0)
        err_set(ERR_USAGE, "remote \"%s\": secret key file \"%s\" is empty", name, path);
    *out = n > 0 ? xstrdup(buf) : NULL;
    explicit_bzero(buf, sizeof(buf));
    return n > 0 ? 0 : -1;
}

/* s3://BUCKET[/PREFIX] */
static int parse_url(struct s3 *s, const char *name, const char *url)
{
    const char *p = url + strlen("s3://");
    size_t n = strcspn(p, "/");
    if (n == 0 || n > 63 || strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789.-_") < n)
        return err_set(ERR_USAGE, "remote \"%s\": url \"%s\" is not s3://BUCKET[/PREFIX]", name,
                       url);
    s->bucket = xstrndup(p, n);
    p += n;
    p += strspn(p, "/");
    size_t len = strlen(p);
    while (len > 0 && p[len - 1] == '/')
        len--;
    s->prefix = len ? xasprintf("%.*s/", (int)len, p) : xstrdup("");
    return 0;
}

static int set_endpoint(struct s3 *s, const struct remote_conf *conf)
{
    const char *region = conf->region && *conf->region ? conf->region : "us-east-1";
    s->endpoint = conf->endpoint && *conf->endpoint
                      ? xstrdup(conf->endpoint)
                      : xasprintf("https://s3.%s.amazonaws.com", region);
    size_t len = strlen(s->endpoint);
    while (len > 0 && s->endpoint[len - 1] == '/')
        s->endpoint[--len] = '\0';
    const char *host = strstr(s->endpoint, "://");
    bool scheme_ok =
        strncmp(s->endpoint, "http://", 7) == 0 || strncmp(s->endpoint, "https://", 8) == 0;
    if (!scheme_ok || !host[3] || strchr(host + 3, '/') || strchr(host + 3, '?'))
        return err_set(ERR_USAGE, "remote \"%s\": endpoint \"%s\" is not http(s)://HOST[:PORT]",
                       conf->name, s->endpoint);
    if (conf->path_style)
        s->base_url = xasprintf("%s/%s", s->endpoint, s->bucket);
    else
        s->base_url =
            xasprintf("%.*s%s.%s", (int)(host + 3 - s->endpoint), s->endpoint, s->bucket, host + 3);
    if (strlen(region) >= 64 || strchr(region, ':'))
        return err_set(ERR_USAGE, "remote \"%s\": region \"%s\" is not valid", conf->name, region);
    snprintf(s->sigv4, sizeof(s->sigv4), "aws:amz:%s:s3", region);
    return 0;
}

static int set_credentials(struct s3 *s, const struct remote_conf *conf)
{
    const char *key =
        conf->access_key && *conf->access_key ? conf->access_key : getenv("AWS_ACCESS_KEY_ID");
    if (!key || !*key)
        return err_set(ERR_USAGE,
                       "remote \"%s\": no access key (set access_key or "
                       "AWS_ACCESS_KEY_ID)",
                       conf->name);
    s->access_key = xstrdup(key);
    if (conf->secret_key_file && *conf->secret_key_file)
        return read_secret_file(conf->name, conf->secret_key_file, &s->secret);
    const char *secret = getenv("AWS_SECRET_ACCESS_KEY");
    if (!secret || !*secret)
        return err_set(ERR_USAGE,
                       "remote \"%s\": no secret key (set secret_key_file or "
                       "AWS_SECRET_ACCESS_KEY)",
                       conf->name);
    s->secret = xstrdup(secret);
    const char *token = getenv("AWS_SESSION_TOKEN");
    s->token = token && *token ? xstrdup(token) : NULL;
    return 0;
}

static int set_sizes(struct s3 *s, const struct remote_conf *conf)
{
    s->part_size = conf->part_size ? conf->part_size : S3_DEFAULT_PART;
    if (s->part_size < S3_MIN_PART || s->part_size > S3_MAX_PART)
        return err_set(ERR_USAGE, "remote \"%s\": part_size must be in range %lld..%lld",
                       conf->name, S3_MIN_PART, S3_MAX_PART);
    s->max_keys = conf->max_keys > 0 ? conf->max_keys : S3_DEFAULT_MAX_KEYS;
    return 0;
}

static void s3_close(struct remote *r)
{
    struct s3 *s = (struct s3 *)r;
    if (!s)
        return;
    if (s->curl)
        curl_easy_cleanup(s->curl);
    if (s->secret)
        explicit_bzero(s->secret, strlen(s->secret));
    if (s->token)
        explicit_bzero(s->token, strlen(s->token));
    free(s->bucket);
    free(s->prefix);
    free(s->endpoint);
    free(s->base_url);
    free(s->access_key);
    free(s->secret);
    free(s->token);
    free(s);
}

static int s3_open(const struct remote_conf *conf, struct remote **out)
{
    struct s3 *s = xcalloc(1, sizeof(*s));
    s->base.conf = conf;
    if (parse_url(s, conf->name, conf->url) < 0 || set_endpoint(s, conf) < 0 ||
        set_credentials(s, conf) < 0 || set_sizes(s, conf) < 0)
        goto fail;
    static bool curl_ready;
    if (!curl_ready && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        err_set(ERR_FAILED, "could not initialize libcurl");
        goto fail;
    }
    curl_ready = true;
    if (!(s->curl = curl_easy_init())) {
        err_set(ERR_FAILED, "could not initialize libcurl");
        goto fail;
    }
    *out = &s->base;
    return 0;
fail:
    s3_close(&s->base);
    return -1;
}

/* PREFIX/key; caller frees. */
static char *full_key(const struct s3 *s, const char *key)
{
    return xasprintf("%s%s", s->prefix, key);
}

static int check_key(const struct s3 *s, const char *key)
{
    if (!*key || key[0] == '/' || strstr(key, ".."))
        return err_set(ERR_USAGE, "remote \"%s\": bad object key \"%s\"", s->base.conf->name, key);
    return 0;
}

/* --- stat, remove ------------------------------------------------------------------- */

/* HEAD of the object named full (prefix included): 0, 1 when missing, -1. */
static int head(struct s3 *s, const char *full, struct remote_meta *out)
{
    char *what = xasprintf("read \"%s\"", full);
    struct s3_req rq = S3_REQ("HEAD", what, full, NULL);
    rq.missing_ok = true;
    int rc = s3_request(s, &rq);
    if (rc == 0) {
        out->size = rq.content_length;
        memcpy(out->checksum, rq.checksum, sizeof(out->checksum));
    }
    sbuf_free(&rq.resp);
    free(what);
    return rc;
}

static int s3_stat(struct remote *r, const char *key, struct remote_meta *out)
{
    struct s3 *s = (struct s3 *)r;
    if (check_key(s, key) < 0)
        return -1;
    char *full = full_key(s, key);
    int rc = head(s, full, out);
    free(full);
    return rc;
}

static int delete_full(struct s3 *s, const char *full)
{
    char *what = xasprintf("remove \"%s\"", full);
    struct s3_req rq = S3_REQ("DELETE", what, full, NULL);
    rq.missing_ok = true;
    int rc = s3_request(s, &rq);
    sbuf_free(&rq.resp);
    free(what);
    return rc < 0 ? -1 : 0;
}

static int s3_remove(struct remote *r, const char *key)
{
    struct s3 *s = (struct s3 *)r;
    if (check_key(s, key) < 0)
        return -1;
    char *full = full_key(s, key);
    int rc = delete_full(s, full);
    free(full);
    return rc;
}

/* --- upload ------------------------------------------------------------------------- */

/* One upload of a file: a single PUT or a multipart upload. */
struct upload {
    struct s3 *s;
    const char *full; /* the object key, prefix included */
    const char *path;
    int fd;
    int64_t size, part;
    const struct remote_meta *meta;
    remote_progress_fn progress;
    void *arg;
    volatile sig_atomic_t *cancel;
    char *upload_id;
    int nparts;
    char (*etags)[80];
};

int64_t s3_part_size(int64_t part_size, int64_t size)
{
    int64_t need = (size + S3_PART_TARGET - 1) / S3_PART_TARGET;
    int64_t p = need > part_size ? need : part_size;
    p = (p + (1 << 20) - 1) / (1 << 20) * (1 << 20);
    return p < S3_MIN_PART ? S3_MIN_PART : p;
}

static struct curl_slist *meta_header(const struct remote_meta *meta)
{
    if (!meta || !meta->checksum[0])
        return NULL;
    char h[64];
    snprintf(h, sizeof(h), "x-amz-meta-xxh3-128: %s", meta->checksum);
    return curl_slist_append(NULL, h);
}

/* Sends bytes [offset, offset + length) of the file with query q (NULL: a plain PUT). */
static int put_range(struct upload *u, const char *q, int64_t offset, int64_t length,
                     struct curl_slist *h, char *etag)
{
    char *what = xasprintf("upload \"%s\"", u->full);
    struct s3_req rq = S3_REQ("PUT", what, u->full, q);
    rq.headers = h;
    rq.fd = u->fd;
    rq.path = u->path;
    rq.offset = offset;
    rq.length = length;
    rq.progress = u->progress;
    rq.arg = u->arg;
    rq.progress_base = offset;
    rq.progress_total = u->size;
    rq.cancel = u->cancel;
    int rc = s3_request(u->s, &rq);
    if (rc == 0 && etag && !rq.etag[0])
        rc = err_set(ERR_FAILED, "remote \"%s\" (%s): could not %s: no ETag for part at %lld",
                     u->s->base.conf->name, u->s->endpoint, what, (long long)offset);
    else if (rc == 0 && etag)
        strcpy(etag, rq.etag);
    sbuf_free(&rq.resp);
    free(what);
    return rc;
}

/* POST with an XML answer (the initiation and the completion); *doc is the answer. */
static int post_xml(struct upload *u, const char *what, const char *q, const char *body,
                    struct curl_slist *h, struct sbuf *doc)
{
    char *w = xasprintf("%s \"%s\"", what, u->full);
    struct s3_req rq = S3_REQ("POST", w, u->full, q);
    rq.headers = h;
    rq.body = body;
    rq.body_len = body ? strlen(body) : 0;
    int rc = s3_request(u->s, &rq);
    /* a completion can answer 200 and still fail, with an <Error> body */
    if (rc == 0 && rq.resp.data && strstr(rq.resp.data, "<Error>"))
        rc = s3_http_error(u->s, &rq);
    *doc = rq.resp;
    free(w);
    return rc;
}

static int mpu_initiate(struct upload *u)
{
    struct curl_slist *h = meta_header(u->meta);
    struct sbuf doc = {0};
    int rc = post_xml(u, "start the upload of", "uploads=", NULL, h, &doc);
    if (rc == 0) {
        u->upload_id = s3_xml_text(doc.data, doc.data + doc.len, "UploadId", NULL);
        if (!u->upload_id || !*u->upload_id)
            rc = err_set(ERR_FAILED, "remote \"%s\" (%s): no UploadId in the answer for \"%s\"",
                         u->s->base.conf->name, u->s->endpoint, u->full);
    }
    curl_slist_free_all(h);
    sbuf_free(&doc);
    return rc;
}

static int mpu_parts(struct upload *u)
{
    char *id = s3_encode(u->upload_id, false);
    int rc = 0;
    for (int i = 0; i < u->nparts && rc == 0; i++) {
        int64_t off = (int64_t)i * u->part;
        int64_t len = u->size - off < u->part ? u->size - off : u->part;
        char *q = xasprintf("partNumber=%d&uploadId=%s", i + 1, id);
        rc = put_range(u, q, off, len, NULL, u->etags[i]);
        free(q);
    }
    free(id);
    return rc;
}

static int mpu_complete(struct upload *u)
{
    struct sbuf body = {0};
    sbuf_puts(&body, "<CompleteMultipartUpload>");
    for (int i = 0; i < u->nparts; i++)
        sbuf_printf(&body, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", i + 1,
                    u->etags[i]);
    sbuf_puts(&body, "</CompleteMultipartUpload>");
    char *id = s3_encode(u->upload_id, false);
    char *q = xasprintf("uploadId=%s", id);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/xml");
    struct sbuf doc = {0};
    int rc = post_xml(u, "complete the upload of", q, body.data, h, &doc);
    curl_slist_free_all(h);
    sbuf_free(&doc);
    sbuf_free(&body);
    free(q);
    free(id);
    return rc;
}

/* AbortMultipartUpload, whatever happened before (the error in flight is kept). */
static void mpu_abort(struct s3 *s, const char *full, const char *upload_id)
{
    struct err_saved saved;
    err_save(&saved);
    char *id = s3_encode(upload_id, false);
    char *q = xasprintf("uploadId=%s", id);
    char *what = xasprintf("abort the upload of \"%s\"", full);
    struct s3_req rq = S3_REQ("DELETE", what, full, q);
    rq.missing_ok = true;
    rq.attempts = S3_ABORT_ATTEMPTS;
    s3_request(s, &rq);
    sbuf_free(&rq.resp);
    free(what);
    free(q);
    free(id);
    err_restore(&saved);
}

/* Aborts the uploads of full that an earlier process left open (it died before it could). */
static int abort_stale(struct s3 *s, const char *full)
{
    char *pfx = s3_encode(full, false);
    char *q = xasprintf("prefix=%s&uploads=", pfx);
    char *what = xasprintf("list the open uploads of \"%s\"", full);
    struct s3_req rq = S3_REQ("GET", what, NULL, q);
    int rc = s3_request(s, &rq);
    const char *p = rq.resp.data, *end = p ? p + rq.resp.len : NULL, *next;
    char *upload;
    while (rc == 0 && p && (upload = s3_xml_text(p, end, "Upload", &next))) {
        char *key = s3_xml_text(upload, upload + strlen(upload), "Key", NULL);
        char *id = s3_xml_text(upload, upload + strlen(upload), "UploadId", NULL);
        if (key && id && strcmp(key, full) == 0)
            mpu_abort(s, full, id);
        free(key);
        free(id);
        free(upload);
        p = next;
    }
    sbuf_free(&rq.resp);
    free(what);
    free(q);
    free(pfx);
    return rc;
}

static int put_multipart(struct upload *u)
{
    u->part = s3_part_size(u->s->part_size, u->size);
    u->nparts = (int)((u->size + u->part - 1) / u->part);
    if (abort_stale(u->s, u->full) < 0 || mpu_initiate(u) < 0)
        return -1;
    u->etags = xcalloc((size_t)u->nparts, sizeof(*u->etags));
    if (mpu_parts(u) < 0 || mpu_complete(u) < 0) {
        mpu_abort(u->s, u->full, u->upload_id);
        return -1;
    }
    return 0;
}

/* Reads the object back: its size and checksum must be the file's, else it is removed. */
static int verify_put(struct upload *u)
{
    struct remote_meta got;
    int rc = head(u->s, u->full, &got);
    if (rc < 0)
        return -1;
    const char *want = u->meta ? u->meta->checksum : "";
    if (rc == 0 && got.size == u->size && strcmp(got.checksum, want) == 0)
        return 0;
    err_set(ERR_FAILED,
            "remote \"%s\" (%s): \"%s\" reads back as %lld bytes, checksum \"%s\", after an "
            "upload of %lld bytes, checksum \"%s\"",
            u->s->base.conf->name, u->s->endpoint, u->full, rc ? -1LL : (long long)got.size,
            rc ? "" : got.checksum, (long long)u->size, want);
    struct err_saved saved;
    err_save(&saved);
    delete_full(u->s, u->full);
    return err_restore(&saved);
}

static int open_upload(struct upload *u)
{
    u->fd = open(u->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    if (u->fd < 0)
        return err_sys(errno, "could not open file \"%s\"", u->path);
    struct stat st;
    if (fstat(u->fd, &st) != 0 || !S_ISREG(st.st_mode))
        return err_set(ERR_FAILED, "could not upload \"%s\": not a regular file", u->path);
    u->size = st.st_size;
    if (u->meta && u->meta->size > 0 && u->meta->size != u->size)
        return err_set(ERR_FAILED, "could not upload \"%s\": it has %lld bytes, expected %lld",
                       u->path, (long long)u->size, (long long)u->meta->size);
    return 0;
}

static int s3_put_file(struct remote *r, const char *path, const char *key,
                       const struct remote_meta *meta, remote_progress_fn progress, void *arg,
                       volatile sig_atomic_t *cancel)
{
    struct s3 *s = (struct s3 *)r;
    if (check_key(s, key) < 0)
        return -1;
    char *full = full_key(s, key);
    struct upload u = {.s = s,
                       .full = full,
                       .path = path,
                       .meta = meta,
                       .progress = progress,
                       .arg = arg,
                       .cancel = cancel,
                       .fd = -1};
    int rc = open_upload(&u);
    if (rc == 0 && u.size <= s->part_size) {
        struct curl_slist *h = meta_header(meta);
        rc = put_range(&u, NULL, 0, u.size, h, NULL);
        curl_slist_free_all(h);
    } else if (rc == 0) {
        rc = put_multipart(&u);
    }
    if (rc == 0)
        rc = verify_put(&u);
    if (u.fd >= 0)
        close(u.fd);
    free(u.etags);
    free(u.upload_id);
    free(full);
    return rc;
}

/* --- download, list ----------------------------------------------------------------- */

static int s3_get(struct remote *r, const char *key, struct chain *c, remote_progress_fn progress,
                  void *arg, volatile sig_atomic_t *cancel)
{
    struct s3 *s = (struct s3 *)r;
    if (check_key(s, key) < 0)
        return -1;
    char *full = full_key(s, key);
    char *what = xasprintf("download \"%s\"", full);
    struct s3_req rq = S3_REQ("GET", what, full, NULL);
    rq.sink = c;
    rq.progress = progress;
    rq.arg = arg;
    rq.progress_total = -1;
    rq.cancel = cancel;
    int rc = s3_request(s, &rq);
    if (rc == 0)
        rc = chain_finish(c);
    sbuf_free(&rq.resp);
    free(what);
    free(full);
    return rc;
}

/* Calls fn for each <Contents> of one ListObjectsV2 page; 1 when fn asked to stop. */
static int list_page(const struct s3 *s, const struct sbuf *doc, remote_list_fn fn, void *arg)
{
    const char *p = doc->data, *end = p + doc->len, *next;
    char *item;
    int rc = 0;
    size_t plen = strlen(s->prefix);
    while (rc == 0 && (item = s3_xml_text(p, end, "Contents", &next))) {
        char *key = s3_xml_text(item, item + strlen(item), "Key", NULL);
        char *size = s3_xml_text(item, item + strlen(item), "Size", NULL);
        if (key && size && strncmp(key, s->prefix, plen) == 0) {
            struct remote_meta meta = {.size = strtoll(size, NULL, 10), .checksum = ""};
            rc = fn(arg, key + plen, &meta) ? 1 : 0;
        }
        free(key);
        free(size);
        free(item);
        p = next;
    }
    return rc;
}

/* The query of one page: its parameters in sorted order, as SigV4 signs them. */
static char *list_query(const struct s3 *s, const char *full_prefix, const char *token)
{
    char *pfx = s3_encode(full_prefix, false);
    char *tok = token ? s3_encode(token, false) : NULL;
    char *q = xasprintf("%s%s%slist-type=2&max-keys=%d&prefix=%s", tok ? "continuation-token=" : "",
                        tok ? tok : "", tok ? "&" : "", s->max_keys, pfx);
    free(pfx);
    free(tok);
    return q;
}

static int s3_list(struct remote *r, const char *prefix, remote_list_fn fn, void *arg)
{
    struct s3 *s = (struct s3 *)r;
    char *full = full_key(s, prefix);
    char *token = NULL, *what = xasprintf("list \"%s\"", full);
    int rc = 0;
    do {
        char *q = list_query(s, full, token);
        struct s3_req rq = S3_REQ("GET", what, NULL, q);
        rc = s3_request(s, &rq);
        free(token);
        token = NULL;
        if (rc == 0)
            rc = list_page(s, &rq.resp, fn, arg);
        char *truncated =
            rc == 0 ? s3_xml_text(rq.resp.data, rq.resp.data + rq.resp.len, "IsTruncated", NULL)
                    : NULL;
        if (truncated && strcmp(truncated, "true") == 0)
            token = s3_xml_text(rq.resp.data, rq.resp.data + rq.resp.len, "NextContinuationToken",
                                NULL);
        free(truncated);
        sbuf_free(&rq.resp);
        free(q);
    } while (rc == 0 && token);
    free(token);
    free(what);
    free(full);
    return rc < 0 ? -1 : 0;
}

const struct remote_ops remote_s3_ops = {
    .scheme = "s3",
    .open = s3_open,
    .put_file = s3_put_file,
    .stat = s3_stat,
    .get = s3_get,
    .remove = s3_remove,
    .list = s3_list,
    .close = s3_close,
};
