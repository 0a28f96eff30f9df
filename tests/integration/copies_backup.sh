#!/usr/bin/env bash
# Off-site copies to two file:// remotes: a backup reaches both byte for byte (checked on
# the remotes' own file systems, not only through pgvault), with its XXH3-128 in the
# sidecar, the copies in the catalog and in backup --json; --no-copy skips them and push
# sends them later, idempotently; a remote directory that cannot be written leaves the
# backup complete, the copy failed with its error and exit 1, and push completes it once
# the directory is writable again; a remote that is not there (an unmounted share) is
# exit 6. list --remote, verify --remote (a copy whose bytes were altered passes the
# shallow check but fails --deep with exit 3, a deleted one is "missing"), check's
# warnings, the metrics, and the catalog snapshot on each remote.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
# shellcheck source=SCRIPTDIR/../harness/restore_helpers.sh
source "$(dirname "$TESTLIB")/restore_helpers.sh"
require_cmd xxhsum sqlite3 cmp python3

DB=pgv_copies_backup
REPO=$SCRATCH/repo
NAS1=$SCRATCH/nas1
NAS2=$SCRATCH/nas2
mkdir -p "$NAS1" "$NAS2"
CONF=$SCRATCH/pgvault.conf
cat >"$CONF" <<EOF
remote.nas1.url = file://$NAS1
remote.nas2.url = file://$NAS2
EOF
create_db "$DB"
psql_q "$DB" "CREATE TABLE t (id int PRIMARY KEY, v text);
              INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 5000) g" >/dev/null

pgv() { run_pgvault --config "$CONF" "$@"; }
copy_status() { catalog_q "$REPO" "SELECT status FROM copies WHERE backup_id = $1 AND remote = '$2'"; }

note "a backup reaches both remotes, byte for byte"
pgv backup -d "$REPO" --db "$DB" --no-progress --json
expect_rc 0 "backup with two remotes"
BID=$(catalog_q "$REPO" "SELECT max(id) FROM backups")
FILE=$(catalog_q "$REPO" "SELECT file_name FROM backups WHERE id = $BID")
SUM=$(catalog_q "$REPO" "SELECT checksum FROM backups WHERE id = $BID")
for nas in "$NAS1" "$NAS2"; do
    cmp "$REPO/$FILE" "$nas/$DB/$FILE" || fail "the copy in $nas differs from the backup"
    assert_eq "$(xxh128 "$nas/$DB/$FILE")" "$SUM" "XXH3-128 of the copy in $nas"
    assert_eq "$(awk '{print $1}' "$nas/$DB/$FILE.xxh3")" "$SUM" "sidecar checksum in $nas"
    (cd "$nas/$DB" && xxhsum -c "$FILE.xxh3" >/dev/null) || fail "xxhsum -c rejects the sidecar in $nas"
done
assert_eq "$(copy_status "$BID" nas1)/$(copy_status "$BID" nas2)" "complete/complete" "copy rows"
assert_eq "$(catalog_q "$REPO" "SELECT location || ' ' || size_bytes || ' ' || checksum FROM copies
                                WHERE backup_id = $BID AND remote = 'nas1'")" \
    "$DB/$FILE $(stat -c %s "$REPO/$FILE") $SUM" "location, size and checksum of the copy"
assert_eq "$(catalog_q "$REPO" "SELECT count(*) FROM events WHERE action = 'copy' AND backup_id = $BID
                                AND outcome = 'ok' AND actor = '$(id -un)'")" 2 "copy events"
python3 - "$OUT" <<'PY' || fail "backup --json has no proper copies array: $OUT"
import json, sys
d = json.loads(sys.argv[1])
c = d["copies"]
assert [x["remote"] for x in c] == ["nas1", "nas2"], c
for x in c:
    assert sorted(x) == ["bytes", "error", "remote", "seconds", "status"], x
    assert x["status"] == "complete" and x["bytes"] == d["size_bytes"] and x["error"] is None, x
PY

note "the catalog's snapshot is on each remote, and opens"
for nas in "$NAS1" "$NAS2"; do
    [[ -f "$nas/catalog/catalog.db" ]] || fail "no catalog snapshot in $nas"
    assert_eq "$(sqlite3 "$nas/catalog/catalog.db" "SELECT count(*) FROM copies WHERE status = 'complete'")" \
        2 "copies recorded in the snapshot in $nas"
    assert_eq "$(find "$nas/catalog" -name 'catalog-*.db' | wc -l)" 1 "stamped snapshots in $nas"
done
[[ -n "$(catalog_q "$REPO" "SELECT snapshot_at FROM remotes WHERE name = 'nas1'")" ]] ||
    fail "remotes.snapshot_at not set"

note "--no-copy, then push sends it; a second push has nothing to do"
pgv backup -d "$REPO" --db "$DB" --no-progress --no-copy
expect_rc 0 "backup --no-copy"
B2=$(catalog_q "$REPO" "SELECT max(id) FROM backups")
F2=$(catalog_q "$REPO" "SELECT file_name FROM backups WHERE id = $B2")
assert_eq "$(catalog_q "$REPO" "SELECT count(*) FROM copies WHERE backup_id = $B2")" 0 "copies after --no-copy"
[[ ! -e "$NAS1/$DB/$F2" ]] || fail "--no-copy copied the file"
pgv push -d "$REPO" --remote nas1 --no-progress
expect_rc 0 "push --remote nas1"
assert_contains "$OUT" "$F2" "push names the file it copied"
cmp "$REPO/$F2" "$NAS1/$DB/$F2" || fail "pushed copy differs"
assert_eq "$(copy_status "$B2" nas2)" "" "push --remote nas1 left nas2 alone"
pgv push -d "$REPO" --no-progress --json
expect_rc 0 "push to every remote"
python3 - "$OUT" "$B2" <<'PY' || fail "push --json: $OUT"
import json, sys
d = json.loads(sys.argv[1])
assert d["outcome"] == "complete" and d["failed"] == 0, d
assert [(c["id"], c["remote"], c["status"]) for c in d["copies"]] == [(int(sys.argv[2]), "nas2", "complete")], d
PY
pgv push -d "$REPO" --no-progress
expect_rc 0 "second push"
assert_contains "$OUT" 'remote "nas1" has every backup' "idempotent push"

note "a remote directory that cannot be written: the copy fails, the backup stays complete, exit 1"
# the database's directory there (root ignores modes: an immutable directory instead)
LOCKED=$NAS2/$DB
if [[ $(id -u) == 0 ]]; then
    chattr +i "$LOCKED" 2>/dev/null || skip "chattr +i is not available to make a directory unwritable as root"
    unlock_nas2() { chattr -i "$LOCKED"; }
else
    chmod 0555 "$LOCKED"
    unlock_nas2() { chmod 0700 "$LOCKED"; }
fi
trap 'unlock_nas2 2>/dev/null || true' EXIT
pgv backup -d "$REPO" --db "$DB" --no-progress
unlock_nas2 # before any assertion: the scratch directory must stay removable
trap _lib_on_exit EXIT
expect_rc 1 "backup with an unwritable remote"
expect_error_line "backup with an unwritable remote"
B3=$(catalog_q "$REPO" "SELECT max(id) FROM backups")
assert_eq "$(catalog_q "$REPO" "SELECT status FROM backups WHERE id = $B3")" complete "backup status"
assert_contains "$ERR" "backup $B3 is complete, but its copy to remote \"nas2\" failed" "error message"
assert_eq "$(copy_status "$B3" nas1)/$(copy_status "$B3" nas2)" "complete/failed" "copy rows"
[[ -n "$(catalog_q "$REPO" "SELECT error FROM copies WHERE backup_id = $B3 AND remote = 'nas2'")" ]] ||
    fail "the failed copy has no error text"
assert_eq "$(catalog_q "$REPO" "SELECT count(*) FROM events WHERE action = 'copy' AND backup_id = $B3
                                AND outcome = 'failed'")" 1 "failed copy event"
[[ -n "$(catalog_q "$REPO" "SELECT last_error FROM remotes WHERE name = 'nas2'")" ]] ||
    fail "remotes.last_error not set"

note "check warns about the backup nas2 lacks"
pgv check -d "$REPO" --db "$DB" --max-age 24
expect_rc 1 "check with a backup missing on a remote"
assert_contains "$OUT" "WARNING" "check's state"
assert_contains "$OUT" 'nas2' "check names the remote"

note "push completes it"
pgv push -d "$REPO" --no-progress
expect_rc 0 "push after the directory is writable again"
assert_eq "$(copy_status "$B3" nas2)" complete "copy after push"
cmp "$REPO/$(catalog_q "$REPO" "SELECT file_name FROM backups WHERE id = $B3")" \
    "$NAS2/$DB/$(catalog_q "$REPO" "SELECT file_name FROM backups WHERE id = $B3")" || fail "pushed copy differs"
pgv check -d "$REPO" --db "$DB" --max-age 24
expect_rc 0 "check once every remote has every backup"
sqlite3 "$REPO/catalog.db" "UPDATE remotes SET last_ok_at = '2020-01-01T00:00:00.000Z' WHERE name = 'nas1'"
pgv check -d "$REPO" --db "$DB" --max-age 24
expect_rc 1 "check with a remote not reached within --max-age"
assert_contains "$OUT" 'remote "nas1" not reached for' "check names the silent remote"
pgv push -d "$REPO" --no-progress --remote nas1 "$B3"
expect_rc 0 "push of one named backup (already there: copied again)"
pgv check -d "$REPO" --db "$DB" --max-age 24
expect_rc 0 "check once the remote answered again"

note "an unreachable remote (the directory is gone) is exit 6"
cat >"$SCRATCH/gone.conf" <<EOF
remote.gone.url = file://$SCRATCH/not-mounted
EOF
run_pgvault --config "$SCRATCH/gone.conf" backup -d "$REPO" --db "$DB" --no-progress --json
expect_rc 6 "backup with an unreachable remote"
python3 - "$OUT" <<'PY' || fail "backup --json with a failed copy: $OUT"
import json, sys
c = json.loads(sys.argv[1])["copies"]
assert len(c) == 1 and c[0]["remote"] == "gone" and c[0]["status"] == "failed" and c[0]["error"], c
PY
B4=$(catalog_q "$REPO" "SELECT max(id) FROM backups")
assert_eq "$(catalog_q "$REPO" "SELECT status FROM backups WHERE id = $B4")" complete "backup status"
run_pgvault --config "$SCRATCH/gone.conf" push -d "$REPO" --no-progress
expect_rc 6 "push to an unreachable remote"

note "list --remote"
pgv list -d "$REPO" --remote nas1 --json
expect_rc 0 "list --remote --json"
python3 - "$OUT" "$BID" "$DB/$FILE" <<'PY' || fail "list --remote --json: $OUT"
import json, sys
rows = json.loads(sys.argv[1])
assert len(rows) == 3, rows  # backup 4 went to "gone" only
keys = ["checksum", "copied_at", "db_name", "error", "file_name", "id", "location", "remote",
        "size_bytes", "status", "verified_at"]
assert all(sorted(r) == keys for r in rows), rows[0]
r = [r for r in rows if r["id"] == int(sys.argv[2])][0]
assert r["location"] == sys.argv[3] and r["status"] == "complete", r
PY
pgv list -d "$REPO" --remote nas1 --csv
expect_rc 0 "list --remote --csv"
assert_eq "$(printf '%s\n' "$OUT" | head -n 1)" \
    "id,db_name,file_name,remote,location,status,size_bytes,checksum,copied_at,verified_at,error" "csv header"
assert_eq "$(printf '%s\n' "$OUT" | wc -l)" 4 "csv rows"
pgv list -d "$REPO" --remote nas1
expect_rc 0 "list --remote"
assert_contains "$OUT" "$FILE" "table names the file"
pgv list -d "$REPO" --remote nowhere
expect_rc 2 "list --remote of an unknown remote"

note "verify --remote, --deep, with an altered and a deleted object"
pgv verify -d "$REPO" --remote nas1 --deep --json
expect_rc 0 "verify --remote --deep"
python3 - "$OUT" <<'PY' || fail "verify --remote --json: $OUT"
import json, sys
rows = json.loads(sys.argv[1])
assert len(rows) == 3 and all(r["ok"] and r["deep"] and r["remote"] == "nas1" for r in rows), rows
PY
[[ -n "$(catalog_q "$REPO" "SELECT verified_at FROM copies WHERE backup_id = $BID AND remote = 'nas1'")" ]] ||
    fail "verified_at not set"
flip_byte "$NAS1/$DB/$FILE" 100
pgv verify -d "$REPO" --remote nas1
expect_rc 0 "shallow verify (size and recorded checksum) of an altered object"
pgv verify -d "$REPO" --remote nas1 --deep
expect_rc 3 "verify --deep of an altered object"
assert_contains "$OUT" "FAILED" "verify --deep names the failure"
assert_eq "$(copy_status "$BID" nas1)" failed "copy marked failed"
rm "$NAS2/$DB/$FILE"
pgv verify -d "$REPO" --remote nas2 "$BID"
expect_rc 3 "verify of a deleted object"
assert_eq "$(copy_status "$BID" nas2)" missing "copy marked missing"
pgv push -d "$REPO" --no-progress
expect_rc 0 "push replaces the damaged and the missing copies"
assert_eq "$(copy_status "$BID" nas1)/$(copy_status "$BID" nas2)" "complete/complete" "copies after push"
cmp "$REPO/$FILE" "$NAS1/$DB/$FILE" || fail "the altered copy was not replaced"

note "metrics cover the copies"
METRICS=$SCRATCH/pgvault.prom
pgv backup -d "$REPO" --db "$DB" --no-progress --metrics-file "$METRICS"
expect_rc 0 "backup with metrics"
grep -q '^pgvault_copy_last_success_timestamp_seconds{remote="nas1"} [0-9]' "$METRICS" ||
    fail "no last-success metric for nas1: $(cat "$METRICS")"
grep -q '^pgvault_copy_bytes{remote="nas2"} [1-9]' "$METRICS" ||
    fail "no copy bytes metric for nas2: $(cat "$METRICS")"

note "bad remote configuration is exit 2 naming the line"
printf 'remote.x.url = file:///tmp\nremote.y.region = eu\n' >"$SCRATCH/bad.conf"
run_pgvault --config "$SCRATCH/bad.conf" list -d "$REPO"
expect_rc 2 "remote without url"
assert_contains "$ERR" 'remote "y"' "error names the remote"
assert_contains "$ERR" "line 2" "error names the line"

pass
