# Sourced by the small benchmarks (crypt_cost.sh, restore_jobs.sh) after they set $root
# and $work: builds pgvault (Release, in $work/build) unless PGVAULT_BIN names one, starts
# a private cluster with production durability (PG_DURABLE=1: fsync, synchronous_commit,
# full_page_writes on) in $work/pg, and takes its environment (PGHOST, PGPORT, PG_BINDIR).
# The caller stops it: bash "$root/tests/harness/pg_stop.sh" "$work/pg".
# shellcheck shell=bash
if [[ -z "${PGVAULT_BIN:-}" ]]; then
    cmake -S "$root" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DPGVAULT_TESTS=OFF >/dev/null
    cmake --build "$work/build" -j2 --target pgvault >/dev/null
    PGVAULT_BIN=$work/build/pgvault
fi
PG_DURABLE=1 bash "$root/tests/harness/pg_start.sh" "$work/pg" >/dev/null
# shellcheck source=/dev/null
source "$work/pg/env.sh"
PSQL=$PG_BINDIR/psql
export PGVAULT_CONFIG=/dev/null
