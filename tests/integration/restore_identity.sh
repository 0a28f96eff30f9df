#!/usr/bin/env bash
# A restore keeps what the replaced database is as an object, apart from its contents,
# in both modes (the safe swap and --in-place): owner, connection limit, privileges
# (PUBLIC's CONNECT revoked stays revoked, so does a privilege the owner gave up, a
# grant with grant option stays one), comment, default tablespace and ALTER ROLE … IN
# DATABASE … SET settings; the recorded ALTER DATABASE … SET settings come back too. Every attribute is compared
# before and after and all differences are reported together.
#
# Roles and tablespaces are cluster-wide: this test runs on a cluster of its own.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
private_cluster
# shellcheck source=SCRIPTDIR/../harness/restore_helpers.sh
source "$(dirname "$TESTLIB")/restore_helpers.sh"
require_cmd sqlite3

DB=pgv_rid
OWNER=pgv_rid_owner
READER=pgv_rid_reader
REPO=$SCRATCH/repo

# A tablespace needs a directory the server's user owns.
TS_DIR=$PG_TMPDIR/ts2
mkdir -p "$TS_DIR"
if [[ $(id -u) -eq 0 ]]; then
    chown postgres: "$TS_DIR"
fi
psql_script postgres -v dir="$TS_DIR" -v owner="$OWNER" -v reader="$READER" >/dev/null <<'SQL'
CREATE TABLESPACE ts2 LOCATION :'dir';
CREATE ROLE :"owner" LOGIN;
CREATE ROLE :"reader" LOGIN;
SQL

# make_db: (re)creates $DB with a non-default identity, and some contents.
make_db() {
    drop_db "$DB"
    register_db "$DB"
    psql_script postgres -v db="$DB" -v owner="$OWNER" -v reader="$READER" >/dev/null <<'SQL'
CREATE DATABASE :"db" OWNER :"owner" CONNECTION LIMIT 7 TABLESPACE ts2;
COMMENT ON DATABASE :"db" IS 'the application''s data';
REVOKE CONNECT, TEMPORARY ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT, CREATE ON DATABASE :"db" TO :"owner";
REVOKE TEMPORARY ON DATABASE :"db" FROM :"owner";
GRANT CONNECT ON DATABASE :"db" TO :"reader" WITH GRANT OPTION;
ALTER ROLE :"owner" IN DATABASE :"db" SET work_mem = '5MB';
ALTER ROLE :"reader" IN DATABASE :"db" SET search_path = "a b", public;
ALTER ROLE :"reader" IN DATABASE :"db" SET default_transaction_read_only = on;
ALTER DATABASE :"db" SET maintenance_work_mem = '70MB';
SQL
    psql_q "$DB" "CREATE TABLE t AS SELECT generate_series(1, 300) AS a" >/dev/null
}

# props DB: one line per attribute of the database, as the server sees it.
props() {
    psql_q postgres "
SELECT x FROM pg_database d, LATERAL (VALUES
       (1, 'owner=' || pg_get_userbyid(d.datdba)),
       (2, 'connection_limit=' || d.datconnlimit),
       (3, 'acl=' || coalesce(d.datacl::text, '<default>')),
       (4, 'comment=' || coalesce(shobj_description(d.oid, 'pg_database'), '<none>')),
       (5, 'tablespace=' || (SELECT spcname FROM pg_tablespace WHERE oid = d.dattablespace)),
       (7, 'encoding=' || pg_encoding_to_char(d.encoding)),
       (8, 'collate=' || d.datcollate || ' ctype=' || d.datctype),
       (9, 'template=' || d.datistemplate || ' allowconn=' || d.datallowconn),
       (10, 'db_settings=' || coalesce((SELECT array_to_string(s.setconfig, ';')
                                        FROM pg_db_role_setting s
                                        WHERE s.setdatabase = d.oid AND s.setrole = 0), '<none>')),
       (11, 'role_settings=' || coalesce((SELECT string_agg(pg_get_userbyid(s.setrole) || ':' ||
                                                            array_to_string(s.setconfig, ';'), ','
                                                            ORDER BY pg_get_userbyid(s.setrole))
                                          FROM pg_db_role_setting s
                                          WHERE s.setdatabase = d.oid AND s.setrole <> 0), '<none>'))
       ) AS v(n, x)
WHERE d.datname = '$1' ORDER BY n"
}

# differences WHAT BEFORE AFTER: the attributes that changed, one pair a line.
differences() {
    diff "$2" "$3" |
        awk -v what="$1" '/^</ {sub(/^< /, ""); b[++nb] = $0} /^>/ {sub(/^> /, ""); a[++na] = $0}
             END {for (i = 1; i <= nb || i <= na; i++)
                      printf "  %s: before: %s\n  %s: after:  %s\n", what, b[i], what, a[i]}' || true
}

problems=
make_db
props "$DB" >"$SCRATCH/props.before"
note "identity before: $(tr '\n' '|' <"$SCRATCH/props.before")"
FP=$(db_fingerprint "$DB")
run_pgvault backup -d "$REPO" --db "$DB"
expect_rc 0 "backup of $DB"

for mode in swap in-place; do
    note "restore ($mode)"
    args=()
    [[ $mode == in-place ]] && args=(--in-place)
    make_db
    psql_q "$DB" "DELETE FROM t WHERE a > 10" >/dev/null
    run_pgvault restore -d "$REPO" -f "${args[@]}" --db "$DB" latest
    if [[ $RC -ne 0 ]]; then
        problems+="
  restore ($mode) exited $RC: $ERR"
        continue
    fi
    expect_no_leftover_dbs "restore ($mode)"
    [[ $(db_fingerprint "$DB") == "$FP" ]] || problems+="
  restore ($mode): the contents differ from the backup"
    props "$DB" >"$SCRATCH/props.$mode"
    diffs=$(differences "$mode" "$SCRATCH/props.before" "$SCRATCH/props.$mode")
    [[ -z "$diffs" ]] || problems+=$'\n'"$diffs"
done

# The databases go before the roles and the tablespace that they reference.
drop_db "$DB"
[[ -z "$problems" ]] || fail "the database's identity was not kept by the restore:$problems"
pass
