#!/usr/bin/env bash
# Retention follows the catalog, never file modification times: real
# backups whose catalog times are moved days apart while their mtimes lie the opposite
# way; --dry-run changes nothing and needs no lock; pins survive; min-keep saves the
# newest; a file already gone is marked 'missing' without failing prune; app never
# touches app_staging; -r 0 / -c 0 mean "no limit"; a newest backup from the future is
# refused; failed backups' leftovers go; backup prunes after success unless --no-prune.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
require_cmd sqlite3 xxhsum flock python3

DB=pgv_ret
STAGING=pgv_ret_staging
for d in "$DB" "$STAGING"; do
    create_db "$d"
    psql_script "$d" >/dev/null <<'SQL'
CREATE TABLE t (a int, b text);
INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 500) g;
SQL
done

REPO=$SCRATCH/repo

# iso WHEN: an ISO-8601 UTC catalog time for a date(1) expression ("20 days ago").
iso() {
    date -u -d "$1" +%Y-%m-%dT%H:%M:%S.000Z
}

# set_started ID WHEN: moves a backup's catalog time.
set_started() {
    catalog_q "$REPO" "UPDATE backups SET started_at = '$(iso "$2")' WHERE id = $1"
}

# col ID COLUMN: one column of one backup row.
col() {
    catalog_q "$REPO" "SELECT coalesce($2, '') FROM backups WHERE id = $1"
}

file_of() {
    col "$1" file_name
}

# snapshot: every catalog row and event, and every dump file with size, mtime, checksum.
snapshot() {
    catalog_q "$REPO" "SELECT * FROM backups ORDER BY id"
    catalog_q "$REPO" "SELECT * FROM events ORDER BY id"
    local f
    while IFS= read -r f; do
        case "$f" in
            *.sql | *.sql.gz | *.partial)
                printf '%s %s %s %s\n' "$f" "$(stat -c '%s %Y' "$REPO/$f")" \
                    "$(file_mode "$REPO/$f")" "$(xxh128 "$REPO/$f")"
                ;;
        esac
    done < <(repo_files "$REPO")
}

# backup_of DB [ARGS…]: one successful backup of DB; prints its id.
backup_of() {
    local db=$1
    shift
    run_pgvault backup -d "$REPO" --db "$db" "$@"
    expect_rc 0 "backup of $db $*"
    catalog_q "$REPO" "SELECT max(id) FROM backups"
}

backup_ok() {
    backup_of "$DB" "$@"
}

# expect_plan ID ACTION REASON: the line of backup ID in the last --dry-run table reads
# "ID FILE DATE TIME ACTION REASON".
expect_plan() {
    local line
    line=$(printf '%s\n' "$OUT" | awk -v id="$1" '$1 == id')
    [[ -n "$line" ]] || fail "no plan line for backup $1 in:
$OUT"
    assert_match "$line" "^ *$1 +$(file_of "$1") +[0-9-]{10} [0-9:]{8} +$2 +$3\$" \
        "plan line of backup $1"
}

# (a) Four real backups, no pruning yet.
note "(a) four backups, catalog times moved days apart, mtimes lying the other way"
ids=()
for _ in 1 2 3 4; do
    ids+=("$(backup_ok --no-prune)")
done
B1=${ids[0]} B2=${ids[1]} B3=${ids[2]} B4=${ids[3]}
set_started "$B1" "20 days ago"
set_started "$B2" "10 days ago"
set_started "$B3" "3 days ago"
set_started "$B4" "1 hour ago"
# the mtimes say the opposite: the oldest by the catalog is the newest on disk
touch -d "now" "$REPO/$(file_of "$B1")"
touch -d "5 minutes ago" "$REPO/$(file_of "$B2")"
touch -d "30 days ago" "$REPO/$(file_of "$B3")"
touch -d "60 days ago" "$REPO/$(file_of "$B4")"

# (b) --dry-run prints the plan with reasons, changes nothing, and needs no lock.
note "(b) --dry-run under a held lock"
before=$(snapshot)
# the holder is one process: it takes the lock on fd 9, then becomes sleep
bash -c 'exec 9<>"$1" && flock 9 && exec sleep 30' _ "$REPO/.lock" &
holder=$!
for _ in $(seq 50); do
    if ! flock -n "$REPO/.lock" true; then break; fi
    sleep 0.1
done
run_pgvault prune -d "$REPO" -r 5 --dry-run
expect_rc 0 "prune --dry-run while another process holds the lock"
expect_plan "$B1" REMOVE "older than 5 days"
expect_plan "$B2" REMOVE "older than 5 days"
expect_plan "$B3" KEEP "within 5 days"
expect_plan "$B4" KEEP "within 5 days"
assert_contains "$OUT" "dry run: would remove 2 backups" "dry-run summary"
run_pgvault prune -d "$REPO" -r 5 --dry-run --json
expect_rc 0 "prune --dry-run --json"
assert_match "$OUT" '^\{"dry_run":true,"kept":2,"removed":2,' "JSON plan"
assert_contains "$OUT" "\"id\":$B1,\"db_name\":\"$DB\"" "JSON plan names backup $B1"
assert_contains "$OUT" '"action":"remove","reason":"older than 5 days","outcome":null' "JSON removal"
if command -v python3 >/dev/null; then
    printf '%s' "$OUT" | python3 -c 'import json, sys; json.load(sys.stdin)' ||
        fail "prune --dry-run --json is not valid JSON: $OUT"
fi
# a writer is refused while the lock is held
run_pgvault prune -d "$REPO" -r 5
expect_rc 4 "prune while another process holds the lock"
kill "$holder"
wait "$holder" 2>/dev/null || true
assert_eq "$(snapshot)" "$before" "catalog rows, events and files after --dry-run"

# (c) prune -r 5: the old ones by the catalog go, whatever their mtimes.
note "(c) prune -r 5 follows the catalog"
F1=$(file_of "$B1") F2=$(file_of "$B2") F3=$(file_of "$B3") F4=$(file_of "$B4")
run_pgvault prune -d "$REPO" -r 5
expect_rc 0 "prune -r 5"
assert_contains "$OUT" "removed backup $B1 $F1 (older than 5 days)" "prune output for $B1"
assert_contains "$OUT" "removed 2 backups" "prune summary"
[[ ! -e "$REPO/$F1" ]] || fail "$F1 (20 days old by the catalog) survived prune -r 5"
[[ ! -e "$REPO/$F2" ]] || fail "$F2 (10 days old by the catalog) survived prune -r 5"
[[ -f "$REPO/$F3" ]] || fail "$F3 (3 days old by the catalog, 30 by mtime) was removed"
[[ -f "$REPO/$F4" ]] || fail "$F4 (1 hour old by the catalog, 60 days by mtime) was removed"
for id in "$B1" "$B2"; do
    assert_eq "$(col "$id" status)" pruned "status of $id"
    assert_eq "$(col "$id" prune_rule)" "older than 5 days" "prune_rule of $id"
    assert_match "$(col "$id" pruned_at)" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$' "pruned_at of $id"
done
for id in "$B3" "$B4"; do
    assert_eq "$(col "$id" status)" complete "status of $id"
done
assert_eq "$(catalog_q "$REPO" "SELECT count(*) FROM events WHERE action = 'prune' AND outcome = 'ok' AND backup_id IN ($B1, $B2)")" \
    2 "audit events of the removals"
assert_eq "$(catalog_q "$REPO" "SELECT DISTINCT actor FROM events WHERE action = 'prune'")" \
    "$(id -un)" "actor of the prune events"

# (d) A pinned backup survives any rule; unpinned, it goes.
note "(d) pin and unpin"
set_started "$B3" "30 days ago"
run_pgvault pin -d "$REPO" "$B3"
expect_rc 0 "pin $B3"
assert_contains "$OUT" "backup $B3 $F3 pinned" "pin output"
assert_eq "$(col "$B3" pinned)" 1 "pinned flag of $B3"
run_pgvault pin -d "$REPO" "$B3"
expect_rc 0 "pin $B3 again"
assert_contains "$OUT" "already pinned" "pin output the second time"
run_pgvault prune -d "$REPO" -r 5 -c 1
expect_rc 0 "prune with a pinned old backup"
[[ -f "$REPO/$F3" ]] || fail "pinned $F3 was removed"
assert_eq "$(col "$B3" status)" complete "status of pinned $B3"
run_pgvault prune -d "$REPO" -r 5 -c 1 --dry-run
expect_plan "$B3" KEEP "pinned"
run_pgvault pin -d "$REPO" "$B1"
expect_rc 2 "pin a pruned backup"
expect_error_line "pin a pruned backup"
assert_contains "$ERR" "backup $B1 is pruned; only a complete backup can be pinned" "pin a pruned backup"
run_pgvault pin -d "$REPO" 99999
expect_rc 2 "pin an unknown backup"
run_pgvault unpin -d "$REPO" "$F3"
expect_rc 0 "unpin by file name"
assert_eq "$(col "$B3" pinned)" 0 "pinned flag after unpin"
assert_eq "$(catalog_q "$REPO" "SELECT group_concat(action, ',') FROM (SELECT action FROM events WHERE backup_id = $B3 AND action IN ('pin', 'unpin') ORDER BY id)")" \
    "pin,unpin" "audit events of pin and unpin"
run_pgvault prune -d "$REPO" -r 5
expect_rc 0 "prune after unpin"
[[ ! -e "$REPO/$F3" ]] || fail "unpinned $F3 (30 days old) survived"
assert_eq "$(col "$B3" status)" pruned "status of $B3 after unpin and prune"

# (e) Every backup old: min-keep keeps the newest (default 1, or --min-keep N).
note "(e) min-keep"
B5=$(backup_ok --no-prune)
B6=$(backup_ok --no-prune)
set_started "$B4" "40 days ago"
set_started "$B5" "39 days ago"
set_started "$B6" "38 days ago"
run_pgvault prune -d "$REPO" -r 5 --min-keep 2 --dry-run
expect_plan "$B6" KEEP "min-keep"
expect_plan "$B5" KEEP "min-keep"
expect_plan "$B4" REMOVE "older than 5 days"
run_pgvault prune -d "$REPO" -r 5
expect_rc 0 "prune with every backup old"
assert_eq "$(col "$B6" status)" complete "the newest backup, kept by min-keep"
assert_eq "$(col "$B5" status)" pruned "second newest when every backup is old"
assert_eq "$(col "$B4" status)" pruned "third newest when every backup is old"
[[ -f "$REPO/$(file_of "$B6")" ]] || fail "the newest backup's file was removed"

# (f) -r 0 -c 0: no limit, nothing goes.
note "(f) -r 0 -c 0"
B7=$(backup_ok --no-prune)
set_started "$B7" "400 days ago"
set_started "$B6" "500 days ago"
before=$(snapshot)
run_pgvault prune -d "$REPO" -r 0 -c 0 --min-keep 0
expect_rc 0 "prune -r 0 -c 0"
assert_contains "$OUT" "nothing to remove, kept 2 backups" "prune -r 0 -c 0 output"
assert_eq "$(snapshot)" "$before" "catalog and files after prune -r 0 -c 0"
assert_eq "$(catalog_q "$REPO" "SELECT count(*) FROM backups WHERE status = 'complete'")" 2 \
    "complete backups after prune -r 0 -c 0"
run_pgvault prune -d "$REPO" -r 0 -c 0 --dry-run
expect_plan "$B7" KEEP "no age or count limit"
# -r 0 -c 1: only the count rule
run_pgvault prune -d "$REPO" -r 0 -c 1 --min-keep 0 --dry-run
expect_plan "$B7" KEEP "among newest 1"
expect_plan "$B6" REMOVE "beyond count 1"

# (g) A file already gone: the row becomes 'missing', prune exits 0.
note "(g) missing file"
set_started "$B7" "1 hour ago"
B8=$(backup_ok --no-prune)
set_started "$B8" "2 hours ago"
rm -f "$REPO/$(file_of "$B8")"
run_pgvault prune -d "$REPO" -r 5 -c 1
expect_rc 0 "prune with a missing file"
assert_eq "$(col "$B8" status)" missing "status of a backup whose file was gone"
assert_eq "$(col "$B8" prune_rule)" "beyond count 1" "prune_rule of the missing backup"
assert_eq "$(col "$B6" status)" pruned "the 500-day-old backup"
assert_eq "$(catalog_q "$REPO" "SELECT outcome FROM events WHERE action = 'prune' AND backup_id = $B8")" \
    missing "audit event of the missing file"
assert_contains "$OUT" "already missing" "prune output for the missing file"

# (h) app and app_staging share a prefix, never a plan.
note "(h) $DB and $STAGING"
S1=$(backup_of "$STAGING" --no-prune)
S2=$(backup_of "$STAGING" --no-prune)
catalog_q "$REPO" "UPDATE backups SET started_at = '$(iso "90 days ago")' WHERE id = $S1"
catalog_q "$REPO" "UPDATE backups SET started_at = '$(iso "91 days ago")' WHERE id = $S2"
run_pgvault prune -d "$REPO" --db "$DB" -r 5 -c 1 --dry-run
assert_not_contains "$OUT" "$STAGING" "plan of --db $DB"
run_pgvault prune -d "$REPO" --db "$DB" -r 5 -c 1
expect_rc 0 "prune --db $DB"
assert_eq "$(catalog_q "$REPO" "SELECT count(*) FROM backups WHERE db_name = '$STAGING' AND status = 'complete'")" \
    2 "complete $STAGING backups after prune --db $DB"
run_pgvault prune -d "$REPO" --db "pgv_re" -r 5 -c 1
expect_rc 0 "prune --db with a prefix of both names"
assert_eq "$(catalog_q "$REPO" "SELECT count(*) FROM backups WHERE status = 'complete'")" 3 \
    "complete backups after prune --db pgv_re"
# without --db every database is pruned, each on its own: $STAGING keeps its newest
run_pgvault prune -d "$REPO" -r 5 -c 1
expect_rc 0 "prune of every database"
assert_eq "$(col "$S1" status)" complete "newest $STAGING backup (min-keep of its own)"
assert_eq "$(col "$S2" status)" pruned "older $STAGING backup"
assert_eq "$(col "$B7" status)" complete "newest $DB backup"

# (i) A newest backup dated in the future: refused, nothing changes.
note "(i) clock skew"
B9=$(backup_ok --no-prune)
catalog_q "$REPO" "UPDATE backups SET started_at = '$(iso "1 day")' WHERE id = $B9"
set_started "$B7" "30 days ago"
before=$(snapshot)
run_pgvault prune -d "$REPO" --db "$DB" -r 5
expect_rc 1 "prune with a newest backup in the future"
expect_error_line "prune with a newest backup in the future"
assert_eq "${ERR%%$'\n'*}" \
    "pgvault: refusing to prune: newest backup of \"$DB\" is dated in the future (clock skew?)" \
    "clock skew message"
assert_eq "$(snapshot)" "$before" "catalog and files after a refused prune"
ncomplete=$(catalog_q "$REPO" "SELECT count(*) FROM backups WHERE db_name = '$DB' AND status = 'complete'")
# the summary says the guard refused and kept everything, never "kept 0 backups"
assert_eq "$OUT" \
    "refused to prune 1 database (newest backup dated in the future): kept all $ncomplete of its backups" \
    "summary of a refused prune"
run_pgvault prune -d "$REPO" --db "$DB" -r 5 --dry-run
expect_rc 1 "prune --dry-run with a newest backup in the future"
assert_contains "$OUT" "KEEP    refused: newest backup dated in the future" "dry run lists the kept backups"
assert_eq "$(grep -c 'KEEP    refused' <<<"$OUT")" "$ncomplete" "dry run lists every complete backup"
assert_eq "$(tail -n 1 <<<"$OUT")" \
    "dry run: refused to prune 1 database (newest backup dated in the future): keep all $ncomplete of its backups" \
    "dry run summary of a refused prune"
run_pgvault prune -d "$REPO" --db "$DB" -r 5 --json
expect_rc 1 "prune --json with a newest backup in the future"
printf '%s' "$OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
n = int(sys.argv[1])
assert d["refused_databases"] == 1 and d["kept"] == n and d["removed"] == 0, d
assert all(b["action"] == "keep" for b in d["backups"]) and len(d["backups"]) == n, d
' "$ncomplete" || fail "prune --json of a refused plan: $OUT"
# a backup with a pruning policy also refuses, after completing
run_pgvault backup -d "$REPO" --db "$DB" -r 5
expect_rc 1 "backup whose retention is refused"
assert_contains "$OUT" "complete" "backup summary before the refused retention"
expect_error_line "backup whose retention is refused"
assert_match "${ERR%%$'\n'*}" "^pgvault: backup [0-9]+ is complete, but retention failed: refusing to prune: newest backup of \"$DB\" is dated in the future \\(clock skew\\?\\)\$" \
    "backup's retention error"
assert_eq "$(col "$B7" status)" complete "old backup kept by the refused retention"
assert_contains "$OUT" "  retention: refused to prune 1 database (newest backup dated in the future): kept all $((ncomplete + 1)) of its backups" \
    "backup's retention summary"
assert_not_contains "$OUT" "kept 0" "backup's retention summary"
catalog_q "$REPO" "UPDATE backups SET started_at = '$(iso "2 hours ago")' WHERE id = $B9"

# (j) A failed backup's leftover file is removed; its row stays 'failed'.
note "(j) leftovers of failed backups"
LEFT=${DB}_20200101_000000.sql.gz
catalog_q "$REPO" "INSERT INTO backups (db_name, file_name, compression, started_at, status, error)
    VALUES ('$DB', '$LEFT', 'gzip', '$(iso "1 minute ago")', 'failed', 'boom')"
FID=$(catalog_q "$REPO" "SELECT id FROM backups WHERE file_name = '$LEFT'")
printf 'half a dump' >"$REPO/$LEFT"
run_pgvault prune -d "$REPO" --db "$DB" -r 0 -c 0 --dry-run
expect_plan "$FID" REMOVE "leftover of failed backup"
run_pgvault prune -d "$REPO" --db "$DB" -r 0 -c 0
expect_rc 0 "prune with a failed backup's leftover"
[[ ! -e "$REPO/$LEFT" ]] || fail "leftover $LEFT of a failed backup survived prune"
assert_eq "$(col "$FID" status)" failed "status of the failed backup after prune"
assert_eq "$(catalog_q "$REPO" "SELECT count(*) FROM events WHERE action = 'prune' AND backup_id = $FID")" \
    1 "audit event of the leftover"

# (k) backup applies retention after success, and says what it removed.
note "(k) backup prunes after success unless --no-prune"
run_pgvault backup -d "$REPO" --db "$DB" -c 2 --no-prune
expect_rc 0 "backup --no-prune"
assert_not_contains "$OUT" "retention:" "backup --no-prune output"
ncomplete=$(catalog_q "$REPO" "SELECT count(*) FROM backups WHERE db_name = '$DB' AND status = 'complete'")
((ncomplete > 2)) || fail "expected more than 2 complete backups of $DB before backup -c 2, got $ncomplete"
run_pgvault backup -d "$REPO" --db "$DB" -c 2
expect_rc 0 "backup -c 2"
assert_contains "$OUT" "  retention: removed backup" "backup summary names the removals"
assert_match "$OUT" "  retention: removed [0-9]+ backups? \\(.*\\), kept 2" "backup summary of retention"
assert_eq "$(catalog_q "$REPO" "SELECT count(*) FROM backups WHERE db_name = '$DB' AND status = 'complete'")" \
    2 "complete backups of $DB after backup -c 2"
assert_eq "$(catalog_q "$REPO" "SELECT count(*) FROM backups WHERE db_name = '$STAGING' AND status = 'complete'")" \
    1 "backup -c 2 of $DB leaves $STAGING alone"
# every remaining complete backup has its file; every pruned one has none
while IFS='|' read -r st f; do
    case "$st" in
        complete) [[ -f "$REPO/$f" ]] || fail "complete backup $f has no file" ;;
        pruned | missing) [[ ! -e "$REPO/$f" ]] || fail "$st backup $f still has a file" ;;
    esac
done < <(catalog_q "$REPO" "SELECT status, file_name FROM backups")

# (m) A start time that names no real day (February 31) is refused, never read as
# March 3: that database is not pruned at all, and nothing changes.
note "(m) impossible start time"
SB=$(backup_of "$STAGING" --no-prune)
catalog_q "$REPO" "UPDATE backups SET started_at = '2026-02-31T10:00:00.000Z' WHERE id = $SB"
before=$(snapshot)
for mode in --dry-run --json ""; do
    # shellcheck disable=SC2086 # "" is no argument
    run_pgvault prune -d "$REPO" --db "$STAGING" -r 0 -c 1 $mode
    expect_rc 1 "prune $mode with a start time of February 31"
    assert_contains "$ERR" \
        "pgvault: refusing to prune database \"$STAGING\": backup $SB has an invalid start time \"2026-02-31T10:00:00.000Z\"" \
        "prune $mode names the impossible start time"
    assert_eq "$(snapshot)" "$before" "catalog and files after prune $mode refused February 31"
done

# (l) A repository without a catalog has nothing to prune.
note "(l) no catalog"
mkdir -m 0700 "$SCRATCH/empty"
run_pgvault prune -d "$SCRATCH/empty" -r 1
expect_rc 0 "prune of a repository without a catalog"
assert_eq "$(repo_files "$SCRATCH/empty")" "" "prune created files in an empty repository"

pass
