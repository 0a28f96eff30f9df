#!/usr/bin/env bash
# pgvault extract: one table's rows from a backup, without a database. (a) A table in a
# quoted unicode schema, with NULLs, empty strings, tabs, line breaks, backslashes,
# commas and quotes in its values: the COPY text equals what the server's own
# COPY ... TO STDOUT writes, and --csv equals COPY ... (FORMAT csv, HEADER); from a gzip
# and a zstd backup. (b) Usage errors exit 2: no --table, two, an unknown table, a
# backup that is not complete. (c) A damaged file exits 3 and says so (a backup without
# access points, read whole).
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
require_cmd sqlite3

DB=pgv_ex_src
REPO=$SCRATCH/repo
create_db "$DB"
psql_script "$DB" >/dev/null <<'SQL'
CREATE SCHEMA "Ünï ""q"". s";
CREATE TABLE "Ünï ""q"". s"."Tâble" (id int PRIMARY KEY, t text, n numeric, b bytea);
INSERT INTO "Ünï ""q"". s"."Tâble" VALUES
    (1, 'plain', 1.5, '\x00ff'), (2, NULL, NULL, NULL), (3, '', 0, ''),
    (4, E'tab\there', -2, '\x5c'), (5, E'two\nlines\r\n', 3, NULL),
    (6, E'back\\slash \\N', 4, NULL), (7, 'a,b "quoted"', 5, NULL), (8, '\.', 6, NULL),
    (9, 'ünïcødé ✓', 7, NULL);
INSERT INTO "Ünï ""q"". s"."Tâble" SELECT g, md5(g::text), g, NULL FROM generate_series(10, 5000) g;
CREATE TABLE other (i int);
INSERT INTO other SELECT generate_series(1, 100);
CREATE TABLE one (v text);
INSERT INTO one VALUES ('\.'), (''), (NULL), ('x');
SQL
TABLE='"Ünï ""q"". s"."Tâble"'
psql_q "$DB" "COPY $TABLE TO STDOUT" >"$SCRATCH/want.txt"
psql_q "$DB" "COPY $TABLE TO STDOUT WITH (FORMAT csv, HEADER)" >"$SCRATCH/want.csv"

# (a) from a gzip backup and a zstd one
for comp in gzip zstd; do
    run_pgvault backup -d "$REPO" --db "$DB" --compress "$comp" --no-prune
    expect_rc 0 "backup ($comp)"
    id=$(catalog_q "$REPO" "SELECT max(id) FROM backups WHERE status = 'complete'")
    "$PGVAULT_BIN" extract -d "$REPO" "$id" --table '"Ünï ""q"". s".Tâble' >"$SCRATCH/got.txt" \
        2>"$SCRATCH/err" || fail "extract ($comp) failed: $(cat "$SCRATCH/err")"
    cmp -s "$SCRATCH/want.txt" "$SCRATCH/got.txt" || fail "extract ($comp): COPY text differs"
    grep -q '^pgvault: 5000 rows of table "Ünï "q". s"."Tâble" from backup' "$SCRATCH/err" || fail "extract ($comp): no row count: $(cat "$SCRATCH/err")"
    "$PGVAULT_BIN" extract -d "$REPO" "$id" --table '"Ünï ""q"". s".Tâble' --csv -q \
        >"$SCRATCH/got.csv" 2>"$SCRATCH/err" || fail "extract --csv ($comp) failed: $(cat "$SCRATCH/err")"
    if ! cmp -s "$SCRATCH/want.csv" "$SCRATCH/got.csv"; then
        diff "$SCRATCH/want.csv" "$SCRATCH/got.csv" | head -20 >&2
        fail "extract --csv ($comp): CSV differs from the server's"
    fi
    [[ ! -s "$SCRATCH/err" ]] || fail "extract -q printed: $(cat "$SCRATCH/err")"
done
note "(a) COPY text and CSV equal the server's, from gzip and zstd"
run_pgvault extract -d "$REPO" --db "$DB" latest --table public.other
expect_rc 0 "extract of latest"
assert_eq "$(printf '%s\n' "$OUT" | wc -l)" 100 "rows of public.other"
# a one-column row reading \. is quoted in CSV, as the server does
psql_q "$DB" "COPY one TO STDOUT WITH (FORMAT csv, HEADER)" >"$SCRATCH/want1.csv"
"$PGVAULT_BIN" extract -d "$REPO" --db "$DB" latest --table public.one --csv -q >"$SCRATCH/got1.csv"
cmp -s "$SCRATCH/want1.csv" "$SCRATCH/got1.csv" || fail "extract --csv of a one-column table differs"

# an age-encrypted backup: decrypted on the way with --identity; without it, exit 2
if command -v age-keygen >/dev/null 2>&1; then
    age-keygen -o "$SCRATCH/id.key" 2>/dev/null
    chmod 0600 "$SCRATCH/id.key"
    recipient=$(age-keygen -y "$SCRATCH/id.key")
    run_pgvault backup -d "$REPO" --db "$DB" --encrypt-to "$recipient" --no-prune
    expect_rc 0 "encrypted backup"
    eid=$(catalog_q "$REPO" "SELECT max(id) FROM backups WHERE status = 'complete'")
    "$PGVAULT_BIN" extract -d "$REPO" "$eid" --table '"Ünï ""q"". s".Tâble' -q \
        --identity "$SCRATCH/id.key" >"$SCRATCH/got.txt" || fail "extract of an encrypted backup failed"
    cmp -s "$SCRATCH/want.txt" "$SCRATCH/got.txt" || fail "extract of an encrypted backup differs"
    run_pgvault extract -d "$REPO" "$eid" --table public.other
    expect_rc 2 "extract of an encrypted backup without an identity"
    expect_error_line "extract of an encrypted backup without an identity"
    [[ -z "$OUT" ]] || fail "extract without an identity wrote rows"
    note "(a) an age-encrypted backup, with and without its identity"
fi

# (b) usage errors
run_pgvault extract -d "$REPO" latest --db "$DB"
expect_rc 2 "extract without --table"
expect_error_line "extract without --table"
run_pgvault extract -d "$REPO" latest --db "$DB" --table public.other --table public.x
expect_rc 2 "extract with two --table"
run_pgvault extract -d "$REPO" latest --db "$DB" --table public.nosuch
expect_rc 2 "extract of an unknown table"
expect_error_line "extract of an unknown table"
assert_contains "$ERR" "nosuch" "the unknown table is named"

# (c) a damaged file: exit 3. A backup without access points (taken before them) is read
# from the start and its checksum proven: the damage need not be in the table's data.
id=$(catalog_q "$REPO" "SELECT max(id) FROM backups WHERE status = 'complete' AND encryption = 'none'")
file=$REPO/$(catalog_q "$REPO" "SELECT file_name FROM backups WHERE id = $id")
sqlite3 "$REPO/catalog.db" "DELETE FROM access_points WHERE backup_id = $id"
size=$(stat -c %s "$file")
printf '\x55' | dd of="$file" bs=1 seek=$((size / 2)) conv=notrunc status=none
run_pgvault extract -d "$REPO" "$id" --table public.other
expect_rc 3 "extract of a damaged file"
expect_error_line "extract of a damaged file"
note "(b, c) errors: exit 2 for usage, 3 for damage"
pass
