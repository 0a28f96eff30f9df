/*
 * The report's page: one HTML document with its CSS and SVG inline, no script and
 * nothing fetched, readable on a phone and printable. Every string from the catalog
 * goes through html_escape; class names come only from the fixed sets below.
 */
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command/report.h"
#include "common/html.h"
#include "common/util.h"
#include "policy/chart.h"

/* The newest rows the backups table shows; the charts and the timeline show them all. */
#define TABLE_ROWS 60

static const char css[] =
    ":root{--fg:#1f2933;--muted:#616e7c;--line:#e4e7eb;--bg:#f4f6f8;--card:#fff;"
    "--ok:#2f855a;--fail:#c53030;--warn:#d69e2e;--gone:#a0aec0;--missing:#9c4221;"
    "--verify:#2b6cb0;--test:#6b46c1;--copy:#0f766e;--none:#edf0f3;--raw:#9fb3c8}"
    "*{box-sizing:border-box}"
    "body{margin:0;font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',"
    "Arial,sans-serif;color:var(--fg);background:var(--bg)}"
    "header{background:#243b53;color:#f0f4f8;padding:22px 24px 18px}"
    "header h1{margin:0 0 6px;font-size:22px;font-weight:650;letter-spacing:.2px}"
    "header dl{display:flex;flex-wrap:wrap;gap:4px 22px;margin:0;font-size:13px}"
    "header dt{color:#9fb3c8;display:inline}header dd{display:inline;margin:0 0 0 6px;"
    "overflow-wrap:anywhere}"
    "main{max-width:1120px;margin:0 auto;padding:18px 16px 40px}"
    "h2{font-size:19px;margin:0 0 12px;overflow-wrap:anywhere}"
    "h3{font-size:14px;margin:22px 0 8px;color:var(--muted);text-transform:uppercase;"
    "letter-spacing:.6px;font-weight:600}"
    "section{background:var(--card);border:1px solid var(--line);border-radius:10px;"
    "padding:18px 20px;margin:0 0 20px}"
    "a{color:#2b6cb0}"
    ".muted{color:var(--muted)}.warn{color:#b7791f}.bad{color:var(--fail)}"
    ".tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px}"
    ".tile{border:1px solid var(--line);border-radius:8px;padding:8px 12px}"
    ".tile b{display:block;font-size:18px;font-weight:600}"
    ".tile span{font-size:12px;color:var(--muted)}"
    ".charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:18px}"
    "figure{margin:0}figcaption{font-size:13px;color:var(--muted)}"
    "svg.chart{display:block;width:100%;height:auto}"
    ".chart text{font-size:11px;fill:#52606d}.chart .grid{stroke:#e4e7eb}"
    ".chart .axis{stroke:#9aa5b1}.chart .line{fill:none;stroke-width:2}"
    ".chart .size{stroke:#2b6cb0}.chart .raw{stroke:var(--raw);stroke-dasharray:5 4}"
    ".chart .dur{stroke:#6b46c1}.chart circle{stroke:#fff;stroke-width:1}"
    ".chart .fail{stroke:var(--fail);stroke-width:2.2}"
    ".legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12.5px;color:var(--muted);"
    "margin:6px 0 0;padding:0;list-style:none}"
    ".sw{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:5px;"
    "vertical-align:-1px}.sw.line{height:3px;vertical-align:3px;width:16px}"
    ".l-size{background:#2b6cb0}.l-dur{background:#6b46c1}"
    ".l-raw{background:repeating-linear-gradient(90deg,var(--raw) 0 5px,transparent 5px 8px)}"
    ".chart .p-size{fill:#2b6cb0}.chart .p-raw{fill:var(--raw)}.chart .p-dur{fill:#6b46c1}"
    ".chart circle.s-suspect{fill:var(--warn)}"
    ".lane{display:grid;grid-template-columns:130px 1fr;gap:10px;align-items:center;"
    "margin:3px 0;font-size:13px}"
    ".lane>span{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}"
    ".lane svg{display:block;width:100%;height:16px}"
    ".ends{display:flex;justify-content:space-between;font-size:12px;color:var(--muted)}"
    ".tbl{overflow-x:auto;-webkit-overflow-scrolling:touch}"
    "table{border-collapse:collapse;width:100%;font-size:13.5px}"
    "th{font-weight:600;color:var(--muted);font-size:12px;text-transform:uppercase;"
    "letter-spacing:.4px}"
    "th,td{padding:6px 10px;border-bottom:1px solid var(--line);text-align:left;"
    "white-space:nowrap;vertical-align:top}"
    "td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}"
    "td.text{white-space:normal;min-width:12em;max-width:28em;overflow-wrap:anywhere}"
    "td.wrap{white-space:normal;min-width:9em;max-width:17em;overflow-wrap:anywhere}"
    "tr.has-sub td{border-bottom:0}tr.sub td{padding-top:0;font-size:12.5px;max-width:none}"
    ".b{display:inline-block;padding:0 8px;border-radius:10px;font-size:12px;"
    "font-weight:600;color:#fff;margin:1px 2px 1px 0;line-height:19px;max-width:100%;"
    "overflow-wrap:anywhere}"
    ".s-complete{fill:var(--ok);background:var(--ok)}"
    ".s-failed{fill:var(--fail);background:var(--fail)}"
    ".s-suspect{fill:var(--warn);background:var(--warn)}"
    ".s-pruned{fill:var(--gone);background:var(--gone)}"
    ".s-missing{fill:var(--missing);background:var(--missing)}"
    ".s-verified{fill:var(--verify);background:var(--verify)}"
    ".s-tested{fill:var(--test);background:var(--test)}"
    ".s-copied{fill:var(--copy);background:var(--copy)}"
    ".s-running{fill:#90cdf4;background:#90cdf4}"
    ".s-none{fill:var(--none);background:var(--none)}"
    ".s-pinned{background:#334e68}"
    ".s-other{fill:#cbd2d9;background:#cbd2d9}"
    ".spark{width:120px;height:28px;display:block}"
    ".spark path{fill:none;stroke:#2b6cb0;stroke-width:1.6}.spark circle{fill:#2b6cb0}"
    ".t-verified{color:var(--verify)}.t-tested{color:var(--test)}"
    ".up{color:#2f855a}.down{color:#c05621}"
    ".empty{text-align:center;padding:40px 20px;color:var(--muted)}"
    "footer{text-align:center;font-size:12px;color:var(--muted);padding:0 16px 30px}"
    "@media (max-width:640px){body{font-size:14px}header{padding:16px}"
    "main{padding:10px 8px 30px}section{padding:14px 12px;border-radius:8px}"
    ".lane{grid-template-columns:88px 1fr;gap:6px;font-size:12px}"
    ".tiles{grid-template-columns:repeat(2,1fr)}.charts{grid-template-columns:1fr}}"
    "@media print{body{background:#fff;font-size:12px}header{background:#fff;color:#000;"
    "border-bottom:2px solid #000;padding:0 0 8px}header dt{color:#444}"
    "main{max-width:none;padding:0}section{border:0;padding:0;margin:16px 0}"
    "section.db{break-before:page}.tbl{overflow:visible}td.text{max-width:none}"
    "a{color:inherit;text-decoration:none}"
    "*{-webkit-print-color-adjust:exact;print-color-adjust:exact}}";

static void esc(struct sbuf *o, const char *s)
{
    html_escape(o, s);
}

/* "2026-11-25T15:30:12.345Z" → "2026-11-25 15:30" (escaped by the caller). */
static const char *short_time(const char *iso, char buf[17])
{
    if (!iso)
        buf[0] = '\0';
    else if (strlen(iso) >= 16 && iso[10] == 'T')
        snprintf(buf, 17, "%.10s %.5s", iso, iso + 11);
    else
        snprintf(buf, 17, "%s", iso);
    return buf;
}

static void put_time(struct sbuf *o, const char *iso, const char *none)
{
    char buf[17];
    if (iso)
        esc(o, short_time(iso, buf));
    else
        sbuf_printf(o, "<span class=\"muted\">%s</span>", none);
}

static void put_size(struct sbuf *o, int64_t bytes)
{
    char buf[16];
    if (bytes < 0)
        sbuf_puts(o, "<span class=\"muted\">–</span>");
    else
        sbuf_puts(o, fmt_size((uint64_t)bytes, buf));
}

/* The fixed class of a backup's or a copy's status word; s-other for one it does not
 * know (the catalog's text never reaches a class attribute). */
static const char *class_of(const char *status)
{
    static const char *const map[][2] = {
        {"complete", "s-complete"}, {"failed", "s-failed"},   {"pruned", "s-pruned"},
        {"missing", "s-missing"},   {"running", "s-running"},
    };
    for (size_t k = 0; status && k < sizeof(map) / sizeof(map[0]); k++)
        if (strcmp(status, map[k][0]) == 0)
            return map[k][1];
    return "s-other";
}

/* The class of a backup's status (suspect: a complete backup flagged so). */
static const char *status_class(const struct report_backup *b)
{
    if (b->suspect && b->status && strcmp(b->status, "complete") == 0)
        return "s-suspect";
    return class_of(b->status);
}

/* A status word from the catalog as a coloured badge. */
static void badge(struct sbuf *o, const char *cls, const char *text)
{
    sbuf_printf(o, "<span class=\"b %s\">", cls);
    esc(o, text);
    sbuf_puts(o, "</span>");
}

static bool recorded_tables(const struct report_backup *b)
{
    return b->status && (strcmp(b->status, "complete") == 0 || strcmp(b->status, "pruned") == 0 ||
                         strcmp(b->status, "missing") == 0);
}

/* --- the page's frame --- */

static void put_head(struct sbuf *o, const struct report *r)
{
    sbuf_puts(o, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                 "<meta name=\"generator\" content=\"pgvault " PGVAULT_VERSION "\">\n<title>");
    sbuf_puts(o, "pgvault report — ");
    esc(o, r->host);
    sbuf_puts(o, "</title>\n<style>");
    sbuf_puts(o, css);
    sbuf_puts(o, "</style>\n</head>\n<body>\n");
}

static void put_meta(struct sbuf *o, const char *term, const char *value)
{
    sbuf_printf(o, "<div><dt>%s</dt><dd>", term);
    esc(o, value);
    sbuf_puts(o, "</dd></div>");
}

static void put_header(struct sbuf *o, const struct report *r)
{
    char gen[17], since[17];
    sbuf_puts(o, "<header id=\"top\">\n<h1>pgvault report</h1>\n<dl>");
    put_meta(o, "Host", r->host);
    put_meta(o, "Repository", r->repository);
    sbuf_printf(o, "<div><dt>Generated</dt><dd>%s UTC</dd></div>", short_time(r->generated, gen));
    sbuf_puts(o, "<div><dt>Period</dt><dd>");
    if (r->since)
        sbuf_printf(o, "%s UTC – now", short_time(r->since, since));
    else
        sbuf_puts(o, "the whole history");
    sbuf_puts(o, "</dd></div>");
    put_meta(o, "Retention", r->policy);
    sbuf_puts(o, "</dl>\n</header>\n<main>\n");
}

/* --- the summary of all databases --- */

/* "(6.2 h ago)", or "(in the future)" for a clock that was ahead. */
static void put_age(struct sbuf *o, time_t seconds)
{
    char age[32];
    chart_fmt_age((int64_t)seconds, age, sizeof(age));
    sbuf_printf(o, " <span class=\"%s\">(%s%s)</span>", seconds < 0 ? "warn" : "muted", age,
                seconds < 0 ? "" : " ago");
}

static void summary_row(struct sbuf *o, const struct report *r, size_t i)
{
    const struct report_summary *s = &r->sums[i];
    sbuf_printf(o, "<tr><td><a href=\"#db-%zu\">", i + 1);
    esc(o, s->db_name);
    sbuf_puts(o, "</a></td><td>");
    time_t t;
    if (s->latest_id > 0 && time_parse_iso(s->latest_at, &t) == 0) {
        put_time(o, s->latest_at, "");
        put_age(o, r->now - t);
    } else {
        sbuf_puts(o, "<span class=\"bad\">no complete backup</span>");
    }
    sbuf_puts(o, "</td><td class=\"num\">");
    put_size(o, s->latest_id > 0 ? s->latest_size : -1);
    sbuf_puts(o, "</td><td>");
    struct report_backup last = {.status = s->last_status};
    if (s->last_status)
        badge(o, status_class(&last), s->last_status);
    if (s->latest_suspect)
        badge(o, "s-suspect", "suspect");
    sbuf_puts(o, "</td><td>");
    put_time(o, s->verified_at, "never");
    sbuf_puts(o, "</td><td>");
    put_time(o, s->tested_at, "never");
    sbuf_printf(o, "</td><td class=\"num\">%" PRId64, s->backups);
    if (s->failed > 0)
        sbuf_printf(o, " <span class=\"bad\">(%" PRId64 " failed)</span>", s->failed);
    sbuf_puts(o, "</td></tr>\n");
}

static void put_summary(struct sbuf *o, const struct report *r)
{
    sbuf_puts(o, "<section class=\"summary\">\n<h2>Databases</h2>\n");
    if (r->n == 0) {
        sbuf_puts(o, "<p class=\"empty\">No backups yet");
        if (r->only_db) {
            sbuf_puts(o, " of database “");
            esc(o, r->only_db);
            sbuf_puts(o, "”");
        }
        sbuf_puts(o, ". Run <code>pgvault backup</code> and this page fills in.</p>\n"
                     "</section>\n");
        return;
    }
    sbuf_puts(o, "<div class=\"tbl\"><table>\n<thead><tr><th>Database</th>"
                 "<th>Latest complete (UTC)</th><th class=\"num\">Size</th>"
                 "<th>Last run</th><th>Last verify</th><th>Last test restore</th>"
                 "<th class=\"num\">Backups</th></tr></thead>\n<tbody>\n");
    for (size_t i = 0; i < r->n; i++)
        summary_row(o, r, i);
    sbuf_puts(o, "</tbody></table></div>\n</section>\n");
}

/* --- one database --- */

/* A database's backups as the charts see them: their times (seconds, with the
 * milliseconds the catalog records) and the time domain. */
struct view {
    const struct report_db *d;
    double *at;
    double lo, hi;
};

/* "2026-11-25T15:30:12.345Z" as seconds since the epoch; false if it is not a time. */
static bool iso_seconds(const char *iso, double *out)
{
    time_t t;
    if (time_parse_iso(iso, &t) != 0)
        return false;
    *out = (double)t;
    if (iso[19] == '.' && iso[20] >= '0' && iso[20] <= '9')
        *out += strtod(iso + 19, NULL);
    return true;
}

static void view_init(struct view *v, const struct report_db *d)
{
    v->d = d;
    v->at = xcalloc(d->nb + 1, sizeof(*v->at));
    for (size_t i = 0; i < d->nb; i++) {
        if (!iso_seconds(d->b[i].started_at, &v->at[i]))
            v->at[i] = i > 0 ? v->at[i - 1] : 0;
        if (i == 0 || v->at[i] < v->lo)
            v->lo = v->at[i];
        if (i == 0 || v->at[i] > v->hi)
            v->hi = v->at[i];
    }
    /* a margin either side, so that the first and last points are not on the frame */
    double pad = v->hi > v->lo ? (v->hi - v->lo) * 0.04 : 30;
    v->lo -= pad;
    v->hi += pad;
}

static void tile(struct sbuf *o, const char *value_html, const char *what)
{
    sbuf_printf(o, "<div class=\"tile\"><b>%s</b><span>%s</span></div>", value_html, what);
}

/* The newest backup of the period that recorded its tables, or NULL. */
static const struct report_backup *newest_good(const struct report_db *d)
{
    for (size_t i = d->nb; i-- > 0;)
        if (recorded_tables(&d->b[i]))
            return &d->b[i];
    return NULL;
}

static void put_tiles(struct sbuf *o, const struct report *r, const struct report_db *d)
{
    char buf[64], what[64];
    const struct report_backup *g = newest_good(d);
    size_t verified = 0, tested = 0;
    for (size_t i = 0; i < d->nb; i++) {
        verified += d->b[i].verified_at != NULL;
        tested += d->b[i].tested_at != NULL;
    }
    sbuf_puts(o, "<div class=\"tiles\">");
    time_t t;
    if (d->sum->latest_id > 0 && time_parse_iso(d->sum->latest_at, &t) == 0)
        tile(o, chart_fmt_age((int64_t)(r->now - t), buf, sizeof(buf)), "since the latest backup");
    if (g && g->size_bytes >= 0 && g->raw_bytes > 0) {
        tile(o, fmt_size((uint64_t)g->size_bytes, buf), "latest size");
        snprintf(what, sizeof(what), "raw, ratio %.1fx",
                 g->size_bytes > 0 ? (double)g->raw_bytes / (double)g->size_bytes : 0.0);
        tile(o, fmt_size((uint64_t)g->raw_bytes, buf), what);
    }
    if (g && g->row_count >= 0) {
        snprintf(buf, sizeof(buf), "%" PRId64, g->row_count);
        snprintf(what, sizeof(what), "rows in %" PRId64 " table%s", g->table_count,
                 g->table_count == 1 ? "" : "s");
        tile(o, buf, what);
    }
    snprintf(buf, sizeof(buf), "%" PRId64, d->sum->backups);
    snprintf(what, sizeof(what), "backups%s", d->sum->failed ? ", " : " in the period");
    if (d->sum->failed)
        snprintf(what + strlen(what), sizeof(what) - strlen(what),
                 "<span class=\"bad\">%" PRId64 " failed</span>", d->sum->failed);
    tile(o, buf, what);
    snprintf(buf, sizeof(buf), "%zu · %zu", verified, tested);
    tile(o, buf, "verified · test-restored");
    sbuf_puts(o, "</div>\n");
}

/* --- charts: a value over time --- */

/* The drawing area of a chart, in the units of its viewBox. */
#define CW 400
#define CH 190
#define ML 58
#define MR 22
#define MT 12
#define MB 28

/* Up to this many backups, each one's point is drawn (and has a tooltip). */
#define CHART_POINTS 150

/* One line of a chart: a value of each backup (-1: none). */
struct series {
    const char *cls; /* "size", "raw", "dur" */
    const char *name;
    int64_t (*value)(const struct report_backup *b);
};

struct plot {
    const struct view *v;
    struct chart_axis y;
    struct chart_unit unit;
    bool bytes;
};

static double px(const struct plot *p, double t)
{
    return chart_scale(t, p->v->lo, p->v->hi, ML, CW - MR);
}

static double py(const struct plot *p, double v)
{
    return chart_scale(v / p->unit.div, p->y.lo, p->y.hi, CH - MB, MT);
}

static void value_text(const struct plot *p, int64_t v, char *buf, size_t len)
{
    if (p->bytes)
        fmt_size((uint64_t)v, buf); /* len >= 16 */
    else
        chart_fmt_duration(v, buf, len);
}

static void plot_axes(struct sbuf *o, const struct plot *p)
{
    char num[32];
    for (int i = 0; i <= p->y.n; i++) {
        double v = p->y.lo + i * p->y.step;
        double y = chart_scale(v, p->y.lo, p->y.hi, CH - MB, MT);
        sbuf_printf(o, "<line class=\"%s\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/>",
                    i == 0 ? "axis" : "grid", ML, CW - MR, y, y);
        sbuf_printf(o, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s %s</text>", ML - 6, y + 4,
                    chart_fmt_tick(v, p->y.step, num, sizeof(num)), p->unit.name);
    }
    time_t ticks[6];
    enum chart_time_label lab;
    size_t nt = chart_time_ticks((time_t)ceil(p->v->lo), (time_t)floor(p->v->hi), 5, ticks, &lab);
    for (size_t i = 0; i < nt; i++) {
        if ((double)ticks[i] < p->v->lo || (double)ticks[i] > p->v->hi)
            continue;
        double x = px(p, (double)ticks[i]);
        sbuf_printf(o, "<line class=\"axis\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\"/>", x, x,
                    CH - MB, CH - MB + 4);
        sbuf_printf(o, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>", x, CH - 8,
                    chart_fmt_time(ticks[i], lab, num, sizeof(num)));
    }
}

/* A point's tooltip: "#12 2026-11-25 02:00 · 12.1 MiB". */
static void point_title(struct sbuf *o, const struct report_backup *b, const char *what)
{
    char t[17];
    sbuf_printf(o, "<title>#%" PRId64 " ", b->id);
    esc(o, short_time(b->started_at, t));
    sbuf_puts(o, " · ");
    esc(o, what);
    sbuf_puts(o, "</title>");
}

static void plot_series(struct sbuf *o, const struct plot *p, const struct series *s)
{
    const struct report_db *d = p->v->d;
    char val[32];
    sbuf_printf(o, "<path class=\"line %s\" d=\"", s->cls);
    bool first = true;
    for (size_t i = 0; i < d->nb; i++) {
        int64_t v = s->value(&d->b[i]);
        if (v < 0)
            continue;
        sbuf_printf(o, "%s%.1f %.1f", first ? "M" : " L", px(p, p->v->at[i]), py(p, (double)v));
        first = false;
    }
    sbuf_puts(o, "\"/>");
    /* a point per backup where they have room; suspect ones always */
    bool room = d->nb <= CHART_POINTS;
    for (size_t i = 0; i < d->nb; i++) {
        int64_t v = s->value(&d->b[i]);
        if (v < 0 || (!room && !d->b[i].suspect))
            continue;
        sbuf_printf(o, "<circle class=\"p-%s%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"3.2\">", s->cls,
                    d->b[i].suspect ? " s-suspect" : "", px(p, p->v->at[i]), py(p, (double)v));
        value_text(p, v, val, sizeof(val));
        point_title(o, &d->b[i], val);
        sbuf_puts(o, "</circle>");
    }
}

/* Failed backups: a red cross on the time axis, the error in its tooltip. */
static void plot_failures(struct sbuf *o, const struct plot *p)
{
    const struct report_db *d = p->v->d;
    for (size_t i = 0; i < d->nb; i++) {
        if (strcmp(status_class(&d->b[i]), "s-failed") != 0)
            continue;
        double x = px(p, p->v->at[i]), y = CH - MB - 6;
        sbuf_printf(o, "<g><path class=\"fail\" d=\"M%.1f %.1fL%.1f %.1fM%.1f %.1fL%.1f %.1f\"/>",
                    x - 4, y - 4, x + 4, y + 4, x - 4, y + 4, x + 4, y - 4);
        point_title(o, &d->b[i], d->b[i].error ? d->b[i].error : "failed");
        sbuf_puts(o, "</g>");
    }
}

static size_t count_failed(const struct report_db *d)
{
    size_t n = 0;
    for (size_t i = 0; i < d->nb; i++)
        n += strcmp(status_class(&d->b[i]), "s-failed") == 0;
    return n;
}

static bool any_suspect(const struct report_db *d)
{
    for (size_t i = 0; i < d->nb; i++)
        if (d->b[i].suspect)
            return true;
    return false;
}

/* A chart of series over the view's period, with its legend. */
static void put_chart(struct sbuf *o, const struct view *v, const char *title, bool bytes,
                      const struct series *s, size_t ns)
{
    int64_t max = 0;
    for (size_t k = 0; k < ns; k++)
        for (size_t i = 0; i < v->d->nb; i++)
            if (s[k].value(&v->d->b[i]) > max)
                max = s[k].value(&v->d->b[i]);
    struct plot p = {.v = v, .bytes = bytes};
    p.unit = bytes ? chart_bytes_unit((double)max) : chart_duration_unit((double)max);
    chart_nice_axis(0, (double)max / p.unit.div, 4, &p.y);

    sbuf_printf(o,
                "<figure><h3>%s</h3><svg class=\"chart\" viewBox=\"0 0 %d %d\" role=\"img\" "
                "aria-label=\"%s\">",
                title, CW, CH, title);
    plot_axes(o, &p);
    for (size_t k = 0; k < ns; k++)
        plot_series(o, &p, &s[k]);
    plot_failures(o, &p);
    sbuf_puts(o, "</svg><ul class=\"legend\">");
    for (size_t k = 0; k < ns; k++)
        sbuf_printf(o, "<li><span class=\"sw line l-%s\"></span>%s</li>", s[k].cls, s[k].name);
    if (count_failed(v->d) > 0)
        sbuf_puts(o, "<li><span class=\"bad\">✕</span> failed backup</li>");
    if (any_suspect(v->d))
        sbuf_puts(o, "<li><span class=\"sw s-suspect\"></span>suspect</li>");
    sbuf_puts(o, "</ul></figure>\n");
}

static int64_t value_size(const struct report_backup *b)
{
    return recorded_tables(b) ? b->size_bytes : -1;
}

static int64_t value_raw(const struct report_backup *b)
{
    return recorded_tables(b) ? b->raw_bytes : -1;
}

static int64_t value_duration(const struct report_backup *b)
{
    return recorded_tables(b) ? b->duration_ms : -1;
}

static void put_charts(struct sbuf *o, const struct view *v)
{
    static const struct series sizes[] = {
        {"size", "file size (compressed)", value_size},
        {"raw", "raw size (pg_dump output)", value_raw},
    };
    static const struct series durations[] = {{"dur", "duration", value_duration}};
    if (!newest_good(v->d)) {
        sbuf_puts(o, "<p class=\"bad\">No backup of the period completed: nothing to chart.</p>\n");
        return;
    }
    sbuf_puts(o, "<div class=\"charts\">");
    put_chart(o, v, "Size", true, sizes, 2);
    put_chart(o, v, "Duration", false, durations, 1);
    sbuf_puts(o, "</div>\n");
}

/* --- the status timeline: one cell per backup, oldest left, one lane per fact --- */

/* The class of backup i's cell in a lane. */
typedef const char *(*lane_fn)(const struct report_db *d, size_t i, const char *remote);

static const char *lane_status(const struct report_db *d, size_t i, const char *remote)
{
    (void)remote;
    return status_class(&d->b[i]);
}

static const char *lane_verified(const struct report_db *d, size_t i, const char *remote)
{
    (void)remote;
    return d->b[i].verified_at ? "s-verified" : "s-none";
}

static const char *lane_tested(const struct report_db *d, size_t i, const char *remote)
{
    (void)remote;
    const struct report_backup *b = &d->b[i];
    if (b->test_status && strcmp(b->test_status, "failed") == 0)
        return "s-failed";
    return b->tested_at ? "s-tested" : "s-none";
}

/* The copy of backup i on remote, or NULL. */
static const struct report_copy *copy_of(const struct report_db *d, size_t i, const char *remote)
{
    for (size_t k = 0; k < d->ncopies; k++)
        if (d->copies[k].backup_id == d->b[i].id && strcmp(d->copies[k].remote, remote) == 0)
            return &d->copies[k];
    return NULL;
}

/* A copy's status: complete means copied. */
static const char *copy_class(const char *status)
{
    return status && strcmp(status, "complete") == 0 ? "s-copied" : class_of(status);
}

static const char *lane_copy(const struct report_db *d, size_t i, const char *remote)
{
    const struct report_copy *c = copy_of(d, i, remote);
    return c ? copy_class(c->status) : "s-none";
}

static void put_lane(struct sbuf *o, const struct report_db *d, const char *label,
                     const char *remote, lane_fn cell)
{
    char t[17];
    sbuf_puts(o, "<div class=\"lane\"><span title=\"");
    esc(o, label);
    sbuf_puts(o, "\">");
    esc(o, label);
    sbuf_printf(o, "</span><svg viewBox=\"0 0 %zu 10\" preserveAspectRatio=\"none\">", d->nb * 10);
    for (size_t i = 0; i < d->nb; i++) {
        const char *cls = cell(d, i, remote);
        sbuf_printf(o, "<rect class=\"%s\" x=\"%zu\" y=\"0\" width=\"8\" height=\"10\" rx=\"1\">",
                    cls, i * 10 + 1);
        sbuf_printf(o, "<title>#%" PRId64 " ", d->b[i].id);
        esc(o, short_time(d->b[i].started_at, t));
        sbuf_puts(o, " · ");
        esc(o, label);
        sbuf_puts(o, ": ");
        esc(o, cls + 2); /* the class names the state: "s-verified" → "verified" */
        sbuf_puts(o, "</title></rect>");
    }
    sbuf_puts(o, "</svg></div>\n");
}

static void put_timeline_legend(struct sbuf *o, bool copies)
{
    static const char *const items[][2] = {
        {"s-complete", "complete"},     {"s-suspect", "suspect"}, {"s-failed", "failed"},
        {"s-pruned", "pruned"},         {"s-missing", "missing"}, {"s-verified", "verified"},
        {"s-tested", "restore-tested"}, {"s-copied", "copied"},   {"s-none", "not yet"},
    };
    sbuf_puts(o, "<ul class=\"legend\">");
    for (size_t k = 0; k < sizeof(items) / sizeof(items[0]); k++)
        if (copies || strcmp(items[k][0], "s-copied") != 0)
            sbuf_printf(o, "<li><span class=\"sw %s\"></span>%s</li>", items[k][0], items[k][1]);
    sbuf_puts(o, "</ul>\n");
}

static void put_timeline(struct sbuf *o, const struct report_db *d)
{
    char a[17], b[17];
    sbuf_puts(o, "<h3>Status timeline</h3>\n<div class=\"timeline\">\n");
    put_lane(o, d, "backup", NULL, lane_status);
    put_lane(o, d, "verified", NULL, lane_verified);
    put_lane(o, d, "test restore", NULL, lane_tested);
    for (size_t k = 0; k < d->ncopies; k++) {
        if (k > 0 && strcmp(d->copies[k].remote, d->copies[k - 1].remote) == 0)
            continue; /* copies come ordered by remote: one lane each */
        char *label = xasprintf("→ %s", d->copies[k].remote);
        put_lane(o, d, label, d->copies[k].remote, lane_copy);
        free(label);
    }
    sbuf_puts(o, "<div class=\"lane\"><span></span><div class=\"ends\"><span>");
    esc(o, short_time(d->b[0].started_at, a));
    sbuf_puts(o, "</span><span>");
    esc(o, short_time(d->b[d->nb - 1].started_at, b));
    sbuf_puts(o, "</span></div></div>\n</div>\n");
    put_timeline_legend(o, d->ncopies > 0);
}

/* --- the tables whose row counts moved most --- */

/* At most this many points in a sparkline: a long period is sampled evenly. */
#define SPARK_POINTS 120

static void sparkline(struct sbuf *o, const int64_t *c, size_t n)
{
    size_t every = n / SPARK_POINTS + 1;
    int64_t lo = -1, hi = -1;
    for (size_t i = 0; i < n; i++)
        if (c[i] >= 0) {
            lo = lo < 0 || c[i] < lo ? c[i] : lo;
            hi = c[i] > hi ? c[i] : hi;
        }
    sbuf_puts(o, "<svg class=\"spark\" viewBox=\"0 0 120 28\" aria-hidden=\"true\"><path d=\"");
    double x = 0, y = 0;
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        if (c[i] < 0 || (i % every != 0 && i != n - 1))
            continue;
        x = chart_scale((double)i, 0, (double)(n - 1), 3, 117);
        y = chart_scale((double)c[i], (double)lo, (double)hi, 25, 3);
        sbuf_printf(o, "%s%.1f %.1f", first ? "M" : " L", x, y);
        first = false;
    }
    sbuf_puts(o, "\"/>");
    if (!first)
        sbuf_printf(o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.4\"/>", x, y);
    sbuf_puts(o, "</svg>");
}

static void put_count(struct sbuf *o, int64_t n)
{
    if (n < 0)
        sbuf_puts(o, "<span class=\"muted\">absent</span>");
    else
        sbuf_printf(o, "%" PRId64, n);
}

static void mover_row(struct sbuf *o, const struct report_table *t)
{
    const struct report_mover *m = t->mover;
    int64_t a = m->first < 0 ? 0 : m->first, b = m->last < 0 ? 0 : m->last;
    sbuf_puts(o, "<tr><td class=\"text\">");
    esc(o, m->schema_name);
    sbuf_puts(o, ".");
    esc(o, m->table_name);
    sbuf_puts(o, "</td><td class=\"num\">");
    put_count(o, m->first);
    sbuf_puts(o, "</td><td class=\"num\">");
    put_count(o, m->last);
    sbuf_printf(o, "</td><td class=\"num %s\">%s%" PRId64, b >= a ? "up" : "down",
                b >= a ? "+" : "−", b >= a ? b - a : a - b);
    if (a > 0)
        sbuf_printf(o, " <span class=\"muted\">(%+.0f%%)</span>",
                    100.0 * (double)(b - a) / (double)a);
    sbuf_puts(o, "</td><td>");
    sparkline(o, t->counts, t->ncounts);
    sbuf_puts(o, "</td></tr>\n");
}

static void put_movers(struct sbuf *o, const struct report_db *d)
{
    sbuf_puts(o, "<h3>Row counts: the biggest movers</h3>\n");
    if (d->nmovers == 0) {
        sbuf_puts(o, "<p class=\"muted\">No table changed its row count between the first and "
                     "the last backup of the period.</p>\n");
        return;
    }
    sbuf_puts(o, "<div class=\"tbl\"><table>\n<thead><tr><th>Table</th>"
                 "<th class=\"num\">First</th><th class=\"num\">Last</th>"
                 "<th class=\"num\">Change</th><th>Trend</th></tr></thead>\n<tbody>\n");
    for (size_t i = 0; i < d->nmovers; i++)
        mover_row(o, &d->tables[i]);
    sbuf_puts(o, "</tbody></table></div>\n");
}

/* --- the backups, newest first, with what keeps each --- */

/* What retention does with backup i: the rule that keeps it, or what removed it. */
static void put_retention(struct sbuf *o, const struct report_db *d, size_t i)
{
    const struct report_backup *b = &d->b[i];
    char t[17];
    if (b->pruned_at || (b->status && strcmp(b->status, "pruned") == 0)) {
        sbuf_puts(o, "<span class=\"muted\">removed ");
        esc(o, short_time(b->pruned_at, t));
        sbuf_puts(o, ": ");
        esc(o, b->prune_rule);
        sbuf_puts(o, "</span>");
    } else if (d->plan_error && strcmp(status_class(b), "s-failed") != 0) {
        sbuf_puts(o, "<span class=\"warn\">no plan: ");
        esc(o, d->plan_error);
        sbuf_puts(o, "</span>");
    } else if (d->keep && d->keep[i].action == RETENTION_KEEP) {
        esc(o, d->keep[i].reason);
    } else if (d->keep && d->keep[i].action == RETENTION_REMOVE) {
        sbuf_puts(o, "<span class=\"warn\">next prune removes it: ");
        esc(o, d->keep[i].reason);
        sbuf_puts(o, "</span>");
    } else {
        sbuf_puts(o, "<span class=\"muted\">–</span>");
    }
}

static void put_copies(struct sbuf *o, const struct report_db *d, size_t i)
{
    for (size_t k = 0; k < d->ncopies; k++)
        if (d->copies[k].backup_id == d->b[i].id)
            badge(o, copy_class(d->copies[k].status), d->copies[k].remote);
}

static void put_states(struct sbuf *o, const struct report_backup *b)
{
    badge(o, status_class(b), b->status ? b->status : "?");
    if (b->suspect)
        badge(o, "s-suspect", "suspect");
    if (b->pinned)
        badge(o, "s-pinned", "pinned");
}

/* A verification or a test restore: a tick and the day in the colour of its lane, the
 * time in its tooltip. */
static void put_done(struct sbuf *o, const char *iso, const char *cls)
{
    char t[17];
    if (!iso) {
        sbuf_puts(o, "<span class=\"muted\">–</span>");
        return;
    }
    sbuf_printf(o, "<span class=\"%s\" title=\"", cls);
    esc(o, short_time(iso, t));
    sbuf_puts(o, " UTC\">✓ ");
    t[10] = '\0';
    esc(o, t);
    sbuf_puts(o, "</span>");
}

static void backup_row(struct sbuf *o, const struct report_db *d, size_t i)
{
    const struct report_backup *b = &d->b[i];
    char buf[32];
    sbuf_printf(o, "<tr%s><td class=\"num\">%" PRId64 "</td><td>",
                b->label || b->error ? " class=\"has-sub\"" : "", b->id);
    put_time(o, b->started_at, "");
    sbuf_puts(o, "</td><td>");
    put_states(o, b);
    sbuf_puts(o, "</td><td class=\"num\">");
    put_size(o, recorded_tables(b) ? b->size_bytes : -1);
    sbuf_puts(o, "</td><td class=\"num\">");
    if (b->duration_ms >= 0)
        sbuf_puts(o, chart_fmt_duration(b->duration_ms, buf, sizeof(buf)));
    sbuf_puts(o, "</td><td class=\"wrap\">");
    put_retention(o, d, i);
    sbuf_puts(o, "</td><td>");
    put_done(o, b->verified_at, "t-verified");
    sbuf_puts(o, "</td><td>");
    if (b->test_status && strcmp(b->test_status, "failed") == 0 && !b->tested_at)
        badge(o, "s-failed", "failed");
    else
        put_done(o, b->tested_at, "t-tested");
    sbuf_puts(o, "</td><td class=\"wrap\">");
    put_copies(o, d, i);
    sbuf_puts(o, "</td></tr>\n");
    /* the label and the error, under the row: they may be long */
    if (!b->label && !b->error)
        return;
    sbuf_puts(o, "<tr class=\"sub\"><td></td><td colspan=\"8\" class=\"text\">");
    if (b->label) {
        sbuf_puts(o, "<span class=\"muted\">label</span> ");
        esc(o, b->label);
    }
    if (b->error) {
        sbuf_puts(o, b->label ? "<br>" : "");
        sbuf_puts(o, "<span class=\"bad\">");
        esc(o, b->error);
        sbuf_puts(o, "</span>");
    }
    sbuf_puts(o, "</td></tr>\n");
}

static void put_backups(struct sbuf *o, const struct report_db *d)
{
    sbuf_puts(o, "<h3>Backups and what keeps them</h3>\n<div class=\"tbl\"><table>\n<thead><tr>"
                 "<th class=\"num\">ID</th><th>Started (UTC)</th><th>Status</th>"
                 "<th class=\"num\">Size</th><th class=\"num\">Took</th>"
                 "<th>Retention</th><th>Verified</th><th>Tested</th><th>Copies</th>"
                 "</tr></thead>\n<tbody>\n");
    size_t shown = 0;
    for (size_t i = d->nb; i-- > 0 && shown < TABLE_ROWS; shown++)
        backup_row(o, d, i);
    sbuf_puts(o, "</tbody></table></div>\n");
    if (d->nb + d->omitted > shown)
        sbuf_printf(o,
                    "<p class=\"muted\">… and %zu older backups of the period (the charts "
                    "and the timeline show the newest %zu; <code>--since</code> narrows the "
                    "period).</p>\n",
                    d->nb + d->omitted - shown, d->nb);
}

static void put_database(struct sbuf *o, const struct report *r, size_t k)
{
    const struct report_db *d = &r->dbs[k];
    sbuf_printf(o, "<section class=\"db\" id=\"db-%zu\">\n<h2>", k + 1);
    esc(o, d->sum->db_name);
    sbuf_puts(o, "</h2>\n");
    if (d->nb == 0) {
        sbuf_puts(o, "<p class=\"empty\">No backups in this period.</p>\n</section>\n");
        return;
    }
    struct view v;
    view_init(&v, d);
    if (d->omitted > 0)
        sbuf_printf(o,
                    "<p class=\"muted\">The charts and the timeline show the newest %zu "
                    "backups of the period; %zu older ones are left out "
                    "(<code>--since</code> narrows the period).</p>\n",
                    d->nb, d->omitted);
    put_tiles(o, r, d);
    put_charts(o, &v);
    put_timeline(o, d);
    put_movers(o, d);
    put_backups(o, d);
    sbuf_puts(o, "<p><a href=\"#top\">↑ all databases</a></p>\n</section>\n");
    free(v.at);
}

void report_render(const struct report *r, struct sbuf *out)
{
    put_head(out, r);
    put_header(out, r);
    put_summary(out, r);
    for (size_t k = 0; k < r->n; k++)
        put_database(out, r, k);
    sbuf_puts(out, "</main>\n<footer>pgvault " PGVAULT_VERSION
                   " · one self-contained page: no script, nothing fetched</footer>\n"
                   "</body>\n</html>\n");
}
