#!/usr/bin/env bash
# pgvault verify: good backups pass (exit 0) and are recorded (verified_at, one verify
# event each); --deep passes; a flipped byte fails with exit 3 while the others are
# still checked and reported ok; a deleted file is reported missing; a catalog row count
# that disagrees with the dump fails --deep (naming the table) but not the plain check;
# a dump without its trailer whose catalog row matches the file fails only --deep;
# --json parses.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
# shellcheck source=SCRIPTDIR/../harness/restore_helpers.sh
source "$(dirname "$TESTLIB")/restore_helpers.sh"
require_cmd sqlite3 python3 gzip gunzip xxhsum

DB=pgv_verify
REPO=$SCRATCH/repo
create_db "$DB"
psql_script "$DB" >/dev/null <<'SQL'
CREATE TABLE t (id int PRIMARY KEY, v text);
INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 20000) g;
CREATE SCHEMA "s p";
CREATE TABLE "s p"."Tricky ""tbl""" (a int);
INSERT INTO "s p"."Tricky ""tbl""" SELECT generate_series(1, 77);
SQL

# Three backups: two gzip, one plain.
for args in "" "-n" ""; do
    # shellcheck disable=SC2086
    run_pgvault backup -d "$REPO" --db "$DB" --no-prune $args
    expect_rc 0 "backup $args"
    psql_q "$DB" "INSERT INTO t VALUES ((SELECT max(id) + 1 FROM t), 'more')" >/dev/null
done
mapfile -t IDS < <(catalog_q "$REPO" "SELECT id FROM backups WHERE status = 'complete' ORDER BY id")
assert_eq "${#IDS[@]}" 3 "complete backups"
file_of() { printf '%s/%s' "$REPO" "$(catalog_q "$REPO" "SELECT file_name FROM backups WHERE id = $1")"; }
for id in "${IDS[@]}"; do cp -p "$(file_of "$id")" "$SCRATCH/good.$id"; done
restore_files() {
    local id
    for id in "${IDS[@]}"; do cp -p "$SCRATCH/good.$id" "$(file_of "$id")"; done
}
verify_events() { catalog_q "$REPO" "SELECT count(*) FROM events WHERE action = 'verify'"; }
# line_of ID: the line of the last verify output about backup ID (by its file name).
line_of() { grep -F "$(basename "$(file_of "$1")")" <<<"$OUT" || true; }

# 1. All good: exit 0, verified_at set, one event per backup with the OS user.
note "verify --all of good backups"
run_pgvault verify -d "$REPO" --all
expect_rc 0 "verify --all"
for id in "${IDS[@]}"; do
    assert_match "$(line_of "$id")" '(^|[^A-Za-z])ok([^A-Za-z]|$)' "verify line of backup $id"
    assert_match "$(catalog_q "$REPO" "SELECT coalesce(verified_at, '') FROM backups WHERE id = $id")" \
        '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$' "verified_at of backup $id"
done
assert_eq "$(verify_events)" 3 "verify events after verify --all"
assert_eq "$(catalog_q "$REPO" "SELECT count(DISTINCT backup_id) || '|' || group_concat(DISTINCT actor) ||
                                      '|' || group_concat(DISTINCT outcome)
                               FROM events WHERE action = 'verify'")" "3|$(id -un)|ok" \
    "verify events (backups|actor|outcome)"
run_pgvault verify -d "$REPO" "${IDS[1]}"
expect_rc 0 "verify of one backup by id"
assert_eq "$(verify_events)" 4 "verify events after verifying one backup"

# 2. --deep: exit 0.
note "verify --deep --all"
run_pgvault verify -d "$REPO" --deep --all
expect_rc 0 "verify --deep --all"
assert_eq "$(verify_events)" 7 "verify events after verify --deep --all"

# 3. A flipped byte in the middle of backup 2 (plain): exit 3, the others still ok.
for damaged in "${IDS[1]}" "${IDS[0]}"; do
    f=$(file_of "$damaged")
    note "flipped byte in $(basename "$f")"
    verified=$(catalog_q "$REPO" "SELECT verified_at FROM backups WHERE id = $damaged")
    flip_byte "$f" $(($(stat -c %s "$f") / 2))
    for deep in "" "--deep"; do
        # shellcheck disable=SC2086
        run_pgvault verify -d "$REPO" --all $deep
        expect_rc 3 "verify --all $deep with a flipped byte in backup $damaged"
        expect_error_line "verify --all $deep with a flipped byte"
        for id in "${IDS[@]}"; do
            if [[ $id == "$damaged" ]]; then
                assert_match "$(line_of "$id")" 'FAIL|fail' "verify $deep line of damaged backup $id"
                [[ -n "$deep" ]] || assert_contains "$(line_of "$id")" checksum \
                    "verify line of damaged backup $id says why"
            else
                assert_match "$(line_of "$id")" '(^|[^A-Za-z])ok([^A-Za-z]|$)' \
                    "verify $deep line of intact backup $id (verify must keep going)"
            fi
        done
    done
    # A single named backup fails the same way.
    run_pgvault verify -d "$REPO" "$damaged"
    expect_rc 3 "verify of damaged backup $damaged by id"
    assert_eq "$(catalog_q "$REPO" "SELECT outcome FROM events WHERE action = 'verify'
                                   AND backup_id = $damaged ORDER BY id DESC LIMIT 1")" failed \
        "event of a failed verification of backup $damaged"
    assert_eq "$(catalog_q "$REPO" "SELECT verified_at FROM backups WHERE id = $damaged")" "$verified" \
        "verified_at of backup $damaged after failed verifications (the last success)"
    restore_files
done

# 4. A deleted file: exit 3, reported missing; the others ok.
note "deleted file"
rm -f "$(file_of "${IDS[2]}")"
run_pgvault verify -d "$REPO" --all
expect_rc 3 "verify --all with a deleted file"
assert_contains "$(line_of "${IDS[2]}")" missing "verify line of the deleted backup"
for id in "${IDS[0]}" "${IDS[1]}"; do
    assert_match "$(line_of "$id")" '(^|[^A-Za-z])ok([^A-Za-z]|$)' "verify line of intact backup $id"
done
restore_files

# 5. A catalog row count that disagrees with the dump: --deep exits 3 naming the table;
#    the plain check (size and checksum) still passes.
note "altered row count in the catalog"
sqlite3 "$REPO/catalog.db" "UPDATE backup_tables SET row_count = row_count + 1
                            WHERE backup_id = ${IDS[0]} AND table_name = 'Tricky \"tbl\"'"
assert_eq "$(catalog_q "$REPO" "SELECT row_count FROM backup_tables
                               WHERE backup_id = ${IDS[0]} AND table_name = 'Tricky \"tbl\"'")" 78 \
    "setup: altered row count"
run_pgvault verify -d "$REPO" "${IDS[0]}"
expect_rc 0 "plain verify with an altered catalog row count"
run_pgvault verify -d "$REPO" --deep "${IDS[0]}"
expect_rc 3 "verify --deep with an altered catalog row count"
assert_contains "$OUT$ERR" 'Tricky "tbl"' "verify --deep names the table"
run_pgvault verify -d "$REPO" --deep --all
expect_rc 3 "verify --deep --all with an altered catalog row count"
assert_match "$(line_of "${IDS[2]}")" '(^|[^A-Za-z])ok([^A-Za-z]|$)' "other backups still ok under --deep"
sqlite3 "$REPO/catalog.db" "UPDATE backup_tables SET row_count = row_count - 1
                            WHERE backup_id = ${IDS[0]} AND table_name = 'Tricky \"tbl\"'"

# 6. A dump cut short, re-compressed, with the catalog's size and checksums made to
#    match the file: only --deep can tell (no trailer, fewer rows).
note "dump without its trailer, catalog matching the file"
f=$(file_of "${IDS[2]}")
gunzip -c "$f" >"$SCRATCH/full.sql"
head -n 30 "$SCRATCH/full.sql" | gzip -c >"$SCRATCH/short.gz"
cp "$SCRATCH/short.gz" "$f"
sqlite3 "$REPO/catalog.db" "UPDATE backups SET size_bytes = $(stat -c %s "$f"),
                                  checksum = '$(xxh128 "$f")',
                                  raw_bytes = $(gunzip -c "$f" | wc -c),
                                  raw_checksum = '$(gunzip -c "$f" | xxh128)'
                            WHERE id = ${IDS[2]}"
run_pgvault verify -d "$REPO" "${IDS[2]}"
expect_rc 0 "plain verify of a short dump whose catalog row matches the file"
run_pgvault verify -d "$REPO" --deep "${IDS[2]}"
expect_rc 3 "verify --deep of a dump without its trailer"

# 7. --json: one array, one object per backup, ok true/false.
note "--json"
run_pgvault verify -d "$REPO" --all --deep --json
expect_rc 3 "verify --all --deep --json with one bad backup"
assert_eq "$(json_get "$OUT" 'len(d)')" 3 "JSON array length"
assert_eq "$(json_get "$OUT" "sorted((o['id'], o['ok']) for o in d)")" \
    "[(${IDS[0]}, True), (${IDS[1]}, True), (${IDS[2]}, False)]" "JSON ids and outcomes"
assert_ne "$(json_get "$OUT" "[o for o in d if not o['ok']][0]['error']")" null "JSON error of the bad backup"
restore_files
sqlite3 "$REPO/catalog.db" "UPDATE backups SET size_bytes = $(stat -c %s "$f"),
                                  checksum = '$(xxh128 "$f")',
                                  raw_bytes = $(gunzip -c "$f" | wc -c),
                                  raw_checksum = '$(gunzip -c "$f" | xxh128)'
                            WHERE id = ${IDS[2]}"
run_pgvault verify -d "$REPO" --all --deep --json
expect_rc 0 "verify --all --deep --json"
assert_eq "$(json_get "$OUT" "all(o['ok'] for o in d) and len(d) == 3")" true "JSON: all ok"

pass
