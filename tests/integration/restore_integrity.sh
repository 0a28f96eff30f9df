#!/usr/bin/env bash
# A restore checks the file before it touches any database: a
# flipped byte in the middle of a .gz, a truncated .gz and a size-preserving change of a
# plain (-n) backup each stop it with exit 3 and one "pgvault: …" line, the database
# unchanged, no database created; the failed restore is recorded. A failed backup, an
# unknown id and a file the catalog does not know are refused with exit 2. The bytes
# loaded are the bytes verified: a file changed after the checksum (here: while the
# restore waits for "yes") is not loaded as if it were the backup. Counts after the load
# that differ from the catalog's (rows, tables, a table missing) stop it with exit 3
# before the swap.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
# shellcheck source=SCRIPTDIR/../harness/restore_helpers.sh
source "$(dirname "$TESTLIB")/restore_helpers.sh"
require_cmd sqlite3 python3 gzip script timeout mkfifo

DB=pgv_ri
OTHER=pgv_ri_target
OTHER2=pgv_ri_target2
REPO=$SCRATCH/repo
register_db "$OTHER"
register_db "$OTHER2"

create_db "$DB"
psql_script "$DB" >/dev/null <<'SQL'
CREATE TABLE t (id int PRIMARY KEY, v text, n numeric);
INSERT INTO t SELECT g, md5(g::text) || repeat('x', g % 50), g * 1.5 FROM generate_series(1, 20000) g;
CREATE TABLE u (a int);
INSERT INTO u SELECT generate_series(1, 500);
SQL

# A gzip backup and a plain (-n) backup of the same database.
run_pgvault backup -d "$REPO" --db "$DB"
expect_rc 0 "gzip backup"
GZ_ID=$(catalog_q "$REPO" "SELECT max(id) FROM backups WHERE status = 'complete'")
run_pgvault backup -d "$REPO" --db "$DB" -n
expect_rc 0 "plain backup (-n)"
PLAIN_ID=$(catalog_q "$REPO" "SELECT max(id) FROM backups WHERE status = 'complete'")
assert_ne "$PLAIN_ID" "$GZ_ID" "ids of the two backups"
GZ=$REPO/$(catalog_q "$REPO" "SELECT file_name FROM backups WHERE id = $GZ_ID")
PLAIN=$REPO/$(catalog_q "$REPO" "SELECT file_name FROM backups WHERE id = $PLAIN_ID")
[[ "$GZ" == *.sql.gz && "$PLAIN" == *.sql ]] || fail "unexpected file names: $GZ $PLAIN"
cp -p "$GZ" "$SCRATCH/good.sql.gz"
cp -p "$PLAIN" "$SCRATCH/good.sql"

# The database moves on after the backups, so that any restore would show.
psql_q "$DB" "DELETE FROM t WHERE id % 3 = 0; UPDATE u SET a = -a; CREATE TABLE later (z int)" >/dev/null
FP=$(db_fingerprint "$DB")

# expect_refused WHAT CODE ARGS…: restore ARGS exits CODE with one error line, $DB is
# unchanged, $OTHER was not created, no temporary database appeared.
expect_refused() {
    local what=$1 code=$2
    shift 2
    run_pgvault restore -d "$REPO" "$@"
    expect_rc "$code" "$what"
    note "  $what: ${ERR%%$'\n'*}"
    expect_error_line "$what"
    assert_eq "$(db_fingerprint "$DB")" "$FP" "$what: fingerprint of $DB (it must be unchanged)"
    db_exists "$OTHER" && fail "$what: database $OTHER was created"
    expect_no_leftover_dbs "$what"
    return 0
}

# expect_failed_restore_row WHAT BACKUP_ID: the newest restores row is that backup's,
# failed, with a detail; the newest restore event failed.
expect_failed_restore_row() {
    local rid
    rid=$(last_restore_id "$REPO")
    [[ -n "$rid" ]] || fail "$1: no restores row"
    assert_eq "$(restore_col "$REPO" "$rid" backup_id)" "$2" "$1: restores.backup_id"
    assert_eq "$(restore_col "$REPO" "$rid" status)" failed "$1: restores.status"
    assert_ne "$(restore_col "$REPO" "$rid" detail)" "" "$1: restores.detail"
    assert_ne "$(restore_col "$REPO" "$rid" finished_at)" "" "$1: restores.finished_at"
    assert_eq "$(catalog_q "$REPO" "SELECT outcome FROM events WHERE action = 'restore'
                                     ORDER BY id DESC LIMIT 1")" failed "$1: restore event"
}

# 1. A flipped byte in the middle of the .gz: exit 3 before anything is touched.
note "flipped byte in the middle of the .gz"
size=$(stat -c %s "$GZ")
flip_byte "$GZ" $((size / 2))
assert_eq "$(stat -c %s "$GZ")" "$size" "size after flipping a byte"
expect_refused "restore of a .gz with a flipped byte" 3 -f --db "$DB" "$GZ_ID"
assert_match "${ERR%%$'\n'*}" '^pgvault: checksum mismatch' "error line for a flipped byte"
expect_failed_restore_row "flipped byte" "$GZ_ID"
expect_refused "restore --target of a .gz with a flipped byte" 3 -f --target "$OTHER" "$GZ_ID"
assert_match "${ERR%%$'\n'*}" '^pgvault: checksum mismatch' "error line for a flipped byte (--target)"
expect_refused "restore --in-place of a .gz with a flipped byte" 3 -f --in-place --db "$DB" "$GZ_ID"
db_exists "$DB" || fail "restore --in-place of a corrupt file dropped $DB"

# 2. A truncated .gz: exit 3.
note "truncated .gz"
cp -p "$SCRATCH/good.sql.gz" "$GZ"
truncate -s $((size / 2)) "$GZ"
expect_refused "restore of a truncated .gz" 3 -f --db "$DB" "$GZ_ID"
expect_failed_restore_row "truncated .gz" "$GZ_ID"
# …also when the truncation keeps a valid prefix that ends exactly at a gzip block.
cp -p "$SCRATCH/good.sql.gz" "$GZ"
truncate -s $((size - 8)) "$GZ" # no gzip trailer (CRC32 + ISIZE)
expect_refused "restore of a .gz without its 8-byte trailer" 3 -f --db "$DB" "$GZ_ID"
cp -p "$SCRATCH/good.sql.gz" "$GZ"

# 3. Size-preserving corruption of a plain backup: one digit of a row changed.
note "size-preserving change of a plain (-n) backup"
psize=$(stat -c %s "$PLAIN")
python3 - "$PLAIN" <<'PY'
import sys
path = sys.argv[1]
data = bytearray(open(path, 'rb').read())
start = data.index(b'COPY public.t ')
line = data.index(b'\n10000\t', start) + 1   # the row with id 10000
data[line] = ord('9')                        # 10000 -> 90000: still a valid row
open(path, 'r+b').write(data)
PY
assert_eq "$(stat -c %s "$PLAIN")" "$psize" "size of the changed plain backup"
expect_refused "restore of a changed plain backup" 3 -f --db "$DB" "$PLAIN_ID"
assert_match "${ERR%%$'\n'*}" '^pgvault: checksum mismatch' "error line for a changed plain backup"
expect_failed_restore_row "changed plain backup" "$PLAIN_ID"
cp -p "$SCRATCH/good.sql" "$PLAIN"

# 4. A failed backup cannot be restored (exit 2), nor an unknown id, nor a file that is
#    not in the catalog.
note "failed backup, unknown id, unknown file"
mkdir -p "$SCRATCH/fakebin"
# shellcheck disable=SC2016
printf '%s\n' '#!/usr/bin/env bash' \
    'for a in "$@"; do case "$a" in --version | -V) echo "pg_dump (PostgreSQL) 15.18"; exit 0 ;; esac; done' \
    'echo "--"; echo "-- PostgreSQL database dump"; echo "pg_dump: error: simulated failure" >&2; exit 1' \
    >"$SCRATCH/fakebin/pg_dump"
chmod 0755 "$SCRATCH/fakebin/pg_dump"
PGVAULT_PG_BINDIR=$SCRATCH/fakebin run_pgvault backup -d "$REPO" --db "$DB" --no-prune
expect_rc 1 "backup with a failing pg_dump"
FAILED_ID=$(catalog_q "$REPO" "SELECT max(id) FROM backups WHERE status = 'failed'")
[[ -n "$FAILED_ID" ]] || fail "the failing backup left no failed row"
expect_refused "restore of failed backup $FAILED_ID" 2 -f --db "$DB" "$FAILED_ID"
expect_refused "restore of unknown backup id 987654" 2 -f --db "$DB" 987654
cp -p "$SCRATCH/good.sql.gz" "$SCRATCH/${DB}_20200101_000000.sql.gz"
expect_refused "restore of a file outside the catalog" 2 -f --db "$DB" \
    "$SCRATCH/${DB}_20200101_000000.sql.gz"
cp -p "$SCRATCH/good.sql.gz" "$REPO/${DB}_20200101_000000.sql.gz"
expect_refused "restore of a file in the repository but not in the catalog" 2 -f --db "$DB" \
    "${DB}_20200101_000000.sql.gz"
rm -f "$REPO/${DB}_20200101_000000.sql.gz"

# 5. The intact files restore (the refusals above were about the damage).
note "intact backups restore"
run_pgvault restore -d "$REPO" -f --target "$OTHER" "$GZ_ID"
expect_rc 0 "restore --target of the intact .gz"
assert_eq "$(psql_q "$OTHER" "SELECT count(*) FROM t")" 20000 "rows of t in $OTHER"
assert_eq "$(db_fingerprint "$DB")" "$FP" "fingerprint of $DB after restore --target"
expect_no_leftover_dbs "restore --target of the intact .gz"

# 6. The bytes loaded are the bytes that were verified. The plain backup is changed in
#    place (same size, same row count, one value different) after the checksum, while
#    restore waits for "yes" on a terminal; the restore must not report success with
#    the changed value in the database.
note "file changed between the checksum and the load"
cp -p "$SCRATCH/good.sql" "$PLAIN"
mkfifo "$SCRATCH/answer"
cmd=$(printf '%q ' "$PGVAULT_BIN" restore -d "$REPO" --target "$OTHER2" "$PLAIN_ID")
timeout --kill-after=10 120 script -qec "$cmd" /dev/null <"$SCRATCH/answer" >"$SCRATCH/tty.out" 2>&1 &
spid=$!
exec 8>"$SCRATCH/answer"
deadline=$((SECONDS + 60))
until grep -q 'yes' "$SCRATCH/tty.out"; do
    ((SECONDS < deadline)) || fail "no confirmation prompt within 60 s: $(cat "$SCRATCH/tty.out")"
    kill -0 "$spid" 2>/dev/null || fail "restore ended before asking: $(cat "$SCRATCH/tty.out")"
    sleep 0.1
done
python3 - "$PLAIN" <<'PY'
import sys
path = sys.argv[1]
with open(path, 'r+b') as f:
    data = f.read()
    start = data.index(b'COPY public.t ')
    pos = data.index(b'\n10000\t', start) + len(b'\n10000\t')
    f.seek(pos)
    f.write(b'Z')          # first character of md5('10000'): a hex digit, now 'Z'
PY
printf 'yes\n' >&8
exec 8>&-
if wait "$spid"; then rc=0; else rc=$?; fi
note "  exit $rc: $(tr -d '\r' <"$SCRATCH/tty.out" | tail -n 1)"
if db_exists "$OTHER2"; then
    v=$(psql_q "$OTHER2" "SELECT left(v, 1) FROM t WHERE id = 10000")
    [[ $v != Z ]] || fail "restore loaded a file that changed after its checksum was verified \
(exit $rc; row 10000 of $OTHER2 holds the changed value)"
    [[ $v == "$(psql_q postgres "SELECT left(md5('10000'), 1)")" ]] || fail "row 10000 of $OTHER2: [$v]"
else
    assert_ne "$rc" 0 "exit code of a restore that created nothing"
fi
expect_no_leftover_dbs "restore of a file changed after its checksum"
cp -p "$SCRATCH/good.sql" "$PLAIN"

# 7. The loaded database is checked against the catalog's counts before anything is
#    swapped: with the catalog's counts doctored (the file stays intact, its checksum
#    right), a row count that differs, a table count that differs and a table that the
#    load did not create each stop the restore with exit 3 after the load; the original
#    is untouched, no temporary database is left, --target creates nothing.
note "counts after the load differ from the catalog's"
drop_db "$OTHER"
# doctor WHAT SQL UNDO ERROR: run SQL on the catalog; a restore (safe swap, then
# --target) fails with exit 3 and the one error line ERROR; UNDO puts the catalog back.
doctor() {
    local what=$1 sql=$2 undo=$3 error=$4 args
    catalog_q "$REPO" "$sql"
    for args in "--db $DB" "--target $OTHER"; do
        # shellcheck disable=SC2086 # two words
        expect_refused "restore $args with $what" 3 -f $args "$GZ_ID"
        assert_eq "${ERR%%$'\n'*}" "pgvault: $error" "error line of restore $args with $what"
        expect_failed_restore_row "$what ($args)" "$GZ_ID"
    done
    catalog_q "$REPO" "$undo"
}
doctor "a row count one more than loaded" \
    "UPDATE backup_tables SET row_count = 501 WHERE backup_id = $GZ_ID AND table_name = 'u'" \
    "UPDATE backup_tables SET row_count = 500 WHERE backup_id = $GZ_ID AND table_name = 'u'" \
    "table public.u has 500 rows after the load, the catalog says 501"
doctor "a table count one more than loaded" \
    "UPDATE backups SET table_count = table_count + 1 WHERE id = $GZ_ID" \
    "UPDATE backups SET table_count = table_count - 1 WHERE id = $GZ_ID" \
    "2 tables after the load, the catalog says 3"
doctor "a table the load did not create" \
    "INSERT INTO backup_tables (backup_id, schema_name, table_name, relkind, row_count)
     VALUES ($GZ_ID, 'public', 'ghost', 'r', 0)" \
    "DELETE FROM backup_tables WHERE backup_id = $GZ_ID AND table_name = 'ghost'" \
    "table public.ghost of the backup is missing after the load"
# the same backup, its catalog put back, restores
run_pgvault restore -d "$REPO" -f --target "$OTHER" "$GZ_ID"
expect_rc 0 "restore --target once the catalog's counts are right again"
expect_no_leftover_dbs "restore --target once the catalog's counts are right again"

pass
