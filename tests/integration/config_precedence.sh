#!/usr/bin/env bash
# Precedence of the connection settings, highest first: flags; DB_HOST, DB_PORT, DB_USER,
# DB_NAME; libpq's own (PGDATABASE …, a connection service PGSERVICE); the config file.
# Each pair is proven by which database a backup really dumped.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
require_cmd sqlite3

for d in pgv_prec_flag pgv_prec_origin pgv_prec_pg pgv_prec_service pgv_prec_file; do
    create_db "$d"
done
REPO=$SCRATCH/repo
conf=$SCRATCH/pgvault.conf
printf 'dbname = pgv_prec_file\n' >"$conf"
svc=$SCRATCH/pg_service.conf
printf '[prec]\ndbname=pgv_prec_service\n' >"$svc"

# dumped WHAT ENV… -- ARGS…: backup with ENV; prints the database the new row is of.
dumped() {
    local what=$1
    shift
    local vars=()
    while [[ "$1" != -- ]]; do
        vars+=("$1")
        shift
    done
    shift
    local before=0
    if [[ -f "$REPO/catalog.db" ]]; then
        before=$(catalog_q "$REPO" "SELECT coalesce(max(id), 0) FROM backups")
    fi
    env ${vars[@]+"${vars[@]}"} "$PGVAULT_BIN" backup -d "$REPO" --config "$conf" --no-prune "$@" \
        </dev/null >"$SCRATCH/out" 2>"$SCRATCH/err" || fail "$what: backup failed: $(cat "$SCRATCH/err")"
    catalog_q "$REPO" "SELECT db_name FROM backups WHERE id > $before AND status = 'complete'"
}

note "the config file alone"
assert_eq "$(dumped "file" --)" pgv_prec_file "config file"
note "a connection service beats the config file"
assert_eq "$(dumped "service" PGSERVICEFILE="$svc" PGSERVICE=prec --)" pgv_prec_service "PGSERVICE over the config file"
note "PGDATABASE beats the config file"
assert_eq "$(dumped "PGDATABASE" PGDATABASE=pgv_prec_pg --)" pgv_prec_pg "PGDATABASE over the config file"
note "DB_NAME beats libpq's variables and the service"
assert_eq "$(dumped "DB_NAME" PGDATABASE=pgv_prec_pg PGSERVICEFILE="$svc" PGSERVICE=prec DB_NAME=pgv_prec_origin --)" \
    pgv_prec_origin "DB_NAME over PGDATABASE and PGSERVICE"
note "--db beats everything"
assert_eq "$(dumped "--db" DB_NAME=pgv_prec_origin PGSERVICEFILE="$svc" PGSERVICE=prec -- --db pgv_prec_flag)" \
    pgv_prec_flag "--db over DB_NAME"

pass
