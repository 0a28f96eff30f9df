#ifndef PGVAULT_CAPTURE_H
#define PGVAULT_CAPTURE_H

#include <stddef.h>

/*
 * Tees stdout and stderr (the streams, not the descriptors: children and the progress
 * line are left out) into memory while still writing them where they went, so that the
 * notification mail can quote what a run printed. Both become line-buffered. At most
 * CAPTURE_MAX bytes are kept; what comes after is counted, not kept.
 */
#define CAPTURE_MAX (48 * 1024)

/* Starts teeing; 0, or -1 (nothing changed) when the streams cannot be made. */
int capture_start(void);
/* What was printed so far (flushed first), NUL-terminated; *dropped: bytes left out. Valid
 * until capture_stop. "" when no capture runs. */
const char *capture_text(size_t *dropped);
/* Puts the original streams back and frees the text. */
void capture_stop(void);

#endif
