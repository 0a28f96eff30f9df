#!/usr/bin/env bash
# Makes README's picture of "pgvault report" (tests/tools/report_example.png): real
# backups of two small databases whose data grows, a pg_dump failure, a pin, prunes,
# verifications, then Chromium's screenshot of the report. What a minute of backups
# cannot show is a month: the backups' dates are spread over the last 30 days in the
# catalog afterwards (sizes, durations and row counts are the real ones), and the remote
# copies and test restores, whose commands are not part of this tree yet, are written
# into the catalog as those commands record them.
#
# Run it against a running test cluster, from the top of the tree:
#   bash tests/harness/pg_start.sh /tmp/pgv-cluster
#   PG_STATE=/tmp/pgv-cluster PGVAULT_BIN=build-test/pgvault PGVAULT_TEST_TMP=/tmp \
#       TESTLIB=tests/harness/lib.sh bash tests/tools/report_example.sh [OUT.png]
#   bash tests/harness/pg_stop.sh /tmp/pgv-cluster
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
require_cmd sqlite3 python3 chromium
OUT_PNG=$(realpath -m "${1:-$(dirname "$TESTLIB")/../tools/report_example.png}")
REPO=$SCRATCH/pgvault
export PGVAULT_CONFIG=/dev/null

fill() {
    psql_script "$1" <<'SQL'
CREATE TABLE customers (id int PRIMARY KEY, name text);
CREATE TABLE orders (id int PRIMARY KEY, customer int, placed timestamptz, note text);
CREATE TABLE order_lines (order_id int, line int, sku text, qty int);
CREATE TABLE coupons (code text PRIMARY KEY);
INSERT INTO customers SELECT g, md5(g::text) FROM generate_series(1, 2000) g;
INSERT INTO coupons SELECT md5(g::text) FROM generate_series(1, 40) g;
SQL
}
grow() { # DB ORDERS
    psql_q "$1" "
INSERT INTO orders SELECT g, g % 2000, now(), repeat(md5(g::text), 3)
  FROM generate_series(coalesce((SELECT max(id) FROM orders), 0) + 1,
                       coalesce((SELECT max(id) FROM orders), 0) + $2) g;
INSERT INTO order_lines SELECT o.id, l, 'sku-' || (o.id * l) % 997, 1 + l % 4
  FROM orders o, generate_series(1, 3) l WHERE o.id > (SELECT coalesce(max(order_id), 0) FROM order_lines);
INSERT INTO customers SELECT g, md5(g::text) FROM generate_series(
  (SELECT max(id) + 1 FROM customers), (SELECT max(id) + $2 / 20 FROM customers)) g;
DELETE FROM coupons WHERE code IN (SELECT code FROM coupons LIMIT 1);" >/dev/null
}

mkdir -p "$SCRATCH/fake"
cat >"$SCRATCH/fake/pg_dump" <<'EOF'
#!/usr/bin/env bash
for a in "$@"; do case "$a" in --version | -V) echo "pg_dump (PostgreSQL) 15.18"; exit 0 ;; esac; done
echo 'pg_dump: error: connection to server on socket "/run/postgresql/.s.PGSQL.5432" failed: FATAL:  the database system is shutting down' >&2
exit 1
EOF
chmod 0755 "$SCRATCH/fake/pg_dump"

for db in shop warehouse; do
    create_db "$db"
    fill "$db"
done
for night in $(seq 1 30); do
    grow shop $((800 + night * 40))
    if ((night == 17)); then
        PGVAULT_PG_BINDIR=$SCRATCH/fake run_pgvault backup -d "$REPO" --db shop --no-prune
    elif ((night == 9)); then
        run_pgvault backup -d "$REPO" --db shop --no-prune --label before-upgrade
    else
        run_pgvault backup -d "$REPO" --db shop --no-prune
    fi
    if ((night % 3 == 0)); then
        grow warehouse 300
        run_pgvault backup -d "$REPO" --db warehouse --no-prune
    fi
done

# one a day (warehouse: every third day) until half an hour ago; ids are in order of time
today=$(($(date -u +%s) - 1800))
catalog_q "$REPO" "
WITH n AS (SELECT id, db_name, row_number() OVER (PARTITION BY db_name ORDER BY id) AS k,
                  count(*) OVER (PARTITION BY db_name) AS total FROM backups)
UPDATE backups SET
  started_at = strftime('%Y-%m-%dT%H:%M:%fZ', $today - 86400 *
      ((SELECT total FROM n WHERE n.id = backups.id) - (SELECT k FROM n WHERE n.id = backups.id))
      * (CASE db_name WHEN 'shop' THEN 1 ELSE 3 END), 'unixepoch'),
  finished_at = NULL;
UPDATE backups SET finished_at = strftime('%Y-%m-%dT%H:%M:%fZ',
  julianday(started_at) + coalesce(duration_ms, 0) / 86400000.0);"

run_pgvault pin -d "$REPO" "$(catalog_q "$REPO" "SELECT id FROM backups WHERE label = 'before-upgrade'")"
run_pgvault prune -d "$REPO" -r 7 -c 7 --keep-weekly 4 --min-keep 3
expect_rc 0 "prune"
for id in $(catalog_q "$REPO" "SELECT id FROM backups WHERE status = 'complete' ORDER BY id DESC LIMIT 5"); do
    run_pgvault verify -d "$REPO" "$id"
done
catalog_q "$REPO" "
INSERT INTO copies (backup_id, remote, location, status, copied_at)
  SELECT id, 'offsite-s3', file_name, CASE WHEN id % 11 = 0 THEN 'failed' ELSE 'complete' END,
         finished_at FROM backups WHERE status IN ('complete', 'pruned');
INSERT INTO copies (backup_id, remote, location, status, copied_at)
  SELECT id, 'dr-site', file_name, 'complete', finished_at FROM backups
  WHERE status = 'complete' AND db_name = 'shop';
INSERT INTO restores (backup_id, target_db, mode, started_at, finished_at, status)
  SELECT id, 'pgvault_test', 'test', finished_at, finished_at, 'complete' FROM backups
  WHERE status = 'complete' AND strftime('%w', started_at) = '0';
UPDATE backups SET restore_tested_at = (SELECT max(finished_at) FROM restores r
  WHERE r.backup_id = backups.id AND r.mode = 'test');"

cat >"$SCRATCH/pgvault.conf" <<'EOF'
retention_days = 7
keep_count = 7
keep_weekly = 4
min_keep = 3
EOF
run_pgvault report --config "$SCRATCH/pgvault.conf" -d "$REPO" -o "$SCRATCH/report.html"
expect_rc 0 "report"
profile=$(mktemp -d "$SCRATCH/chrome.XXXXXX")
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --hide-scrollbars --user-data-dir="$profile" --screenshot="$SCRATCH/shot.png" \
    --window-size=1040,1440 "file://$SCRATCH/report.html" 2>/dev/null

# Chromium writes fast-compressed PNGs: the same pixels again, smaller.
python3 "$(dirname "$TESTLIB")/../tools/pngtool.py" recompress "$SCRATCH/shot.png" "$OUT_PNG"
