#include "io/loadsink.h"

#include "common/util.h"
#include "postgres/loader.h"

struct loader_filter {
    struct filter base;
    struct loader *l;
};

static int loader_process(struct filter *f, const unsigned char *buf, size_t len)
{
    struct loader_filter *s = (struct loader_filter *)f;
    return loader_feed(s->l, (const char *)buf, len);
}

struct filter *filter_loader_new(struct loader *l)
{
    static const struct filter_ops ops = {.process = loader_process};
    struct loader_filter *s = xcalloc(1, sizeof(*s));
    s->base.ops = &ops;
    s->l = l;
    return &s->base;
}
