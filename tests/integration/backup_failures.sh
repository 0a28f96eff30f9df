#!/usr/bin/env bash
# Backups that must fail, fail cleanly: a missing database (exit 5), a pg_dump that is
# killed or exits 1 half-way, a pg_dump that exits 0 without the dump trailer (exit 1,
# row 'failed', nothing left behind); and the edges of success: two backups within a
# second, -Z out of range, -n.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
require_cmd xxhsum sqlite3 gzip gunzip

DB=pgv_failures
create_db "$DB"
psql_script "$DB" >/dev/null <<'SQL'
CREATE TABLE t (a int, b text);
INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 1000) g;
SQL

# no_data_files REPO WHAT: REPO holds nothing but the catalog and the lock (or does not
# exist).
no_data_files() {
    local f
    [[ -d "$1" ]] || return 0
    while IFS= read -r f; do
        case "$f" in
            catalog.db | catalog.db-wal | catalog.db-shm | catalog.db-journal | .lock | .locks) ;;
            *) fail "$2: unexpected file [$f] left in the repository" ;;
        esac
    done < <(repo_files "$1")
}

# complete_rows REPO: the number of complete backups (0 without a catalog).
complete_rows() {
    if [[ -f "$1/catalog.db" ]]; then
        catalog_q "$1" "SELECT count(*) FROM backups WHERE status = 'complete'"
    else
        echo 0
    fi
}

# expect_failed_row REPO WHAT: the repository's only backup row is 'failed' with an
# error text.
expect_failed_row() {
    assert_eq "$(catalog_q "$1" "SELECT count(*) FROM backups")" 1 "$2: backups rows"
    assert_eq "$(catalog_q "$1" "SELECT status FROM backups")" failed "$2: status"
    assert_ne "$(catalog_q "$1" "SELECT coalesce(error, '') FROM backups")" "" "$2: error text"
}

# fake_pg_dump DIR BODY: DIR/pg_dump answers --version like pg_dump 15.18 and
# otherwise runs BODY (bash).
fake_pg_dump() {
    mkdir -p "$1"
    # shellcheck disable=SC2016
    {
        printf '#!/usr/bin/env bash\n'
        printf 'for a in "$@"; do\n'
        printf '    case "$a" in --version | -V) echo "pg_dump (PostgreSQL) 15.18"; exit 0 ;; esac\n'
        printf 'done\n'
        printf '%s\n' "$2"
    } >"$1/pg_dump"
    chmod 0755 "$1/pg_dump"
}

# The head of a real-looking dump of $DB, up to the rows of public.t.
DUMP_HEAD="cat <<'EOF'
--
-- PostgreSQL database dump
--

-- Dumped from database version 15.18
-- Dumped by pg_dump version 15.18

SET statement_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);

CREATE TABLE public.t (
    a integer,
    b text
);

--
-- Data for Name: t; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.t (a, b) FROM stdin;
EOF"

# (a) A database that does not exist: exit 5, one error line, nothing written.
note "(a) missing database"
REPO=$SCRATCH/repo_a
run_pgvault backup -d "$REPO" --db pgv_failures_no_such_db
expect_rc 5 "backup of a missing database"
expect_error_line "backup of a missing database"
assert_contains "$ERR" pgv_failures_no_such_db "error naming the missing database"
no_data_files "$REPO" "backup of a missing database"
assert_eq "$(complete_rows "$REPO")" 0 "complete rows after a missing database"

# (b) pg_dump killed by SIGKILL after 2 MB of rows: exit 1, row failed, no file.
note "(b) pg_dump killed half-way"
fake_pg_dump "$SCRATCH/fake_kill" "$DUMP_HEAD
seq 1 250000 | sed 's/\$/\trow/'
kill -9 \$\$"
REPO=$SCRATCH/repo_b
PGVAULT_PG_BINDIR=$SCRATCH/fake_kill run_pgvault backup -d "$REPO" --db "$DB"
expect_rc 1 "backup with a pg_dump killed by SIGKILL"
expect_error_line "backup with a pg_dump killed by SIGKILL"
assert_contains "${ERR%%$'\n'*}" "pg_dump terminated unexpectedly by signal 9" \
    "error line naming pg_dump and the signal"
no_data_files "$REPO" "backup with a pg_dump killed by SIGKILL"
expect_failed_row "$REPO" "backup with a pg_dump killed by SIGKILL"

# (b') pg_dump exiting 1 half-way, with a message of its own.
note "(b') pg_dump exits 1 half-way"
fake_pg_dump "$SCRATCH/fake_exit1" "$DUMP_HEAD
seq 1 1000 | sed 's/\$/\trow/'
echo 'pg_dump: error: Dumping the contents of table \"t\" failed: PQgetResult() failed.' >&2
echo 'pg_dump: error: Error message from server: server closed the connection unexpectedly' >&2
exit 1"
REPO=$SCRATCH/repo_b2
PGVAULT_PG_BINDIR=$SCRATCH/fake_exit1 run_pgvault backup -d "$REPO" --db "$DB"
expect_rc 1 "backup with a pg_dump that exits 1"
expect_error_line "backup with a pg_dump that exits 1"
# an exit status is a failure with a code; "terminated unexpectedly" is for a signal
assert_contains "${ERR%%$'\n'*}" "pg_dump failed with exit code 1: pg_dump: error: Dumping" \
    "error line naming pg_dump and its exit code"
no_data_files "$REPO" "backup with a pg_dump that exits 1"
expect_failed_row "$REPO" "backup with a pg_dump that exits 1"

# (c) pg_dump exiting 0 without the '-- PostgreSQL database dump complete' trailer.
note "(c) pg_dump exits 0 without the trailer"
fake_pg_dump "$SCRATCH/fake_notrailer" "$DUMP_HEAD
seq 1 1000 | sed 's/\$/\trow/'
printf '\\\\.\n\n'
exit 0"
REPO=$SCRATCH/repo_c
PGVAULT_PG_BINDIR=$SCRATCH/fake_notrailer run_pgvault backup -d "$REPO" --db "$DB"
expect_rc 1 "backup with a dump that lacks the trailer"
expect_error_line "backup with a dump that lacks the trailer"
no_data_files "$REPO" "backup with a dump that lacks the trailer"
expect_failed_row "$REPO" "backup with a dump that lacks the trailer"

# (d) Backups back to back: distinct files, the ones within one second numbered _2, _3.
note "(d) three backups back to back"
REPO=$SCRATCH/repo_d
for i in 1 2 3; do
    run_pgvault backup -d "$REPO" --db "$DB"
    expect_rc 0 "backup $i of 3"
done
assert_eq "$(catalog_q "$REPO" "SELECT count(*) FROM backups WHERE status = 'complete'")" 3 \
    "complete rows after three backups"
assert_eq "$(catalog_q "$REPO" "SELECT count(DISTINCT file_name) FROM backups")" 3 \
    "distinct file names after three backups"
declare -A seen=()
collisions=0
while IFS= read -r name; do
    assert_match "$name" "^${DB}_([0-9]{8}_[0-9]{6})(_[0-9]+)?\\.sql\\.gz\$" "file name $name"
    stamp=${BASH_REMATCH[1]}
    suffix=${BASH_REMATCH[2]}
    seen[$stamp]=$((${seen[$stamp]:-0} + 1))
    if ((seen[$stamp] == 1)); then
        assert_eq "$suffix" "" "suffix of the first backup named $stamp"
    else
        assert_eq "$suffix" "_${seen[$stamp]}" "suffix of backup ${seen[$stamp]} named $stamp"
        collisions=$((collisions + 1))
    fi
    [[ -f "$REPO/$name" ]] || fail "catalog names $name, which is not in the repository"
    gzip -t "$REPO/$name" || fail "gzip -t $name failed"
done < <(catalog_q "$REPO" "SELECT file_name FROM backups ORDER BY id")
note "(d) $collisions name collision(s) within one second exercised"
ndumps=$(repo_files "$REPO" | grep -c '\.sql\.gz$' || true)
assert_eq "$ndumps" 3 "dump files after three backups"

# (e) -Z out of range: a usage error before anything is touched.
for level in 0 10 x; do
    note "(e) -Z $level"
    REPO=$SCRATCH/repo_e
    run_pgvault backup -d "$REPO" --db "$DB" -Z "$level"
    expect_rc 2 "backup -Z $level"
    expect_error_line "backup -Z $level"
    assert_contains "$ERR" 'Try "pgvault backup --help"' "usage hint of backup -Z $level"
    [[ ! -e "$REPO" ]] || fail "backup -Z $level created the repository"
done

# (e') -Z 1 is in range.
note "(e') -Z 1"
REPO=$SCRATCH/repo_z1
run_pgvault backup -d "$REPO" --db "$DB" -Z 1
expect_rc 0 "backup -Z 1"
assert_eq "$(catalog_q "$REPO" "SELECT compression || ' ' || coalesce(compression_level, '') FROM backups")" \
    "gzip 1" "compression of backup -Z 1"
name=$(catalog_q "$REPO" "SELECT file_name FROM backups")
gzip -t "$REPO/$name" || fail "gzip -t $name failed"

# (f) -n: an uncompressed .sql file whose checksum and size are the raw ones.
note "(f) -n"
REPO=$SCRATCH/repo_f
run_pgvault backup -d "$REPO" --db "$DB" -n
expect_rc 0 "backup -n"
name=$(catalog_q "$REPO" "SELECT file_name FROM backups WHERE status = 'complete'")
assert_match "$name" "^${DB}_[0-9]{8}_[0-9]{6}\\.sql\$" "file name of backup -n"
FILE=$REPO/$name
[[ -f "$FILE" ]] || fail "$name is not in the repository"
assert_eq "$(file_mode "$FILE")" 600 "mode of $name"
bk() { catalog_q "$REPO" "SELECT $1 FROM backups WHERE file_name = '$name'"; }
assert_eq "$(bk compression)" none "compression of backup -n"
assert_eq "$(bk size_bytes)" "$(stat -c %s "$FILE")" "size_bytes of backup -n"
assert_eq "$(bk raw_bytes)" "$(bk size_bytes)" "raw_bytes of backup -n"
assert_eq "$(bk checksum)" "$(xxh128 "$FILE")" "checksum of backup -n"
assert_eq "$(bk raw_checksum)" "$(bk checksum)" "raw_checksum of backup -n"
grep -qx -- '-- PostgreSQL database dump complete' "$FILE" ||
    fail "$name lacks the dump trailer"
ngz=$(repo_files "$REPO" | grep -c '\.gz$' || true)
assert_eq "$ngz" 0 "gzip files after backup -n"

# (g) The final name taken while pg_dump ran (here by a pre_backup_hook writing
#     $PGVAULT_FILE): the rename refuses to replace it, and the file that is not ours
#     survives byte for byte; the backup fails, its row is failed, the partial is gone.
note "(g) the final name is taken by someone else"
REPO=$SCRATCH/repo_g
printf 'not a backup of pgvault\n\001\377\n' >"$SCRATCH/foreign.bin"
cat >"$SCRATCH/foreign.sh" <<SH
#!/bin/sh
cp "$SCRATCH/foreign.bin" "\$PGVAULT_FILE"
SH
chmod 0755 "$SCRATCH/foreign.sh"
printf 'pre_backup_hook = %s\n' "$SCRATCH/foreign.sh" >"$SCRATCH/foreign.conf"
run_pgvault backup --config "$SCRATCH/foreign.conf" -d "$REPO" --db "$DB"
expect_rc 1 "backup whose final name is taken"
expect_error_line "backup whose final name is taken"
assert_contains "$ERR" "File exists" "error naming the cause"
expect_failed_row "$REPO" "backup whose final name is taken"
name=$(catalog_q "$REPO" "SELECT file_name FROM backups")
[[ -f "$REPO/$name" ]] || fail "the foreign file $name was removed"
cmp "$SCRATCH/foreign.bin" "$REPO/$name" || fail "the foreign file $name was changed"
assert_eq "$(repo_files "$REPO" | grep -c '\.partial$' || true)" 0 "partial files left"

pass
