#!/usr/bin/env bash
# pgvault benchmark: pgvault side by side with the baselines, on the
# same data, in the same run, with alternating repetitions (A B C D A B C D ...).
#
#   tests/bench/bench.sh [--scale N] [--runs N] [--quick] [--out FILE] [--keep]
#
#   --scale N   pgbench scale of the first dataset (default 50); the "realistic" dataset
#               is sized to about 15 MB of plain SQL per unit (750 MB at 50)
#   --runs N    repetitions of every measurement (default 5; at least 5 for a real result)
#   --quick     --scale 10 --runs 3: a fast check of the script and the binary
#   --out FILE  also write the report (markdown) to FILE
#   --keep      keep the work directory (dumps, repositories, raw measurements)
#
# Environment:
#   PGVAULT_BIN  the pgvault to measure (default: a Release build of this source tree,
#                made in the work directory)
#   PGHOST ...   when PGHOST is set, that server is used (databases pgvbench_*, dropped
#                at the end); otherwise a private cluster is started with
#                tests/harness/pg_start.sh (PG_DURABLE=1: the server's default, production
#                durability: fsync, synchronous_commit and full_page_writes on) and
#                stopped at the end
#   BENCH_TMP    where the work directory is made (default /tmp)
#
# Needs: pg_dump/psql/pgbench/pg_restore (postgresql), gzip, zstd, xxh128sum (xxhash), sqlite3, GNU time
# (time), a C compiler and zlib headers (for two small helpers), cmake to build pgvault.
#
# What is measured, and how: see tests/bench/RESULTS.md ("Method").
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

scale=50
runs=5
out_file=""
keep=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --scale) scale=$2; shift 2 ;;
        --scale=*) scale=${1#*=}; shift ;;
        --runs) runs=$2; shift 2 ;;
        --runs=*) runs=${1#*=}; shift ;;
        --quick) scale=10; runs=3; shift ;;
        --out) out_file=$2; shift 2 ;;
        --out=*) out_file=${1#*=}; shift ;;
        --keep) keep=1; shift ;;
        -h|--help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ "$scale" =~ ^[1-9][0-9]*$ ]] || { echo "bench: --scale needs a positive integer" >&2; exit 2; }
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "bench: --runs needs a positive integer" >&2; exit 2; }
if [[ -n "$out_file" && "$out_file" != /* ]]; then
    out_file=$PWD/$out_file
fi

T_START=$(date +%s)
log() { printf '[%4ds] %s\n' "$(($(date +%s) - T_START))" "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------
# tools

missing=()
for t in gzip gunzip zstd xxh128sum sqlite3 cc awk; do
    command -v "$t" >/dev/null 2>&1 || missing+=("$t")
done
[[ -x /usr/bin/time ]] || missing+=("/usr/bin/time (package time)")
[[ ${#missing[@]} -eq 0 ]] || die "missing tools: ${missing[*]} (apt-get install gzip zstd xxhash sqlite3 time gcc zlib1g-dev)"

WORK=$(mktemp -d "${BENCH_TMP:-/tmp}/pgvault-bench.XXXXXX")
own_cluster=0
created_dbs=()
cleanup() {
    local rc=$?
    set +e
    if [[ $own_cluster -eq 1 ]]; then
        bash "$root/tests/harness/pg_stop.sh" "$WORK/pgstate" >/dev/null 2>&1
    else
        for db in "${created_dbs[@]+"${created_dbs[@]}"}"; do
            "$PSQL" -X -q -d postgres -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1
        done
    fi
    if [[ $keep -eq 1 ]]; then
        echo "bench: kept $WORK" >&2
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cc -O2 -o "$WORK/runstat" "$here/runstat.c" || die "cannot compile runstat.c"
cc -O2 -o "$WORK/zref" "$here/zref.c" -lz || die "cannot compile zref.c (zlib1g-dev?)"
RUNSTAT=$WORK/runstat
ZREF=$WORK/zref

if [[ -z "${PGVAULT_BIN:-}" ]]; then
    log "building pgvault (Release) from $root"
    cmake -S "$root" -B "$WORK/build" -DCMAKE_BUILD_TYPE=Release -DPGVAULT_TESTS=OFF >/dev/null ||
        die "cmake configure failed"
    cmake --build "$WORK/build" -j"$(nproc)" >/dev/null || die "build failed"
    PGVAULT_BIN=$WORK/build/pgvault
fi
[[ -x "$PGVAULT_BIN" ]] || die "no pgvault binary at $PGVAULT_BIN"
PGV=$PGVAULT_BIN
# nothing from the environment or /etc may steer pgvault
unset DB_HOST DB_PORT DB_USER DB_PASSWORD DB_NAME BACKUP_DIR PGVAULT_PG_BINDIR PGDATABASE
: >"$WORK/empty.conf"
export PGVAULT_CONFIG=$WORK/empty.conf

# ---------------------------------------------------------------------------------------
# the server

if [[ -z "${PGHOST:-}" ]]; then
    log "starting a private PostgreSQL cluster"
    PG_DURABLE=1 bash "$root/tests/harness/pg_start.sh" "$WORK/pgstate" >&2
    # shellcheck source=/dev/null
    source "$WORK/pgstate/env.sh"
    own_cluster=1
fi
client() {
    if [[ -n "${PG_BINDIR:-}" && -x "$PG_BINDIR/$1" ]]; then
        printf '%s\n' "$PG_BINDIR/$1"
    elif p=$(printf '%s\n' /usr/lib/postgresql/*/bin/"$1" | sort -V | tail -1) && [[ -x "$p" ]]; then
        printf '%s\n' "$p"
    else
        command -v "$1" || die "no $1 found"
    fi
}
PSQL=$(client psql)
PG_DUMP=$(client pg_dump)
PGBENCH=$(client pgbench)
PG_RESTORE=$(client pg_restore)
CREATEDB=$(client createdb)
server_version=$("$PSQL" -X -At -d postgres -c 'show server_version')
durability=$("$PSQL" -X -At -d postgres -c "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes')")

# The postmaster reaps every backend: the growth of its cutime+cstime over a run is the
# CPU the server spent for that run (only measurable on our own cluster).
PM_PID=""
if [[ $own_cluster -eq 1 ]]; then
    PM_PID=$(head -1 "$PG_TMPDIR/data/postmaster.pid")
    # no background work in the middle of a measurement
    "$PSQL" -X -q -d postgres -c "ALTER SYSTEM SET autovacuum = off" -c "SELECT pg_reload_conf()" >/dev/null
fi
server_ticks() {
    if [[ -n "$PM_PID" && -r /proc/$PM_PID/stat ]]; then
        sed 's/.*) //' "/proc/$PM_PID/stat" | awk '{print $14 + $15}'
    else
        echo NA
    fi
}
# busy CPU ticks of the whole machine (all processes, ours and anybody else's)
machine_ticks() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }
HZ=$(getconf CLK_TCK)

# ---------------------------------------------------------------------------------------
# measurement

RES=$WORK/results.tsv
printf 'section\tds\tvariant\trun\twall\tself_cpu\tkids_cpu\ttree_cpu\tsrv_cpu\tbusy_cpu\thwm_kb\trss_kb\tsize\trc\tna\n' >"$RES"

# measure SECTION DS VARIANT RUN SIZE_FILE COMMAND...: runs COMMAND under GNU time and
# runstat, appends one line to results.tsv. SIZE_FILE (or "-") is a file whose size is
# recorded, or "@json" to take size_bytes from pgvault's --json output.
measure() {
    local section=$1 ds=$2 variant=$3 run=$4 size_from=$5
    shift 5
    local rs=$WORK/rs.txt tf=$WORK/time.txt rc=0
    local srv0 busy0 busy1 srv1
    srv0=$(server_ticks)
    busy0=$(machine_ticks)
    /usr/bin/time -f '%M' -o "$tf" "$RUNSTAT" "$rs" "$@" >"$WORK/last.out" 2>"$WORK/last.err" || rc=$?
    busy1=$(machine_ticks)
    # the backend exits after its client: give the postmaster a moment to reap it
    if [[ -n "$PM_PID" ]]; then sleep 0.3; fi
    srv1=$(server_ticks)
    local wall="" self_cpu="" kids_cpu="" tree_cpu="" self_hwm_kb="" tree_rss_kb="" kv
    # shellcheck disable=SC2013 # one line of blank-separated key=value words
    for kv in $(cat "$rs" 2>/dev/null); do
        case "$kv" in
            wall=*|self_cpu=*|kids_cpu=*|tree_cpu=*|self_hwm_kb=*|tree_rss_kb=*)
                printf -v "${kv%%=*}" '%s' "${kv#*=}" ;;
        esac
    done
    local time_rss
    time_rss=$(tail -1 "$tf" 2>/dev/null || echo NA)
    local na=0
    if grep -q "not implemented" "$WORK/last.err" 2>/dev/null; then
        na=1
    elif [[ $rc -ne 0 ]]; then
        log "FAILED ($rc): $section $ds $variant: $*"
        sed 's/^/    /' "$WORK/last.err" | tail -5 >&2
    fi
    local size=NA
    if [[ "$size_from" == "@json" ]]; then
        size=$(grep -o '"size_bytes":[0-9]*' "$WORK/last.out" | head -1 | cut -d: -f2)
        size=${size:-NA}
    elif [[ "$size_from" != "-" && -f "$size_from" ]]; then
        size=$(stat -c %s "$size_from")
    fi
    local srv=NA
    if [[ "$srv0" != NA && "$srv1" != NA ]]; then
        srv=$(awk -v a="$srv0" -v b="$srv1" -v hz="$HZ" 'BEGIN{printf "%.2f", (b - a) / hz}')
    fi
    local busy
    busy=$(awk -v a="$busy0" -v b="$busy1" -v hz="$HZ" 'BEGIN{printf "%.2f", (b - a) / hz}')
    # GNU time's %M and runstat's tree_rss_kb come from the same wait4 rusage
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$section" "$ds" "$variant" "$run" "${wall:-NA}" "${self_cpu:-NA}" "${kids_cpu:-NA}" \
        "${tree_cpu:-NA}" "$srv" "$busy" "${self_hwm_kb:-NA}" "${time_rss:-${tree_rss_kb:-NA}}" \
        "$size" "$rc" "$na" >>"$RES"
    return 0
}

# key=value facts for the report
FACTS=$WORK/facts.txt
: >"$FACTS"
fact() { printf '%s=%s\n' "$1" "$2" >>"$FACTS"; }

# ---------------------------------------------------------------------------------------
# data

DS_NAMES=(pgbench realistic)
declare -A DB
DB[pgbench]=pgvbench_pgbench
DB[realistic]=pgvbench_realistic

need_mb=$((scale * 25 * 5))
avail_mb=$(df -Pm "$WORK" | awk 'NR==2{print $4}')
[[ $avail_mb -gt $need_mb ]] || die "not enough disk space in $WORK: ${avail_mb} MB free, about ${need_mb} MB needed"

dbexists() { [[ $("$PSQL" -X -At -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$1'") == 1 ]]; }
for ds in "${DS_NAMES[@]}"; do
    db=${DB[$ds]}
    if dbexists "$db"; then
        "$PSQL" -X -q -d postgres -c "DROP DATABASE \"$db\" WITH (FORCE)"
    fi
    "$CREATEDB" "$db"
    created_dbs+=("$db")
    t0=$(date +%s)
    if [[ $ds == pgbench ]]; then
        log "dataset pgbench: pgbench -i -s $scale"
        "$PGBENCH" -i -q -s "$scale" "$db" >"$WORK/pgbench-init.log" 2>&1 || { cat "$WORK/pgbench-init.log" >&2; die "pgbench -i failed"; }
    else
        log "dataset realistic: realistic.sql, scale $scale"
        "$PSQL" -X -q -v ON_ERROR_STOP=1 -v scale="$scale" -d "$db" -f "$here/realistic.sql" >/dev/null
    fi
    fact "gen_secs_$ds" "$(($(date +%s) - t0))"
    fact "dbsize_$ds" "$("$PSQL" -X -At -d "$db" -c "SELECT pg_database_size(current_database())")"
done

# The raw dump of each dataset, with pgvault's pg_dump options: the bytes every
# compressor below is fed (this also warms the server's cache).
for ds in "${DS_NAMES[@]}"; do
    log "raw dump of $ds"
    "$PG_DUMP" --format=plain --no-owner --no-privileges --dbname="${DB[$ds]}" -f "$WORK/$ds.raw.sql"
    fact "raw_$ds" "$(stat -c %s "$WORK/$ds.raw.sql")"
    gzip -6 -c "$WORK/$ds.raw.sql" >"$WORK/$ds.gz6"
    fact "gzip6_$ds" "$(stat -c %s "$WORK/$ds.gz6")"
    rm -f "$WORK/$ds.gz6"
done

# ---------------------------------------------------------------------------------------
# backup

nproc_n=$(nproc)
backup_round() { # backup_round DS RUN
    local ds=$1 r=$2 db=${DB[$1]} o=$WORK/out
    rm -rf "$o"
    mkdir -p "$o"
    measure backup "$ds" "pgvault -Z 6" "$r" @json "$PGV" backup -d "$o/repo" --db "$db" -Z 6 --no-prune --json
    rm -rf "$o/repo"
    measure backup "$ds" "pgvault -Z 1" "$r" @json "$PGV" backup -d "$o/repo" --db "$db" -Z 1 --no-prune --json
    rm -rf "$o/repo"
    measure backup "$ds" "pgvault -Z 6 -j 1" "$r" @json "$PGV" backup -d "$o/repo" --db "$db" -Z 6 -j 1 --no-prune --json
    rm -rf "$o/repo"
    measure backup "$ds" "pgvault --compress zstd" "$r" @json "$PGV" backup -d "$o/repo" --db "$db" --compress zstd --no-prune --json
    rm -rf "$o/repo"
    measure backup "$ds" "pgvault --compress zstd -j 1" "$r" @json "$PGV" backup -d "$o/repo" --db "$db" --compress zstd -j 1 --no-prune --json
    rm -rf "$o/repo"
    measure backup "$ds" "(a) pg_dump > file; gzip" "$r" "$o/x.sql.gz" \
        bash -c "\"\$1\" --format=plain --file=\"\$2/x.sql\" --dbname=\"\$3\" && gzip -f \"\$2/x.sql\"" _ "$PG_DUMP" "$o" "$db"
    rm -f "$o"/x.sql*
    measure backup "$ds" "(b) pg_dump | gzip -6" "$r" "$o/x.sql.gz" \
        bash -c "set -o pipefail; \"\$1\" --format=plain --dbname=\"\$3\" | gzip -6 >\"\$2/x.sql.gz\"" _ "$PG_DUMP" "$o" "$db"
    rm -f "$o"/x.sql*
    measure backup "$ds" "(c) pg_dump -Fc" "$r" "$o/x.dump" "$PG_DUMP" -Fc -f "$o/x.dump" --dbname="$db"
    rm -f "$o/x.dump"
    measure backup "$ds" "(e) pg_dump | zstd -3 -T$nproc_n" "$r" "$o/x.sql.zst" \
        bash -c "set -o pipefail; \"\$1\" --format=plain --dbname=\"\$3\" | zstd -q -3 -T\$4 >\"\$2/x.sql.zst\"" _ "$PG_DUMP" "$o" "$db" "$nproc_n"
    rm -f "$o"/x.sql*
    measure backup "$ds" "(d) pg_dump > /dev/null" "$r" - "$PG_DUMP" --format=plain --file=/dev/null --dbname="$db"
}
ref_round() { # zlib alone, on one core, on the same bytes pgvault compresses
    local ds=$1 r=$2 z
    for z in 6 1; do
        measure ref "$ds" "zlib -$z alone" "$r" - "$ZREF" "$z" "$WORK/$ds.raw.sql"
        # deflate time only (zref excludes reading the file) and zlib's size
        sed -n 's/^zcpu=\([0-9.]*\) zsize=\([0-9]*\).*/\1 \2/p' "$WORK/last.out" |
            while read -r c s; do fact "zref${z}_${ds}_$r" "$c $s"; done
    done
}

for ((r = 1; r <= runs; r++)); do
    for ds in "${DS_NAMES[@]}"; do
        log "backup round $r/$runs: $ds"
        backup_round "$ds" "$r"
        # CPU-only references: three repetitions are plenty
        if [[ $r -le 3 ]]; then ref_round "$ds" "$r"; fi
    done
done
rm -rf "$WORK/out"
for ds in "${DS_NAMES[@]}"; do rm -f "$WORK/$ds.raw.sql"; done

# ---------------------------------------------------------------------------------------
# one kept backup per dataset, for verify, restore and the catalog

declare -A KEEP_ID KEEP_FILE KEEP_NID KEEP_NFILE
for ds in "${DS_NAMES[@]}"; do
    repo=$WORK/keep-$ds
    "$PGV" backup -d "$repo" --db "${DB[$ds]}" -Z 6 --no-prune --json >"$WORK/keep.json"
    KEEP_ID[$ds]=$(grep -o '"id":[0-9]*' "$WORK/keep.json" | head -1 | cut -d: -f2)
    KEEP_FILE[$ds]=$repo/$(grep -o '"file_name":"[^"]*"' "$WORK/keep.json" | head -1 | cut -d'"' -f4)
    [[ -n "${KEEP_ID[$ds]}" && -f "${KEEP_FILE[$ds]}" ]] || die "kept backup of $ds not found"
    fact "keepsize_$ds" "$(stat -c %s "${KEEP_FILE[$ds]}")"
    # an uncompressed backup for verify (a file of 100 MB or more), and a custom-format
    # archive for pg_restore -j
    "$PGV" backup -d "$repo" --db "${DB[$ds]}" -n --no-prune --json >"$WORK/keep.json"
    KEEP_NID[$ds]=$(grep -o '"id":[0-9]*' "$WORK/keep.json" | head -1 | cut -d: -f2)
    KEEP_NFILE[$ds]=$repo/$(grep -o '"file_name":"[^"]*"' "$WORK/keep.json" | head -1 | cut -d'"' -f4)
    [[ -n "${KEEP_NID[$ds]}" && -f "${KEEP_NFILE[$ds]}" ]] || die "kept -n backup of $ds not found"
    fact "keepnsize_$ds" "$(stat -c %s "${KEEP_NFILE[$ds]}")"
    "$PG_DUMP" -Fc -f "$WORK/keep-$ds.dump" --dbname="${DB[$ds]}"
done

# ---------------------------------------------------------------------------------------
# verify (warm cache: the file is read twice before the first measurement)

for ds in "${DS_NAMES[@]}"; do
    for f in "${KEEP_FILE[$ds]}" "${KEEP_NFILE[$ds]}"; do
        cat "$f" >/dev/null
        cat "$f" >/dev/null
    done
done
for ((r = 1; r <= runs; r++)); do
    for ds in "${DS_NAMES[@]}"; do
        f=${KEEP_NFILE[$ds]}
        measure verify "$ds" "pgvault verify" "$r" "$f" "$PGV" verify -d "$WORK/keep-$ds" "${KEEP_NID[$ds]}"
        # shellcheck disable=SC2016 # $1 is expanded by the inner shell
        measure verify "$ds" "cat FILE > /dev/null" "$r" "$f" bash -c 'cat "$1" >/dev/null' _ "$f"
        # shellcheck disable=SC2016
        measure verify "$ds" "xxh128sum FILE" "$r" "$f" bash -c 'xxh128sum "$1" >/dev/null' _ "$f"
        f=${KEEP_FILE[$ds]}
        measure verify "$ds" "pgvault verify -Z 6 file" "$r" "$f" "$PGV" verify -d "$WORK/keep-$ds" "${KEEP_ID[$ds]}"
        # shellcheck disable=SC2016
        measure verify "$ds" "cat -Z 6 file > /dev/null" "$r" "$f" bash -c 'cat "$1" >/dev/null' _ "$f"
        measure verify "$ds" "pgvault verify --deep" "$r" "$f" "$PGV" verify -d "$WORK/keep-$ds" --deep "${KEEP_ID[$ds]}"
    done
done
log "verify done"

# ---------------------------------------------------------------------------------------
# restore: pgvault's safe swap over the dataset's own database (checksum, fresh database,
# load, count checks, swap, drop of the old one) versus gunzip | psql into a database
# created for it (createdb included; its DROP after the run is not timed)

for ((r = 1; r <= runs; r++)); do
    for ds in "${DS_NAMES[@]}"; do
        log "restore round $r/$runs: $ds"
        f=${KEEP_FILE[$ds]}
        measure restore "$ds" "pgvault restore -f (swap)" "$r" - \
            "$PGV" restore -d "$WORK/keep-$ds" -f "${KEEP_ID[$ds]}"
        # Builds before e137b07 left the "temporary restore" comment on the database they
        # swapped in, so the NEXT restore took the live database for a leftover and dropped
        # it. Report it if seen, and clear the comment (not timed) so every run measures.
        cmt=$("$PSQL" -X -At -d postgres -c "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '${DB[$ds]}'")
        if [[ "$cmt" == "pgvault: temporary restore"* ]]; then
            grep -q '^restore_comment_left=' "$FACTS" || fact restore_comment_left "$cmt"
            "$PSQL" -X -q -d postgres -c "COMMENT ON DATABASE \"${DB[$ds]}\" IS NULL"
        fi
        dbexists "${DB[$ds]}" || die "database ${DB[$ds]} is gone after pgvault restore"
        bdb=pgvbench_gunzip
        if dbexists "$bdb"; then "$PSQL" -X -q -d postgres -c "DROP DATABASE \"$bdb\" WITH (FORCE)"; fi
        created_dbs+=("$bdb")
        # shellcheck disable=SC2016 # expanded by the inner shell
        measure restore "$ds" "createdb; gunzip -c | psql" "$r" - \
            bash -c 'set -o pipefail; "$1" "$2" && gunzip -c "$3" | "$4" -q -X -d "$2" >/dev/null' \
            _ "$CREATEDB" "$bdb" "$f" "$PSQL"
        "$PSQL" -X -q -d postgres -c "DROP DATABASE \"$bdb\" WITH (FORCE)"
        # shellcheck disable=SC2016 # expanded by the inner shell
        measure restore "$ds" "createdb; pg_restore -j $nproc_n (-Fc)" "$r" - \
            bash -c '"$1" "$2" && "$3" -j "$5" -d "$2" "$4"' \
            _ "$CREATEDB" "$bdb" "$PG_RESTORE" "$WORK/keep-$ds.dump" "$nproc_n"
        "$PSQL" -X -q -d postgres -c "DROP DATABASE \"$bdb\" WITH (FORCE)"
    done
done
# what the count checks alone cost: one count(*) per table, as pgvault runs them
for ds in "${DS_NAMES[@]}"; do
    tabs=$("$PSQL" -X -At -d "${DB[$ds]}" -c "SELECT string_agg(format('SELECT count(*) FROM %I.%I;', schemaname, relname), ' ') FROM pg_stat_user_tables")
    measure extra "$ds" "count(*) of every table" 1 - "$PSQL" -X -q -d "${DB[$ds]}" -c "$tabs"
done

# ---------------------------------------------------------------------------------------
# catalog of 100,000 backups: the kept pgbench repository's real catalog, its backup row
# (with its per-table rows and an event) copied 99,999 times, one every 10 minutes

cat_dir=$WORK/catalog100k
mkdir -p "$cat_dir"
chmod 700 "$cat_dir"
sqlite3 "$WORK/keep-pgbench/catalog.db" ".backup '$cat_dir/catalog.db'"
chmod 600 "$cat_dir/catalog.db"
tid=${KEEP_ID[pgbench]}
cols=$(sqlite3 "$cat_dir/catalog.db" "SELECT group_concat(name, ',') FROM pragma_table_info('backups') WHERE name <> 'id'")
sel=""
IFS=, read -r -a col_arr <<<"$cols"
for c in "${col_arr[@]}"; do
    case "$c" in
        db_name) e="CASE WHEN n.i % 4 = 0 THEN t.db_name ELSE 'app' || (n.i % 4) END" ;;
        file_name) e="(CASE WHEN n.i % 4 = 0 THEN t.db_name ELSE 'app' || (n.i % 4) END) || '_' || strftime('%Y%m%d_%H%M%S', 'now', printf('-%d minutes', n.i * 10)) || '.sql.gz'" ;;
        started_at) e="strftime('%Y-%m-%dT%H:%M:%fZ', 'now', printf('-%d minutes', n.i * 10))" ;;
        finished_at) e="strftime('%Y-%m-%dT%H:%M:%fZ', 'now', printf('-%d minutes', n.i * 10), '+20 seconds')" ;;
        status) e="'complete'" ;;
        verified_at|pruned_at|prune_rule|error|label) e="NULL" ;;
        pinned|suspect) e="0" ;;
        *) e="t.$c" ;;
    esac
    sel+="${sel:+, }$e"
done
maxid=$(sqlite3 "$cat_dir/catalog.db" 'SELECT max(id) FROM backups')
sqlite3 "$cat_dir/catalog.db" <<SQL
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000 - $maxid)
INSERT INTO backups ($cols) SELECT $sel FROM n, (SELECT * FROM backups WHERE id = $tid) t;
INSERT INTO backup_tables (backup_id, schema_name, table_name, relkind, row_count)
    SELECT b.id, x.schema_name, x.table_name, x.relkind, x.row_count
    FROM backups b, backup_tables x WHERE x.backup_id = $tid AND b.id > $maxid;
INSERT INTO events (at, action, backup_id, actor, outcome, detail)
    SELECT finished_at, 'backup', id, 'postgres', 'ok', file_name FROM backups WHERE id > $maxid;
COMMIT;
SQL
fact "catalog_rows" "$(sqlite3 "$cat_dir/catalog.db" 'SELECT count(*) FROM backups')"
fact "catalog_bytes" "$(stat -c %s "$cat_dir/catalog.db")"
for ((r = 1; r <= runs; r++)); do
    measure catalog 100k "list --json" "$r" - "$PGV" list -d "$cat_dir" --json
    # the same rows, in the same order, printed by SQLite's own shell
    measure catalog 100k "sqlite3 -json (same rows)" "$r" - sqlite3 -json "$cat_dir/catalog.db" \
        "SELECT id, db_name, file_name, status, started_at, finished_at, size_bytes, raw_bytes, compression, checksum, table_count, row_count, pinned, suspect, label, error FROM backups WHERE status = 'complete' ORDER BY started_at DESC, id DESC"
    measure catalog 100k "list" "$r" - "$PGV" list -d "$cat_dir"
    measure catalog 100k "prune --dry-run" "$r" - "$PGV" prune -d "$cat_dir" --dry-run
    measure catalog 100k "query count(*)" "$r" - "$PGV" query -d "$cat_dir" "select count(*) from backups"
done
log "catalog done"

# ---------------------------------------------------------------------------------------
# report

mem_kb=$(awk '/^MemTotal:/{print $2}' /proc/meminfo)
disk=$(df -Ph "$WORK" | awk 'NR==2{print $1 " (" $2 ", " $4 " free)"}')
rot=$(lsblk -dno ROTA "$(df -P "$WORK" | awk 'NR==2{print $1}')" 2>/dev/null || echo "?")
{
    echo "machine=$(nproc) CPUs, $(awk -F: '/model name/{gsub(/^ +/, "", $2); print $2; exit}' /proc/cpuinfo), $((mem_kb / 1024)) MiB RAM"
    echo "disk=$disk$([[ "$rot" == 0 ]] && echo ", not rotational")"
    echo "kernel=$(uname -r)"
    echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "postgres=$server_version ($durability$([[ $own_cluster -eq 1 ]] && echo "; private cluster from tests/harness/pg_start.sh, PG_DURABLE=1, autovacuum off"))"
    echo "zstd=$(zstd --version | head -1)"
    echo "pg_dump=$("$PG_DUMP" --version)"
    echo "pgvault=$("$PGV" --version 2>/dev/null | head -1) ($PGV)"
    echo "zlib=$(awk '/define ZLIB_VERSION /{gsub(/"/, "", $3); print $3}' /usr/include/zlib.h 2>/dev/null)"
    echo "gzip=$(gzip --version | head -1)"
    echo "scale=$scale"
    echo "runs=$runs"
    echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "elapsed=$(($(date +%s) - T_START))"
} >>"$FACTS"

report=$WORK/report.md
awk -F'\t' -v nproc="$nproc_n" -f "$here/report.awk" "$FACTS" "$RES" >"$report"
cat "$report"
if [[ -n "$out_file" ]]; then
    cp "$report" "$out_file"
    cp "$RES" "${out_file%.md}.tsv"
    cp "$FACTS" "${out_file%.md}.facts"
    log "report written to $out_file (raw measurements: ${out_file%.md}.tsv and .facts;"
    log "  awk -F'\t' -v nproc=N -f tests/bench/report.awk FILE.facts FILE.tsv remakes it)"
fi
log "done in $(($(date +%s) - T_START)) s"
