/*
 * The SFTP backend: sftp://[USER@]HOST[:PORT]/PATH over libssh. The URL is taken
 * literally (no percent-decoding; a '%' is refused); PATH is absolute; USER defaults to
 * the user running pgvault, PORT to 22. IPv6 hosts are written in brackets.
 *
 * Trust: the host key must already be in known_hosts (remote.NAME.known_hosts, default
 * ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts); an unknown or changed key is refused
 * and never added. Authentication is by key only: identity_file (mode 0600 or
 * stricter), by default the first of ~/.ssh/id_ed25519, id_ecdsa, id_rsa the server
 * accepts, then an ssh-agent when SSH_AUTH_SOCK is set.
 *
 * An object KEY is the file PATH/KEY; its checksum is the sidecar PATH/KEY.xxh3 (32 hex
 * digits and a newline). An upload goes to .NAME.partial.PID beside it, is fsynced, gets
 * its sidecar, then is renamed over KEY, so KEY appears whole or not at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <libssh/libssh.h>
#include <libssh/sftp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "io/chain.h"
#include "remote/remote.h"
#include "remote/sftp.h"
#include "remote/stall.h"

#define CONNECT_TIMEOUT_S 30L
/* How long the server may leave an operation without an answer (remote_conf's
 * io_timeout when set): a stalled server is given up, not waited for. Long enough for
 * the fsync of a large file on a slow disk. */
#define IO_TIMEOUT_S 120
/* Data per read or write request: OpenSSH (which announces limits@openssh.com) takes
 * 255 KiB; 32 KiB is what every SFTP server must accept. */
#define CHUNK_OPENSSH (255u * 1024u)
#define CHUNK_MIN (32u * 1024u)
#define SIDECAR_SUFFIX ".xxh3"
#define PARTIAL_TAG ".partial."

struct sftp_remote {
    struct remote base;
    char *user, *host, *root; /* root: PATH without a trailing '/' ("" for "/") */
    int port;
    char *identity_file; /* NULL: the default keys */
    char *known_hosts;
    bool known_hosts_default;
    char *home;
    ssh_session ssh;
    sftp_session sftp;
    struct stall_guard *guard; /* while connected */
    int io_timeout;
    size_t chunk;
    bool has_fsync, has_statvfs;
};

static struct sftp_remote *as_sftp(struct remote *r)
{
    return (struct sftp_remote *)r;
}

/* --- configuration ----------------------------------------------------------------- */

static char *home_dir(void)
{
    const char *home = getenv("HOME");
    if (home && *home)
        return xstrdup(home);
    struct passwd *pw = getpwuid(geteuid());
    return pw && pw->pw_dir ? xstrdup(pw->pw_dir) : xstrdup("/");
}

static int parse_port(const struct remote_conf *conf, const char *s, size_t n, int *out)
{
    char buf[8];
    long v;
    if (n == 0 || n >= sizeof(buf))
        goto bad;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (parse_int(buf, 1, 65535, &v) < 0)
        goto bad;
    *out = (int)v;
    return 0;
bad:
    return err_set(ERR_USAGE, "remote \"%s\": bad port in url \"%s\"", conf->name, conf->url);
}

/* HOST[:PORT] or [V6]:PORT, the authority without the user. */
static int parse_hostport(struct sftp_remote *s, const struct remote_conf *conf, const char *a,
                          size_t n)
{
    const char *colon;
    const char *host = a;
    size_t hlen;
    if (n > 0 && a[0] == '[') {
        const char *close = memchr(a, ']', n);
        if (!close)
            return err_set(ERR_USAGE, "remote \"%s\": bad host in url \"%s\"", conf->name,
                           conf->url);
        host = a + 1;
        hlen = (size_t)(close - host);
        colon = close + 1 < a + n && close[1] == ':' ? close + 1 : NULL;
    } else {
        colon = memchr(a, ':', n);
        hlen = colon ? (size_t)(colon - a) : n;
    }
    if (hlen == 0)
        return err_set(ERR_USAGE, "remote \"%s\": no host in url \"%s\"", conf->name, conf->url);
    s->host = xstrndup(host, hlen);
    s->port = 22;
    if (colon && parse_port(conf, colon + 1, (size_t)(a + n - colon - 1), &s->port) < 0)
        return -1;
    return 0;
}

static int parse_url(struct sftp_remote *s, const struct remote_conf *conf)
{
    const char *p = conf->url + strlen("sftp://");
    if (strchr(conf->url, '%'))
        return err_set(ERR_USAGE,
                       "remote \"%s\": url \"%s\" is percent-encoded, which is not supported",
                       conf->name, conf->url);
    const char *slash = strchr(p, '/');
    if (!slash)
        return err_set(ERR_USAGE, "remote \"%s\": url \"%s\" has no path (sftp://USER@HOST/PATH)",
                       conf->name, conf->url);
    const char *at = memchr(p, '@', (size_t)(slash - p));
    if (at) {
        if (at == p)
            return err_set(ERR_USAGE, "remote \"%s\": empty user in url \"%s\"", conf->name,
                           conf->url);
        s->user = xstrndup(p, (size_t)(at - p));
        p = at + 1;
    } else {
        s->user = xstrdup(os_user());
    }
    if (parse_hostport(s, conf, p, (size_t)(slash - p)) < 0)
        return -1;
    size_t n = strlen(slash);
    while (n > 0 && slash[n - 1] == '/')
        n--;
    s->root = xstrndup(slash, n);
    return 0;
}

/* A private key must exist, be a regular file and have no group or other access. */
static int check_key_file(const char *name, const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return err_set(ERR_USAGE, "remote \"%s\": could not read identity file \"%s\": %s", name,
                       path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return err_set(ERR_USAGE, "remote \"%s\": identity file \"%s\" is not a regular file", name,
                       path);
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        err_set(ERR_USAGE,
                "remote \"%s\": identity file \"%s\" is accessible by group or others (mode "
                "%04o)",
                name, path, (unsigned)(st.st_mode & 07777));
        err_hint("run chmod 600 \"%s\"", path);
        return -1;
    }
    return 0;
}

static const char *const default_keys[] = {"id_ed25519", "id_ecdsa", "id_rsa"};

/* Checks the identity files that will be offered (the named one, or the default ones
 * that exist). */
static int check_identities(struct sftp_remote *s, const struct remote_conf *conf)
{
    if (s->identity_file)
        return check_key_file(conf->name, s->identity_file);
    for (size_t i = 0; i < sizeof(default_keys) / sizeof(default_keys[0]); i++) {
        char *path = xasprintf("%s/.ssh/%s", s->home, default_keys[i]);
        int rc = access(path, F_OK) == 0 ? check_key_file(conf->name, path) : 0;
        free(path);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* Drops the connection (the guard first: it must not outlive the socket). */
static void disconnect(struct sftp_remote *s)
{
    stall_guard_free(s->guard);
    s->guard = NULL;
    if (s->sftp)
        sftp_free(s->sftp);
    s->sftp = NULL;
    if (s->ssh) {
        ssh_disconnect(s->ssh);
        ssh_free(s->ssh);
    }
    s->ssh = NULL;
}

static void sftp_remote_free(struct sftp_remote *s)
{
    if (!s)
        return;
    disconnect(s);
    free(s->user);
    free(s->host);
    free(s->root);
    free(s->identity_file);
    free(s->known_hosts);
    free(s->home);
    free(s);
}

static int sftp_open_remote(const struct remote_conf *conf, struct remote **out)
{
    struct sftp_remote *s = xcalloc(1, sizeof(*s));
    s->home = home_dir();
    if (parse_url(s, conf) < 0)
        goto fail;
    if (conf->identity_file && *conf->identity_file)
        s->identity_file = xstrdup(conf->identity_file);
    s->known_hosts_default = !(conf->known_hosts && *conf->known_hosts);
    s->known_hosts = s->known_hosts_default ? xasprintf("%s/.ssh/known_hosts", s->home)
                                            : xstrdup(conf->known_hosts);
    if (check_identities(s, conf) < 0)
        goto fail;
    s->io_timeout = conf->io_timeout > 0 ? conf->io_timeout : IO_TIMEOUT_S;
    *out = &s->base;
    return 0;
fail:
    sftp_remote_free(s);
    return -1;
}

/* --- connection ---------------------------------------------------------------------- */

/* Records an error about what the server did: ERR_REMOTE when the connection is gone,
 * else ERR_FAILED; the message ends with libssh's (the server's status text). */
static int fail_sftp(struct sftp_remote *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail_sftp(struct sftp_remote *s, const char *fmt, ...)
{
    char what[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (s->guard && stall_guard_fired(s->guard))
        return err_set(ERR_REMOTE, "%s on remote \"%s\": %s port %d did not answer for %d s", what,
                       s->base.conf->name, s->host, s->port, s->io_timeout);
    bool lost =
        !ssh_is_connected(s->ssh) || (ssh_get_status(s->ssh) & (SSH_CLOSED | SSH_CLOSED_ERROR));
    if (lost)
        return err_set(ERR_REMOTE, "%s on remote \"%s\": lost the connection to %s port %d: %s",
                       what, s->base.conf->name, s->host, s->port, ssh_get_error(s->ssh));
    return err_set(ERR_FAILED, "%s on remote \"%s\": %s", what, s->base.conf->name,
                   ssh_get_error(s->ssh));
}

static int set_options(struct sftp_remote *s)
{
    long timeout = CONNECT_TIMEOUT_S;
    int nodelay = 1;
    bool no_config = false;
    const char *global = s->known_hosts_default ? "/etc/ssh/ssh_known_hosts" : "/dev/null";
    if (ssh_options_set(s->ssh, SSH_OPTIONS_HOST, s->host) < 0 ||
        ssh_options_set(s->ssh, SSH_OPTIONS_PORT, &s->port) < 0 ||
        ssh_options_set(s->ssh, SSH_OPTIONS_USER, s->user) < 0 ||
        ssh_options_set(s->ssh, SSH_OPTIONS_TIMEOUT, &timeout) < 0 ||
        ssh_options_set(s->ssh, SSH_OPTIONS_NODELAY, &nodelay) < 0 ||
        ssh_options_set(s->ssh, SSH_OPTIONS_PROCESS_CONFIG, &no_config) < 0 ||
        ssh_options_set(s->ssh, SSH_OPTIONS_KNOWNHOSTS, s->known_hosts) < 0 ||
        ssh_options_set(s->ssh, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, global) < 0)
        return err_set(ERR_USAGE, "remote \"%s\": %s", s->base.conf->name, ssh_get_error(s->ssh));
    return 0;
}

/* "ssh-ed25519 SHA256:…" of the key the server offered, into buf. */
static void offered_key(struct sftp_remote *s, char *buf, size_t size)
{
    ssh_key key = NULL;
    unsigned char *hash = NULL;
    size_t hlen = 0;
    snprintf(buf, size, "(no key)");
    if (ssh_get_server_publickey(s->ssh, &key) < 0)
        return;
    if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) == 0) {
        char *fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen);
        snprintf(buf, size, "%s %s", ssh_key_type_to_char(ssh_key_type(key)), fp ? fp : "?");
        ssh_string_free_char(fp);
        ssh_clean_pubkey_hash(&hash);
    }
    ssh_key_free(key);
}

static int verify_host(struct sftp_remote *s)
{
    enum ssh_known_hosts_e state = ssh_session_is_known_server(s->ssh);
    if (state == SSH_KNOWN_HOSTS_OK)
        return 0;
    if (state == SSH_KNOWN_HOSTS_ERROR)
        return err_set(ERR_REMOTE, "remote \"%s\": could not check the host key of %s port %d: %s",
                       s->base.conf->name, s->host, s->port, ssh_get_error(s->ssh));
    char key[256];
    offered_key(s, key, sizeof(key));
    bool changed = state == SSH_KNOWN_HOSTS_CHANGED || state == SSH_KNOWN_HOSTS_OTHER;
    err_set(ERR_REMOTE, "remote \"%s\": %s host key of %s port %d (offered %s), refused",
            s->base.conf->name, changed ? "changed" : "unknown", s->host, s->port, key);
    err_hint("%scheck the fingerprint with the server's administrator, then run: "
             "ssh-keyscan -p %d %s >> \"%s\"",
             changed ? "if the change is expected, remove the old key from known_hosts, " : "",
             s->port, s->host, s->known_hosts);
    return -1;
}

/* 1: accepted, 0: refused or unreadable (next key), -1: connection error. */
static int try_key_file(struct sftp_remote *s, const char *path)
{
    ssh_key key = NULL;
    if (ssh_pki_import_privkey_file(path, NULL, NULL, NULL, &key) != SSH_OK) {
        if (!s->identity_file)
            return 0;
        /* a key with a passphrase: the agent may hold it */
        const char *sock = getenv("SSH_AUTH_SOCK");
        if (sock && *sock && ssh_userauth_agent(s->ssh, NULL) == SSH_AUTH_SUCCESS)
            return 1;
        return err_set(ERR_USAGE,
                       "remote \"%s\": could not load identity file \"%s\" (a key with a "
                       "passphrase is used only through an ssh-agent, SSH_AUTH_SOCK)",
                       s->base.conf->name, path);
    }
    int rc = ssh_userauth_publickey(s->ssh, NULL, key);
    ssh_key_free(key);
    if (rc == SSH_AUTH_ERROR)
        return err_set(ERR_REMOTE, "remote \"%s\": could not authenticate to %s port %d: %s",
                       s->base.conf->name, s->host, s->port, ssh_get_error(s->ssh));
    return rc == SSH_AUTH_SUCCESS;
}

/* 1: accepted, 0: refused by the server, -1: error. */
static int try_default_keys(struct sftp_remote *s)
{
    for (size_t i = 0; i < sizeof(default_keys) / sizeof(default_keys[0]); i++) {
        char *path = xasprintf("%s/.ssh/%s", s->home, default_keys[i]);
        int rc = access(path, F_OK) == 0 ? try_key_file(s, path) : 0;
        free(path);
        if (rc != 0)
            return rc;
    }
    const char *sock = getenv("SSH_AUTH_SOCK");
    if (sock && *sock && ssh_userauth_agent(s->ssh, NULL) == SSH_AUTH_SUCCESS)
        return 1;
    return 0;
}

static int authenticate(struct sftp_remote *s)
{
    int rc = s->identity_file ? try_key_file(s, s->identity_file) : try_default_keys(s);
    if (rc < 0)
        return -1;
    if (rc == 0)
        return err_set(ERR_REMOTE,
                       "remote \"%s\": %s port %d refused the key %s%s%s for user \"%s\"",
                       s->base.conf->name, s->host, s->port, s->identity_file ? "\"" : "",
                       s->identity_file ? s->identity_file : "files of ~/.ssh (and the agent)",
                       s->identity_file ? "\"" : "", s->user);
    return 0;
}

static int start_sftp(struct sftp_remote *s)
{
    s->sftp = sftp_new(s->ssh);
    if (!s->sftp || sftp_init(s->sftp) < 0)
        return err_set(ERR_REMOTE, "remote \"%s\": could not start SFTP on %s port %d: %s",
                       s->base.conf->name, s->host, s->port, ssh_get_error(s->ssh));
    s->has_fsync = sftp_extension_supported(s->sftp, "fsync@openssh.com", "1");
    s->has_statvfs = sftp_extension_supported(s->sftp, "statvfs@openssh.com", "2");
    s->chunk =
        sftp_extension_supported(s->sftp, "limits@openssh.com", "1") ? CHUNK_OPENSSH : CHUNK_MIN;
    return 0;
}

static int connect_session(struct sftp_remote *s)
{
    s->ssh = ssh_new();
    if (!s->ssh)
        return err_set(ERR_FAILED, "could not create an SSH session");
    if (set_options(s) < 0)
        return -1;
    if (ssh_connect(s->ssh) != SSH_OK)
        return err_set(ERR_REMOTE, "remote \"%s\": could not connect to %s port %d: %s",
                       s->base.conf->name, s->host, s->port, ssh_get_error(s->ssh));
    s->guard = stall_guard_new(ssh_get_fd(s->ssh), s->io_timeout);
    if (!s->guard)
        return -1;
    stall_guard_kick(s->guard);
    if (verify_host(s) < 0 || authenticate(s) < 0 || start_sftp(s) < 0)
        return -1;
    return 0;
}

/* Starts an operation: connects on first use (opening a remote touches no network) or
 * again after a lost connection, and arms the stall guard until op_end. */
static int op_begin(struct sftp_remote *s)
{
    if (s->sftp && ssh_is_connected(s->ssh) && !stall_guard_fired(s->guard)) {
        stall_guard_kick(s->guard);
        return 0;
    }
    disconnect(s);
    if (connect_session(s) < 0) {
        disconnect(s);
        return -1;
    }
    return 0;
}

/* Ends an operation; returns rc. */
static int op_end(struct sftp_remote *s, int rc)
{
    if (s->guard)
        stall_guard_pause(s->guard);
    return rc;
}

/* Progress: the server is answering. */
static void op_alive(struct sftp_remote *s)
{
    stall_guard_kick(s->guard);
}

/* --- paths ------------------------------------------------------------------------- */

static bool is_sidecar(const char *name)
{
    size_t n = strlen(name), m = strlen(SIDECAR_SUFFIX);
    return n >= m && strcmp(name + n - m, SIDECAR_SUFFIX) == 0;
}

static bool is_temporary(const char *name)
{
    return name[0] == '.' && strstr(name, PARTIAL_TAG) != NULL;
}

static int check_key(struct sftp_remote *s, const char *key)
{
    const char *base = strrchr(key, '/');
    base = base ? base + 1 : key;
    bool bad = !*key || key[0] == '/' || !*base || strcmp(key, "..") == 0 ||
               strncmp(key, "../", 3) == 0 || strstr(key, "/../") || strstr(key, "//") ||
               (strlen(key) >= 3 && strcmp(key + strlen(key) - 3, "/..") == 0) ||
               is_sidecar(base) || is_temporary(base);
    if (bad)
        return err_set(ERR_USAGE, "remote \"%s\": invalid object name \"%s\"", s->base.conf->name,
                       key);
    return 0;
}

static char *full_path(struct sftp_remote *s, const char *key)
{
    return xasprintf("%s/%s", s->root, key);
}

/* --- small operations -------------------------------------------------------------- */

static bool no_such_file(struct sftp_remote *s)
{
    return sftp_get_error(s->sftp) == SSH_FX_NO_SUCH_FILE && ssh_is_connected(s->ssh);
}

/* Removes path; a missing file is not an error. */
static int unlink_quiet(struct sftp_remote *s, const char *path)
{
    if (sftp_unlink(s->sftp, path) == 0 || no_such_file(s))
        return 0;
    return fail_sftp(s, "could not remove \"%s\"", path);
}

/* mkdir -p of dir (an absolute path). */
static int make_dirs(struct sftp_remote *s, const char *dir)
{
    sftp_attributes st = sftp_stat(s->sftp, dir);
    if (st) {
        bool is_dir = st->type == SSH_FILEXFER_TYPE_DIRECTORY;
        sftp_attributes_free(st);
        if (is_dir)
            return 0;
        return err_set(ERR_FAILED, "\"%s\" on remote \"%s\" is not a directory", dir,
                       s->base.conf->name);
    }
    if (!no_such_file(s))
        return fail_sftp(s, "could not look up \"%s\"", dir);
    const char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        char *parent = xstrndup(dir, (size_t)(slash - dir));
        int rc = make_dirs(s, parent);
        free(parent);
        if (rc < 0)
            return -1;
    }
    if (sftp_mkdir(s->sftp, dir, 0700) == 0)
        return 0;
    /* made in the meantime by someone else? */
    st = sftp_stat(s->sftp, dir);
    bool made = st && st->type == SSH_FILEXFER_TYPE_DIRECTORY;
    sftp_attributes_free(st);
    return made ? 0 : fail_sftp(s, "could not create directory \"%s\"", dir);
}

/* Writes len bytes at the file's offset, in requests of s->chunk bytes. */
static int write_all(struct sftp_remote *s, sftp_file f, const char *path, const char *buf,
                     size_t len)
{
    while (len > 0) {
        size_t n = len < s->chunk ? len : s->chunk;
        ssize_t w = sftp_write(f, buf, n);
        if (w <= 0)
            return fail_sftp(s, "could not write \"%s\"", path);
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Creates path (replacing it) with the bytes of buf. */
static int write_small_file(struct sftp_remote *s, const char *path, const char *buf, size_t len)
{
    sftp_file f = sftp_open(s->sftp, path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (!f)
        return fail_sftp(s, "could not create \"%s\"", path);
    int rc = write_all(s, f, path, buf, len);
    if (rc == 0 && s->has_fsync && sftp_fsync(f) < 0)
        rc = fail_sftp(s, "could not fsync \"%s\"", path);
    if (sftp_close(f) < 0 && rc == 0)
        rc = fail_sftp(s, "could not close \"%s\"", path);
    return rc;
}

static unsigned char *put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
    return p + 4;
}

static unsigned char *put_str(unsigned char *p, const char *str)
{
    size_t n = strlen(str);
    p = put_u32(p, (uint32_t)n);
    memcpy(p, str, n);
    return p + n;
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int read_exact(struct sftp_remote *s, unsigned char *buf, size_t n)
{
    while (n > 0) {
        int got = ssh_channel_read(s->sftp->channel, buf, (uint32_t)n, 0);
        if (got < 0 || (got == 0 && !ssh_channel_is_eof(s->sftp->channel)))
            return fail_sftp(s, "could not read an SFTP reply");
        if (got == 0)
            return err_set(ERR_REMOTE, "remote \"%s\": %s port %d closed the SFTP channel",
                           s->base.conf->name, s->host, s->port);
        buf += got;
        n -= (size_t)got;
    }
    return 0;
}

/* Reads one reply, which must be a status: its request id and code, the server's text
 * in msg. -1 when the connection or the reply is broken. */
static int read_reply(struct sftp_remote *s, const char *what, uint32_t *id, uint32_t *code,
                      char msg[256])
{
    unsigned char head[4], body[1024];
    if (read_exact(s, head, 4) < 0)
        return -1;
    uint32_t len = get_u32(head);
    if (len < 9 || len > sizeof(body))
        return err_set(ERR_REMOTE, "remote \"%s\": bad SFTP reply (%u bytes) to %s",
                       s->base.conf->name, (unsigned)len, what);
    if (read_exact(s, body, len) < 0)
        return -1;
    if (body[0] != SSH_FXP_STATUS)
        return err_set(ERR_REMOTE, "remote \"%s\": unexpected SFTP reply to %s", s->base.conf->name,
                       what);
    *id = get_u32(body + 1);
    *code = get_u32(body + 5);
    uint32_t mlen = len >= 13 ? get_u32(body + 9) : 0;
    if (mlen > len - 13)
        mlen = 0;
    snprintf(msg, 256, "%.*s", (int)mlen, (const char *)body + 13);
    return 0;
}

static int status_result(struct sftp_remote *s, uint32_t code, const char *msg, const char *what)
{
    if (code == SSH_FX_OK)
        return 0;
    return err_set(ERR_FAILED, "could not %s on remote \"%s\": SFTP server: %s (status %u)", what,
                   s->base.conf->name, msg, (unsigned)code);
}

/* Reads the status reply to request id: 0 for SSH_FX_OK, else -1 naming what failed. */
static int read_status(struct sftp_remote *s, uint32_t id, const char *what)
{
    uint32_t got = 0, code = 0;
    char msg[256];
    if (read_reply(s, what, &got, &code, msg) < 0)
        return -1;
    if (got != id)
        return err_set(ERR_REMOTE, "remote \"%s\": SFTP reply to an unknown request (%s)",
                       s->base.conf->name, what);
    return status_result(s, code, msg, what);
}

/* posix-rename@openssh.com, which libssh 0.10 has no function for: the request is sent
 * and its status read on the session's channel between two libssh calls, when no other
 * request is outstanding, with the next request id of the session. */
static int posix_rename(struct sftp_remote *s, const char *from, const char *to)
{
    static const char ext[] = "posix-rename@openssh.com";
    size_t len = 1 + 4 + 4 + strlen(ext) + 4 + strlen(from) + 4 + strlen(to);
    unsigned char *pkt = xmalloc(4 + len);
    uint32_t id = ++s->sftp->id_counter;
    unsigned char *p = put_u32(pkt, (uint32_t)len);
    *p++ = SSH_FXP_EXTENDED;
    p = put_u32(p, id);
    p = put_str(p, ext);
    p = put_str(p, from);
    put_str(p, to);
    int w = ssh_channel_write(s->sftp->channel, pkt, (uint32_t)(4 + len));
    free(pkt);
    if (w != (int)(4 + len))
        return fail_sftp(s, "could not rename \"%s\"", from);
    char *what = xasprintf("rename \"%s\" to \"%s\"", from, to);
    int rc = read_status(s, id, what);
    free(what);
    return rc;
}

/* Write requests in flight at once during an upload: libssh 0.10 waits for the reply
 * to each one, which leaves the link idle for a round trip per request. */
#define WRITE_DEPTH 16

/* The write requests of an upload sent but not yet acknowledged. Between its first
 * request and its drain, no other call may use the SFTP session. */
struct wpipe {
    struct sftp_remote *s;
    sftp_file f;
    const char *what; /* "write \"PATH\"" */
    uint64_t offset;
    uint32_t ids[WRITE_DEPTH];
    unsigned count;
};

/* Reads one reply and retires its request (a server may reply in any order). */
static int wpipe_reap(struct wpipe *p)
{
    uint32_t id = 0, code = 0;
    char msg[256];
    if (read_reply(p->s, p->what, &id, &code, msg) < 0) {
        p->count = 0; /* the stream is broken: no more replies can be read */
        return -1;
    }
    unsigned i = 0;
    while (i < p->count && p->ids[i] != id)
        i++;
    if (i == p->count) {
        p->count = 0;
        return err_set(ERR_REMOTE, "remote \"%s\": SFTP reply to an unknown request (%s)",
                       p->s->base.conf->name, p->what);
    }
    p->ids[i] = p->ids[--p->count];
    op_alive(p->s);
    return status_result(p->s, code, msg, p->what);
}

/* Waits for every reply; the first failure is the error kept. */
static int wpipe_drain(struct wpipe *p)
{
    int rc = 0;
    while (p->count > 0)
        if (wpipe_reap(p) < 0)
            rc = -1;
    return rc;
}

/* Sends one SSH_FXP_WRITE of n bytes (at most the chunk size) at the pipe's offset, once
 * fewer than WRITE_DEPTH requests are in flight. */
static int wpipe_send(struct wpipe *p, const char *buf, size_t n)
{
    if (p->count == WRITE_DEPTH && wpipe_reap(p) < 0)
        return -1;
    size_t hl = ssh_string_len(p->f->handle);
    unsigned char head[4 + 1 + 4 + 4 + 256 + 8 + 4];
    if (hl > 256)
        return err_set(ERR_REMOTE, "remote \"%s\": SFTP file handle too long",
                       p->s->base.conf->name);
    uint32_t id = ++p->s->sftp->id_counter;
    size_t hlen = 4 + 1 + 4 + 4 + hl + 8 + 4;
    unsigned char *q = put_u32(head, (uint32_t)(hlen - 4 + n));
    *q++ = SSH_FXP_WRITE;
    q = put_u32(q, id);
    q = put_u32(q, (uint32_t)hl);
    memcpy(q, ssh_string_data(p->f->handle), hl);
    q = put_u32(q + hl, (uint32_t)(p->offset >> 32));
    q = put_u32(q, (uint32_t)p->offset);
    put_u32(q, (uint32_t)n);
    if (ssh_channel_write(p->s->sftp->channel, head, (uint32_t)hlen) != (int)hlen ||
        ssh_channel_write(p->s->sftp->channel, buf, (uint32_t)n) != (int)n)
        return fail_sftp(p->s, "could not %s", p->what);
    p->ids[p->count++] = id;
    p->offset += n;
    return 0;
}

/* Queues len bytes in requests of the chunk size. */
static int wpipe_write(struct wpipe *p, const char *buf, size_t len)
{
    while (len > 0) {
        size_t n = len < p->s->chunk ? len : p->s->chunk;
        if (wpipe_send(p, buf, n) < 0)
            return -1;
        buf += n;
        len -= n;
    }
    return 0;
}

/* Renames from over to, replacing it: atomically with posix-rename@openssh.com when the
 * server offers it, else by removing to first. */
static int rename_over(struct sftp_remote *s, const char *from, const char *to)
{
    if (sftp_extension_supported(s->sftp, "posix-rename@openssh.com", "1"))
        return posix_rename(s, from, to);
    if (unlink_quiet(s, to) < 0)
        return -1;
    if (sftp_rename(s->sftp, from, to) < 0)
        return fail_sftp(s, "could not rename \"%s\" to \"%s\"", from, to);
    return 0;
}

/* The checksum in path's sidecar, or "" when there is none. */
static int read_sidecar(struct sftp_remote *s, const char *path, char out[33])
{
    char *side = xasprintf("%s%s", path, SIDECAR_SUFFIX);
    char buf[64];
    ssize_t n = -1;
    int rc = -1;
    out[0] = '\0';
    sftp_file f = sftp_open(s->sftp, side, O_RDONLY, 0);
    if (!f) {
        rc = no_such_file(s) ? 0 : fail_sftp(s, "could not open \"%s\"", side);
        goto out;
    }
    n = sftp_read(f, buf, sizeof(buf));
    sftp_close(f);
    if (n < 0) {
        fail_sftp(s, "could not read \"%s\"", side);
        goto out;
    }
    if (n != 33 || buf[32] != '\n' || strspn(buf, "0123456789abcdef") != 32) {
        err_set(ERR_FAILED, "checksum file \"%s\" on remote \"%s\" is malformed", side,
                s->base.conf->name);
        goto out;
    }
    memcpy(out, buf, 32);
    out[32] = '\0';
    rc = 0;
out:
    free(side);
    return rc;
}

/* --- put ----------------------------------------------------------------------------- */

struct upload {
    struct sftp_remote *s;
    const char *local;
    char *final, *dir, *tmp, *side, *side_tmp;
    const struct remote_meta *meta;
    remote_progress_fn progress;
    void *arg;
    volatile sig_atomic_t *cancel;
};

static void upload_names(struct upload *u, const char *key)
{
    u->final = full_path(u->s, key);
    const char *slash = strrchr(u->final, '/');
    u->dir = xstrndup(u->final, (size_t)(slash - u->final));
    long pid = (long)getpid();
    u->tmp = xasprintf("%s/.%s" PARTIAL_TAG "%ld", u->dir, slash + 1, pid);
    u->side = xasprintf("%s" SIDECAR_SUFFIX, u->final);
    u->side_tmp = xasprintf("%s/.%s" SIDECAR_SUFFIX PARTIAL_TAG "%ld", u->dir, slash + 1, pid);
}

static void upload_free(struct upload *u)
{
    free(u->final);
    free(u->dir);
    free(u->tmp);
    free(u->side);
    free(u->side_tmp);
}

/* Removes the temporaries an earlier upload of the same object left behind (a killed
 * process, a lost connection). */
static int remove_stale(struct upload *u)
{
    const char *base = strrchr(u->final, '/') + 1;
    sftp_dir d = sftp_opendir(u->s->sftp, u->dir);
    if (!d)
        return fail_sftp(u->s, "could not list \"%s\"", u->dir);
    char *mine = xasprintf(".%s" PARTIAL_TAG, base);
    char *side = xasprintf(".%s" SIDECAR_SUFFIX PARTIAL_TAG, base);
    sftp_attributes a;
    int rc = 0;
    while (rc == 0 && (a = sftp_readdir(u->s->sftp, d)) != NULL) {
        if (strncmp(a->name, mine, strlen(mine)) == 0 ||
            strncmp(a->name, side, strlen(side)) == 0) {
            char *p = xasprintf("%s/%s", u->dir, a->name);
            rc = unlink_quiet(u->s, p);
            free(p);
        }
        sftp_attributes_free(a);
    }
    if (rc == 0 && !sftp_dir_eof(d))
        rc = fail_sftp(u->s, "could not list \"%s\"", u->dir);
    sftp_closedir(d);
    free(mine);
    free(side);
    return rc;
}

/* After a failed write: says so when the server's file system is full. */
static void explain_write_error(struct upload *u)
{
    if (!u->s->has_statvfs || !ssh_is_connected(u->s->ssh))
        return;
    struct err_saved why;
    err_save(&why);
    sftp_statvfs_t v = sftp_statvfs(u->s->sftp, u->dir);
    bool full = v && v->f_bavail * v->f_frsize < u->s->chunk;
    sftp_statvfs_free(v);
    err_restore(&why);
    if (full)
        err_wrap(ERR_NONE, "the file system of \"%s\" is full", u->dir);
}

static int send_loop(struct upload *u, int fd, struct wpipe *p, char *buf, size_t cap)
{
    for (;;) {
        if (u->cancel && *u->cancel)
            return err_set(ERR_FAILED, "interrupted");
        ssize_t n = read(fd, buf, cap);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return err_sys(errno, "could not read file \"%s\"", u->local);
        if (n == 0)
            return 0;
        if (wpipe_write(p, buf, (size_t)n) < 0)
            return -1;
        op_alive(u->s);
        if (u->progress)
            u->progress(u->arg, (int64_t)p->offset, u->meta ? u->meta->size : -1);
    }
}

/* Sends the file's bytes with up to WRITE_DEPTH writes in flight, then waits for all. */
static int send_file(struct upload *u, int fd, sftp_file f)
{
    size_t cap = u->s->chunk * 4;
    char *buf = xmalloc_io(cap);
    char *what = xasprintf("write \"%s\"", u->tmp);
    struct wpipe p = {.s = u->s, .f = f, .what = what};
    int rc = send_loop(u, fd, &p, buf, cap);
    if (wpipe_drain(&p) < 0)
        rc = -1;
    if (rc < 0 && err_class() != ERR_REMOTE)
        explain_write_error(u);
    f->offset = p.offset;
    free(what);
    free(buf);
    return rc;
}

/* Uploads the local file to the temporary name and makes it durable. */
static int upload_data(struct upload *u)
{
    int fd = open(u->local, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return err_sys(errno, "could not open file \"%s\"", u->local);
    sftp_file f = sftp_open(u->s->sftp, u->tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (!f) {
        close(fd);
        return fail_sftp(u->s, "could not create \"%s\"", u->tmp);
    }
    int rc = send_file(u, fd, f);
    close(fd);
    if (rc == 0 && u->s->has_fsync && sftp_fsync(f) < 0)
        rc = fail_sftp(u->s, "could not fsync \"%s\"", u->tmp);
    if (sftp_close(f) < 0 && rc == 0)
        rc = fail_sftp(u->s, "could not close \"%s\"", u->tmp);
    return rc;
}

/* The sidecar first (through its own temporary), then the object: a reader who sees the
 * object sees its checksum. */
static int upload_commit(struct upload *u)
{
    const char *sum = u->meta ? u->meta->checksum : "";
    if (*sum) {
        char line[34];
        snprintf(line, sizeof(line), "%.32s\n", sum);
        if (write_small_file(u->s, u->side_tmp, line, strlen(line)) < 0 ||
            rename_over(u->s, u->side_tmp, u->side) < 0)
            return -1;
    } else if (unlink_quiet(u->s, u->side) < 0) {
        return -1;
    }
    if (rename_over(u->s, u->tmp, u->final) < 0) {
        struct err_saved why;
        err_save(&why);
        unlink_quiet(u->s, u->side);
        return err_restore(&why);
    }
    return 0;
}

static void upload_abort(struct upload *u)
{
    if (!ssh_is_connected(u->s->ssh))
        return;
    struct err_saved why;
    err_save(&why);
    unlink_quiet(u->s, u->tmp);
    unlink_quiet(u->s, u->side_tmp);
    err_restore(&why);
}

static int sftp_put_file(struct remote *r, const char *path, const char *key,
                         const struct remote_meta *meta, remote_progress_fn progress, void *arg,
                         volatile sig_atomic_t *cancel)
{
    struct upload u = {.s = as_sftp(r),
                       .local = path,
                       .meta = meta,
                       .progress = progress,
                       .arg = arg,
                       .cancel = cancel};
    if (check_key(u.s, key) < 0 || op_begin(u.s) < 0)
        return -1;
    upload_names(&u, key);
    int rc = -1;
    if (make_dirs(u.s, u.dir) < 0 || remove_stale(&u) < 0)
        goto out;
    if (upload_data(&u) < 0 || upload_commit(&u) < 0) {
        upload_abort(&u);
        goto out;
    }
    rc = 0;
out:
    upload_free(&u);
    return op_end(u.s, rc);
}

/* --- stat, get, remove ------------------------------------------------------------- */

static int sftp_stat_key(struct remote *r, const char *key, struct remote_meta *out)
{
    struct sftp_remote *s = as_sftp(r);
    memset(out, 0, sizeof(*out));
    if (check_key(s, key) < 0 || op_begin(s) < 0)
        return -1;
    char *path = full_path(s, key);
    int rc;
    sftp_attributes a = sftp_stat(s->sftp, path);
    if (!a) {
        rc = no_such_file(s) ? 1 : fail_sftp(s, "could not look up \"%s\"", path);
    } else {
        out->size = (int64_t)a->size;
        sftp_attributes_free(a);
        rc = read_sidecar(s, path, out->checksum);
    }
    free(path);
    return op_end(s, rc);
}

/* Read requests in flight at once during a download. */
#define READ_DEPTH 16

/* A download's read requests in flight (sftp_async_read_begin), oldest first. */
struct rpipe {
    struct sftp_remote *s;
    sftp_file f;
    const char *path;
    uint64_t size; /* the file's size when it was opened */
    uint64_t next; /* offset of the next request */
    uint64_t offs[READ_DEPTH];
    uint32_t ids[READ_DEPTH], lens[READ_DEPTH];
    unsigned head, count;
    unsigned char *scratch; /* replies read only to be dropped */
};

static int rpipe_fill(struct rpipe *p)
{
    while (p->count < READ_DEPTH && p->next < p->size) {
        uint64_t left = p->size - p->next;
        uint32_t len = left < p->s->chunk ? (uint32_t)left : (uint32_t)p->s->chunk;
        int id = sftp_async_read_begin(p->f, len);
        if (id < 0)
            return fail_sftp(p->s, "could not read \"%s\"", p->path);
        unsigned slot = (p->head + p->count) % READ_DEPTH;
        p->ids[slot] = (uint32_t)id;
        p->lens[slot] = len;
        p->offs[slot] = p->next;
        p->count++;
        p->next += len;
    }
    return 0;
}

/* Reads and drops the replies still due. */
static int rpipe_drain(struct rpipe *p)
{
    int rc = 0;
    while (p->count > 0) {
        unsigned slot = p->head;
        p->head = (p->head + 1) % READ_DEPTH;
        p->count--;
        if (rc == 0 && sftp_async_read(p->f, p->scratch, p->lens[slot], p->ids[slot]) < 0)
            rc = fail_sftp(p->s, "could not read \"%s\"", p->path);
    }
    return rc;
}

/* The oldest reply into buf; its length, or -1. A short reply (the server may send less
 * than asked) leaves the later requests at the wrong offsets: they are dropped and the
 * requests start again where the data stopped. */
static int rpipe_take(struct rpipe *p, unsigned char *buf)
{
    unsigned slot = p->head;
    p->head = (p->head + 1) % READ_DEPTH;
    p->count--;
    int n = sftp_async_read(p->f, buf, p->lens[slot], p->ids[slot]);
    if (n < 0)
        return fail_sftp(p->s, "could not read \"%s\"", p->path);
    if (n == 0)
        return err_set(ERR_FAILED, "\"%s\" on remote \"%s\" ended at %llu bytes, not %llu", p->path,
                       p->s->base.conf->name, (unsigned long long)p->offs[slot],
                       (unsigned long long)p->size);
    if ((uint32_t)n < p->lens[slot]) {
        if (rpipe_drain(p) < 0)
            return -1;
        p->next = p->offs[slot] + (uint64_t)n;
        if (sftp_seek64(p->f, p->next) < 0)
            return fail_sftp(p->s, "could not seek in \"%s\"", p->path);
    }
    return n;
}

static int stream_loop(struct rpipe *p, struct chain *c, remote_progress_fn progress, void *arg,
                       volatile sig_atomic_t *cancel)
{
    unsigned char *buf = xmalloc_io(p->s->chunk);
    int64_t done = 0;
    int rc = 0;
    for (;;) {
        if (cancel && *cancel) {
            rc = err_set(ERR_FAILED, "interrupted");
            break;
        }
        if (rpipe_fill(p) < 0) {
            rc = -1;
            break;
        }
        if (p->count == 0) {
            rc = chain_finish(c);
            break;
        }
        int n = rpipe_take(p, buf);
        if (n < 0 || chain_write(c, buf, (size_t)n) < 0) {
            rc = -1;
            break;
        }
        done += n;
        op_alive(p->s);
        if (progress)
            progress(arg, done, (int64_t)p->size);
    }
    free(buf);
    return rc;
}

/* Streams the file into the chain with up to READ_DEPTH reads in flight. */
static int stream_file(struct sftp_remote *s, sftp_file f, const char *path, struct chain *c,
                       remote_progress_fn progress, void *arg, volatile sig_atomic_t *cancel)
{
    sftp_attributes a = sftp_fstat(f);
    if (!a)
        return fail_sftp(s, "could not look up \"%s\"", path);
    struct rpipe p = {.s = s, .f = f, .path = path, .size = a->size};
    sftp_attributes_free(a);
    p.scratch = xmalloc(s->chunk);
    int rc = stream_loop(&p, c, progress, arg, cancel);
    if (p.count > 0 && ssh_is_connected(s->ssh)) {
        struct err_saved why;
        err_save(&why);
        rpipe_drain(&p);
        err_restore(&why);
    }
    free(p.scratch);
    return rc;
}

static int sftp_get(struct remote *r, const char *key, struct chain *c, remote_progress_fn progress,
                    void *arg, volatile sig_atomic_t *cancel)
{
    struct sftp_remote *s = as_sftp(r);
    if (check_key(s, key) < 0 || op_begin(s) < 0)
        return -1;
    char *path = full_path(s, key);
    int rc = -1;
    sftp_file f = sftp_open(s->sftp, path, O_RDONLY, 0);
    if (!f) {
        if (no_such_file(s))
            err_set(ERR_FAILED, "object \"%s\" does not exist on remote \"%s\"", key,
                    s->base.conf->name);
        else
            fail_sftp(s, "could not open \"%s\"", path);
        goto out;
    }
    rc = stream_file(s, f, path, c, progress, arg, cancel);
    sftp_close(f);
out:
    free(path);
    return op_end(s, rc);
}

static int sftp_remove_key(struct remote *r, const char *key)
{
    struct sftp_remote *s = as_sftp(r);
    if (check_key(s, key) < 0 || op_begin(s) < 0)
        return -1;
    char *path = full_path(s, key);
    char *side = xasprintf("%s" SIDECAR_SUFFIX, path);
    int rc = unlink_quiet(s, path) < 0 || unlink_quiet(s, side) < 0 ? -1 : 0;
    free(path);
    free(side);
    return op_end(s, rc);
}

/* --- list ---------------------------------------------------------------------------- */

struct listing {
    struct sftp_remote *s;
    const char *prefix;
    remote_list_fn fn;
    void *arg;
    int stop; /* fn's non-zero return */
};

static int list_dir(struct listing *l, const char *rel);

/* One directory entry: an object (reported), a directory (walked) or neither. */
static int list_entry(struct listing *l, const char *rel, sftp_attributes a)
{
    if (strcmp(a->name, ".") == 0 || strcmp(a->name, "..") == 0)
        return 0;
    op_alive(l->s);
    char *key = *rel ? xasprintf("%s/%s", rel, a->name) : xstrdup(a->name);
    size_t n = strlen(key), p = strlen(l->prefix);
    int rc = 0;
    if (strncmp(key, l->prefix, n < p ? n : p) != 0)
        goto out;
    if (a->type == SSH_FILEXFER_TYPE_DIRECTORY) {
        rc = list_dir(l, key);
    } else if (a->type == SSH_FILEXFER_TYPE_REGULAR && n >= p && !is_sidecar(a->name) &&
               !is_temporary(a->name)) {
        struct remote_meta meta = {.size = (int64_t)a->size};
        char *path = full_path(l->s, key);
        rc = read_sidecar(l->s, path, meta.checksum);
        free(path);
        if (rc == 0 && (l->stop = l->fn(l->arg, key, &meta)) != 0)
            rc = 1;
    }
out:
    free(key);
    return rc;
}

/* Walks root/rel (rel "" for the root); 1 when fn asked to stop. */
static int list_dir(struct listing *l, const char *rel)
{
    char *path = *rel ? full_path(l->s, rel) : xstrdup(*l->s->root ? l->s->root : "/");
    sftp_dir d = sftp_opendir(l->s->sftp, path);
    int rc = 0;
    if (!d) {
        rc = no_such_file(l->s) ? 0 : fail_sftp(l->s, "could not list \"%s\"", path);
        goto out;
    }
    sftp_attributes a;
    while (rc == 0 && (a = sftp_readdir(l->s->sftp, d)) != NULL) {
        rc = list_entry(l, rel, a);
        sftp_attributes_free(a);
    }
    if (rc == 0 && !sftp_dir_eof(d))
        rc = fail_sftp(l->s, "could not list \"%s\"", path);
    sftp_closedir(d);
out:
    free(path);
    return rc;
}

static int sftp_list(struct remote *r, const char *prefix, remote_list_fn fn, void *arg)
{
    struct listing l = {.s = as_sftp(r), .prefix = prefix ? prefix : "", .fn = fn, .arg = arg};
    if (op_begin(l.s) < 0)
        return -1;
    /* start in the deepest directory the prefix names */
    const char *slash = strrchr(l.prefix, '/');
    char *start = slash ? xstrndup(l.prefix, (size_t)(slash - l.prefix)) : xstrdup("");
    int rc = list_dir(&l, start);
    free(start);
    return op_end(l.s, rc < 0 ? -1 : 0);
}

static void sftp_close_remote(struct remote *r)
{
    sftp_remote_free(as_sftp(r));
}

const struct remote_ops remote_sftp_ops = {
    .scheme = "sftp",
    .open = sftp_open_remote,
    .put_file = sftp_put_file,
    .stat = sftp_stat_key,
    .get = sftp_get,
    .remove = sftp_remove_key,
    .list = sftp_list,
    .close = sftp_close_remote,
};
