#include "remote/s3http.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "io/chain.h"

#define S3_ATTEMPTS 5
#define S3_FIRST_DELAY 0.5         /* seconds before the second attempt, doubled after */
#define S3_RESP_LIMIT (16 << 20)   /* an answer's body kept in memory (a list page) */
#define S3_CONNECT_TIMEOUT 10L     /* seconds */
#define S3_STALL_TIME 60L          /* seconds below one byte a second: a timeout */
#define S3_EXPECT_TIMEOUT_MS 1000L /* wait for "100 Continue" before sending anyway */

static bool cancelled(const struct s3_req *rq)
{
    return rq->cancel && *rq->cancel;
}

static size_t on_header(char *buf, size_t size, size_t n, void *arg)
{
    struct s3_req *rq = arg;
    size_t len = size * n;
    char line[256];
    if (len >= sizeof(line))
        return len;
    memcpy(line, buf, len);
    line[len] = '\0';
    line[strcspn(line, "\r\n")] = '\0';
    char *colon = strchr(line, ':');
    char *v = colon ? colon + 1 + strspn(colon + 1, " \t") : NULL;
    if (strncmp(line, "HTTP/", 5) == 0) {
        rq->content_length = -1;
        rq->checksum[0] = rq->etag[0] = '\0';
    } else if (v && strncasecmp(line, "content-length:", 15) == 0) {
        rq->content_length = strtoll(v, NULL, 10);
    } else if (v && strncasecmp(line, "x-amz-meta-xxh3-128:", 20) == 0) {
        if (strlen(v) == 32 && strspn(v, "0123456789abcdef") == 32)
            memcpy(rq->checksum, v, 33);
    } else if (v && strncasecmp(line, "etag:", 5) == 0 && strlen(v) < sizeof(rq->etag)) {
        strcpy(rq->etag, v);
    }
    return len;
}

static size_t on_body(char *buf, size_t size, size_t n, void *arg)
{
    struct s3_req *rq = arg;
    size_t len = size * n;
    long code = 0;
    curl_easy_getinfo(rq->curl, CURLINFO_RESPONSE_CODE, &code);
    if (rq->sink && code >= 200 && code < 300) {
        if (chain_write(rq->sink, (const unsigned char *)buf, len) < 0) {
            rq->sink_failed = true;
            return 0;
        }
        rq->delivered += (int64_t)len;
        return len;
    }
    if (rq->resp.len + len > S3_RESP_LIMIT) {
        rq->resp_overflow = true;
        return 0;
    }
    sbuf_add(&rq->resp, buf, len);
    return len;
}

static size_t on_read(char *buf, size_t size, size_t n, void *arg)
{
    struct s3_req *rq = arg;
    if (cancelled(rq))
        return CURL_READFUNC_ABORT;
    size_t want = size * n;
    int64_t left = (rq->fd >= 0 ? rq->length : (int64_t)rq->body_len) - rq->sent;
    if ((int64_t)want > left)
        want = (size_t)left;
    if (want == 0)
        return 0;
    if (rq->fd < 0) {
        memcpy(buf, rq->body + rq->sent, want);
        rq->sent += (int64_t)want;
        return want;
    }
    ssize_t got = pread(rq->fd, buf, want, (off_t)(rq->offset + rq->sent));
    if (got <= 0) {
        rq->read_errno = got < 0 ? errno : 0;
        rq->read_short = got == 0;
        return CURL_READFUNC_ABORT;
    }
    rq->sent += got;
    return (size_t)got;
}

static int on_seek(void *arg, curl_off_t offset, int origin)
{
    struct s3_req *rq = arg;
    if (origin != SEEK_SET || offset < 0)
        return CURL_SEEKFUNC_CANTSEEK;
    rq->sent = offset;
    return CURL_SEEKFUNC_OK;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    struct s3_req *rq = arg;
    (void)ultotal;
    if (cancelled(rq))
        return 1;
    if (rq->progress) {
        int64_t total = rq->progress_total;
        if (total < 0 && rq->sink && dltotal > 0)
            total = dltotal;
        rq->progress(rq->arg, rq->progress_base + (rq->sink ? dlnow : ulnow), total);
    }
    return 0;
}

char *s3_encode(const char *s, bool keep_slash)
{
    struct sbuf b = {0};
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || strchr("-._~", *p) || (keep_slash && *p == '/'))
            sbuf_add(&b, (const char *)p, 1);
        else
            sbuf_printf(&b, "%%%02X", *p);
    }
    sbuf_add(&b, "", 0);
    return b.data;
}

static char *request_url(const struct s3 *s, const struct s3_req *rq)
{
    char *key = rq->key ? s3_encode(rq->key, true) : NULL;
    bool path_style = s->base.conf->path_style;
    char *url = xasprintf("%s%s%s%s%s", s->base_url, key || !path_style ? "/" : "", key ? key : "",
                          rq->query ? "?" : "", rq->query ? rq->query : "");
    free(key);
    return url;
}

static struct curl_slist *request_headers(const struct s3 *s, const struct s3_req *rq)
{
    struct curl_slist *h = curl_slist_append(NULL, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
    if (s->token) {
        char *t = xasprintf("x-amz-security-token: %s", s->token);
        h = curl_slist_append(h, t);
        free(t);
    }
    for (const struct curl_slist *e = rq->headers; e; e = e->next)
        h = curl_slist_append(h, e->data);
    return h;
}

static void set_method(CURL *c, struct s3_req *rq)
{
    bool has_body = rq->fd >= 0 || rq->body;
    if (strcmp(rq->method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (strcmp(rq->method, "PUT") == 0) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE,
                         (curl_off_t)(rq->fd >= 0 ? rq->length : (int64_t)rq->body_len));
    } else if (strcmp(rq->method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
    } else if (strcmp(rq->method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
    }
    if (has_body) {
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, rq);
        curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(c, CURLOPT_SEEKDATA, rq);
    } else if (strcmp(rq->method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    }
}

static void set_options(struct s3 *s, struct s3_req *rq, const char *url, struct curl_slist *h,
                        char *errbuf)
{
    CURL *c = s->curl;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, s->sigv4);
    curl_easy_setopt(c, CURLOPT_USERNAME, s->access_key);
    curl_easy_setopt(c, CURLOPT_PASSWORD, s->secret);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, S3_CONNECT_TIMEOUT);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, S3_STALL_TIME);
    curl_easy_setopt(c, CURLOPT_EXPECT_100_TIMEOUT_MS, S3_EXPECT_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, rq);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, rq);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, rq);
    set_method(c, rq);
}

/* One attempt; the curl code, rq->status and the answer's fields. */
static CURLcode perform(struct s3 *s, struct s3_req *rq, char *errbuf)
{
    char *url = request_url(s, rq);
    struct curl_slist *h = request_headers(s, rq);
    curl_easy_reset(s->curl);
    rq->curl = s->curl;
    rq->status = 0;
    rq->content_length = -1;
    rq->checksum[0] = rq->etag[0] = '\0';
    rq->resp.len = 0;
    rq->sent = 0;
    errbuf[0] = '\0';
    set_options(s, rq, url, h, errbuf);
    CURLcode cc = curl_easy_perform(s->curl);
    curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &rq->status);
    /* the handle outlives the header list and errbuf */
    curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(h);
    free(url);
    sbuf_add(&rq->resp, "", 0); /* a terminated string, even when empty */
    return cc;
}

static bool transient(CURLcode cc, long status)
{
    switch (cc) {
    case CURLE_OK:
        return status >= 500 || status == 429;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
        return true;
    default:
        return false;
    }
}

/* Sleeps seconds, in slices, returning -1 as soon as the request is cancelled. */
static int backoff(const struct s3_req *rq, double seconds)
{
    for (double slept = 0; slept < seconds; slept += 0.05) {
        if (cancelled(rq))
            return -1;
        nanosleep(&(struct timespec){.tv_nsec = 50 * 1000 * 1000}, NULL);
    }
    return cancelled(rq) ? -1 : 0;
}

/* Error text without line breaks, at most 200 bytes (a server's message may be long). */
static void one_line(char *s)
{
    if (strlen(s) > 200)
        strcpy(s + 197, "...");
    for (char *p = s; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
}

static int transport_error(const struct s3 *s, const struct s3_req *rq, CURLcode cc, char *errbuf,
                           int attempts)
{
    if (rq->read_errno)
        return err_sys(rq->read_errno, "could not read file \"%s\"", rq->path);
    if (rq->read_short)
        return err_set(ERR_FAILED, "could not read file \"%s\": it became shorter", rq->path);
    if (rq->resp_overflow)
        return err_set(ERR_FAILED, "remote \"%s\" (%s): could not %s: answer larger than %d MiB",
                       s->base.conf->name, s->endpoint, rq->what, S3_RESP_LIMIT >> 20);
    one_line(errbuf);
    char tries[32] = "";
    if (attempts > 1)
        snprintf(tries, sizeof(tries), " (%d attempts)", attempts);
    return err_set(ERR_REMOTE, "remote \"%s\" (%s): could not %s: %s%s", s->base.conf->name,
                   s->endpoint, rq->what, errbuf[0] ? errbuf : curl_easy_strerror(cc), tries);
}

static bool credentials_refused(const char *code)
{
    static const char *const codes[] = {"InvalidAccessKeyId", "SignatureDoesNotMatch",
                                        "AccessDenied",       "InvalidToken",
                                        "ExpiredToken",       "AuthorizationHeaderMalformed"};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (strcmp(code, codes[i]) == 0)
            return true;
    return false;
}

int s3_http_error(struct s3 *s, const struct s3_req *rq)
{
    const char *end = rq->resp.data ? rq->resp.data + rq->resp.len : NULL;
    char *code = rq->resp.data ? s3_xml_text(rq->resp.data, end, "Code", NULL) : NULL;
    char *msg = rq->resp.data ? s3_xml_text(rq->resp.data, end, "Message", NULL) : NULL;
    char status[32];
    snprintf(status, sizeof(status), "HTTP %ld", rq->status);
    const char *c = code && *code ? code : status;
    enum err_class cls = ERR_FAILED;
    if (rq->status == 401 || rq->status == 403 || credentials_refused(c) ||
        strcmp(c, "NoSuchBucket") == 0 || rq->status >= 500)
        cls = ERR_REMOTE;
    if (msg)
        one_line(msg);
    char tries[32] = "";
    if (rq->tries > 1)
        snprintf(tries, sizeof(tries), " (%d attempts)", rq->tries);
    err_set(cls, "remote \"%s\" (%s): could not %s: %s%s%s%s", s->base.conf->name, s->endpoint,
            rq->what, c, msg && *msg ? ": " : "", msg ? msg : "", tries);
    if (strcmp(c, "NoSuchBucket") == 0)
        err_hint("create the bucket \"%s\" first", s->bucket);
    else if (cls == ERR_REMOTE && rq->status < 500)
        err_hint("check access_key and secret_key_file (or AWS_ACCESS_KEY_ID and "
                 "AWS_SECRET_ACCESS_KEY)");
    free(code);
    free(msg);
    return -1;
}

static int outcome(struct s3 *s, struct s3_req *rq, CURLcode cc, char *errbuf, int attempts)
{
    if (cancelled(rq))
        return err_set(ERR_FAILED, "interrupted");
    if (rq->sink_failed)
        return -1; /* the chain recorded its error */
    if (cc != CURLE_OK)
        return transport_error(s, rq, cc, errbuf, attempts);
    if (rq->status >= 200 && rq->status < 300)
        return 0;
    if (rq->status == 404 && rq->missing_ok)
        return 1;
    return s3_http_error(s, rq);
}

int s3_request(struct s3 *s, struct s3_req *rq)
{
    char errbuf[CURL_ERROR_SIZE];
    int max = rq->attempts > 0 ? rq->attempts : S3_ATTEMPTS;
    double delay = S3_FIRST_DELAY;
    for (int attempt = 1;; attempt++) {
        CURLcode cc = perform(s, rq, errbuf);
        rq->tries = attempt;
        bool again = transient(cc, rq->status) && !rq->sink_failed && rq->delivered == 0 &&
                     !rq->read_errno && !rq->read_short && !cancelled(rq);
        if (!again || attempt == max)
            return outcome(s, rq, cc, errbuf, attempt);
        if (backoff(rq, delay) < 0)
            return err_set(ERR_FAILED, "interrupted");
        delay *= 2;
    }
}

static void xml_unescape(struct sbuf *b, const char *p, const char *end)
{
    static const struct {
        const char *name;
        char c;
    } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    while (p < end) {
        size_t i = 0, n = 0;
        if (*p == '&')
            for (i = 0; i < sizeof(ents) / sizeof(ents[0]); i++)
                if ((size_t)(end - p) >= (n = strlen(ents[i].name)) &&
                    strncmp(p, ents[i].name, n) == 0)
                    break;
        if (*p == '&' && i < sizeof(ents) / sizeof(ents[0])) {
            sbuf_add(b, &ents[i].c, 1);
            p += n;
        } else if (*p == '&' && p + 2 < end && p[1] == '#') {
            char *stop;
            long v = p[2] == 'x' ? strtol(p + 3, &stop, 16) : strtol(p + 2, &stop, 10);
            char ch = v > 0 && v < 128 ? (char)v : '?';
            sbuf_add(b, &ch, 1);
            p = stop < end && *stop == ';' ? stop + 1 : stop;
        } else {
            sbuf_add(b, p++, 1);
        }
    }
}

char *s3_xml_text(const char *doc, const char *end, const char *tag, const char **next)
{
    char open[64], close[64];
    snprintf(open, sizeof(open), "<%s>", tag);
    snprintf(close, sizeof(close), "</%s>", tag);
    const char *a = memmem(doc, (size_t)(end - doc), open, strlen(open));
    if (!a)
        return NULL;
    a += strlen(open);
    const char *z = memmem(a, (size_t)(end - a), close, strlen(close));
    if (!z)
        return NULL;
    struct sbuf b = {0};
    xml_unescape(&b, a, z);
    sbuf_add(&b, "", 0);
    if (next)
        *next = z + strlen(close);
    return b.data;
}
