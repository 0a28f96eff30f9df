#ifndef PGVAULT_ERR_H
#define PGVAULT_ERR_H

/*
 * One error per thread of work: the first err_set() wins until err_clear(), so the
 * root cause is what the user sees, not a consequence reported during cleanup.
 * The class is the exit code main gives (the values below).
 */
enum err_class {
    ERR_NONE = 0,
    ERR_FAILED = 1,    /* operation failed */
    ERR_USAGE = 2,     /* usage or configuration error */
    ERR_INTEGRITY = 3, /* checksum or count mismatch */
    ERR_BUSY = 4,      /* repository lock held */
    ERR_CONNECT = 5,   /* database unreachable or authentication failed */
    ERR_REMOTE = 6,    /* remote storage unreachable or credentials refused */
};

/* Records the message (printf format) unless one is already set; always returns -1. */
int err_set(enum err_class cls, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Records an errno-based message: "<text>: <strerror(errnum)>"; returns -1. */
int err_sys(int errnum, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Adds a hint printed on its own "HINT:" line (only if no hint is set yet). */
void err_hint(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Adds context to the error already set: the message becomes "<fmt …>: <message>", the
 * hint is kept, and the class becomes cls (ERR_NONE keeps it). With no error set, it is
 * err_set(cls, fmt …). Returns -1. */
int err_wrap(enum err_class cls, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The whole error (class, message, hint), put aside while cleanup that may fail runs. */
struct err_saved {
    enum err_class cls;
    char msg[1024];
    char hint[512];
};
/* Moves the current error (possibly none) into s and clears it. */
void err_save(struct err_saved *s);
/* Makes s the current error again, replacing whatever cleanup set; returns -1 when s
 * holds an error, else 0. */
int err_restore(const struct err_saved *s);

const char *err_msg(void);
const char *err_hint_msg(void);
enum err_class err_class(void);
int err_is_set(void);
void err_clear(void);

#endif
