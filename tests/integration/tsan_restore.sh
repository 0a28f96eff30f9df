#!/usr/bin/env bash
# The parallel restore under ThreadSanitizer: pgvault built with -fsanitize=thread
# ($PGVAULT_TSAN_BIN) restores a database of several tables, one of them split over many
# access points, with indexes, constraints and foreign keys, in four sessions; the
# sanitizer stops the program at its first report (exit 66), and the restored database
# must equal the original.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
# shellcheck source=SCRIPTDIR/../harness/restore_helpers.sh
source "$(dirname "$TESTLIB")/restore_helpers.sh"
[[ -x "${PGVAULT_TSAN_BIN:-}" ]] || fail "no ThreadSanitizer build of pgvault (PGVAULT_TSAN_BIN)"

DB=pgv_tr_src
T=pgv_tr_t
REPO=$SCRATCH/repo
CONF=$SCRATCH/pgvault.conf
create_db "$DB"
register_db "$T"
psql_script "$DB" >/dev/null <<'SQL'
CREATE TABLE a (id int PRIMARY KEY, v text);
INSERT INTO a SELECT g, md5(g::text) FROM generate_series(1, 60000) g;
CREATE INDEX a_v ON a (v);
CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a (id), w int);
INSERT INTO b SELECT g, 1 + g % 60000, g % 7 FROM generate_series(1, 30000) g;
CREATE INDEX b_w ON b (w);
CREATE TABLE c (k text UNIQUE, n numeric);
INSERT INTO c SELECT 'k' || g, g / 3.0 FROM generate_series(1, 5000) g;
CREATE SEQUENCE s START 42;
SELECT nextval('s');
SQL
printf 'access_point_interval = 64kB\n' >"$CONF"
run_pgvault --config "$CONF" -d "$REPO" backup --db "$DB" --no-prune
expect_rc 0 "backup of $DB"
export TSAN_OPTIONS="halt_on_error=1 exitcode=66"
PGVAULT_BIN=$PGVAULT_TSAN_BIN run_pgvault --config "$CONF" -d "$REPO" restore -f --target "$T" \
    --jobs 4 latest --db "$DB"
expect_rc 0 "restore --jobs 4 under ThreadSanitizer"
same_dump "$DB" "$T" "the restore under ThreadSanitizer"
expect_no_leftover_dbs "the restore under ThreadSanitizer"
pass
