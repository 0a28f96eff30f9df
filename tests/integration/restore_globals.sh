#!/usr/bin/env bash
# Replaying the @globals backup of `backup --all` (roles, tablespaces), on a cluster of
# its own: (a) roles and a tablespace dropped since the backup come back, with their
# attributes, comment and membership; a role that still exists is a warning naming it
# (its attributes are those of the backup again), exit 0; (b) a CREATE TABLESPACE whose
# directory is gone fails the restore with exit 1, one line naming the statement and
# the cause (and how many others failed), and the restores row says failed; (c)
# --target is refused (exit 2) before anything is replayed; (d) import --scan adopts the
# globals backups of a repository whose catalog was lost.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
# shellcheck source=SCRIPTDIR/../harness/restore_helpers.sh
source "$(dirname "$TESTLIB")/restore_helpers.sh"
require_cmd sqlite3
private_cluster

REPO=$SCRATCH/repo
TS_DIR=$PG_TMPDIR/pgv_g_ts
mkdir "$TS_DIR"
if [[ $(id -u) -eq 0 ]]; then
    chown postgres: "$TS_DIR"
fi
psql_script postgres -v ts_dir="$TS_DIR" >/dev/null <<'SQL'
CREATE ROLE pgv_g_app LOGIN CONNECTION LIMIT 7;
COMMENT ON ROLE pgv_g_app IS 'the application';
CREATE ROLE pgv_g_reader NOLOGIN;
GRANT pgv_g_reader TO pgv_g_app;
CREATE TABLESPACE pgv_g_ts LOCATION :'ts_dir';
COMMENT ON TABLESPACE pgv_g_ts IS 'spread
over; two lines';
SQL
run_pgvault backup --all -d "$REPO"
expect_rc 0 "backup --all"
GID=$(catalog_q "$REPO" "SELECT id FROM backups WHERE db_name = '@globals' AND status = 'complete'")
[[ -n "$GID" ]] || fail "no complete @globals backup in the catalog"

# role_facts: what the replay must bring back, one line.
role_facts() {
    psql_q postgres "SELECT string_agg(r.rolname || ':' || r.rolcanlogin || ':' || r.rolconnlimit
                                       || ':' || coalesce(shobj_description(r.oid, 'pg_authid'), ''),
                                       ' ' ORDER BY r.rolname)
                            || ' member:' || (SELECT count(*) FROM pg_auth_members m
                                              WHERE m.roleid = 'pgv_g_reader'::regrole
                                                AND m.member = 'pgv_g_app'::regrole)
                            || ' ts:' || (SELECT count(*) FROM pg_tablespace
                                          WHERE spcname = 'pgv_g_ts')
                     FROM pg_roles r WHERE r.rolname LIKE 'pgv_g_%'"
}
FACTS=$(role_facts)
assert_eq "$FACTS" "pgv_g_app:true:7:the application pgv_g_reader:false:-1: member:1 ts:1" \
    "setup: the roles and the tablespace"

# (a) A role and the tablespace dropped, the other role changed: the replay restores them.
note "(a) replay after a role and the tablespace were dropped"
psql_script postgres >/dev/null <<'SQL'
DROP ROLE pgv_g_reader;
ALTER ROLE pgv_g_app CONNECTION LIMIT 1;
DROP TABLESPACE pgv_g_ts;
SQL
run_pgvault restore -d "$REPO" -f --db @globals latest
expect_rc 0 "restore of @globals"
note "  stderr: $ERR"
assert_eq "$(role_facts)" "$FACTS" "roles and tablespace after the replay"
assert_match "$ERR" 'warning: [^'$'\n'']*role[^'$'\n'']*pgv_g_app' \
    "the warning names the role that already existed"
assert_not_contains "$ERR" "pgv_g_reader" "the warning names a role that was re-created"
assert_not_contains "$ERR" "pgv_g_ts" "stderr mentions the re-created tablespace"
assert_contains "$OUT" "complete" "the summary of a replay"
RID=$(last_restore_id "$REPO")
assert_eq "$(restore_col "$REPO" "$RID" status)" complete "(a) restores.status"

# (b) The tablespace's directory is gone: the replay fails, naming the statement.
note "(b) replay with a tablespace whose directory is gone"
psql_q postgres "DROP TABLESPACE pgv_g_ts" >/dev/null
rm -rf "$TS_DIR"
run_pgvault restore -d "$REPO" -f --db @globals latest
note "  exit $RC: $ERR"
expect_rc 1 "restore of @globals with a missing tablespace directory"
expect_error_line "restore of @globals with a missing tablespace directory"
assert_contains "${ERR%%$'\n'*}" "CREATE TABLESPACE pgv_g_ts" "the error names the statement"
assert_contains "${ERR%%$'\n'*}" "$TS_DIR" "the error names the directory"
# the comment on the tablespace fails too (a statement of two lines)
assert_contains "${ERR%%$'\n'*}" "(and 1 more failed statement)" "the error counts the others"
assert_contains "$ERR" $'\nHINT: ' "the HINT line of a failed replay"
assert_not_contains "$OUT" "complete" "stdout of a failed replay"
RID=$(last_restore_id "$REPO")
assert_eq "$(restore_col "$REPO" "$RID" status)" failed "(b) restores.status"
assert_contains "$(restore_col "$REPO" "$RID" detail)" "CREATE TABLESPACE pgv_g_ts" \
    "(b) restores.detail"

# (c) --target means nothing for the cluster's globals: refused, nothing replayed.
note "(c) --target with the globals backup"
psql_q postgres "DROP ROLE pgv_g_reader" >/dev/null
before=$(last_restore_id "$REPO")
run_pgvault restore -d "$REPO" -f --db @globals --target pgv_g_elsewhere latest
expect_rc 2 "restore of @globals with --target"
expect_error_line "restore of @globals with --target"
assert_contains "${ERR%%$'\n'*}" "--target" "the error names the option"
assert_eq "$(psql_q postgres "SELECT count(*) FROM pg_roles WHERE rolname = 'pgv_g_reader'")" 0 \
    "(c) the globals were not replayed"
assert_eq "$(last_restore_id "$REPO")" "$before" "(c) restores rows after a refused restore"

# (d) A lost catalog rebuilt by import --scan adopts the globals backups too (they are
# pg_dumpall --globals-only files), and they restore as before; a pg_dump file under the
# globals' name, a whole pg_dumpall and a globals dump under a database's name are
# refused with their reason.
note "(d) import --scan adopts the globals"
REBUILT=$SCRATCH/rebuilt
mkdir "$REBUILT"
gfile=$(catalog_q "$REPO" "SELECT file_name FROM backups WHERE id = $GID")
cp "$REPO/$gfile" "$REBUILT/"
run_pgvault import -d "$REBUILT" --scan
expect_rc 0 "import --scan of a repository with a globals backup"
assert_eq "$(catalog_q "$REBUILT" "SELECT db_name || ' ' || status || ' ' || origin || ' ' || table_count || ' ' || checksum FROM backups")" \
    "@globals complete import 0 $(catalog_q "$REPO" "SELECT checksum FROM backups WHERE id = $GID")" \
    "the adopted globals backup"
psql_q postgres "DROP ROLE IF EXISTS pgv_g_reader" >/dev/null
run_pgvault restore -d "$REBUILT" -f --db @globals latest
note "  exit $RC: ${ERR%%$'\n'*}"
# the tablespace directory is gone since (b): only that statement may fail
assert_eq "$(psql_q postgres "SELECT count(*) FROM pg_roles WHERE rolname = 'pgv_g_reader'")" 1 \
    "(d) the role is back from the adopted globals backup"
bad=$SCRATCH/bad
mkdir "$bad"
"$PG_DUMP" -d postgres | gzip >"$bad/%40globals_20260101_000000.sql.gz"
"$(client pg_dumpall)" | gzip >"$bad/%40globals_20260102_000000.sql.gz"
"$(client pg_dumpall)" --globals-only | gzip >"$bad/shop_20260103_000000.sql.gz"
for f in "$bad"/*; do
    run_pgvault import -d "$SCRATCH/refusing" "$f"
    expect_rc 1 "import of $(basename "$f")"
    expect_error_line "import of $(basename "$f")"
    note "  $(basename "$f"): ${ERR%%$'\n'*}"
done
run_pgvault import -d "$SCRATCH/refusing" "$bad/%40globals_20260101_000000.sql.gz"
assert_contains "$ERR" "must be a pg_dumpall --globals-only dump" "a pg_dump file named for the globals"
run_pgvault import -d "$SCRATCH/refusing" "$bad/%40globals_20260102_000000.sql.gz"
assert_contains "$ERR" "not only the cluster's roles and tablespaces" "a whole pg_dumpall"
run_pgvault import -d "$SCRATCH/refusing" "$bad/shop_20260103_000000.sql.gz"
assert_contains "$ERR" "it is a pg_dumpall dump" "a globals dump under a database's name"

pass
