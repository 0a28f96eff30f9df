#!/usr/bin/env bash
# Stops the cluster that pg_start.sh STATE_DIR started and removes its temporary
# directory and STATE_DIR. Succeeds when nothing is running.
#
#   pg_stop.sh STATE_DIR
set -euo pipefail

[[ $# -eq 1 && -n "$1" ]] || { echo "usage: pg_stop.sh STATE_DIR" >&2; exit 1; }
state_dir=$1

if [[ ! -f "$state_dir/env.sh" ]]; then
    rm -rf "$state_dir"
    echo "pg_stop: no cluster recorded in $state_dir"
    exit 0
fi

# The values pg_start.sh recorded.
PG_BINDIR='' PG_TMPDIR=''
# shellcheck source=/dev/null
source "$state_dir/env.sh"

as_pg=()
if [[ $(id -u) -eq 0 ]]; then
    as_pg=(runuser -u postgres --)
fi

# Only ever touch a directory that pg_start.sh made.
case "$PG_TMPDIR" in
    /tmp/pgvault-test.*) ;;
    *) echo "pg_stop: refusing to remove unexpected PG_TMPDIR '$PG_TMPDIR'" >&2; exit 1 ;;
esac

if [[ -f "$PG_TMPDIR/data/postmaster.pid" && -x "$PG_BINDIR/pg_ctl" ]]; then
    if ! "${as_pg[@]}" "$PG_BINDIR/pg_ctl" stop -D "$PG_TMPDIR/data" -m fast -w -t 60 -s; then
        echo "pg_stop: fast shutdown failed, trying immediate" >&2
        "${as_pg[@]}" "$PG_BINDIR/pg_ctl" stop -D "$PG_TMPDIR/data" -m immediate -w -t 30 -s || true
    fi
fi

rm -rf "$PG_TMPDIR"
rm -rf "$state_dir"
echo "pg_stop: stopped and removed $PG_TMPDIR"
