#ifndef PGVAULT_REMOTE_STALL_H
#define PGVAULT_REMOTE_STALL_H

#include <stdbool.h>

/*
 * A watchdog for a connection whose library blocks without a time limit (libssh waits
 * for ever on a server that stopped answering but keeps the TCP connection open): while
 * armed, when timeout_s seconds pass without a kick, a thread shuts the socket down
 * (shutdown(2), the descriptor stays open and owned by the library), so the blocked call
 * fails at once with a connection error.
 */
struct stall_guard;

/* Starts the watchdog of fd, disarmed. NULL with the error set if no thread starts. */
struct stall_guard *stall_guard_new(int fd, double timeout_s);

/* Arms it, or pushes the deadline back: the next timeout_s seconds are allowed. */
void stall_guard_kick(struct stall_guard *g);

/* Disarms it (between operations: an idle connection is not a stall). */
void stall_guard_pause(struct stall_guard *g);

/* Whether it has shut the socket down. */
bool stall_guard_fired(struct stall_guard *g);

/* Stops the thread; NULL-safe. Call before the descriptor is closed. */
void stall_guard_free(struct stall_guard *g);

#endif
