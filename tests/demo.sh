#!/bin/sh
# The main job on a fresh Debian 12 machine: installs what is missing, builds pgvault,
# starts a throwaway PostgreSQL with sample data (unless PGHOST/DB_HOST point at a real
# server), then runs backup, list, verify and restore.
#
# Against a real server (PGHOST or DB_HOST set) it backs up DB_NAME, else the database
# the connection names by default, as libpq picks it: PGDATABASE, else the user name
# (DB_USER, PGUSER, else the login name); and restores it beside the original, under
# another name. PGVAULT=/path/to/pgvault skips the install and the build (the tests).
set -eu
cd "$(dirname "$0")/.."
if [ -z "${PGVAULT:-}" ]; then
    packaging/install-deps.sh
    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build build -j"$(nproc)" >/dev/null
    PGVAULT="$PWD/build/pgvault"
fi
export PGVAULT_CONFIG=/dev/null   # the demo ignores /etc/pgvault/pgvault.conf

state=""
cleanup() {
    if [ -n "$state" ]; then
        bash tests/harness/pg_stop.sh "$state" >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT INT TERM

if [ -z "${PGHOST:-}${DB_HOST:-}" ]; then
    state=$(mktemp -d /tmp/pgvault-demo-XXXXXX)
    echo "== starting a throwaway PostgreSQL"
    bash tests/harness/pg_start.sh "$state" >/dev/null
    . "$state/env.sh"
fi
if [ -n "$state" ]; then
    db=${DB_NAME:-pgvault_demo}
else
    # a real server: the database a new user's connection reaches without naming one
    db=${DB_NAME:-${PGDATABASE:-${DB_USER:-${PGUSER:-$(id -un)}}}}
    echo "== a real server: database $db (DB_NAME names another)"
fi
repo=${BACKUP_DIR:-$(mktemp -d /tmp/pgvault-demo-repo-XXXXXX)/backups}

if [ -n "$state" ]; then
    echo "== sample data: database $db (pgbench scale 5)"
    PGOPTIONS=--client-min-messages=warning psql -X -q -d postgres \
        -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
    "$PG_BINDIR/pgbench" -q -i -s 5 "$db" >/dev/null 2>&1
fi

echo "== pgvault backup"
if ! "$PGVAULT" backup -d "$repo" --db "$db"; then
    echo "demo: the backup of database \"$db\" failed (above); set DB_NAME to a database of that server" >&2
    exit 1
fi
echo "== pgvault list"
"$PGVAULT" list -d "$repo"
echo "== pgvault verify --deep"
"$PGVAULT" verify -d "$repo" --db "$db" --deep latest
if [ -n "$state" ]; then
    echo "== damage the database, then pgvault restore"
    psql -X -q -d "$db" -c "DELETE FROM pgbench_accounts WHERE aid % 2 = 0"
    "$PGVAULT" restore -d "$repo" --db "$db" -f latest
    echo "pgbench_accounts rows after restore: $(psql -X -At -d "$db" -c 'SELECT count(*) FROM pgbench_accounts')"
else
    echo "== pgvault restore (beside the original, into ${db}_pgvault_demo)"
    "$PGVAULT" restore -d "$repo" --db "$db" -f --target "${db}_pgvault_demo" latest
fi
echo "== repository: $repo"
