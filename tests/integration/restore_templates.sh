#!/usr/bin/env bash
# A restore never targets a template database: template0, template1 and any database
# with datistemplate are refused with exit 2 and one error line, before anything is
# touched — whether named by --target, taken by default from a backup of a template,
# or asked for with --in-place. Afterwards each template is still a template, still
# takes (or refuses) connections as before, and no pgvault_tmp_/pgvault_old_ database
# of its tag exists.
#
# A restore that got through would replace template1 for every test running at the
# same time, so this one runs on a cluster of its own.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
private_cluster
# shellcheck source=SCRIPTDIR/../harness/restore_helpers.sh
source "$(dirname "$TESTLIB")/restore_helpers.sh"
require_cmd sqlite3

DB=pgv_tpl_src
TPL=pgv_tpl_user
REPO=$SCRATCH/repo

create_db "$DB"
psql_q "$DB" "CREATE TABLE t AS SELECT generate_series(1, 50) AS a" >/dev/null
register_db "$TPL"
psql_script postgres -v db="$TPL" >/dev/null <<'SQL'
CREATE DATABASE :"db" IS_TEMPLATE true;
SQL
psql_q "$TPL" "CREATE TABLE tpl_t AS SELECT generate_series(1, 7) AS a" >/dev/null

run_pgvault backup -d "$REPO" --db "$DB"
expect_rc 0 "backup of $DB"
run_pgvault backup -d "$REPO" --db "$TPL"
expect_rc 0 "backup of the template $TPL"
TPL_BID=$(catalog_q "$REPO" "SELECT id FROM backups WHERE db_name = '$TPL'")
run_pgvault backup -d "$REPO" --db template1
expect_rc 0 "backup of template1"
T1_BID=$(catalog_q "$REPO" "SELECT id FROM backups WHERE db_name = 'template1'")

# state NAME: what matters about a template (template, connections, its oid).
state() {
    psql_q postgres "SELECT datistemplate || ' ' || datallowconn || ' ' || oid
                     FROM pg_catalog.pg_database WHERE datname = '$1'"
}

# ours NAME: pgvault's temporary or replaced databases for target NAME.
ours() {
    psql_q postgres "SELECT datname FROM pg_catalog.pg_database
                     WHERE datname ~ '^pgvault_(tmp|old)_$(pgv_tag "$1")'"
}

# refused WHAT TEMPLATE ARGS…: the restore exits 2 with one error line naming the
# template, and leaves it as it was.
refused() {
    local what=$1 tpl=$2 before
    shift 2
    before=$(state "$tpl")
    assert_ne "$before" "" "setup: $tpl exists"
    run_pgvault restore -d "$REPO" -f "$@"
    expect_rc 2 "$what"
    expect_error_line "$what"
    assert_contains "$ERR" "\"$tpl\"" "$what: the error names the template"
    assert_contains "$ERR" "template" "$what: the error says why"
    assert_eq "$(state "$tpl")" "$before" "$what: $tpl is unchanged"
    assert_eq "$(ours "$tpl")" "" "$what: no temporary or replaced database of $tpl"
}

note "--target template0 / template1 / a user template"
refused "restore --target template0" template0 --target template0 --db "$DB" latest
refused "restore --target template1" template1 --target template1 --db "$DB" latest
refused "restore --target $TPL" "$TPL" --target "$TPL" --db "$DB" latest
note "the default target of a template's backup is that template, with and without --in-place"
refused "restore of template1's backup" template1 "$T1_BID"
refused "restore --in-place of template1's backup" template1 --in-place "$T1_BID"
refused "restore of $TPL's backup" "$TPL" "$TPL_BID"
refused "restore --in-place of $TPL's backup" "$TPL" --in-place "$TPL_BID"
assert_eq "$(psql_q "$TPL" "SELECT count(*) FROM tpl_t")" 7 "the template's contents"

note "the same backup restores fine beside the template"
register_db pgv_tpl_copy
run_pgvault restore -d "$REPO" -f --target pgv_tpl_copy "$TPL_BID"
expect_rc 0 "restore of the template's backup into --target pgv_tpl_copy"
assert_eq "$(psql_q pgv_tpl_copy "SELECT count(*) FROM tpl_t")" 7 "the copy's contents"

pass
