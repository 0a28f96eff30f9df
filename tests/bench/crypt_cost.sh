#!/usr/bin/env bash
# What encryption costs: backup (gzip -Z 6) and restore --target of the "realistic"
# dataset without encryption, with age and with OpenPGP (--encrypt-to an age1 key, and
# a key of a throwaway GNUPGHOME), side by side in one run, alternating (plain, age,
# openpgp, plain, age, openpgp ...), the median of each.
#
#   tests/bench/crypt_cost.sh [SCALE [RUNS]]   (defaults 10 and 3: about 150 MB of SQL)
#
# PGVAULT_BIN is the pgvault to measure (default: a Release build of this tree, made in
# the work directory). A private cluster with production durability is started with
# tests/harness/pg_start.sh (PG_DURABLE=1) and
# stopped at the end. Needs age-keygen, gpg, cmake, psql.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
scale=${1:-10}
runs=${2:-3}
work=$(mktemp -d "${BENCH_TMP:-/tmp}/pgvault-agecost.XXXXXX")
cleanup() {
    bash "$root/tests/harness/pg_stop.sh" "$work/pg" >/dev/null 2>&1 || true
    [[ -z "${GNUPGHOME:-}" ]] || gpgconf --kill all 2>/dev/null || true
    [[ -z "${GNUPGHOME:-}" ]] || rm -rf "$GNUPGHOME"
    rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=SCRIPTDIR/setup.sh
source "$here/setup.sh"
"$PSQL" -X -q -d postgres -c 'CREATE DATABASE bench'
"$PSQL" -X -q -v ON_ERROR_STOP=1 -v scale="$scale" -d bench -f "$here/realistic.sql" >/dev/null
age-keygen -o "$work/key" 2>/dev/null
chmod 600 "$work/key"
recipient=$(age-keygen -y "$work/key")
GNUPGHOME=$(mktemp -d /tmp/pgv-bench-gpg.XXXXXX)
export GNUPGHOME
gpg --batch --quiet --passphrase '' --quick-gen-key 'bench <bench@pgv.test>' future-default default never 2>/dev/null

# secs CMD…: "WALL CPU" of one run, in seconds (CPU: pgvault's own user + system time, which
# a busy machine disturbs less than the wall time; with pg_dump's or psql's, its children).
secs() {
    /usr/bin/time -f '%e %U %S' -o "$work/time" "$@" >/dev/null
    awk '{printf "%s %.2f\n", $1, $2 + $3}' "$work/time"
}
# median COLUMN: the median of that column of the lines on stdin.
median() { awk -v c="$1" 'NF {print $c}' | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

declare -A backup restore
for ((r = 1; r <= runs; r++)); do
    for mode in plain age openpgp; do
        repo=$work/repo-$mode-$r
        args=()
        [[ $mode == age ]] && args=(--encrypt-to "$recipient")
        [[ $mode == openpgp ]] && args=(--encrypt-to bench@pgv.test)
        backup[$mode]+="$(secs "$PGVAULT_BIN" backup -d "$repo" --db bench -Z 6 --no-progress \
            --no-prune "${args[@]}")"$'\n'
        "$PSQL" -X -q -d postgres -c 'DROP DATABASE IF EXISTS bench_restored'
        restore[$mode]+="$(secs "$PGVAULT_BIN" restore -d "$repo" -f --target bench_restored \
            --identity "$work/key" --no-progress latest --db bench)"$'\n'
    done
done
raw=$(sqlite3 "$work/repo-plain-1/catalog.db" "SELECT raw_bytes FROM backups")
echo "realistic.sql scale $scale: $raw bytes of SQL; $runs runs each, medians; load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '| | backup -Z 6 wall | its CPU | restore wall | its CPU |\n|---|---:|---:|---:|---:|\n'
for mode in plain age openpgp; do
    b=${backup[$mode]} r=${restore[$mode]}
    printf '| %s | %s s | %s s | %s s | %s s |\n' "$mode" "$(median 1 <<<"$b")" \
        "$(median 2 <<<"$b")" "$(median 1 <<<"$r")" "$(median 2 <<<"$r")"
done
