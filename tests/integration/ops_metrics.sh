#!/usr/bin/env bash
# Prometheus textfile metrics: metrics_file (config) or --metrics-file
# is rewritten after every backup run, successful or not, atomically (nothing else left
# in its directory), mode 0644; it passes "promtool check metrics"; its values are the
# catalog's; a failed run shows its exit code for the database it touched while the
# other databases keep theirs; label values are escaped; a metrics file that cannot be
# written is a warning, not a failed backup.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
require_cmd sqlite3 promtool

DB=pgv_ops_metrics
DB2=$'pgv_ops "we\\ird"\nname'
create_db "$DB"
create_db "$DB2"
psql_script "$DB" >/dev/null <<'SQL'
CREATE TABLE a (x int);
CREATE TABLE b (y text);
INSERT INTO a SELECT g FROM generate_series(1, 5000) g;
INSERT INTO b SELECT 'row ' || g FROM generate_series(1, 700) g;
SQL
REPO=$SCRATCH/repo
TEXTFILE=$SCRATCH/textfile
PROM=$TEXTFILE/pgvault.prom
mkdir -p "$TEXTFILE"
printf 'metrics_file = %s\n' "$PROM" >"$SCRATCH/metrics.conf"

# metric NAME [DB]: the value of NAME (for label db=DB, escaped as the format wants).
metric() {
    python3 - "$PROM" "$@" <<'PY'
import sys
path, name = sys.argv[1], sys.argv[2]
if len(sys.argv) > 3:
    db = sys.argv[3].replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    key = '%s{db="%s"}' % (name, db)
else:
    key = name
for line in open(path, encoding="utf-8"):
    if line.startswith(key + " "):
        print(line[len(key) + 1:].strip())
        break
PY
}

# check_file WHAT: promtool accepts the file, it is 0644 and alone in its directory.
check_file() {
    local out
    out=$(promtool check metrics <"$PROM" 2>&1) || fail "$1: promtool check metrics: $out"
    [[ -z "$out" ]] || fail "$1: promtool check metrics complains: $out"
    assert_eq "$(file_mode "$PROM")" 644 "$1: file mode"
    assert_eq "$(repo_files "$TEXTFILE")" "pgvault.prom" "$1: nothing but the file"
    assert_contains "$(cat "$PROM")" "# TYPE pgvault_last_backup_size_bytes gauge" "$1: TYPE"
    assert_contains "$(cat "$PROM")" "# HELP pgvault_last_backup_size_bytes " "$1: HELP"
}

# catalog_of ID COLUMN: a column of a backup row.
catalog_of() {
    catalog_q "$REPO" "SELECT $2 FROM backups WHERE id = $1"
}

note "two backups: the file holds the newest one's values, and the repository's size"
run_pgvault backup --config "$SCRATCH/metrics.conf" -d "$REPO" --db "$DB"
expect_rc 0 "first backup"
run_pgvault backup --config "$SCRATCH/metrics.conf" -d "$REPO" --db "$DB"
expect_rc 0 "second backup"
check_file "after two backups"
id=$(catalog_q "$REPO" "SELECT max(id) FROM backups WHERE status = 'complete'")
assert_eq "$(metric pgvault_last_backup_size_bytes "$DB")" "$(catalog_of "$id" size_bytes)" "size"
assert_eq "$(metric pgvault_last_backup_raw_bytes "$DB")" "$(catalog_of "$id" raw_bytes)" "raw"
assert_eq "$(metric pgvault_last_backup_tables "$DB")" 2 "tables"
assert_eq "$(metric pgvault_last_backup_rows "$DB")" 5700 "rows"
assert_eq "$(metric pgvault_last_exit_code "$DB")" 0 "exit code"
assert_eq "$(metric pgvault_complete_backups "$DB")" 2 "complete backups"
assert_eq "$(metric pgvault_repository_size_bytes)" \
    "$(catalog_q "$REPO" "SELECT sum(size_bytes) FROM backups WHERE status = 'complete'")" \
    "repository size"
assert_eq "$(metric pgvault_last_run_exit_code)" 0 "run exit code"
ts=$(metric pgvault_last_success_timestamp_seconds "$DB")
assert_eq "${ts%.*}" "$(catalog_of "$id" "CAST(strftime('%s', finished_at) AS INTEGER)")" \
    "last success time"
dur=$(metric pgvault_last_backup_duration_seconds "$DB")
assert_eq "$(python3 -c "print(round($dur * 1000))")" "$(catalog_of "$id" duration_ms)" "duration"
assert_match "$(metric pgvault_last_run_timestamp_seconds)" '^[0-9]{10}\.[0-9]{3}$' "run time"

note "--metrics-file on the command line"
run_pgvault backup -d "$REPO" --db "$DB" --metrics-file "$SCRATCH/flag.prom"
expect_rc 0 "backup --metrics-file"
promtool check metrics <"$SCRATCH/flag.prom" || fail "promtool: --metrics-file"
assert_contains "$(cat "$SCRATCH/flag.prom")" "pgvault_complete_backups{db=\"$DB\"} 3" "flag file"

note "a database that does not exist: its exit code 5, the others' kept"
run_pgvault backup --config "$SCRATCH/metrics.conf" -d "$REPO" --db "${DB}_missing"
expect_rc 5 "backup of a missing database"
check_file "after a failed run"
assert_eq "$(metric pgvault_last_exit_code "${DB}_missing")" 5 "missing database's exit code"
assert_eq "$(metric pgvault_last_run_exit_code)" 5 "run exit code"
assert_eq "$(metric pgvault_last_exit_code "$DB")" 0 "other database's exit code"
id=$(catalog_q "$REPO" "SELECT max(id) FROM backups WHERE status = 'complete'")
ts=$(metric pgvault_last_success_timestamp_seconds "$DB")
assert_eq "${ts%.*}" "$(catalog_of "$id" "CAST(strftime('%s', finished_at) AS INTEGER)")" \
    "other database's last success time"

note "pg_dump failing: exit code 1 until a backup of that database succeeds"
mkdir -p "$SCRATCH/fakebin"
version=$("$PG_DUMP" --version)
cat >"$SCRATCH/fakebin/pg_dump" <<SH
#!/bin/sh
case "\$1" in --version | -V) echo "$version"; exit 0 ;; esac
echo "pg_dump: error: simulated failure" >&2
exit 1
SH
chmod 0755 "$SCRATCH/fakebin/pg_dump"
PGVAULT_PG_BINDIR=$SCRATCH/fakebin run_pgvault backup --config "$SCRATCH/metrics.conf" \
    -d "$REPO" --db "$DB"
expect_rc 1 "failing pg_dump"
check_file "after a failed dump"
assert_eq "$(metric pgvault_last_exit_code "$DB")" 1 "exit code after a failed dump"
assert_eq "$(metric pgvault_last_success_timestamp_seconds "$DB")" "$ts" "success time kept"
assert_eq "$(metric pgvault_last_backup_size_bytes "$DB")" "$(catalog_of "$id" size_bytes)" \
    "size of the last complete backup kept"

note "another database's run keeps the failure from the catalog; labels are escaped"
run_pgvault backup --config "$SCRATCH/metrics.conf" -d "$REPO" --db "$DB2"
expect_rc 0 "backup of the oddly named database"
check_file "with an odd database name"
assert_eq "$(metric pgvault_last_exit_code "$DB")" 1 "failure kept from the catalog"
assert_eq "$(metric pgvault_last_exit_code "$DB2")" 0 "odd name's exit code"
assert_contains "$(cat "$PROM")" 'pgvault_last_backup_tables{db="pgv_ops \"we\\ird\"\nname"} 0' \
    "escaped label"
assert_eq "$(metric pgvault_repository_size_bytes)" \
    "$(catalog_q "$REPO" "SELECT sum(size_bytes) FROM backups WHERE status = 'complete'")" \
    "repository size with two databases"

note "a metrics file that cannot be written is a warning"
run_pgvault backup -d "$REPO" --db "$DB" --metrics-file "$SCRATCH/no/such/dir/pgvault.prom"
expect_rc 0 "backup with an unwritable metrics file"
assert_contains "$ERR" \
    "pgvault: warning: could not create a temporary file beside metrics file \"$SCRATCH/no/such/dir/pgvault.prom\"" \
    "warning"

note "only a regular file is ever replaced: a FIFO, a symlink or a device stays as it is"
mkfifo "$SCRATCH/metrics.fifo"
printf 'target\n' >"$SCRATCH/link-target"
ln -s "$SCRATCH/link-target" "$SCRATCH/metrics.link"
odd=("$SCRATCH/metrics.fifo" "$SCRATCH/metrics.link")
if [[ $(id -u) -eq 0 ]]; then
    mknod -m 0666 "$SCRATCH/metrics.null" c 1 3 # a /dev/null of our own
    odd+=("$SCRATCH/metrics.null")
else
    note "not root: the character device case is left out (mknod needs root)"
fi
for path in "${odd[@]}"; do
    before=$(stat -c '%F %t:%T %N' "$path")
    run_pgvault backup -d "$REPO" --db "$DB" --metrics-file "$path"
    expect_rc 0 "backup with the metrics file at a $(stat -c %F "$path")"
    assert_contains "$ERR" \
        "pgvault: warning: metrics file \"$path\" is not a regular file; refusing to replace it" \
        "warning for $path"
    assert_eq "$(stat -c '%F %t:%T %N' "$path")" "$before" "$path unchanged"
done
assert_eq "$(cat "$SCRATCH/link-target")" target "the symlink's target unchanged"
leftovers=$(cd "$SCRATCH" && find . -maxdepth 1 -name '.metrics.*' | wc -l)
assert_eq "$leftovers" 0 "temporary metrics files left beside them"

pass
