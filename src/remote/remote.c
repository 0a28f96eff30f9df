#include "remote/remote.h"

#include <string.h>

#include "common/err.h"
#include "remote/sftp.h"

/* The backends, by URL scheme. Each one defines its table in its own file. */
extern const struct remote_ops remote_local_ops;
extern const struct remote_ops remote_s3_ops;

static const struct remote_ops *const backends[] = {
    &remote_local_ops, &remote_s3_ops, &remote_sftp_ops, NULL, /* NULL keeps the table non-empty */
};

int remote_open(const struct remote_conf *conf, struct remote **out)
{
    const char *sep = conf->url ? strstr(conf->url, "://") : NULL;
    *out = NULL;
    if (!sep)
        return err_set(ERR_USAGE, "remote \"%s\": url \"%s\" is not SCHEME://…", conf->name,
                       conf->url ? conf->url : "");
    size_t n = (size_t)(sep - conf->url);
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
        const struct remote_ops *ops = backends[i];
        if (ops && strlen(ops->scheme) == n && strncmp(ops->scheme, conf->url, n) == 0) {
            if (ops->open(conf, out) < 0)
                return -1;
            (*out)->ops = ops;
            (*out)->conf = conf;
            return 0;
        }
    }
    return err_set(ERR_USAGE, "remote \"%s\": unknown scheme in \"%s\"", conf->name, conf->url);
}

void remote_close(struct remote *r)
{
    if (r)
        r->ops->close(r);
}

int remote_put_file(struct remote *r, const char *path, const char *key,
                    const struct remote_meta *meta, remote_progress_fn progress, void *arg,
                    volatile sig_atomic_t *cancel)
{
    return r->ops->put_file(r, path, key, meta, progress, arg, cancel);
}

int remote_stat(struct remote *r, const char *key, struct remote_meta *out)
{
    return r->ops->stat(r, key, out);
}

int remote_get(struct remote *r, const char *key, struct chain *c, remote_progress_fn progress,
               void *arg, volatile sig_atomic_t *cancel)
{
    return r->ops->get(r, key, c, progress, arg, cancel);
}

int remote_remove(struct remote *r, const char *key)
{
    return r->ops->remove(r, key);
}

int remote_list(struct remote *r, const char *prefix, remote_list_fn fn, void *arg)
{
    return r->ops->list(r, prefix, fn, arg);
}
