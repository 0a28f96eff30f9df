#!/usr/bin/env bash
# The restore targets, side by side in one run, alternating, medians: pgvault restore -f
# --target NEW (checksum, fresh database, load, every table's row count, rename into
# place) with --jobs 1 and with --jobs N (N = the cores), against `createdb NEW; gunzip -c
# | psql` and `createdb NEW; pg_restore -j N` of a pg_dump -Fc archive of the same
# database; each into a database that does not exist yet, dropped after (not timed).
# Three datasets: "realistic" (several tables, keys, foreign keys, indexes), pgbench, and
# one large table with two indexes. Then where pgvault's time goes (restore --json
# "timings") at --jobs 1 and --jobs N, restoring over the dataset's own database, so that
# the swap and the drop of the replaced database are in it.
#
#   tests/bench/restore_jobs.sh [SCALE [RUNS]]   (defaults 5 and 3)
#
# SCALE: realistic.sql's scale (about 15 MB of SQL a unit), pgbench -s 3×SCALE, and
# 400,000×SCALE rows in the large table. PGVAULT_BIN is the pgvault to measure (default:
# a Release build of this tree, made in the work directory). A private cluster with
# production durability (PG_DURABLE=1: fsync, synchronous_commit, full_page_writes on)
# is started with tests/harness/pg_start.sh and stopped at the end.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
scale=${1:-5}
runs=${2:-3}
jobs=$(nproc)
work=$(mktemp -d "${BENCH_TMP:-/tmp}/pgvault-restorejobs.XXXXXX")
cleanup() {
    bash "$root/tests/harness/pg_stop.sh" "$work/pg" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

# shellcheck source=SCRIPTDIR/setup.sh
source "$here/setup.sh"
q() { "$PSQL" -X -q -v ON_ERROR_STOP=1 "$@"; }

log "datasets"
q -d postgres -c 'CREATE DATABASE realistic' -c 'CREATE DATABASE pgbench' -c 'CREATE DATABASE onetable'
q -v scale="$scale" -d realistic -f "$here/realistic.sql" >/dev/null
"$PG_BINDIR/pgbench" -i -q -s $((3 * scale)) pgbench >/dev/null 2>&1
q -d onetable >/dev/null <<SQL
CREATE TABLE events (id bigint PRIMARY KEY, at timestamptz NOT NULL, kind int, payload text);
INSERT INTO events SELECT g, '2026-01-01'::timestamptz + g * interval '1 second', g % 50,
    md5(g::text) || repeat(' payload', 1 + g % 8) FROM generate_series(1, 400000 * $scale) g;
CREATE INDEX events_at ON events (at);
CREATE INDEX events_kind ON events (kind, at);
SQL
datasets=(realistic pgbench onetable)
declare -A file dump
for ds in "${datasets[@]}"; do
    "$PGVAULT_BIN" backup -d "$work/repo" --db "$ds" -Z 6 --no-progress --no-prune -q
    file[$ds]=$work/repo/$(sqlite3 "$work/repo/catalog.db" \
        "SELECT file_name FROM backups WHERE db_name = '$ds' ORDER BY id DESC LIMIT 1")
    dump[$ds]=$work/$ds.dump
    "$PG_BINDIR/pg_dump" -Fc -f "${dump[$ds]}" "$ds"
    cat "${file[$ds]}" "${dump[$ds]}" >/dev/null
done

# secs CMD…: the wall time of one run, in seconds.
secs() {
    /usr/bin/time -f '%e' -o "$work/time" "$@" >/dev/null
    cat "$work/time"
}
median() { sort -n | awk 'NF {v[++n] = $1} END {print v[int((n + 1) / 2)]}'; }
# between runs (not timed): the scratch database goes, and a checkpoint writes what the
# last run left dirty, so that no run pays for the one before it
fresh() { q -d postgres -c "DROP DATABASE IF EXISTS scratch WITH (FORCE)" -c CHECKPOINT; }

declare -A t
for ((r = 1; r <= runs; r++)); do
    for ds in "${datasets[@]}"; do
        log "round $r/$runs: $ds"
        fresh
        for j in 1 "$jobs"; do
            t[$ds,j$j]+="$(secs "$PGVAULT_BIN" restore -d "$work/repo" -f --jobs "$j" \
                --target scratch --no-progress latest --db "$ds")"$'\n'
            fresh
        done
        t[$ds,psql]+="$(secs bash -c 'set -o pipefail; "$1" scratch && gunzip -c "$2" |
            "$3" -q -X -d scratch >/dev/null' _ "$PG_BINDIR/createdb" "${file[$ds]}" "$PSQL")"$'\n'
        fresh
        t[$ds,pgr]+="$(secs bash -c '"$1" scratch && "$2" -j "$3" -d scratch "$4"' _ \
            "$PG_BINDIR/createdb" "$PG_BINDIR/pg_restore" "$jobs" "${dump[$ds]}")"$'\n'
        fresh
    done
done

# where the time goes: one more restore of each at --jobs 1 and N, its --json timings
declare -A phases
for ds in "${datasets[@]}"; do
    for j in 1 "$jobs"; do
        phases[$ds,$j]=$("$PGVAULT_BIN" restore -d "$work/repo" -f --jobs "$j" --no-progress \
            --json latest --db "$ds" | python3 -c '
import json, sys
d = json.load(sys.stdin)
t = d["timings"]
print("| %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |" % (t["pre_data_s"], t["data_s"],
      t["post_data_s"], t["check_s"], t["swap_s"], t["drop_s"], d["duration_ms"] / 1000))')
    done
done

echo "scale $scale, $runs runs, $jobs cores; fsync on; load $(cut -d' ' -f1-3 /proc/loadavg)"
for ds in "${datasets[@]}"; do
    printf '%s: %s bytes of SQL, %s bytes gzip -6\n' "$ds" \
        "$(sqlite3 "$work/repo/catalog.db" "SELECT raw_bytes FROM backups WHERE db_name = '$ds' ORDER BY id DESC LIMIT 1")" \
        "$(stat -c %s "${file[$ds]}")"
done
echo
printf '| dataset | --jobs 1 | --jobs %s | gunzip \\| psql | pg_restore -j %s | jobs %s / psql | jobs %s / pg_restore |\n' \
    "$jobs" "$jobs" "$jobs" "$jobs"
printf '|---|---:|---:|---:|---:|---:|---:|\n'
for ds in "${datasets[@]}"; do
    a=$(median <<<"${t[$ds,j1]}")
    b=$(median <<<"${t[$ds,j$jobs]}")
    c=$(median <<<"${t[$ds,psql]}")
    d=$(median <<<"${t[$ds,pgr]}")
    printf '| %s | %s s | %s s | %s s | %s s | %.2f | %.2f |\n' "$ds" "$a" "$b" "$c" "$d" \
        "$(awk -v x="$b" -v y="$c" 'BEGIN {print x / y}')" "$(awk -v x="$b" -v y="$d" 'BEGIN {print x / y}')"
done
echo
echo '| dataset | jobs | pre-data | data | post-data | checks | swap | drop | total |'
echo '|---|---:|---:|---:|---:|---:|---:|---:|---:|'
for ds in "${datasets[@]}"; do
    for j in 1 "$jobs"; do
        echo "| $ds | $j ${phases[$ds,$j]}"
    done
done
