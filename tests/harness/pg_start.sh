#!/usr/bin/env bash
# Starts a private PostgreSQL cluster for the integration tests.
#
#   pg_start.sh STATE_DIR
#
# The cluster lives in a fresh temporary directory under /tmp (the build tree may not
# be traversable by the postgres user): data directory, socket directory and server
# log. It listens on a unix socket only, on a random free port. STATE_DIR/env.sh
# exports what a test needs to reach it (PGHOST, PGPORT, PGUSER, PG_BINDIR,
# PG_TMPDIR); pg_stop.sh STATE_DIR stops it and removes everything.
#
# PG_BINDIR in the environment overrides the choice of binaries. The tests' cluster runs
# with fsync, synchronous_commit and full_page_writes off (nothing in it needs to survive
# a crash); PG_DURABLE=1 keeps the server's defaults, production durability, as the
# benchmarks need.
set -euo pipefail

die() {
    printf 'pg_start: %s\n' "$*" >&2
    exit 1
}

[[ $# -eq 1 && -n "$1" ]] || die "usage: pg_start.sh STATE_DIR"
state_dir=$1

# Find a bin directory with the server programs: PG_BINDIR, else pg_config's, else the
# newest /usr/lib/postgresql/N/bin.
has_server() {
    [[ -x "$1/initdb" && -x "$1/pg_ctl" && -x "$1/postgres" ]]
}

find_bindir() {
    if [[ -n "${PG_BINDIR:-}" ]]; then
        has_server "$PG_BINDIR" || die "PG_BINDIR=$PG_BINDIR has no initdb/pg_ctl/postgres"
        printf '%s\n' "$PG_BINDIR"
        return
    fi
    local d
    if command -v pg_config >/dev/null 2>&1; then
        d=$(pg_config --bindir 2>/dev/null || true)
        if [[ -n "$d" ]] && has_server "$d"; then
            printf '%s\n' "$d"
            return
        fi
    fi
    local newest_first
    mapfile -t newest_first < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r)
    for d in "${newest_first[@]}"; do
        if has_server "$d"; then
            printf '%s\n' "$d"
            return
        fi
    done
    die "no PostgreSQL server binaries found (set PG_BINDIR, or install postgresql)"
}

bindir=$(find_bindir)

# A cluster left behind by an earlier run that was not stopped goes first.
if [[ -f "$state_dir/env.sh" ]]; then
    bash "$(dirname "$0")/pg_stop.sh" "$state_dir" || true
fi
mkdir -p "$state_dir"

# As root, the server programs run as postgres.
as_pg=()
if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || die "running as root but there is no postgres user"
    as_pg=(runuser -u postgres --)
fi

tmp=$(mktemp -d /tmp/pgvault-test.XXXXXX)
data=$tmp/data
sock=$tmp/sock
log=$tmp/server.log
mkdir "$sock"
chmod 0755 "$tmp"
if [[ ${#as_pg[@]} -gt 0 ]]; then
    chown -R postgres: "$tmp"
fi

fail_start() {
    printf 'pg_start: %s\n' "$1" >&2
    if [[ -f "$log" ]]; then
        printf -- '--- server log (%s) ---\n' "$log" >&2
        cat "$log" >&2 || true
    fi
    "${as_pg[@]}" "$bindir/pg_ctl" stop -D "$data" -m immediate >/dev/null 2>&1 || true
    rm -rf "$tmp"
    exit 1
}

# C.UTF-8 when the system has it, else C.
locale=C
if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then
    locale=C.UTF-8
fi

if ! "${as_pg[@]}" "$bindir/initdb" -D "$data" -A trust -U postgres -E UTF8 \
        --locale="$locale" --no-instructions >"$tmp/initdb.log" 2>&1; then
    cat "$tmp/initdb.log" >&2
    fail_start "initdb failed"
fi

durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
if [[ "${PG_DURABLE:-0}" == 1 ]]; then
    durability=""
fi

# Pick a random port whose socket is not in use, start, and retry on failure (another
# cluster may have taken the port in between).
started=
for attempt in 1 2 3 4 5 6 7 8; do
    port=$((20000 + RANDOM % 40001))
    if [[ -e "$sock/.s.PGSQL.$port" || -e "$sock/.s.PGSQL.$port.lock" ]]; then
        continue
    fi
    if "$bindir/pg_isready" -q -h "$sock" -p "$port" >/dev/null 2>&1; then
        continue
    fi
    if "${as_pg[@]}" "$bindir/pg_ctl" start -D "$data" -l "$log" -w -t 60 -s \
            -o "-c listen_addresses='' -k $sock -p $port $durability -c max_connections=50 -c logging_collector=off" \
            >/dev/null 2>&1; then
        started=1
        break
    fi
    printf 'pg_start: start on port %s failed (attempt %s), retrying\n' "$port" "$attempt" >&2
    "${as_pg[@]}" "$bindir/pg_ctl" stop -D "$data" -m immediate >/dev/null 2>&1 || true
done
[[ -n "$started" ]] || fail_start "could not start the server"

# Wait until it accepts connections.
ready=
for _ in $(seq 1 120); do
    if "$bindir/pg_isready" -q -h "$sock" -p "$port" -U postgres -d postgres >/dev/null 2>&1; then
        ready=1
        break
    fi
    sleep 0.25
done
[[ -n "$ready" ]] || fail_start "server on $sock port $port did not become ready"

# What the tests source.
{
    printf '# written by pg_start.sh; removed by pg_stop.sh\n'
    printf 'export PGHOST=%q\n' "$sock"
    printf 'export PGPORT=%q\n' "$port"
    printf 'export PGUSER=postgres\n'
    printf 'export PG_BINDIR=%q\n' "$bindir"
    printf 'export PG_TMPDIR=%q\n' "$tmp"
    printf 'unset PGDATABASE PGPASSWORD PGSERVICE PGPASSFILE PGSERVICEFILE PGOPTIONS PGHOSTADDR\n'
} >"$state_dir/env.sh.tmp"
mv "$state_dir/env.sh.tmp" "$state_dir/env.sh"

printf 'pg_start: PostgreSQL %s running in %s (socket %s, port %s)\n' \
    "$("$bindir/postgres" --version | awk '{print $3}')" "$data" "$sock" "$port"
