# Sourced (after lib.sh) by the restore_* and verify_* integration scripts:
#
#   source "$(dirname "$TESTLIB")/restore_helpers.sh"
#
# Helpers to prove that a restore left the cluster as it should: databases that
# pgvault's temporary or replaced databases would be named like, a fingerprint of a
# database, the restores/events rows of the catalog, byte surgery on backup files.
# shellcheck shell=bash

# pgvault_dbs: databases named like pgvault's temporary or replaced ones, one a line.
pgvault_dbs() {
    psql_q postgres "SELECT datname FROM pg_catalog.pg_database
                     WHERE datname ~ '^pgvault_(tmp|old)_' ORDER BY 1"
}

# The ones that existed before this test started (other tests' business).
_PGV_DBS_BEFORE=$(pgvault_dbs)

# new_pgvault_dbs: those that appeared since this test started, for this test's own
# databases (other tests running at the same time restore theirs).
new_pgvault_dbs() {
    local tags="" d
    for d in "${_TEST_DBS[@]}"; do
        tags+="$(pgv_tag "$d")|"
    done
    comm -13 <(printf '%s\n' "$_PGV_DBS_BEFORE" | LC_ALL=C sort) \
        <(pgvault_dbs | LC_ALL=C sort) | grep -E "_(${tags%|})(_|\$)" || true
}

# same_dump A B WHAT: the normalized dumps of databases A and B are equal.
same_dump() {
    normalized_dump "$1" "$SCRATCH/a.sql"
    normalized_dump "$2" "$SCRATCH/b.sql"
    cmp -s "$SCRATCH/a.sql" "$SCRATCH/b.sql" || fail "$3: pg_dump of $1 and of $2 differ:
$(diff "$SCRATCH/a.sql" "$SCRATCH/b.sql" | cut -c 1-300 | head -n 40)"
}

# expect_no_leftover_dbs WHAT: no pgvault_tmp_* / pgvault_old_* database appeared.
expect_no_leftover_dbs() {
    local extra
    extra=$(new_pgvault_dbs)
    [[ -z "$extra" ]] || fail "$1: database(s) left behind: $(tr '\n' ' ' <<<"$extra")"
}

# db_exists NAME: true when the database exists.
db_exists() {
    [[ $(psql_q postgres "SELECT count(*) FROM pg_catalog.pg_database
                          WHERE datname = '$(printf '%s' "$1" | sed "s/'/''/g")'") == 1 ]]
}

# db_settings DB: the database's own ALTER DATABASE … SET settings, sorted, one a line.
db_settings() {
    psql_q postgres "SELECT s FROM pg_catalog.pg_db_role_setting r
                     JOIN pg_catalog.pg_database d ON d.oid = r.setdatabase,
                     LATERAL unnest(r.setconfig) s
                     WHERE d.datname = '$(printf '%s' "$1" | sed "s/'/''/g")'
                       AND r.setrole = 0 ORDER BY 1"
}

# db_fingerprint DB: md5 of the normalized pg_dump of DB and of its settings.
db_fingerprint() {
    local f=$SCRATCH/.fingerprint.sql
    normalized_dump "$1" "$f"
    db_settings "$1" >>"$f"
    md5sum <"$f" | awk '{print $1}'
    rm -f "$f"
}

# flip_byte FILE OFFSET: inverts every bit of one byte, in place (size unchanged).
flip_byte() {
    python3 - "$1" "$2" <<'PY'
import sys
path, off = sys.argv[1], int(sys.argv[2])
with open(path, 'r+b') as f:
    f.seek(off)
    b = f.read(1)
    if len(b) != 1:
        sys.exit('offset %d is past the end of %s' % (off, path))
    f.seek(off)
    f.write(bytes([b[0] ^ 0xFF]))
PY
}

# restore_col REPO ID EXPR: one value of restores row ID ('' for NULL).
restore_col() {
    catalog_q "$1" "SELECT coalesce($3, '') FROM restores WHERE id = $2"
}

# last_restore_id REPO: the newest restores row's id ('' when there is none).
last_restore_id() {
    catalog_q "$1" "SELECT coalesce(max(id), '') FROM restores"
}

# json_get JSON PYEXPR: evaluates PYEXPR on the parsed JSON document (as d); fails the
# test when the document does not parse.
json_get() {
    python3 -c '
import json, sys
d = json.loads(sys.argv[1])
v = eval(sys.argv[2])
print("null" if v is None else (str(v).lower() if isinstance(v, bool) else v))
' "$1" "$2" || fail "not one JSON document, or no $2 in it: [$1]"
}

# wait_for_load TARGET TIMEOUT_S: waits until a COPY into the temporary database of a
# restore of TARGET (pgvault_tmp_<tag of TARGET>) has loaded rows; prints its name.
# Other tests' restores load into databases of other tags. Fails after TIMEOUT_S s.
wait_for_load() {
    local tmpdb deadline=$((SECONDS + $2))
    tmpdb=pgvault_tmp_$(pgv_tag "$1")
    while ((SECONDS < deadline)); do
        if [[ $(psql_q postgres "SELECT count(*) FROM pg_catalog.pg_stat_progress_copy
                                 WHERE datname = '$tmpdb' AND tuples_processed > 0") != 0 ]]; then
            printf '%s\n' "$tmpdb"
            return 0
        fi
        sleep 0.05
    done
    fail "no restore load of $1 started within $2 s"
}
