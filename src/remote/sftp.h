#ifndef PGVAULT_REMOTE_SFTP_H
#define PGVAULT_REMOTE_SFTP_H

#include "remote/remote.h"

/* The sftp:// backend (OpenSSH's SFTP server or any SFTP version 3 server), over libssh. */
extern const struct remote_ops remote_sftp_ops;

#endif
