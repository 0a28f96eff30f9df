#!/usr/bin/env bash
# The audit surface as programs and people read it: list, show, log and query print JSON
# that parses and carries the fields, CSV with a header row, tables for people; log shows
# every backup with its OS user; diff names an added, a dropped and a shrunk table; the
# views of schema/002_views.sql answer their questions.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
require_cmd python3 sqlite3 xxhsum

DB=pgv_audit_out
REPO=$SCRATCH/repo
ME=$(id -un)
create_db "$DB"
psql_script "$DB" >/dev/null <<'SQL'
CREATE TABLE orders (id int PRIMARY KEY, note text);
INSERT INTO orders SELECT g, 'order ' || g FROM generate_series(1, 1000) g;
CREATE TABLE scratch (a int);
INSERT INTO scratch SELECT generate_series(1, 10);
SQL

# json_assert WHAT PYTHON: runs PYTHON with the last stdout parsed as d; fails on an
# exception (a failed assert included).
json_assert() {
    python3 -c "import json, re, sys
d = json.loads(sys.stdin.read())
$2" <<<"$OUT" || fail "$1: the JSON output does not hold:
$OUT"
}

# csv_assert WHAT PYTHON: the same with rows = the CSV parsed into dicts (header row first).
csv_assert() {
    python3 -c "import csv, io, sys
text = sys.stdin.read()
rows = list(csv.DictReader(io.StringIO(text)))
header = text.splitlines()[0]
$2" <<<"$OUT" || fail "$1: the CSV output does not hold:
$OUT"
}

# 1. Two backups: the second has a table added, one dropped, one shrunk.
LABEL='first, "quoted"'
run_pgvault backup -d "$REPO" --db "$DB" --label "$LABEL"
expect_rc 0 "first backup"
psql_script "$DB" >/dev/null <<'SQL'
CREATE TABLE invoices AS SELECT g AS id FROM generate_series(1, 120) g;
DELETE FROM orders WHERE id > 900;
DROP TABLE scratch;
SQL
run_pgvault backup -d "$REPO" --db "$DB"
expect_rc 0 "second backup"
id1=$(catalog_q "$REPO" "SELECT min(id) FROM backups")
id2=$(catalog_q "$REPO" "SELECT max(id) FROM backups")
file1=$(catalog_q "$REPO" "SELECT file_name FROM backups WHERE id = $id1")
file2=$(catalog_q "$REPO" "SELECT file_name FROM backups WHERE id = $id2")
sum1=$(xxh128 "$REPO/$file1")

# 2. list: JSON array of objects with exact integers and ISO-8601 UTC times; CSV.
run_pgvault list -d "$REPO" --json
expect_rc 0 "list --json"
json_assert "list --json" "
assert isinstance(d, list) and len(d) == 2
assert [b['id'] for b in d] == [$id2, $id1], 'newest first'
for b in d:
    for k in ('id', 'db_name', 'file_name', 'status', 'started_at', 'finished_at', 'size_bytes',
              'raw_bytes', 'checksum', 'table_count', 'row_count', 'pinned', 'suspect', 'label'):
        assert k in b, k
    assert type(b['size_bytes']) is int and b['size_bytes'] > 0
    assert type(b['row_count']) is int
    assert re.fullmatch(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z', b['started_at'])
assert d[1]['label'] == '''$LABEL'''
assert d[1]['checksum'] == '$sum1'
assert d[1]['row_count'] == 1010 and d[0]['row_count'] == 1020
"
run_pgvault list -d "$REPO" --csv
expect_rc 0 "list --csv"
csv_assert "list --csv" "
assert header.startswith('id,db_name,file_name,status,')
assert len(rows) == 2
assert rows[1]['label'] == '''$LABEL''', rows[1]['label']
assert rows[1]['size_bytes'].isdigit()
"

# 3. show: every column, the tables, the restores and the events.
run_pgvault show -d "$REPO" "$id1" --json
expect_rc 0 "show --json"
json_assert "show --json" "
assert isinstance(d, dict)
assert d['id'] == $id1 and d['db_name'] == '$DB' and d['file_name'] == '$file1'
assert d['status'] == 'complete' and d['origin'] == 'backup' and d['file_state'] == 'present'
assert d['checksum'] == '$sum1' and d['checksum_algo'] == 'XXH3-128'
assert d['label'] == '''$LABEL''' and d['pinned'] is False and d['suspect'] is False
assert d['server_version'] and d['pg_dump_version'] and d['duration_ms'] >= 0
assert type(d['size_bytes']) is int and type(d['raw_bytes']) is int
assert d['verified_at'] is None and d['restores'] == []
assert d['compression'] == 'gzip' and d['compression_level'] == 6
assert d['locale_provider'] in ('c', 'i') and 'icu_locale' in d, (d.get('locale_provider'), d.get('icu_locale'))
t = {(x['schema_name'], x['table_name']): x['row_count'] for x in d['tables']}
assert t == {('public', 'orders'): 1000, ('public', 'scratch'): 10}, t
assert d['table_count'] == 2 and d['row_count'] == 1010
e = d['events']
assert len(e) == 1 and e[0]['action'] == 'backup' and e[0]['actor'] == '$ME'
assert e[0]['outcome'] == 'ok'
"
run_pgvault show -d "$REPO" "$id1"
expect_rc 0 "show"
for want in "backup $id1: $file1" "$sum1" "orders" "scratch" "1000" "restores: none" \
    "verified        never" "locale provider libc" "$LABEL"; do
    assert_contains "$OUT" "$want" "show (for people)"
done
# "latest" is the newest complete backup of --db; a file name works too
run_pgvault show -d "$REPO" --db "$DB" latest --json
expect_rc 0 "show latest"
json_assert "show latest" "assert d['id'] == $id2"
run_pgvault show -d "$REPO" "$file1" --json
expect_rc 0 "show FILE"
json_assert "show FILE" "assert d['id'] == $id1"
run_pgvault show -d "$REPO" 999
expect_rc 2 "show of an unknown id"
expect_error_line "show of an unknown id"
# a verification shows
run_pgvault verify -d "$REPO" "$id1"
expect_rc 0 "verify"
run_pgvault show -d "$REPO" "$id1" --json
json_assert "show after verify" "
assert re.fullmatch(r'\d{4}-\d\d-\d\dT.*Z', d['verified_at'] or ''), d['verified_at']
assert [x['action'] for x in d['events']] == ['verify', 'backup']
"

# 4. log: every backup with its actor, newest first; --since; JSON and CSV.
run_pgvault log -d "$REPO" --json
expect_rc 0 "log --json"
json_assert "log --json" "
assert isinstance(d, list) and len(d) == 3
assert [x['action'] for x in d] == ['verify', 'backup', 'backup'], 'newest first'
for x in d:
    for k in ('id', 'at', 'action', 'backup_id', 'db_name', 'actor', 'outcome', 'detail'):
        assert k in x, k
    assert x['actor'] == '$ME' and x['outcome'] == 'ok'
    assert re.fullmatch(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z', x['at'])
assert [x['backup_id'] for x in d if x['action'] == 'backup'] == [$id2, $id1]
assert d[2]['file_name'] == '$file1' and d[2]['db_name'] == '$DB'
"
run_pgvault log -d "$REPO" --csv
expect_rc 0 "log --csv"
csv_assert "log --csv" "
assert header == 'id,at,action,backup_id,db_name,file_name,actor,outcome,detail', header
assert len(rows) == 3 and all(r['actor'] == '$ME' for r in rows)
assert rows[2]['action'] == 'backup' and rows[2]['backup_id'] == '$id1'
"
run_pgvault log -d "$REPO"
expect_rc 0 "log"
assert_contains "$OUT" "ACTOR" "log (for people)"
assert_match "$OUT" "backup +$id1 +$DB +$ME +ok" "log line of the first backup"
for since in 1h 2d "$(date -u +%Y-%m-%d)" "$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)"; do
    run_pgvault log -d "$REPO" --since "$since" --json
    expect_rc 0 "log --since $since"
    json_assert "log --since $since" "assert len(d) == 3"
done
run_pgvault log -d "$REPO" --since 2999-01-01 --json
expect_rc 0 "log --since a future date"
json_assert "log --since a future date" "assert d == []"
for bad in yesterday 2026-02-30 24 -3d '2026-11-01T25:00:00Z'; do
    run_pgvault log -d "$REPO" --since "$bad"
    expect_rc 2 "log --since $bad"
    expect_error_line "log --since $bad"
    assert_contains "$ERR" "--since" "log --since $bad"
done

# 5. query: JSON, CSV and a table; the views answer their questions.
run_pgvault query -d "$REPO" --json "SELECT id, db_name, file_name, age_hours FROM latest_backups"
expect_rc 0 "query latest_backups"
json_assert "query latest_backups" "
assert len(d) == 1 and d[0]['id'] == $id2 and d[0]['file_name'] == '$file2'
assert type(d[0]['id']) is int and isinstance(d[0]['age_hours'], (int, float))
"
run_pgvault query -d "$REPO" --json "SELECT backup_id, row_count, row_change FROM table_history
    WHERE db_name = '$DB' AND table_name = 'orders' ORDER BY started_at"
expect_rc 0 "query table_history"
json_assert "query table_history" "
assert d == [{'backup_id': $id1, 'row_count': 1000, 'row_change': None},
             {'backup_id': $id2, 'row_count': 900, 'row_change': -100}], d
"
run_pgvault query -d "$REPO" --json "SELECT * FROM database_summary"
expect_rc 0 "query database_summary"
json_assert "query database_summary" "
assert d[0]['db_name'] == '$DB' and d[0]['complete'] == 2 and d[0]['failed'] == 0
"
run_pgvault query -d "$REPO" --json "SELECT count(*) AS n FROM restore_history"
expect_rc 0 "query restore_history"
json_assert "query restore_history" "assert d == [{'n': 0}]"
run_pgvault query -d "$REPO" --csv "SELECT id, label, 1.5 AS x, NULL AS y FROM backups ORDER BY id"
expect_rc 0 "query --csv"
csv_assert "query --csv" "
assert header == 'id,label,x,y', header
assert rows[0]['label'] == '''$LABEL''' and rows[0]['x'] == '1.5' and rows[0]['y'] == ''
assert len(rows) == 2
"
run_pgvault query -d "$REPO" --csv "SELECT id FROM backups WHERE 0"
expect_rc 0 "query --csv without rows"
assert_eq "$OUT" "id" "query --csv without rows prints its header"
run_pgvault query -d "$REPO" --json "SELECT id FROM backups WHERE 0"
json_assert "query --json without rows" "assert d == []"
run_pgvault query -d "$REPO" "SELECT id, file_name FROM backups ORDER BY id"
expect_rc 0 "query (table)"
assert_contains "$OUT" "file_name" "query table header"
assert_contains "$OUT" "$file1" "query table row"
assert_contains "$OUT" "(2 rows)" "query table footer"
run_pgvault query -d "$REPO" "SELEC 1"
expect_rc 2 "query with a syntax error"
expect_error_line "query with a syntax error"

# 6. diff: invoices added, scratch dropped, orders shrunk by 100, sizes compared.
run_pgvault diff -d "$REPO" "$id1" "$id2"
expect_rc 0 "diff"
assert_match "$OUT" "added +public\.invoices +- +120 +\+120" "diff: added table"
assert_match "$OUT" "dropped +public\.scratch +10 +- +-10" "diff: dropped table"
assert_match "$OUT" "rows +public\.orders +1000 +900 +-100" "diff: shrunk table"
assert_contains "$OUT" "size " "diff: size change"
assert_contains "$OUT" "rows    1010 -> 1020 (+10)" "diff: row total"
run_pgvault diff -d "$REPO" "$id1" "$id2" --json
expect_rc 0 "diff --json"
json_assert "diff --json" "
assert d['from']['id'] == $id1 and d['to']['id'] == $id2
assert d['added'] == [{'schema_name': 'public', 'table_name': 'invoices', 'row_count': 120}]
assert d['dropped'] == [{'schema_name': 'public', 'table_name': 'scratch', 'row_count': 10}]
assert d['changed'] == [{'schema_name': 'public', 'table_name': 'orders', 'rows_before': 1000,
                         'rows_after': 900, 'row_change': -100}], d['changed']
assert d['unchanged'] == 0 and d['row_change'] == 10
assert d['size_change'] == d['to']['size_bytes'] - d['from']['size_bytes']
"
run_pgvault diff -d "$REPO" "$id2" "$id2"
expect_rc 0 "diff of a backup with itself"
assert_contains "$OUT" "no table added, dropped or changed" "diff of a backup with itself"
run_pgvault diff -d "$REPO" "$id1"
expect_rc 2 "diff with one backup"
expect_error_line "diff with one backup"

# 7. A catalog of schema version 1 (before the views): query migrates it, then reads it.
OLD=$SCRATCH/old
cp -a "$REPO" "$OLD"
sqlite3 "$OLD/catalog.db" "DROP VIEW latest_backups; DROP VIEW table_history;
    DROP VIEW restore_history; DROP VIEW database_summary;
    ALTER TABLE backups DROP COLUMN locale_provider; ALTER TABLE backups DROP COLUMN icu_locale;
    DROP TABLE copies; DROP TABLE remotes; ALTER TABLE backups DROP COLUMN encryption;
    ALTER TABLE backups DROP COLUMN recipients; ALTER TABLE backups DROP COLUMN restore_tested_at;
    DROP TABLE access_points;
    PRAGMA user_version = 1"
run_pgvault query -d "$OLD" --json "SELECT id FROM latest_backups"
expect_rc 0 "query of a version 1 catalog"
json_assert "query of a version 1 catalog" "assert d == [{'id': $id2}]"
assert_eq "$(sqlite3 "$OLD/catalog.db" "PRAGMA user_version")" \
    "$(sqlite3 "$REPO/catalog.db" "PRAGMA user_version")" "schema version after the migration"

pass
