#!/usr/bin/env bash
# backup --all: the cluster's globals as "@globals" and every database
# that accepts connections, one catalog row each; one failure does not stop the others
# and makes the exit code 1, with a last line that says how many failed.
#
# Its subject is the whole cluster, so it runs on a cluster of its own: the databases
# that tests running at the same time create and drop are not there, and every
# assertion can be exact.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
private_cluster

repo=$SCRATCH/repo
db_a=pgvall_a
db_b="pgvall b'q"
create_db "$db_a"
create_db "$db_b"
create_db pgvall_noconn
psql_q "$db_a" "CREATE TABLE t (i int); INSERT INTO t SELECT generate_series(1, 250)" >/dev/null
psql_q postgres "ALTER DATABASE pgvall_noconn ALLOW_CONNECTIONS false" >/dev/null

# sqlq TEXT: TEXT as an SQL string literal.
sqlq() {
    printf "'%s'" "${1//\'/\'\'}"
}

# status_of FIRST_ID DB: the status of DB's row after catalog id FIRST_ID.
status_of() {
    catalog_q "$repo" "SELECT status FROM backups WHERE id > $1 AND db_name = $(sqlq "$2")"
}

note "every database and the globals, one row each"
run_pgvault backup --all -d "$repo" --no-progress
expect_rc 0 "backup --all"
for db in @globals postgres "$db_a" "$db_b"; do
    assert_eq "$(status_of 0 "$db")" complete "row of $db"
done
assert_eq "$(catalog_q "$repo" "SELECT count(*) FROM backups WHERE db_name IN ('template0', 'template1', 'pgvall_noconn')")" 0 "rows of databases that take no connections"
assert_eq "$(catalog_q "$repo" "SELECT table_count || ' ' || row_count FROM backups WHERE db_name = '$db_a'")" "1 250" "counts of $db_a"
assert_eq "$(catalog_q "$repo" "SELECT group_concat(db_name, '|') FROM (SELECT db_name FROM backups ORDER BY db_name)")" \
    "@globals|$db_b|pgvall_a|postgres" "the databases backed up: every one that takes connections"
assert_contains "$OUT" "all 4 backups complete: the cluster's globals and 3 databases" "summary"

note "the globals: pg_dumpall --globals-only under its own name, with its trailer"
gfile=$(catalog_q "$repo" "SELECT file_name FROM backups WHERE db_name = '@globals'")
assert_match "$gfile" '^%40globals_[0-9]{8}_[0-9]{6}\.sql\.gz$' "globals file name"
assert_eq "$(file_mode "$repo/$gfile")" 600 "globals file mode"
assert_eq "$(xxh128 "$repo/$gfile")" "$(catalog_q "$repo" "SELECT checksum FROM backups WHERE db_name = '@globals'")" "globals checksum"
globals=$(gzip -dc "$repo/$gfile")
assert_contains "$globals" "CREATE ROLE postgres;" "globals content"
assert_contains "$globals" "-- PostgreSQL database cluster dump complete" "globals trailer"
assert_eq "$(catalog_q "$repo" "SELECT table_count || ' ' || row_count || ' ' || (server_version IS NOT NULL) FROM backups WHERE db_name = '@globals'")" "0 0 1" "globals row"
b_file=$(catalog_q "$repo" "SELECT file_name FROM backups WHERE db_name = $(sqlq "$db_b")")
assert_match "$b_file" "^pgvall%20b%27q_[0-9]{8}_[0-9]{6}\.sql\.gz$" "encoded file name"

note "--json: one document that lists every backup"
run_pgvault backup --all -d "$repo" --json --no-prune
expect_rc 0 "backup --all --json"
summary=$(printf '%s' "$OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
names = [b["db_name"] for b in d["backups"]]
print(d["outcome"], names[0], "pgvall_a" in names, d["failed"] == sum(b["outcome"] == "failed" for b in d["backups"]))')
assert_eq "$summary" "complete @globals True True" "JSON document"

note "one database failing does not stop the others"
mkdir "$SCRATCH/bin"
# pg_dump that fails for database pgvall_a only; the real one for everything else
cat >"$SCRATCH/bin/pg_dump" <<EOF
#!/bin/bash
for a in "\$@"; do
    if [[ "\$a" == *"dbname='pgvall_a'"* ]]; then
        echo "pg_dump: error: simulated failure" >&2
        exit 1
    fi
done
exec "$(client pg_dump)" "\$@"
EOF
chmod +x "$SCRATCH/bin/pg_dump"
ln -s "$(client pg_dumpall)" "$SCRATCH/bin/pg_dumpall"
run3_first=$(catalog_q "$repo" "SELECT max(id) FROM backups")
PGVAULT_PG_BINDIR=$SCRATCH/bin run_pgvault backup --all -d "$repo" --no-progress
expect_rc 1 "backup --all with one failing database"
assert_contains "$ERR" 'pgvault: backup of database "pgvall_a" failed: pg_dump failed with exit code 1: pg_dump: error: simulated failure' "the failure, reported as it happened"
last=$(printf '%s\n' "$ERR" | grep '^pgvault: ' | tail -n 1)
assert_match "$last" '^pgvault: 1 of 4 backups failed: .*"pgvall_a"' "last line"
assert_eq "$(catalog_q "$repo" "SELECT count(*) FROM backups WHERE status = 'failed' AND id > $run3_first")" 1 "failed rows"
assert_eq "$(status_of "$run3_first" pgvall_a)" failed "row of the failing database"
for db in @globals postgres "$db_b"; do
    assert_eq "$(status_of "$run3_first" "$db")" complete "row of $db after another failed"
done
assert_eq "$(find "$repo" -name '*.partial' | wc -l)" 0 "partial files left"

note "globals without pg_dumpall's trailer are a failed backup"
rm "$SCRATCH/bin/pg_dump" "$SCRATCH/bin/pg_dumpall"
ln -s "$(client pg_dump)" "$SCRATCH/bin/pg_dump"
cat >"$SCRATCH/bin/pg_dumpall" <<EOF
#!/bin/bash
[[ "\$1" == --version ]] && exec "$(client pg_dumpall)" --version
printf -- '--\n-- PostgreSQL database cluster dump\n--\n\nCREATE ROLE x;\n'
EOF
chmod +x "$SCRATCH/bin/pg_dumpall"
run4_first=$(catalog_q "$repo" "SELECT max(id) FROM backups")
PGVAULT_PG_BINDIR=$SCRATCH/bin run_pgvault backup --all -d "$repo" --no-progress
expect_rc 1 "backup --all with truncated globals"
assert_contains "$ERR" "pgvault: backup of the cluster's globals failed: pg_dumpall output for the cluster's globals is incomplete: no \"cluster dump complete\" trailer" "globals error"
assert_eq "$(status_of "$run4_first" @globals)" failed "globals row"
assert_eq "$(status_of "$run4_first" "$db_a")" complete "row of $db_a after the globals failed"
assert_eq "$(catalog_q "$repo" "SELECT count(*) FROM backups WHERE status = 'failed' AND id > $run4_first")" 1 "failed rows"

note "a database called @globals is refused, not mixed up with the globals"
create_db @globals
run_pgvault backup -d "$repo" --db @globals --no-progress
expect_rc 1 "backup --db @globals"
expect_error_line "backup --db @globals"
assert_contains "$ERR" 'the name is reserved' "reserved name"

note "--all and --db together are a usage error"
run_pgvault backup --all --db postgres -d "$repo"
expect_rc 2 "--all --db"
expect_error_line "--all --db"

pass
