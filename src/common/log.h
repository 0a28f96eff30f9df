#ifndef PGVAULT_LOG_H
#define PGVAULT_LOG_H

#include <stdbool.h>

/* Output policy, set once by main from the options. */
void log_setup(bool quiet, bool journald);

/* "pgvault: <msg>" on stderr (with a <3> prefix under systemd). */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "pgvault: warning: <msg>" on stderr, shown unless --quiet is not... always shown. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Informational line on stderr; silenced by --quiet. */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
bool log_quiet(void);

#endif
