#ifndef PGVAULT_NOTIFY_H
#define PGVAULT_NOTIFY_H

#include "config/config.h"
#include "config/options.h"

/*
 * The mail after a run (notify_email, notify_on, sendmail_path, notify_from): one message
 * per run of backup, test-restore, prune and verify, through sendmail_path (split into
 * words like a hook, run without a shell, the message on its stdin), with the outcome in
 * the subject and the error, its hint and what the run printed in the body. A mail that
 * cannot be sent is a warning; it never changes the exit code.
 */

/* Before the command: starts keeping what the run prints, when a mail may follow. */
void notify_begin(const struct options *opt, const struct settings *set);

/* A database the run worked on, named in the subject (the command knows it best). */
void notify_db(const char *db);

/* After the command, its error printed: sends the mail if notify_on says so (failure: an
 * exit code other than 0; always), then stops keeping the output. */
void notify_end(const struct options *opt, const struct settings *set, int code);

#endif
