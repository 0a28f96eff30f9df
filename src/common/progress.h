#ifndef PGVAULT_PROGRESS_H
#define PGVAULT_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The progress line of backup, restore and verify: one line on stderr, redrawn in place
 * ("\r", the text, clear to end of line) at most five times a second, and cleared when
 * the work ends so that the summary starts on a clean line. It shows the bytes done, the
 * rate, the time elapsed and, when the total is known or estimated, an ETA.
 */
struct progress;

/*
 * Starts a progress line on stderr if shown (cli_progress_wanted), else returns NULL (every
 * function here accepts NULL and then does nothing). label says what is being done; its
 * control characters are shown as '?'. total: the bytes expected, 0 when unknown;
 * estimated: total is a guess (shown as "~N", dropped once exceeded). rate: bytes per
 * second expected from earlier runs, 0 when unknown.
 */
struct progress *progress_start(bool shown, const char *label, uint64_t total, bool estimated,
                                double rate);

/* The same on any file descriptor (fd < 0: NULL), whatever the options. */
struct progress *progress_new(int fd, const char *label, uint64_t total, bool estimated,
                              double rate);

/* Reports the bytes done so far; redraws unless the line was drawn under 0.2 s ago. */
void progress_update(struct progress *p, uint64_t done);

/* Clears the line if it was drawn, and frees p. */
void progress_free(struct progress *p);

/* The text of the line for done bytes after elapsed seconds (no "\r"); for tests. */
void progress_format(const struct progress *p, uint64_t done, double elapsed, char *buf,
                     size_t size);

/* Replaces the monotonic clock (seconds) that paces the redraws; NULL restores it. Tests. */
void progress_set_clock(double (*clock)(void));

#endif
