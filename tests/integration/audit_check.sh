#!/usr/bin/env bash
# pgvault check, the monitoring line: OK right after a backup; CRITICAL when the newest
# complete backup is older than --max-age (default 26 hours), its file is missing, the
# last run failed, or there is no backup at all; WARNING for a suspect backup; without
# --db the worst database decides. Exit codes 0/1/2 as Nagios wants them, and 3 (UNKNOWN)
# for bad arguments or configuration.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
require_cmd sqlite3 python3

DB=pgv_audit_check
OTHER=pgv_audit_check2
REPO=$SCRATCH/repo
create_db "$DB"
create_db "$OTHER"
psql_q "$DB" "CREATE TABLE big AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 20000) g" >/dev/null
psql_q "$OTHER" "CREATE TABLE t AS SELECT 1 AS a" >/dev/null

# expect_check RC STATE WHAT: the last run printed one "PGVAULT STATE - …" line on stdout,
# nothing on stderr, and exited RC.
expect_check() {
    expect_rc "$1" "$3"
    [[ "$OUT" != *$'\n'* ]] || fail "$3: more than one line:
$OUT"
    assert_match "$OUT" "^PGVAULT $2 - " "$3"
    assert_eq "$ERR" "" "$3: stderr"
}

# 1. No catalog yet: CRITICAL.
mkdir -m 0700 "$REPO"
run_pgvault check -d "$REPO"
expect_check 2 CRITICAL "check of an empty repository"

# 2. Right after a backup: OK, with perfdata.
for i in 1 2 3; do
    run_pgvault backup -d "$REPO" --db "$DB"
    expect_rc 0 "backup $i"
done
run_pgvault check -d "$REPO"
expect_check 0 OK "check after a backup"
assert_contains "$OUT" "$DB: newest backup" "check after a backup"
assert_match "$OUT" "\| '$DB age'=[0-9]+s;;93600;0 '$DB size'=[0-9]+B;;;0$" "perfdata"
run_pgvault check -d "$REPO" --db "$DB" --json
expect_rc 0 "check --json"
python3 -c "import json, sys
d = json.loads(sys.stdin.read())
assert d['state'] == 'OK' and d['code'] == 0 and d['max_age_hours'] == 26
assert d['databases'][0]['db_name'] == '$DB' and d['databases'][0]['state'] == 'OK'
assert 0 <= d['databases'][0]['age_seconds'] < 3600" <<<"$OUT" || fail "check --json: $OUT"

# 3. The newest backup 30 hours old: CRITICAL with the default max age, OK with 48.
catalog_q "$REPO" "UPDATE backups SET
    started_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-30 hours'),
    finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-30 hours', '+2 seconds')"
run_pgvault check -d "$REPO"
expect_check 2 CRITICAL "check with a 30 hours old backup"
assert_match "$OUT" "$DB: newest complete backup [0-9]+ is 30\.[0-9] h old \(max 26 h\)" \
    "reason of the CRITICAL"
run_pgvault check -d "$REPO" --max-age 48
expect_check 0 OK "check --max-age 48"
run_pgvault check -d "$REPO" --max-age 29
expect_check 2 CRITICAL "check --max-age 29"
# bad arguments are UNKNOWN (exit 3) for Nagios, never CRITICAL (2): one "pgvault: " line
# and the usage hint, nothing on stdout
expect_unknown() {
    expect_rc 3 "$1"
    expect_error_line "$1"
    assert_contains "$ERR" 'Try "pgvault check --help"' "$1: usage hint"
    [[ -z "$OUT" ]] || fail "$1 printed on stdout: $OUT"
}
run_pgvault check -d "$REPO" --max-age 0
expect_unknown "check --max-age 0"
run_pgvault check -d "$REPO" --max-age -1
expect_unknown "check --max-age -1"
assert_eq "${ERR%%$'\n'*}" "pgvault: --max-age must be in range 1..876000" "check --max-age -1 message"
run_pgvault check -d "$REPO" --max-age x
expect_unknown "check --max-age x"
run_pgvault check -d "$REPO" --max-age
expect_unknown "check --max-age without a value"
run_pgvault check -d "$REPO" --no-such-option
expect_unknown "check --no-such-option"
run_pgvault check -d "$REPO" --all
expect_unknown "check --all (another command's option)"
run_pgvault check -d "$REPO" extra
expect_unknown "check with an argument"
run_pgvault --max-age=5 check -d "$REPO"
expect_rc 3 "--max-age before check"
expect_error_line "--max-age before check"
# a configuration error is a usage error too: UNKNOWN, one line naming the file
printf 'retention_days = forever\n' >"$SCRATCH/bad.conf"
run_pgvault check -d "$REPO" --config "$SCRATCH/bad.conf"
expect_rc 3 "check with a bad config file"
expect_error_line "check with a bad config file"
assert_contains "$ERR" "bad.conf" "check with a bad config file: the file is named"
# other commands keep exit 2 for the same mistakes
run_pgvault list -d "$REPO" --max-age 5
expect_rc 2 "list --max-age"

# 4. A suspect newest backup (raw size under half the median): WARNING.
psql_q "$DB" "DELETE FROM big WHERE id > 10" >/dev/null
run_pgvault backup -d "$REPO" --db "$DB"
expect_rc 0 "backup of the shrunk database"
newest=$(catalog_q "$REPO" "SELECT max(id) FROM backups")
assert_eq "$(catalog_q "$REPO" "SELECT suspect FROM backups WHERE id = $newest")" 1 "suspect flag"
run_pgvault check -d "$REPO"
expect_check 1 WARNING "check with a suspect backup"
assert_contains "$OUT" "backup $newest is suspect" "reason of the WARNING"

# 5. The newest complete backup's file is missing: CRITICAL.
file=$(catalog_q "$REPO" "SELECT file_name FROM backups WHERE id = $newest")
mv "$REPO/$file" "$SCRATCH/"
run_pgvault check -d "$REPO"
expect_check 2 CRITICAL "check with a missing file"
assert_contains "$OUT" "file of backup $newest is missing" "reason of the CRITICAL"
mv "$SCRATCH/$file" "$REPO/"
run_pgvault check -d "$REPO"
expect_check 1 WARNING "check with the file back"

# 6. The last run failed: CRITICAL, with pg_dump's error.
FAKE=$SCRATCH/fake
mkdir -p "$FAKE"
cat >"$FAKE/pg_dump" <<EOF
#!/usr/bin/env bash
for a in "\$@"; do
    case "\$a" in --version | -V) exec "$PG_DUMP" --version ;; esac
done
echo 'pg_dump: error: connection to server lost' >&2
exit 1
EOF
chmod 0755 "$FAKE/pg_dump"
PGVAULT_PG_BINDIR=$FAKE run_pgvault backup -d "$REPO" --db "$DB"
expect_rc 1 "backup with a failing pg_dump"
failed=$(catalog_q "$REPO" "SELECT max(id) FROM backups WHERE status = 'failed'")
[[ -n "$failed" ]] || fail "no failed backup row"
run_pgvault check -d "$REPO"
expect_check 2 CRITICAL "check after a failed run"
assert_contains "$OUT" "last backup $failed failed" "reason of the CRITICAL"
assert_contains "$OUT" "connection to server lost" "the error in the CRITICAL"

# 7. A good backup afterwards: OK again (the failure is no longer the last run).
psql_q "$DB" "INSERT INTO big SELECT g, md5(g::text) FROM generate_series(11, 20000) g" >/dev/null
run_pgvault backup -d "$REPO" --db "$DB"
expect_rc 0 "backup after the failure"
run_pgvault check -d "$REPO"
expect_check 0 OK "check after a good backup"

# 8. Two databases: the worst wins, problems come first; --db checks one.
run_pgvault backup -d "$REPO" --db "$OTHER"
expect_rc 0 "backup of $OTHER"
catalog_q "$REPO" "UPDATE backups SET started_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-3 days')
                   WHERE db_name = '$OTHER'"
run_pgvault check -d "$REPO"
expect_check 2 CRITICAL "check of two databases"
assert_match "$OUT" "^PGVAULT CRITICAL - $OTHER: newest complete backup [0-9]+ is 3\.0 d old .*; $DB: newest backup" \
    "the CRITICAL database first, then the OK one"
run_pgvault check -d "$REPO" --db "$DB"
expect_check 0 OK "check --db $DB"
run_pgvault check -d "$REPO" --db "${DB}_nosuch"
expect_check 2 CRITICAL "check --db of a database without backups"
assert_contains "$OUT" "no complete backup" "check --db of a database without backups"

pass
