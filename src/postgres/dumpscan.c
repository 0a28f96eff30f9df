/*
 * Streaming scanner for pg_dump plain-format output.
 *
 * SQL text is lexed byte by byte with the rules of psql's own lexer (psqlscan.l), which
 * is what decides at restore time where a statement ends: quoted strings, E'' strings
 * (with their continuation across newlines), double-quoted identifiers, dollar quotes,
 * nested block comments, psql meta-commands, and psql's paren and BEGIN ... END depth.
 * Each statement is parsed on the fly from its tokens, keeping only the table name, so
 * memory is bounded whatever the statement length. After the ';' of a
 * "COPY name ... FROM STDIN" the scanner switches to COPY mode at the next line and
 * counts lines with memchr until a line that is exactly "\." (psql's end marker).
 */
#include "postgres/dumpscan.h"

#include "common/util.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOK_CAP 256   /* bytes kept of one token (identifier, string, dollar tag) */
#define REST_CAP 4096 /* bytes kept of SQL following "FROM stdin;" on the same line */

static const char trailer_text[] = " PostgreSQL database dump complete";
#define TRAILER_LEN ((int)sizeof(trailer_text) - 1)
/* pg_dumpall's (the output of --globals-only ends with it) */
static const char cluster_trailer_text[] = " PostgreSQL database cluster dump complete";
#define CLUSTER_TRAILER_LEN ((int)sizeof(cluster_trailer_text) - 1)

#define FNV_BASIS UINT64_C(14695981039346656037)
#define FNV_PRIME UINT64_C(1099511628211)

/* Lexer states in SQL mode. */
enum lex {
    L_NORMAL,       /* between tokens, or inside an unquoted word */
    L_DASH,         /* after '-': a comment if another '-' follows */
    L_SLASH,        /* after '/': a comment if '*' follows */
    L_LINE_COMMENT, /* "--" up to a newline */
    L_BLOCK,        /* inside slash-star comment (nesting) */
    L_SQ,           /* inside '...' without backslash escapes */
    L_SQ_END,       /* after a quote inside '...': end, or a doubled quote */
    L_EQ,           /* inside E'...' (or '...' with standard_conforming_strings off) */
    L_EQ_BS,        /* after a backslash inside E'...' */
    L_EQ_END,       /* after a quote inside E'...' */
    L_EQ_CONT,      /* after E'...': whitespace with a newline then ' continues it */
    L_DQ,           /* inside "..." */
    L_DQ_END,       /* after a quote inside "..." */
    L_UAMP,         /* after the word U followed by '&' */
    L_DOLLAR_OPEN,  /* after '$' at a token start: reading a dollar-quote tag */
    L_DOLLAR,       /* inside a dollar-quoted string */
    L_BACKSLASH,    /* after a backslash: "\;", "\:" or a meta-command */
    L_META,         /* psql meta-command up to the end of the line */
    L_COPY_EOL,     /* after the ';' of COPY FROM STDIN: rest of that line */
};

/* Character classes outside quotes. */
enum cclass {
    C_OTHER,
    C_SPACE,
    C_WORD, /* letter, '_', non-ASCII byte */
    C_DIGIT,
    C_DOLLAR,
    C_SQUOTE,
    C_DQUOTE,
    C_DASH,
    C_SLASH,
    C_BSLASH,
    C_SEMI,
};

enum tok { T_WORD, T_NUM, T_QIDENT, T_STRING, T_OP };
enum word { W_NONE, W_IDENT, W_NUM };
enum copyline { CM_BOL, CM_BS, CM_DOT, CM_DOTCR, CM_MID };

/* What the statement parser has recognized so far. */
enum stmt {
    SK_START,   /* no token yet */
    SK_OTHER,   /* nothing of interest */
    SK_COPY,    /* COPY: parsing the name, then looking for FROM STDIN */
    SK_CREATE,  /* CREATE, before TABLE */
    SK_CT_IF,   /* CREATE TABLE: IF NOT EXISTS or the name */
    SK_CT_IF2,  /* CREATE TABLE IF: NOT, or "if" was the name */
    SK_CT_IF3,  /* CREATE TABLE IF NOT: EXISTS */
    SK_CT_NAME, /* CREATE TABLE: parsing the name */
    SK_CT_REST, /* CREATE TABLE name …: looking for PARTITION BY at the top level */
    SK_CT_PART, /* … PARTITION: BY makes it a partitioned table (OF, a partition) */
    SK_SET,     /* SET */
    SK_SET_VAR, /* SET standard_conforming_strings */
    SK_SET_VAL, /* ... = */
    SK_SET_END, /* ... = value */
    SK_RESET,   /* RESET: SESSION AUTHORIZATION? */
    SK_ALTER,   /* ALTER, before what */
    SK_AT_NAME, /* ALTER TABLE [ONLY] [IF EXISTS]: parsing the name */
    SK_AT_REST, /* ALTER TABLE name …: looking for REFERENCES at the top level */
    SK_AT_REF,  /* … REFERENCES: parsing the referenced table's name */
    SK_SELECT,  /* SELECT: parsing a function's name (set_config, setval) */
    SK_CI_REST, /* CREATE [UNIQUE] INDEX …: looking for ON at the top level */
    SK_CI_NAME, /* … ON [ONLY]: parsing the indexed table's name */
};

enum namep { NP_IDENT, NP_DOT, NP_DONE, NP_FAIL };

struct tablist {
    struct dumpscan_table *v;
    size_t n, cap;
};

struct dumpscan {
    struct tablist copies, creates;
    bool trailer_ok;
    bool cluster_trailer; /* the trailer seen was pg_dumpall's */
    size_t db_trailers;   /* pg_dump trailers seen anywhere (a whole pg_dumpall has one a
                           * database) */
    bool overflow;        /* SQL after "FROM stdin;" too long to replay after the block */
    unsigned char cls[256];

    /* COPY mode */
    bool in_copy;
    unsigned char cm; /* enum copyline: position in the current data line */

    /* SQL lexer */
    unsigned char st;   /* enum lex */
    unsigned char word; /* enum word: kind of the word being read in L_NORMAL */
    bool std_strings;
    bool last_nl; /* the byte before the next one fed was a newline */
    bool dash_bol;
    int tmatch; /* bytes of trailer_text matched in this comment, -1 if not */
    int cmatch; /* the same for cluster_trailer_text */
    int cdepth;
    bool cstar, cslash;
    bool cont_nl;
    unsigned char cont_sub; /* L_EQ_CONT: 0 blank, 1 after '-', 2 in comment */
    size_t toklen;          /* real length; only TOK_CAP bytes are kept */
    char tok[TOK_CAP];
    size_t dtaglen;
    uint64_t dhash;
    bool dmatching;
    size_t dmatch;
    uint64_t mhash;
    char dtag[TOK_CAP];

    /* current statement */
    size_t ntok;
    int paren, begin;
    unsigned idcount;
    char ids[4];
    bool prev_from, copy_pending;
    unsigned char sk; /* enum stmt */
    unsigned char np; /* enum namep */
    int nparts;
    int setval;
    char parts[3][TOK_CAP + 1];

    /* what the statement is (enum dumpscan_kind), for the sink */
    unsigned char kind;
    bool is_alter;
    unsigned char owner_seq;  /* ALTER: 1 after OWNER, 2 after OWNER TO, 3 after its role */
    unsigned char add_seq;    /* ALTER TABLE name: 1 after ADD, 2 after CONSTRAINT, 3 after
                               * its name, 4 after PRIMARY, UNIQUE or EXCLUDE */
    char alt[2][TOK_CAP + 1]; /* ALTER TABLE's table: schema (may be ""), name */
    char ref[2][TOK_CAP + 1]; /* REFERENCES' table */
    char **cols;              /* COPY's column list */
    size_t ncols, capcols;

    /* the consumer of the events, and the piece of the buffer not yet handed to it */
    dumpscan_sink sink;
    void *sink_ctx;
    const char *seg;
    unsigned char segkind; /* DS_SQL, DS_META, or DS_STMT_END for bytes dropped */
    const char *copy_mark; /* where a possible "\." line starts in the buffer fed */
    struct dumpscan_table stmt_table, stmt_ref;
    struct dumpscan_stmt stmt;

    /* SQL following "FROM stdin;" on its line: psql runs it after the block */
    size_t restlen;
    bool rest_skip;
    char rest[REST_CAP];

    /* each COPY block's statement, rebuilt (dumpscan_copy_statement) */
    char **stmts;

    /* access points (dumpscan_set_interval) */
    uint64_t interval;    /* 0: none recorded */
    uint64_t fed;         /* bytes fed before the buffer being fed */
    const char *feed_buf; /* that buffer */
    uint64_t lines;       /* newlines before the position scanned */
    uint64_t next_point;  /* a row starting at or after this offset makes a point */
    bool point_open;      /* the last point's part has not ended */
    struct dumpscan_point *points;
    size_t npoints, cappoints;
};

/* Case-insensitive comparison of a token with a lowercase keyword. */
static bool kw(const char *t, size_t n, const char *word)
{
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c + 'a' - 'A');
        if (word[i] == '\0' || c != (unsigned char)word[i])
            return false;
    }
    return word[i] == '\0';
}

/* Appends bytes to the current token, keeping at most TOK_CAP of them. */
static void tok_append(struct dumpscan *s, const char *p, size_t n)
{
    if (s->toklen < TOK_CAP) {
        size_t room = TOK_CAP - s->toklen;
        memcpy(s->tok + s->toklen, p, n < room ? n : room);
    }
    s->toklen += n;
}

static size_t tok_kept(const struct dumpscan *s)
{
    return s->toklen < TOK_CAP ? s->toklen : TOK_CAP;
}

/* Adds a table named by the statement's name parts to a list. */
static void tab_push(struct tablist *l, const struct dumpscan *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    struct dumpscan_table *t = &l->v[l->n++];
    t->schema = s->nparts >= 2 ? xstrdup(s->parts[s->nparts - 2]) : NULL;
    t->name = xstrdup(s->parts[s->nparts - 1]);
    t->rows = 0;
    t->partitioned = false;
}

static void name_reset(struct dumpscan *s)
{
    s->np = NP_IDENT;
    s->nparts = 0;
}

/* Feeds a token to the qualified-name parser: ident ('.' ident)*, at most 3 parts. */
static void name_token(struct dumpscan *s, int kind, const char *t, size_t n)
{
    if (s->np == NP_IDENT) {
        if ((kind != T_WORD && kind != T_QIDENT) || s->nparts == 3) {
            s->np = NP_FAIL;
            return;
        }
        char *part = s->parts[s->nparts++];
        memcpy(part, t, n);
        part[n] = '\0';
        s->np = NP_DOT;
    } else if (s->np == NP_DOT) {
        s->np = (kind == T_OP && n == 1 && t[0] == '.') ? NP_IDENT : NP_DONE;
    }
}

/* Copies the parsed name (its last two parts) into a two-part buffer. */
static void name_keep(const struct dumpscan *s, char dst[2][TOK_CAP + 1])
{
    snprintf(dst[0], TOK_CAP + 1, "%s", s->nparts >= 2 ? s->parts[s->nparts - 2] : "");
    snprintf(dst[1], TOK_CAP + 1, "%s", s->nparts >= 1 ? s->parts[s->nparts - 1] : "");
}

/* COPY's column list: the names at paren depth 1 after the table's name. */
static void column_push(struct dumpscan *s, const char *t, size_t n)
{
    if (s->ncols == s->capcols) {
        s->capcols = s->capcols ? s->capcols * 2 : 8;
        s->cols = xrealloc(s->cols, s->capcols * sizeof(*s->cols));
    }
    s->cols[s->ncols++] = xstrndup(t, n);
}

/* ALTER …: the last three top-level tokens are OWNER TO role. */
static void owner_step(struct dumpscan *s, int kind, const char *t, size_t n)
{
    bool word = kind == T_WORD;
    if (s->owner_seq == 1 && word && kw(t, n, "to"))
        s->owner_seq = 2;
    else if (s->owner_seq == 2 && (word || kind == T_QIDENT))
        s->owner_seq = 3;
    else
        s->owner_seq = word && s->paren == 0 && kw(t, n, "owner") ? 1 : 0;
}

/* ALTER TABLE name ADD CONSTRAINT name PRIMARY KEY | UNIQUE | EXCLUDE: an index-backed
 * constraint (a foreign key's REFERENCES, seen later, makes it one of those instead). */
static void add_constraint_step(struct dumpscan *s, int kind, const char *t, size_t n)
{
    bool word = kind == T_WORD;
    if (s->add_seq == 0 && word && kw(t, n, "add"))
        s->add_seq = 1;
    else if (s->add_seq == 1 && word && kw(t, n, "constraint"))
        s->add_seq = 2;
    else if (s->add_seq == 2 && (word || kind == T_QIDENT))
        s->add_seq = 3;
    else if (s->add_seq == 3 && word &&
             (kw(t, n, "primary") || kw(t, n, "unique") || kw(t, n, "exclude"))) {
        s->add_seq = 4;
        s->kind = DSK_CONSTRAINT;
    } else if (s->add_seq < 4)
        s->add_seq = 0;
}

/* ALTER: TABLE (a foreign key may follow), DEFAULT PRIVILEGES, or anything else. */
static void parse_alter(struct dumpscan *s, int kind, const char *t, size_t n)
{
    bool word = kind == T_WORD;
    switch (s->sk) {
    case SK_ALTER:
        if (word && kw(t, n, "default"))
            s->kind = DSK_ACL;
        s->sk = word && kw(t, n, "table") ? SK_AT_NAME : SK_OTHER;
        name_reset(s);
        return;
    case SK_AT_NAME:
        if (s->nparts == 0 && word && (kw(t, n, "only") || kw(t, n, "if") || kw(t, n, "exists")))
            return;
        name_token(s, kind, t, n);
        if (s->np == NP_DONE) {
            name_keep(s, s->alt);
            s->sk = SK_AT_REST;
            add_constraint_step(s, kind, t, n); /* the token after the name: ADD? */
        } else if (s->np == NP_FAIL) {
            s->sk = SK_OTHER;
        }
        return;
    case SK_AT_REST:
        if (s->paren == 0)
            add_constraint_step(s, kind, t, n);
        if (word && s->paren == 0 && kw(t, n, "references")) {
            name_reset(s);
            s->sk = SK_AT_REF;
        }
        return;
    case SK_AT_REF:
        name_token(s, kind, t, n);
        if (s->np == NP_DONE) {
            name_keep(s, s->ref);
            s->kind = DSK_FOREIGN_KEY;
        }
        if (s->np == NP_DONE || s->np == NP_FAIL)
            s->sk = SK_OTHER;
        return;
    default:
        return;
    }
}

/* The first word of a statement. */
static void parse_first(struct dumpscan *s, int kind, const char *t, size_t n)
{
    bool word = kind == T_WORD;
    s->sk = SK_OTHER;
    if (!word)
        return;
    if (kw(t, n, "copy")) {
        s->sk = SK_COPY;
        name_reset(s);
    } else if (kw(t, n, "create")) {
        s->sk = SK_CREATE;
    } else if (kw(t, n, "set")) {
        s->sk = SK_SET;
        s->kind = DSK_SET;
    } else if (kw(t, n, "select")) {
        s->sk = SK_SELECT;
        name_reset(s);
    } else if (kw(t, n, "reset")) {
        s->sk = SK_RESET;
    } else if (kw(t, n, "alter")) {
        s->sk = SK_ALTER;
        s->is_alter = true;
    } else if (kw(t, n, "grant") || kw(t, n, "revoke")) {
        s->kind = DSK_ACL;
    }
}

/* SELECT [pg_catalog.]set_config( or setval(, and CREATE INDEX … ON [ONLY] table. */
static void parse_function_or_index(struct dumpscan *s, int kind, const char *t, size_t n)
{
    bool word = kind == T_WORD;
    if (s->sk == SK_CI_REST) {
        if (word && s->paren == 0 && kw(t, n, "on")) {
            s->sk = SK_CI_NAME;
            name_reset(s);
        }
        return;
    }
    if (s->sk == SK_CI_NAME && s->nparts == 0 && word && kw(t, n, "only"))
        return;
    name_token(s, kind, t, n);
    if (s->np == NP_FAIL) {
        s->sk = SK_OTHER;
    } else if (s->np == NP_DONE && s->sk == SK_CI_NAME) {
        name_keep(s, s->alt);
        s->kind = DSK_INDEX;
        s->sk = SK_OTHER;
    } else if (s->np == NP_DONE) {
        bool call = kind == T_OP && n == 1 && t[0] == '(';
        bool catalog = s->nparts == 1 || (s->nparts == 2 && strcmp(s->parts[0], "pg_catalog") == 0);
        const char *fn = s->parts[s->nparts - 1];
        if (call && catalog && strcmp(fn, "set_config") == 0)
            s->kind = DSK_SET;
        else if (call && catalog && strcmp(fn, "setval") == 0)
            s->kind = DSK_SEQUENCE_SET;
        s->sk = SK_OTHER;
    }
}

/* Reads a boolean setting value as the server would: 1, 0, or -1 if unknown. */
static int parse_setting_bool(int kind, const char *t, size_t n)
{
    if (kind == T_WORD || kind == T_NUM || kind == T_STRING) {
        if (kw(t, n, "on") || kw(t, n, "true") || kw(t, n, "yes") || kw(t, n, "1") ||
            (kind == T_WORD && kw(t, n, "default")))
            return 1;
        if (kw(t, n, "off") || kw(t, n, "false") || kw(t, n, "no") || kw(t, n, "0"))
            return 0;
    }
    return -1;
}

/* Advances the statement parser (COPY / CREATE TABLE / SET) by one token. */
static void parse_token(struct dumpscan *s, int kind, const char *t, size_t n)
{
    bool word = kind == T_WORD;

    if (s->is_alter && s->sk != SK_START)
        owner_step(s, kind, t, n);
    switch (s->sk) {
    case SK_START:
        parse_first(s, kind, t, n);
        return;
    case SK_COPY:
        if (s->np == NP_DONE && s->paren == 1 && (word || kind == T_QIDENT))
            column_push(s, t, n);
        name_token(s, kind, t, n);
        if (s->np == NP_FAIL)
            s->sk = SK_OTHER;
        return;
    case SK_RESET:
        if (word && kw(t, n, "session"))
            return;
        if (word && kw(t, n, "authorization"))
            s->kind = DSK_SESSION_AUTH;
        s->sk = SK_OTHER;
        return;
    case SK_ALTER:
    case SK_AT_NAME:
    case SK_AT_REST:
    case SK_AT_REF:
        parse_alter(s, kind, t, n);
        return;
    case SK_CREATE:
        if (word && (kw(t, n, "unlogged") || kw(t, n, "unique")))
            return;
        if (word && kw(t, n, "table")) {
            s->sk = SK_CT_IF;
            name_reset(s);
        } else if (word && kw(t, n, "index")) {
            s->sk = SK_CI_REST;
        } else {
            s->sk = SK_OTHER; /* TEMP, FOREIGN, INDEX, VIEW, OR REPLACE, ... */
        }
        return;
    case SK_CT_IF:
        /* "if" is either IF NOT EXISTS or a table named if */
        name_token(s, kind, t, n);
        s->sk = (word && kw(t, n, "if")) ? SK_CT_IF2 : SK_CT_NAME;
        break;
    case SK_CT_IF2:
        if (word && kw(t, n, "not")) {
            name_reset(s);
            s->sk = SK_CT_IF3;
            return;
        }
        s->sk = SK_CT_NAME;
        name_token(s, kind, t, n);
        break;
    case SK_CT_IF3:
        s->sk = (word && kw(t, n, "exists")) ? SK_CT_NAME : SK_OTHER;
        return;
    case SK_CT_NAME:
        name_token(s, kind, t, n);
        break;
    case SK_CT_REST:
        if (word && s->paren == 0 && kw(t, n, "partition"))
            s->sk = SK_CT_PART;
        return;
    case SK_CT_PART:
        if (word && kw(t, n, "by")) {
            s->creates.v[s->creates.n - 1].partitioned = true;
            s->sk = SK_OTHER;
        } else {
            s->sk = SK_CT_REST;
        }
        return;
    case SK_SELECT:
    case SK_CI_REST:
    case SK_CI_NAME:
        parse_function_or_index(s, kind, t, n);
        return;
    case SK_SET:
        if (word && (kw(t, n, "session") || kw(t, n, "local")))
            return;
        if (word && kw(t, n, "authorization"))
            s->kind = DSK_SESSION_AUTH;
        s->sk = (word && kw(t, n, "standard_conforming_strings")) ? SK_SET_VAR : SK_OTHER;
        return;
    case SK_SET_VAR:
        s->sk = ((kind == T_OP && n == 1 && t[0] == '=') || (word && kw(t, n, "to"))) ? SK_SET_VAL
                                                                                      : SK_OTHER;
        return;
    case SK_SET_VAL:
        s->setval = parse_setting_bool(kind, t, n);
        s->sk = SK_SET_END;
        return;
    case SK_SET_END:
        s->setval = -1;
        s->sk = SK_OTHER;
        return;
    default:
        return;
    }

    /* CREATE TABLE name states; the token that ended the name may be PARTITION */
    if (s->np == NP_DONE) {
        tab_push(&s->creates, s);
        s->sk = word && s->paren == 0 && kw(t, n, "partition") ? SK_CT_PART : SK_CT_REST;
    } else if (s->np == NP_FAIL) {
        s->sk = SK_OTHER;
    }
}

/* One more byte c of a comment line against a trailer text: the bytes matched, or -1. */
static int trailer_step(int matched, const char *text, int len, unsigned char c)
{
    return matched >= 0 && matched < len && c == (unsigned char)text[matched] ? matched + 1 : -1;
}

/* Handles one complete token of the current statement. */
static void on_token(struct dumpscan *s, int kind, const char *t, size_t n)
{
    s->trailer_ok = false;
    s->ntok++;

    if (kind == T_OP && n == 1) {
        if (t[0] == '(' && s->paren < INT_MAX)
            s->paren++;
        else if (t[0] == ')' && s->paren > 0)
            s->paren--;
    }

    /*
     * psql's heuristic for SQL-standard function bodies: in CREATE [OR REPLACE]
     * FUNCTION|PROCEDURE, semicolons between BEGIN and its END do not end the statement.
     */
    if (kind == T_WORD) {
        if (s->idcount == 0)
            memset(s->ids, 0, sizeof(s->ids));
        if (s->idcount < sizeof(s->ids) &&
            (kw(t, n, "create") || kw(t, n, "function") || kw(t, n, "procedure") ||
             kw(t, n, "or") || kw(t, n, "replace")))
            s->ids[s->idcount] = (char)(t[0] | 0x20);
        if (s->idcount < 1000000)
            s->idcount++;
        if (s->ids[0] == 'c' &&
            (s->ids[1] == 'f' || s->ids[1] == 'p' ||
             (s->ids[1] == 'o' && s->ids[2] == 'r' && (s->ids[3] == 'f' || s->ids[3] == 'p'))) &&
            s->paren == 0) {
            if (kw(t, n, "begin") && s->begin < INT_MAX)
                s->begin++;
            else if (kw(t, n, "case") && s->begin >= 1 && s->begin < INT_MAX)
                s->begin++;
            else if (kw(t, n, "end") && s->begin > 0)
                s->begin--;
        }
    }

    if (s->copy_pending)
        return;
    parse_token(s, kind, t, n);

    /* COPY name ... FROM STDIN, FROM at the top level after the name */
    if (s->sk == SK_COPY && s->np == NP_DONE && s->paren == 0 && kind == T_WORD) {
        if (s->prev_from && kw(t, n, "stdin"))
            s->copy_pending = true;
        s->prev_from = kw(t, n, "from");
    } else {
        s->prev_from = false;
    }
}

/* Emits the word being read in L_NORMAL, if any. */
static void emit_word(struct dumpscan *s)
{
    if (s->word == W_NONE)
        return;
    on_token(s, s->word == W_IDENT ? T_WORD : T_NUM, s->tok, tok_kept(s));
    s->word = W_NONE;
    s->toklen = 0;
}

/* Emits the string (or quoted identifier) just closed. */
static void emit_quoted(struct dumpscan *s, int kind)
{
    on_token(s, kind, s->tok, tok_kept(s));
    s->toklen = 0;
}

/* Hands the piece of the buffer since the last one, up to upto, to the sink. */
static void seg_flush(struct dumpscan *s, const char *upto)
{
    if (s->sink && s->seg && upto > s->seg && s->segkind != DS_STMT_END)
        s->sink(s->sink_ctx, (enum dumpscan_event)s->segkind, s->seg, (size_t)(upto - s->seg));
    s->seg = upto;
}

static void sink_event(struct dumpscan *s, enum dumpscan_event ev, const char *buf, size_t len)
{
    if (s->sink)
        s->sink(s->sink_ctx, ev, buf, len);
}

static void columns_clear(struct dumpscan *s)
{
    for (size_t i = 0; i < s->ncols; i++)
        free(s->cols[i]);
    s->ncols = 0;
}

/* Tells the sink that the statement ended, and what it was. */
static void statement_event(struct dumpscan *s)
{
    if (!s->sink)
        return;
    struct dumpscan_stmt *st = &s->stmt;
    *st = (struct dumpscan_stmt){.kind = s->kind};
    if (s->is_alter && s->owner_seq == 3)
        st->kind = DSK_OWNER;
    if (s->copy_pending) {
        st->kind = DSK_COPY;
        st->table = &s->copies.v[s->copies.n - 1];
        st->columns = s->cols;
        st->ncolumns = s->ncols;
    } else if (st->kind == DSK_FOREIGN_KEY || st->kind == DSK_INDEX || st->kind == DSK_CONSTRAINT) {
        s->stmt_table = (struct dumpscan_table){.schema = s->alt[0], .name = s->alt[1]};
        st->table = &s->stmt_table;
    }
    if (st->kind == DSK_FOREIGN_KEY) {
        s->stmt_ref = (struct dumpscan_table){.schema = s->ref[0], .name = s->ref[1]};
        st->ref = &s->stmt_ref;
    }
    s->sink(s->sink_ctx, DS_STMT_END, NULL, 0);
}

/* Closes the parse of a statement, or of one part of it separated by "\;". */
static void end_substatement(struct dumpscan *s)
{
    if (s->copy_pending)
        return;
    if ((s->sk == SK_CT_NAME || s->sk == SK_CT_IF2) && s->np == NP_DOT)
        tab_push(&s->creates, s);
    if (s->sk == SK_SET_END && s->setval >= 0)
        s->std_strings = s->setval == 1;
    if (s->sk == SK_AT_REF && s->np == NP_DOT) {
        name_keep(s, s->ref);
        s->kind = DSK_FOREIGN_KEY;
    }
    s->sk = SK_START;
    s->setval = -1;
    s->prev_from = false;
    name_reset(s);
}

/* Appends name double-quoted, its quotes doubled. */
static void quoted_name(struct sbuf *b, const char *name)
{
    sbuf_add(b, "\"", 1);
    for (const char *p = name; *p; p++)
        sbuf_add(b, *p == '"' ? "\"\"" : p, *p == '"' ? 2 : 1);
    sbuf_add(b, "\"", 1);
}

/* A COPY block starts: its table, and its statement rebuilt from the table and columns. */
static void copy_push(struct dumpscan *s)
{
    tab_push(&s->copies, s);
    const struct dumpscan_table *t = &s->copies.v[s->copies.n - 1];
    struct sbuf b = {0};
    sbuf_puts(&b, "COPY ");
    if (t->schema) {
        quoted_name(&b, t->schema);
        sbuf_add(&b, ".", 1);
    }
    quoted_name(&b, t->name);
    for (size_t i = 0; i < s->ncols; i++) {
        sbuf_puts(&b, i ? ", " : " (");
        quoted_name(&b, s->cols[i]);
    }
    sbuf_puts(&b, s->ncols ? ") FROM stdin;" : " FROM stdin;");
    s->stmts = xrealloc(s->stmts, s->copies.cap * sizeof(*s->stmts));
    s->stmts[s->copies.n - 1] = b.data;
}

/* A semicolon that psql sends the statement at; COPY FROM STDIN enters COPY mode. */
static void end_statement(struct dumpscan *s)
{
    s->trailer_ok = false;
    end_substatement(s);
    if (s->copy_pending)
        copy_push(s);
    statement_event(s);
    if (s->copy_pending) {
        s->st = L_COPY_EOL;
        s->segkind = DS_STMT_END; /* the rest of the line comes again after the block */
        s->restlen = 0;
        s->rest_skip = false;
    }
    s->kind = DSK_OTHER;
    s->is_alter = false;
    s->owner_seq = 0;
    s->add_seq = 0;
    columns_clear(s);
    s->ntok = 0;
    s->paren = 0;
    s->begin = 0;
    s->idcount = 0;
    s->copy_pending = false;
    s->prev_from = false;
    s->setval = -1;
    s->sk = SK_START;
    name_reset(s);
}

/*
 * The SQL lexer, one function per state of enum lex. Each is called with p < end in its
 * state, consumes at least one byte or changes the state (or both), and returns where it
 * stopped.
 */

/* L_NORMAL, inside a word: the rest of its letters, digits (and '$' in an identifier). */
static const char *lex_word(struct dumpscan *s, const char *p, const char *end, unsigned char cl)
{
    const char *q = p;
    if (s->word == W_NONE)
        s->word = cl == C_DIGIT ? W_NUM : W_IDENT;
    for (; q < end; q++) {
        unsigned char k = s->cls[(unsigned char)*q];
        if (k == C_WORD)
            s->word = W_IDENT;
        else if (k != C_DIGIT && !(k == C_DOLLAR && s->word == W_IDENT))
            break;
    }
    tok_append(s, p, (size_t)(q - p));
    return q;
}

/* L_NORMAL, at the byte c after a one-letter word: E'…' and U&… are not that word. */
static bool lex_word_prefix(struct dumpscan *s, unsigned char c)
{
    if (s->toklen == 1 && c == '\'' && (s->tok[0] | 0x20) == 'e') {
        /* E'...' */
        s->word = W_NONE;
        s->toklen = 0;
        s->st = L_EQ;
        return true;
    }
    if (s->toklen == 1 && c == '&' && (s->tok[0] | 0x20) == 'u') {
        s->st = L_UAMP;
        return true;
    }
    return false;
}

/* L_NORMAL, the byte c of class cl outside a word: it opens a token or is one. p is just
 * past it, start where this feed began. */
static void lex_token_start(struct dumpscan *s, unsigned char c, unsigned char cl, const char *p,
                            const char *start)
{
    switch (cl) {
    case C_SPACE:
        break;
    case C_SQUOTE:
        s->toklen = 0;
        s->st = s->std_strings ? L_SQ : L_EQ;
        break;
    case C_DQUOTE:
        s->toklen = 0;
        s->st = L_DQ;
        break;
    case C_DOLLAR:
        s->dtaglen = 0;
        s->dhash = FNV_BASIS;
        s->st = L_DOLLAR_OPEN;
        break;
    case C_DASH:
        s->dash_bol = p - 1 > start ? p[-2] == '\n' : s->last_nl;
        s->st = L_DASH;
        break;
    case C_SLASH:
        s->st = L_SLASH;
        break;
    case C_BSLASH:
        /* the backslash itself is never handed on: psql keeps only the ';' of "\;" */
        seg_flush(s, p - 1);
        s->seg = p;
        s->st = L_BACKSLASH;
        break;
    case C_SEMI:
        if (s->paren == 0 && s->begin == 0) {
            seg_flush(s, p);
            end_statement(s);
        } else
            on_token(s, T_OP, ";", 1);
        break;
    default:
        on_token(s, T_OP, (const char *)&c, 1);
        break;
    }
}

/* L_NORMAL: between tokens, or inside an unquoted word. */
static const char *lex_normal(struct dumpscan *s, const char *p, const char *end, const char *start)
{
    unsigned char c = (unsigned char)*p;
    unsigned char cl = s->cls[c];
    if (cl == C_WORD || cl == C_DIGIT || (cl == C_DOLLAR && s->word == W_IDENT))
        return lex_word(s, p, end, cl);
    if (s->word != W_NONE) {
        if (lex_word_prefix(s, c))
            return p + 1;
        emit_word(s);
    }
    p++;
    lex_token_start(s, c, cl, p, start);
    return p;
}

/* L_DASH: a second '-' starts a line comment (perhaps the trailer); else '-' was one. */
static const char *lex_dash(struct dumpscan *s, const char *p)
{
    if (*p == '-') {
        s->tmatch = (s->dash_bol && s->ntok == 0) ? 0 : -1;
        s->cmatch = s->tmatch;
        s->st = L_LINE_COMMENT;
        return p + 1;
    }
    on_token(s, T_OP, "-", 1);
    s->st = L_NORMAL;
    return p;
}

/* L_SLASH: '*' opens a block comment; else '/' was an operator. */
static const char *lex_slash(struct dumpscan *s, const char *p)
{
    if (*p == '*') {
        s->cdepth = 0;
        s->cstar = s->cslash = false;
        s->trailer_ok = false;
        s->st = L_BLOCK;
        return p + 1;
    }
    on_token(s, T_OP, "/", 1);
    s->st = L_NORMAL;
    return p;
}

/* L_LINE_COMMENT: up to the end of the line, matched against the trailers while it can
 * still be one. */
static const char *lex_line_comment(struct dumpscan *s, const char *p, const char *end)
{
    if (s->tmatch < 0 && s->cmatch < 0) {
        while (p < end && *p != '\n' && *p != '\r')
            p++;
        if (p == end)
            return p;
    }
    unsigned char c = (unsigned char)*p++;
    if (c == '\n' || c == '\r') {
        if (s->tmatch == TRAILER_LEN || s->cmatch == CLUSTER_TRAILER_LEN) {
            s->trailer_ok = true;
            s->cluster_trailer = s->cmatch == CLUSTER_TRAILER_LEN;
            if (!s->cluster_trailer)
                s->db_trailers++;
        }
        s->st = L_NORMAL;
    } else {
        s->tmatch = trailer_step(s->tmatch, trailer_text, TRAILER_LEN, c);
        s->cmatch = trailer_step(s->cmatch, cluster_trailer_text, CLUSTER_TRAILER_LEN, c);
    }
    return p;
}

/* L_BLOCK: inside a block comment, which nests. */
static const char *lex_block(struct dumpscan *s, const char *p)
{
    unsigned char c = (unsigned char)*p;
    if (s->cstar && c == '/') {
        s->cstar = false;
        if (s->cdepth <= 0)
            s->st = L_NORMAL;
        else
            s->cdepth--;
    } else if (s->cslash && c == '*') {
        s->cslash = false;
        if (s->cdepth < INT_MAX)
            s->cdepth++;
    } else {
        s->cstar = c == '*';
        s->cslash = c == '/';
    }
    return p + 1;
}

/* L_SQ and L_DQ: the text up to the closing quote q, then the state after it. */
static const char *lex_quoted(struct dumpscan *s, const char *p, const char *end, char q,
                              unsigned char after)
{
    const char *close = memchr(p, q, (size_t)(end - p));
    const char *stop = close ? close : end;
    tok_append(s, p, (size_t)(stop - p));
    if (!close)
        return stop;
    s->st = after;
    return stop + 1;
}

/* L_SQ_END and L_DQ_END: a doubled quote is one quote of the text; else the token ends. */
static const char *lex_quote_end(struct dumpscan *s, const char *p, char q, unsigned char inside,
                                 int kind)
{
    if (*p == q) {
        tok_append(s, p, 1);
        s->st = inside;
        return p + 1;
    }
    emit_quoted(s, kind);
    s->st = L_NORMAL;
    return p;
}

/* L_EQ: inside E'...', up to a quote or a backslash. */
static const char *lex_escape_string(struct dumpscan *s, const char *p, const char *end)
{
    const char *q = memchr(p, '\'', (size_t)(end - p));
    const char *b = memchr(p, '\\', (size_t)((q ? q : end) - p));
    if (b || !q)
        q = b ? b : end;
    tok_append(s, p, (size_t)(q - p));
    p = q;
    if (p < end) {
        s->st = *p == '\\' ? L_EQ_BS : L_EQ_END;
        p++;
    }
    return p;
}

/* L_EQ_BS: the byte after a backslash in E'...' is text, even a quote. */
static const char *lex_escape_backslash(struct dumpscan *s, const char *p)
{
    tok_append(s, p, 1);
    s->st = L_EQ;
    return p + 1;
}

/* L_EQ_END: after a quote inside E'...': a doubled quote, or the string may continue. */
static const char *lex_escape_end(struct dumpscan *s, const char *p)
{
    if (*p == '\'') {
        tok_append(s, "'", 1);
        s->st = L_EQ;
        return p + 1;
    }
    s->cont_nl = false;
    s->cont_sub = 0;
    s->st = L_EQ_CONT;
    return p;
}

/* L_EQ_CONT: psql continues 'a' <newline> 'b' as one string, still with escapes. Blanks
 * and comments may stand between; without a newline among them, the string has ended. */
static const char *lex_escape_continue(struct dumpscan *s, const char *p)
{
    unsigned char c = (unsigned char)*p;
    if (s->cont_sub == 2) { /* in a "--" comment */
        if (c == '\n' || c == '\r') {
            s->cont_nl = true;
            s->cont_sub = 0;
        }
        return p + 1;
    }
    if (s->cont_sub == 1) { /* after a '-' */
        if (c == '-') {
            s->cont_sub = 2;
            return p + 1;
        }
        emit_quoted(s, T_STRING);
        s->dash_bol = false;
        s->st = L_DASH;
        return p;
    }
    if (c == ' ' || c == '\t' || c == '\f')
        return p + 1;
    if (c == '\n' || c == '\r') {
        s->cont_nl = true;
        return p + 1;
    }
    if (c == '-') {
        s->cont_sub = 1;
        return p + 1;
    }
    if (c == '\'' && s->cont_nl) {
        s->st = L_EQ;
        return p + 1;
    }
    emit_quoted(s, T_STRING);
    s->st = L_NORMAL;
    return p;
}

/* L_UAMP: after the word U and '&': U&'...' and U&"..." take no backslash escapes. */
static const char *lex_uamp(struct dumpscan *s, const char *p)
{
    unsigned char c = (unsigned char)*p;
    if (c == '\'' || c == '"') {
        s->word = W_NONE;
        s->toklen = 0;
        s->st = c == '\'' ? L_SQ : L_DQ;
        return p + 1;
    }
    emit_word(s);
    on_token(s, T_OP, "&", 1);
    s->st = L_NORMAL;
    return p;
}

/* L_DOLLAR_OPEN: after '$' at a token start, the tag of a dollar quote up to its '$'. */
static const char *lex_dollar_open(struct dumpscan *s, const char *p)
{
    unsigned char c = (unsigned char)*p;
    if (c == '$') {
        s->dmatching = false;
        s->st = L_DOLLAR;
        return p + 1;
    }
    if (s->cls[c] == C_WORD || (s->dtaglen > 0 && s->cls[c] == C_DIGIT)) {
        if (s->dtaglen < TOK_CAP)
            s->dtag[s->dtaglen] = (char)c;
        s->dtaglen++;
        s->dhash = (s->dhash ^ c) * FNV_PRIME;
        return p + 1;
    }
    /* not a dollar quote: a lone '$', then the tag chars form a word */
    on_token(s, T_OP, "$", 1);
    if (s->dtaglen > 0) {
        s->toklen = 0;
        tok_append(s, s->dtag, s->dtaglen < TOK_CAP ? s->dtaglen : TOK_CAP);
        s->toklen = s->dtaglen;
        s->word = W_IDENT;
    }
    s->st = L_NORMAL;
    return p;
}

/* L_DOLLAR: inside a dollar-quoted string, looking for "$tag$" (a tag longer than what
 * is kept is matched by its length and hash). */
static const char *lex_dollar(struct dumpscan *s, const char *p, const char *end)
{
    if (!s->dmatching) {
        const char *d = memchr(p, '$', (size_t)(end - p));
        if (!d)
            return end;
        s->dmatching = true;
        s->dmatch = 0;
        s->mhash = FNV_BASIS;
        return d + 1;
    }
    unsigned char c = (unsigned char)*p;
    if (c == '$') {
        if (s->dmatch == s->dtaglen && (s->dtaglen <= TOK_CAP || s->mhash == s->dhash)) {
            s->toklen = 0;
            emit_quoted(s, T_STRING);
            s->st = L_NORMAL;
        } else {
            s->dmatch = 0;
            s->mhash = FNV_BASIS;
        }
    } else if (s->dmatch < s->dtaglen &&
               (s->dmatch < TOK_CAP ? c == (unsigned char)s->dtag[s->dmatch]
                                    : (s->cls[c] == C_WORD || s->cls[c] == C_DIGIT))) {
        s->mhash = (s->mhash ^ c) * FNV_PRIME;
        s->dmatch++;
    } else {
        s->dmatching = false;
    }
    return p + 1;
}

/* L_BACKSLASH: "\;" and "\:" are part of the statement; anything else is a meta-command. */
static const char *lex_backslash(struct dumpscan *s, const char *p)
{
    if (*p == ';') {
        /* "\;" puts a semicolon into the statement without sending it */
        s->trailer_ok = false;
        s->ntok++;
        s->idcount = 0;
        end_substatement(s);
        s->st = L_NORMAL;
        return p + 1;
    }
    if (*p == ':') {
        on_token(s, T_OP, ":", 1);
        s->st = L_NORMAL;
        return p + 1;
    }
    seg_flush(s, p);
    s->segkind = DS_META;
    s->st = L_META;
    return p;
}

/* L_META: a psql meta-command runs to the end of its line. */
static const char *lex_meta(struct dumpscan *s, const char *p, const char *end)
{
    const char *q = memchr(p, '\n', (size_t)(end - p));
    if (!q)
        return end;
    seg_flush(s, q);
    sink_event(s, DS_META_END, NULL, 0);
    s->segkind = DS_SQL;
    s->st = L_NORMAL;
    return q + 1;
}

/* L_COPY_EOL: the rest of the line of COPY FROM STDIN's ';', kept to run after the block
 * (as psql does) unless it is blank or a comment; its newline starts the data. */
static const char *lex_copy_eol(struct dumpscan *s, const char *p)
{
    unsigned char c = (unsigned char)*p;
    if (c == '\n') {
        s->st = L_NORMAL;
        s->in_copy = true;
        s->cm = CM_BOL;
    } else if (s->rest_skip || (s->restlen == 0 && s->cls[c] == C_SPACE)) {
        /* blank, or a comment: nothing to run after the block */
    } else if (s->restlen < REST_CAP) {
        s->rest[s->restlen++] = (char)c;
        if (s->restlen == 2 && s->rest[0] == '-' && s->rest[1] == '-')
            s->rest_skip = true;
    } else {
        s->overflow = true;
    }
    return p + 1;
}

/* Lexes SQL from p until end or until COPY mode starts; returns where it stopped. */
static const char *sql_feed(struct dumpscan *s, const char *p, const char *end)
{
    const char *start = p;
    s->seg = p;
    s->segkind = s->st == L_META ? DS_META : s->st == L_COPY_EOL ? DS_STMT_END : DS_SQL;

    while (p < end && !s->in_copy) {
        switch (s->st) {
        case L_NORMAL:
            p = lex_normal(s, p, end, start);
            break;
        case L_DASH:
            p = lex_dash(s, p);
            break;
        case L_SLASH:
            p = lex_slash(s, p);
            break;
        case L_LINE_COMMENT:
            p = lex_line_comment(s, p, end);
            break;
        case L_BLOCK:
            p = lex_block(s, p);
            break;
        case L_SQ:
            p = lex_quoted(s, p, end, '\'', L_SQ_END);
            break;
        case L_SQ_END:
            p = lex_quote_end(s, p, '\'', L_SQ, T_STRING);
            break;
        case L_EQ:
            p = lex_escape_string(s, p, end);
            break;
        case L_EQ_BS:
            p = lex_escape_backslash(s, p);
            break;
        case L_EQ_END:
            p = lex_escape_end(s, p);
            break;
        case L_EQ_CONT:
            p = lex_escape_continue(s, p);
            break;
        case L_DQ:
            p = lex_quoted(s, p, end, '"', L_DQ_END);
            break;
        case L_DQ_END:
            p = lex_quote_end(s, p, '"', L_DQ, T_QIDENT);
            break;
        case L_UAMP:
            p = lex_uamp(s, p);
            break;
        case L_DOLLAR_OPEN:
            p = lex_dollar_open(s, p);
            break;
        case L_DOLLAR:
            p = lex_dollar(s, p, end);
            break;
        case L_BACKSLASH:
            p = lex_backslash(s, p);
            break;
        case L_META:
            p = lex_meta(s, p, end);
            break;
        case L_COPY_EOL:
            p = lex_copy_eol(s, p);
            break;
        }
    }
    seg_flush(s, p);
    if (p > start)
        s->last_nl = p[-1] == '\n';
    return p;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ONES UINT64_C(0x0101010101010101)
#define LOW7 UINT64_C(0x7f7f7f7f7f7f7f7f)

/* 0x80 in each byte of w that equals b, 0 in the others (exact: no carry between bytes). */
static inline uint64_t byte_eq(uint64_t w, unsigned char b)
{
    uint64_t y = w ^ (ONES * b);
    return ~(((y & LOW7) + LOW7) | y | LOW7);
}

/*
 * Short rows: counts newlines 8 bytes at a time from inside a line, stopping before a
 * word with no newline (memchr is faster on long lines) or one where a line starts with
 * a backslash (a possible end marker, checked byte-wise by the caller).
 */
static const char *count_short_rows(const char *p, const char *end, uint64_t *rows)
{
    uint64_t n = 0;
    while (end - p > 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        uint64_t nl = byte_eq(w, '\n');
        if (!nl)
            break;
        uint64_t bs = byte_eq(w, '\\');
        if (((nl << 8) & bs) || ((nl >> 63) && p[8] == '\\'))
            break;
        n += ((nl >> 7) * ONES) >> 56;
        p += 8;
    }
    *rows += n;
    return p;
}
#else
static const char *count_short_rows(const char *p, const char *end, uint64_t *rows)
{
    (void)end;
    (void)rows;
    return p;
}
#endif

static bool in_marker(unsigned char cm)
{
    return cm == CM_BS || cm == CM_DOT || cm == CM_DOTCR;
}

/* A possible end marker carried over from the last buffer turned out to be data: the
 * sink gets its bytes, which are known from the state alone. */
static void copy_carried(struct dumpscan *s, unsigned char *carried)
{
    if (*carried)
        sink_event(s, DS_COPY_DATA, "\\.\r", *carried == CM_BS ? 1 : *carried == CM_DOT ? 2 : 3);
    *carried = 0;
}

/* The data of this buffer up to stop (or up to where a possible end marker starts). */
static void copy_flush(struct dumpscan *s, const char *p0, const char *stop, bool marker,
                       unsigned char carried)
{
    if (marker)
        stop = carried ? p0 : s->copy_mark;
    if (stop > p0)
        sink_event(s, DS_COPY_DATA, p0, (size_t)(stop - p0));
}

/* The offset in the bytes fed of p, a position in the buffer being fed. */
static uint64_t feed_offset(const struct dumpscan *s, const char *p)
{
    return s->fed + (uint64_t)(p - s->feed_buf);
}

/* The part of the last point, if still open, ends at offset at. */
static void point_close(struct dumpscan *s, uint64_t at)
{
    if (!s->point_open)
        return;
    struct dumpscan_point *pt = &s->points[s->npoints - 1];
    pt->raw_bytes = at - pt->raw_offset;
    pt->rows = s->copies.v[pt->copy].rows - pt->rows_before;
    s->point_open = false;
}

/* A point at offset at, a row boundary of the block being read. */
static void point_add(struct dumpscan *s, uint64_t at)
{
    point_close(s, at);
    if (s->npoints == s->cappoints) {
        s->cappoints = s->cappoints ? s->cappoints * 2 : 64;
        s->points = xrealloc(s->points, s->cappoints * sizeof(*s->points));
    }
    size_t copy = s->copies.n - 1;
    s->points[s->npoints++] = (struct dumpscan_point){.copy = copy,
                                                      .raw_offset = at,
                                                      .line = s->lines + 1,
                                                      .rows_before = s->copies.v[copy].rows};
    s->point_open = true;
    s->next_point = at + s->interval;
}

/* The end point of the block just read: at, after its "\." line. */
static void point_end(struct dumpscan *s, uint64_t at)
{
    point_add(s, at);
    struct dumpscan_point *pt = &s->points[s->npoints - 1];
    pt->end = true;
    pt->rows_before = 0;
    s->point_open = false;
}

int dumpscan_skip_copy(struct dumpscan *s)
{
    if (!s->in_copy || s->cm != CM_BOL || s->restlen > 0)
        return -1;
    s->in_copy = false;
    s->last_nl = true;
    sink_event(s, DS_COPY_END, NULL, 0);
    return 0;
}

/* Counts COPY data lines from p until end or the "\." line; returns where it stopped. */
static const char *copy_feed(struct dumpscan *s, const char *p, const char *end)
{
    uint64_t rows = 0;
    unsigned char cm = s->cm;
    const char *p0 = p;
    unsigned char carried = in_marker(cm) ? cm : 0;
    bool done = false;

    while (p < end) {
        if (cm == CM_MID) {
            p = count_short_rows(p, end, &rows);
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            if (!nl) {
                p = end;
                break;
            }
            rows++;
            p = nl + 1;
            cm = CM_BOL;
            continue;
        }
        char c = *p++;
        if (cm == CM_BOL) {
            if (c == '\\') {
                cm = CM_BS;
                s->copy_mark = p - 1;
            } else if (c == '\n') {
                rows++;
            } else {
                cm = CM_MID;
            }
        } else if (cm == CM_BS) {
            if (c == '.') {
                cm = CM_DOT;
            } else {
                copy_carried(s, &carried);
                rows += c == '\n';
                cm = c == '\n' ? CM_BOL : CM_MID;
            }
        } else if (c == '\n') {
            /* "\." or "\.\r" alone on its line ends the block */
            s->in_copy = false;
            s->last_nl = true;
            done = true;
            break;
        } else if (c == '\r' && cm == CM_DOT) {
            cm = CM_DOTCR;
        } else {
            copy_carried(s, &carried);
            cm = CM_MID;
        }
    }
    if (s->sink)
        copy_flush(s, p0, p, done || in_marker(cm), carried);
    if (done)
        sink_event(s, DS_COPY_END, NULL, 0);
    s->copies.v[s->copies.n - 1].rows += rows;
    s->lines += rows + done;
    if (done) /* the part ends where the "\." (or "\.\r") line starts */
        point_close(s, feed_offset(s, p) - (cm == CM_DOTCR ? 4 : 3));
    if (done && s->interval && s->copies.v[s->copies.n - 1].rows > 0 && s->restlen == 0)
        point_end(s, feed_offset(s, p));
    s->cm = cm;
    return p;
}

/* Feeds COPY data from p, cut where an access point falls due: at the first row that
 * starts interval bytes or more after the block's previous point. */
static const char *copy_feed_points(struct dumpscan *s, const char *p, const char *end)
{
    if (!s->interval)
        return copy_feed(s, p, end);
    uint64_t at = feed_offset(s, p);
    if (at >= s->next_point && s->cm != CM_BOL) {
        /* inside a row: up to its end (or the block's, or the buffer's) */
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        return copy_feed(s, p, nl ? nl + 1 : end);
    }
    if (at >= s->next_point)
        point_add(s, at);
    uint64_t room = s->next_point - at;
    return copy_feed(s, p, room < (uint64_t)(end - p) ? p + room : end);
}

/* Counts the newlines of SQL text fed, for the lines of the access points. */
static void sql_lines(struct dumpscan *s, const char *p, const char *end)
{
    if (!s->interval)
        return;
    for (; (p = memchr(p, '\n', (size_t)(end - p))); p++)
        s->lines++;
}

/* After SQL: if it started a COPY block, its data starts at p (the block's first point). */
static void copy_started(struct dumpscan *s, const char *p)
{
    if (s->in_copy && s->interval)
        point_add(s, feed_offset(s, p));
}

/* After a block, runs the SQL that followed "FROM stdin;" on its line, as psql does. */
static void replay_rest(struct dumpscan *s)
{
    char line[REST_CAP + 1];
    size_t n = s->restlen;

    memcpy(line, s->rest, n);
    line[n] = '\n';
    s->restlen = 0;
    s->last_nl = false;
    sql_feed(s, line, line + n + 1);
}

/* Creates a scanner positioned at the start of a dump. */
struct dumpscan *dumpscan_new(void)
{
    struct dumpscan *s = xcalloc(1, sizeof(*s));

    for (int c = 0; c < 256; c++) {
        unsigned char cl = C_OTHER;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80)
            cl = C_WORD;
        else if (c >= '0' && c <= '9')
            cl = C_DIGIT;
        else if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f')
            cl = C_SPACE;
        else if (c == '$')
            cl = C_DOLLAR;
        else if (c == '\'')
            cl = C_SQUOTE;
        else if (c == '"')
            cl = C_DQUOTE;
        else if (c == '-')
            cl = C_DASH;
        else if (c == '/')
            cl = C_SLASH;
        else if (c == '\\')
            cl = C_BSLASH;
        else if (c == ';')
            cl = C_SEMI;
        s->cls[c] = cl;
    }
    s->st = L_NORMAL;
    s->std_strings = true;
    s->last_nl = true;
    s->tmatch = -1;
    s->cmatch = -1;
    s->setval = -1;
    s->sk = SK_START;
    name_reset(s);
    return s;
}

static void tablist_free(struct tablist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].schema);
        free(l->v[i].name);
    }
    free(l->v);
}

/* Frees the scanner and the tables it returned; accepts NULL. */
void dumpscan_free(struct dumpscan *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->copies.n; i++)
        free(s->stmts[i]);
    free(s->stmts);
    free(s->points);
    tablist_free(&s->copies);
    tablist_free(&s->creates);
    columns_clear(s);
    free(s->cols);
    free(s);
}

/* Scans the next chunk of the dump; chunk boundaries do not affect the result. */
void dumpscan_feed(struct dumpscan *s, const char *buf, size_t len)
{
    const char *p = buf, *end = buf + len;

    s->feed_buf = buf;
    while (p < end) {
        if (s->in_copy) {
            p = copy_feed_points(s, p, end);
            if (!s->in_copy && s->restlen > 0) {
                replay_rest(s);
                copy_started(s, p);
            }
        } else {
            const char *q = sql_feed(s, p, end);
            sql_lines(s, p, q);
            copy_started(s, q);
            p = q;
        }
    }
    s->fed += len;
}

/*
 * Ends the input: returns -1 if it stopped inside a COPY block, a quote, a comment or a
 * statement (or if SQL after "FROM stdin;" was too long to follow), else 0.
 */
int dumpscan_finish(struct dumpscan *s)
{
    /* a final line without its newline still ends a block or a comment */
    if (s->in_copy && (s->cm == CM_DOT || s->cm == CM_DOTCR))
        dumpscan_feed(s, "\n", 1);
    else if (!s->in_copy && s->st == L_LINE_COMMENT)
        dumpscan_feed(s, "\n", 1);

    if (s->in_copy)
        return -1;
    bool token_pending;
    switch (s->st) {
    case L_NORMAL:
        token_pending = s->word != W_NONE;
        break;
    case L_META:
    case L_BACKSLASH:
        token_pending = false;
        break;
    default:
        /* an unterminated quote, or the start of a token ("-", "$", a closed string) */
        token_pending = true;
        break;
    }
    if (token_pending)
        s->trailer_ok = false;
    return (token_pending || s->ntok > 0 || s->overflow) ? -1 : 0;
}

void dumpscan_set_sink(struct dumpscan *s, dumpscan_sink fn, void *ctx)
{
    s->sink = fn;
    s->sink_ctx = ctx;
}

const struct dumpscan_stmt *dumpscan_statement(const struct dumpscan *s)
{
    return &s->stmt;
}

size_t dumpscan_copy_count(const struct dumpscan *s)
{
    return s->copies.n;
}

const struct dumpscan_table *dumpscan_copy(const struct dumpscan *s, size_t i)
{
    return i < s->copies.n ? &s->copies.v[i] : NULL;
}

char *dumpscan_copy_statement(const struct dumpscan *s, size_t i)
{
    return i < s->copies.n ? xstrdup(s->stmts[i]) : NULL;
}

void dumpscan_set_interval(struct dumpscan *s, uint64_t interval)
{
    s->interval = interval;
}

size_t dumpscan_point_count(const struct dumpscan *s)
{
    return s->npoints;
}

const struct dumpscan_point *dumpscan_point(const struct dumpscan *s, size_t i)
{
    return i < s->npoints ? &s->points[i] : NULL;
}

size_t dumpscan_create_count(const struct dumpscan *s)
{
    return s->creates.n;
}

const struct dumpscan_table *dumpscan_create(const struct dumpscan *s, size_t i)
{
    return i < s->creates.n ? &s->creates.v[i] : NULL;
}

bool dumpscan_trailer_ok(const struct dumpscan *s)
{
    return s->trailer_ok && !s->cluster_trailer;
}

size_t dumpscan_database_trailers(const struct dumpscan *s)
{
    return s->db_trailers;
}

bool dumpscan_cluster_trailer_ok(const struct dumpscan *s)
{
    return s->trailer_ok && s->cluster_trailer;
}
