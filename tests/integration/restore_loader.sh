#!/usr/bin/env bash
# The loader over libpq: (a) a dump holding \restrict/\unrestrict (as pg_dump 15.14+,
# 17.6+ write them) imports and restores; mismatched keys and unknown meta-commands
# fail naming them and their line; (b) a failed statement is reported on one line with
# its line in the dump, the server's message and the statement, the original
# untouched and no temporary database left; (c) --table of a table with a foreign key
# to a table not restored: the schema is whole, the rows of that table only, the
# foreign key skipped with a warning, counts proven; an unknown table, or --table
# without --target, exits 2 and touches nothing.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
# shellcheck source=SCRIPTDIR/../harness/restore_helpers.sh
source "$(dirname "$TESTLIB")/restore_helpers.sh"
require_cmd sqlite3 gzip

DB=pgv_rl_src
T1=pgv_rl_t1
REPO=$SCRATCH/repo
create_db "$DB"
register_db "$T1"
psql_script "$DB" >/dev/null <<'SQL'
CREATE TABLE parent (id int PRIMARY KEY, name text);
CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent(id), v text);
CREATE INDEX child_v ON child (v);
INSERT INTO parent SELECT g, 'p' || g FROM generate_series(1, 50) g;
INSERT INTO child SELECT g, 1 + g % 50, 'c' || g FROM generate_series(1, 400) g;
SQL
run_pgvault backup -d "$REPO" --db "$DB" --no-prune
expect_rc 0 "backup of $DB"
BID=$(catalog_q "$REPO" "SELECT max(id) FROM backups WHERE status = 'complete'")
FILE=$(catalog_q "$REPO" "SELECT file_name FROM backups WHERE id = $BID")
assert_eq "$(catalog_q "$REPO" "SELECT with_owners FROM backups WHERE id = $BID")" 1 \
    "a backup keeps its owners by default"
"$PG_DUMP" "$DB" >"$SCRATCH/plain.sql"
grep -q '^\\restrict ' "$SCRATCH/plain.sql" || note "this pg_dump writes no \\restrict"

# (a) a crafted dump with \restrict KEY / \unrestrict KEY around the body.
note "(a) \\restrict and \\unrestrict"
IREPO=$SCRATCH/irepo
mkdir -p "$IREPO"
grep -v '^\\\(un\)\?restrict ' "$SCRATCH/plain.sql" |
    awk 'NR == 4 { print "\\restrict Kx1"; print "" } { print } END { print "\\unrestrict Kx1" }' |
    gzip >"$IREPO/${DB}_20260101_000000.sql.gz"
run_pgvault import -d "$IREPO" "$IREPO/${DB}_20260101_000000.sql.gz"
expect_rc 0 "import of a dump with \\restrict"
run_pgvault restore -d "$IREPO" -f --target "$T1" latest --db "$DB"
expect_rc 0 "restore of the imported dump with \\restrict"
assert_eq "$(psql_q "$T1" "SELECT count(*) FROM child")" 400 "rows of child after the restore"
# mismatched key
# bad NAME: imports $SCRATCH/bad.sql as NAME and restores it (not in a pipeline: the
# results stay in this shell)
bad() {
    gzip <"$SCRATCH/bad.sql" >"$IREPO/$1"
    run_pgvault import -d "$IREPO" "$IREPO/$1"
    expect_rc 0 "import of $1"
    run_pgvault restore -d "$IREPO" -f --target "$T1" "$1"
}
grep -v '^\\\(un\)\?restrict ' "$SCRATCH/plain.sql" |
    awk 'NR == 4 { print "\\restrict Kx1" } { print } END { print "\\unrestrict Kx2" }' |
    cat >"$SCRATCH/bad.sql"
bad "${DB}_20260101_000001.sql.gz"
expect_rc 1 "a \\unrestrict with another key"
expect_error_line "a \\unrestrict with another key"
assert_match "${ERR%%$'\n'*}" "restore failed: line [0-9]+: .unrestrict does not match" \
    "the error names the mismatch and its line"
grep -v '^\\\(un\)\?restrict ' "$SCRATCH/plain.sql" |
    awk 'NR == 4 { print "\\o /tmp/pgv_rl_out" } { print }' >"$SCRATCH/bad.sql"
bad "${DB}_20260101_000002.sql.gz"
expect_rc 1 "an unsupported meta-command"
assert_match "${ERR%%$'\n'*}" "restore failed: line 4: unsupported psql meta-command \"\\\\o\"" \
    "the error names the meta-command and its line"
[[ -e /tmp/pgv_rl_out ]] && fail "the meta-command ran"
expect_no_leftover_dbs "(a) refused dumps"

# (b) a failed statement: one line, its line number and the statement.
note "(b) a failed statement"
line=$(grep -n '^CREATE INDEX child_v' "$SCRATCH/plain.sql" | cut -d: -f1)
sed 's/^CREATE INDEX child_v ON public.child USING btree (v);/CREATE INDEX child_v ON public.child USING btree (no_such_column);/' \
    "$SCRATCH/plain.sql" >"$SCRATCH/bad.sql"
bad "${DB}_20260101_000003.sql.gz"
expect_rc 1 "a dump with a failing statement"
expect_error_line "a dump with a failing statement"
assert_contains "${ERR%%$'\n'*}" "restore failed: line $line: ERROR:  column \"no_such_column\" does not exist: CREATE INDEX child_v ON public.child USING btree (no_such_co…" \
    "the error line"
assert_eq "$(psql_q "$T1" "SELECT count(*) FROM child")" 400 "$T1 untouched by the failed restore"
expect_no_leftover_dbs "(b) failed statement"

# (c) --table: the rows of child only, its foreign key to parent skipped.
note "(c) --table with a foreign key to a table not restored"
run_pgvault restore -d "$REPO" -f --table public.child "$BID"
expect_rc 2 "--table without --target"
run_pgvault restore -d "$REPO" -f --target "$T1" --table public.nope "$BID"
expect_rc 2 "--table of a table the backup does not have"
assert_contains "$ERR" "public.nope" "the error names the unknown table"
assert_eq "$(psql_q "$T1" "SELECT count(*) FROM child")" 400 "$T1 untouched by the refused restore"
run_pgvault restore -d "$REPO" -f --target "$T1" --table public.child "$BID"
expect_rc 0 "restore --table public.child"
assert_contains "$ERR" "skipped a foreign key of table public.child" "the warning of the skipped key"
assert_contains "$OUT" "2 tables and 400 rows checked" "the counts proven"
assert_eq "$(psql_q "$T1" "SELECT (SELECT count(*) FROM child) || '/' || (SELECT count(*) FROM parent)")" \
    "400/0" "rows after --table"
assert_eq "$(psql_q "$T1" "SELECT string_agg(conname, ',' ORDER BY conname) FROM pg_constraint WHERE conrelid = 'public.child'::regclass")" \
    "child_pkey" "child's constraints: its key, not the foreign key"
assert_eq "$(psql_q "$T1" "SELECT count(*) FROM pg_indexes WHERE indexname = 'child_v'")" 1 "child's index"
pass
