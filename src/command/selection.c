#include "command/selection.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "common/err.h"
#include "common/util.h"

/* One part of a name up to an unquoted '.' or the end: *p moves past it. NULL if a
 * quote is not closed. */
static char *name_part(const char **p)
{
    const char *s = *p;
    struct sbuf b = {0};
    sbuf_puts(&b, "");
    bool quoted = false;
    for (; *s && (quoted || *s != '.'); s++) {
        if (*s == '"' && quoted && s[1] == '"')
            sbuf_add(&b, s++, 1);
        else if (*s == '"')
            quoted = !quoted;
        else
            sbuf_add(&b, s, 1);
    }
    *p = s;
    if (!quoted)
        return b.data;
    sbuf_free(&b);
    return NULL;
}

static int split_table(const char *spec, char **schema, char **name)
{
    const char *p = spec;
    *schema = name_part(&p);
    *name = NULL;
    if (*schema && *p == '.') {
        p++;
        *name = name_part(&p);
    }
    if (*schema && **schema && *name && **name && !*p)
        return 0;
    free(*schema);
    free(*name);
    *schema = *name = NULL;
    err_set(ERR_USAGE, "invalid table name \"%s\": it must be SCHEMA.TABLE", spec);
    err_hint("names as \"pgvault show\" prints them; quote a part that holds a dot: "
             "'\"my.schema\".t'");
    return -1;
}

int selection_parse(const struct optlist *tables, const struct optlist *schemas,
                    struct selection *out)
{
    *out = (struct selection){0};
    out->schema = xcalloc((size_t)tables->n + 1, sizeof(char *));
    out->name = xcalloc((size_t)tables->n + 1, sizeof(char *));
    out->schemas = xcalloc((size_t)schemas->n + 1, sizeof(char *));
    for (int i = 0; i < tables->n; i++, out->ntables++)
        if (split_table(tables->v[i], &out->schema[i], &out->name[i]) != 0)
            return -1;
    for (int i = 0; i < schemas->n; i++)
        out->schemas[out->nschemas++] = xstrdup(schemas->v[i]);
    return 0;
}

int selection_check(const struct selection *s, const struct table_rec *t, size_t n,
                    int64_t backup_id)
{
    for (int i = 0; i < s->ntables; i++) {
        bool found = false;
        for (size_t k = 0; k < n && !found; k++)
            found = strcmp(t[k].schema_name, s->schema[i]) == 0 &&
                    strcmp(t[k].table_name, s->name[i]) == 0;
        if (!found)
            return err_set(ERR_USAGE, "table %s.%s is not in backup %" PRId64, s->schema[i],
                           s->name[i], backup_id);
    }
    for (int i = 0; i < s->nschemas; i++) {
        bool found = false;
        for (size_t k = 0; k < n && !found; k++)
            found = strcmp(t[k].schema_name, s->schemas[i]) == 0;
        if (!found)
            return err_set(ERR_USAGE, "backup %" PRId64 " has no table in schema \"%s\"", backup_id,
                           s->schemas[i]);
    }
    return 0;
}

bool selection_empty(const struct selection *s)
{
    return s->ntables == 0 && s->nschemas == 0;
}

bool selection_wants(const struct selection *s, const char *schema, const char *name)
{
    if (selection_empty(s))
        return true;
    if (!schema)
        schema = "public";
    for (int i = 0; i < s->ntables; i++)
        if (strcmp(s->schema[i], schema) == 0 && strcmp(s->name[i], name) == 0)
            return true;
    for (int i = 0; i < s->nschemas; i++)
        if (strcmp(s->schemas[i], schema) == 0)
            return true;
    return false;
}

void selection_free(struct selection *s)
{
    for (int i = 0; i < s->ntables; i++) {
        free(s->schema[i]);
        free(s->name[i]);
    }
    for (int i = 0; i < s->nschemas; i++)
        free(s->schemas[i]);
    free(s->schema);
    free(s->name);
    free(s->schemas);
    *s = (struct selection){0};
}
