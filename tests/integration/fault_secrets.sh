#!/usr/bin/env bash
# Secrets and modes, on a private cluster that asks for a password (scram-sha-256 on the
# local socket). pg_dump and psql are wrappers (PGVAULT_PG_BINDIR) that record their
# argument vector, their environment and the passfile they were given, then run the
# real program. The password (with ':', '\', quotes, '#' and blanks, which the passfile
# must escape) must appear in no child's argv or environment (no PGPASSWORD, no
# DB_PASSWORD), in no output, not in the catalog; PGPASSFILE must be there, 0600, hold
# the right line, and be gone afterwards. A wrong password exits 5 without showing it; a
# config file with a password that others can read is refused. Files 0600, the
# repository 0700, the catalog 0600, even under umask 000.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
# shellcheck source=SCRIPTDIR/../fault/faultlib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../fault/faultlib.sh"
require_cmd sqlite3 python3 md5sum

PW='S3cr:et\pa ss"w'\''o#rd'
start_private_cluster secrets
DB=pgv_fault_secrets
on_private "$PSQL" -X -q -v ON_ERROR_STOP=1 -d postgres -v pw="$PW" <<SQL >/dev/null
CREATE DATABASE $DB;
ALTER ROLE postgres PASSWORD :'pw';
SQL
on_private "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$DB" -c \
    "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 500) g" >/dev/null
# from now on the local socket asks for the password
hba=$P_DATA/pg_hba.conf
printf 'local all all scram-sha-256\n' >"$hba"
private_pg_ctl reload -s >/dev/null
password_required() {
    ! on_private "$PSQL" -X -q -w -d postgres -c 'SELECT 1' >/dev/null 2>&1
}
wait_until "the private cluster to ask for a password" password_required

# The recording wrappers.
REC=$SCRATCH/rec
FAKE=$SCRATCH/fakebin
mkdir -p "$REC" "$FAKE"
for tool in pg_dump psql; do
    cat >"$FAKE/$tool" <<EOF
#!/bin/bash
id=$tool.\$\$
printf '%s\\0' "\$0" "\$@" >"$REC/\$id.argv"
cat /proc/\$\$/environ >"$REC/\$id.env"
if [[ -n "\${PGPASSFILE:-}" ]]; then
    printf '%s\\n' "\$PGPASSFILE" >"$REC/\$id.passpath"
    stat -c %a "\$PGPASSFILE" >"$REC/\$id.passmode" 2>&1
    md5sum <"\$PGPASSFILE" >"$REC/\$id.passmd5" 2>&1
fi
case " \$* " in *" --version "*) ;; *) sleep 0.3 ;; esac
exec "$P_BINDIR/$tool" "\$@"
EOF
    chmod 0755 "$FAKE/$tool"
done

# The passfile line pgvault must write: .pgpass escapes ':' and '\'.
PASSLINE_MD5=$(python3 -c 'import sys; pw = sys.argv[1]; print("*:*:*:*:" + pw.replace("\\", "\\\\").replace(":", "\\:"))' "$PW" | md5sum)

# check_children WHAT TOOL: every recorded call of TOOL kept the password out of its
# argv and environment, and those that connect got a 0600 passfile with the right line
# that is gone now.
check_children() {
    local what=$1 tool=$2 f id n=0 withpass=0
    for f in "$REC"/"$tool".*.argv; do
        [[ -f "$f" ]] || continue
        id=${f%.argv}
        n=$((n + 1))
        if grep -qaF -- "$PW" "$f"; then
            fail "$what: the password is in the argv of $tool: $(tr '\0' ' ' <"$f")"
        fi
        if grep -qaF -- "$PW" "$id.env"; then
            fail "$what: the password is in the environment of $tool (variables holding it: $(tr '\0' '\n' <"$id.env" | grep -aF -- "$PW" | cut -d= -f1 | tr '\n' ' '))"
        fi
        if tr '\0' '\n' <"$id.env" | grep -qa '^PGPASSWORD='; then
            fail "$what: PGPASSWORD is in the environment of $tool"
        fi
        if [[ -f "$id.passpath" ]]; then
            withpass=$((withpass + 1))
            assert_eq "$(cat "$id.passmode")" 600 "$what: mode of the passfile $tool got"
            assert_eq "$(cat "$id.passmd5")" "$PASSLINE_MD5" "$what: the passfile's line (escaped : and \\)"
            [[ ! -e "$(cat "$id.passpath")" ]] || fail "$what: the passfile $(cat "$id.passpath") is still there"
        fi
    done
    ((n > 0)) || fail "$what: $tool was never run (is PGVAULT_PG_BINDIR honoured?)"
    ((withpass > 0)) || fail "$what: no call of $tool got PGPASSFILE"
}

# no_secret_anywhere WHAT REPO: not in the output, not in the catalog, not in any file of
# the repository, no pgvault passfile left in TMPDIR.
no_secret_anywhere() {
    assert_not_contains "$OUT" "$PW" "$1: stdout"
    assert_not_contains "$ERR" "$PW" "$1: stderr"
    if [[ -f "$2/catalog.db" ]]; then
        sqlite3 "$2/catalog.db" .dump >"$SCRATCH/catalog.sql"
        if grep -qaF -- "$PW" "$SCRATCH/catalog.sql"; then
            fail "$1: the password is in the catalog"
        fi
        if grep -rqaF -- "$PW" "$2"; then
            fail "$1: the password is in a file of the repository"
        fi
    fi
    local left
    left=$(find "$TMPDIR_PV" -maxdepth 1 -name 'pgvault-pass-*' 2>/dev/null)
    [[ -z "$left" ]] || fail "$1: passfile(s) left behind: $left"
}
TMPDIR_PV=$SCRATCH/tmp
HOME_PV=$SCRATCH/home # where ~/.pgpass is, for pgvault and its children
mkdir -p "$TMPDIR_PV" "$HOME_PV"

# pv VAR=VALUE… -- ARGS…: pgvault against the private cluster with the wrappers.
pv() {
    local vars=()
    while [[ "$1" != -- ]]; do
        vars+=("$1")
        shift
    done
    shift
    # shellcheck disable=SC2016 # expanded by the inner bash
    env PGHOST="$P_HOST" PGPORT="$P_PORT" PGVAULT_PG_BINDIR="$FAKE" TMPDIR="$TMPDIR_PV" HOME="$HOME_PV" \
        ${vars[@]+"${vars[@]}"} bash -c 'source "$TESTLIB_FUNCS"; run_pgvault "$@"; printf "%s" "$RC" >"$SCRATCH/.rc"' _ "$@"
    RC=$(cat "$SCRATCH/.rc")
    OUT=$(cat "$SCRATCH/.pgvault.out")
    ERR=$(cat "$SCRATCH/.pgvault.err")
}
# run_pgvault in a child bash needs the harness function and SCRATCH
TESTLIB_FUNCS=$SCRATCH/run_pgvault.sh
declare -f run_pgvault fail >"$TESTLIB_FUNCS"
export TESTLIB_FUNCS SCRATCH PGVAULT_BIN

REPO=$SCRATCH/repo

case_backup_db_password() {
    rm -f "$REC"/*
    pv DB_PASSWORD="$PW" -- backup -d "$REPO" --db "$DB"
    expect_rc 0 "backup with DB_PASSWORD"
    check_children "backup with DB_PASSWORD" pg_dump
    no_secret_anywhere "backup with DB_PASSWORD" "$REPO"
}

case_backup_pgpassword() {
    rm -f "$REC"/*
    pv PGPASSWORD="$PW" -- backup -d "$REPO" --db "$DB"
    expect_rc 0 "backup with PGPASSWORD"
    check_children "backup with PGPASSWORD" pg_dump
    no_secret_anywhere "backup with PGPASSWORD" "$REPO"
}

case_restore_password() {
    rm -f "$REC"/*
    local id
    id=$(catalog_q "$REPO" "SELECT max(id) FROM backups WHERE status = 'complete'")
    pv DB_PASSWORD="$PW" -- restore -d "$REPO" -f --target "${DB}_r" "$id"
    expect_rc 0 "restore with DB_PASSWORD"
    # the load goes over libpq, in-process: no client program runs at all
    local ran
    ran=$(find "$REC" -name '*.argv' -printf '%f ' 2>/dev/null)
    [[ -z "$ran" ]] || fail "restore with DB_PASSWORD ran client programs: $ran"
    no_secret_anywhere "restore with DB_PASSWORD" "$REPO"
}

case_config_password() {
    rm -f "$REC"/*
    local conf=$SCRATCH/pgvault.conf
    python3 -c 'import sys; open(sys.argv[1], "w").write("password = \"" + sys.argv[2].replace("\\", "\\\\").replace("\"", "\\\"") + "\"\n")' "$conf" "$PW"
    chmod 0600 "$conf"
    pv -- --config "$conf" backup -d "$REPO" --db "$DB"
    expect_rc 0 "backup with the password in a 0600 config file"
    check_children "backup with the password in the config file" pg_dump
    no_secret_anywhere "backup with the password in the config file" "$REPO"
    chmod 0604 "$conf"
    pv -- --config "$conf" backup -d "$REPO" --db "$DB"
    expect_rc 2 "backup with a config file holding a password that others can read"
    expect_error_line "config file readable by others"
    assert_contains "$(first_err_line)" "$conf" "the error names the config file"
    no_secret_anywhere "config file readable by others" "$REPO"
}

# pgpass_line PASSWORD [HOST]: a .pgpass line for HOST (default any), ':' and '\' escaped.
pgpass_line() {
    python3 -c 'import sys; pw = sys.argv[1]; print(sys.argv[2] + ":*:*:*:" + pw.replace("\\", "\\\\").replace(":", "\\:"))' "$1" "${2:-*}"
}

case_pgpass_above_config_password() {
    local conf=$SCRATCH/pgpass.conf
    python3 -c 'import sys; open(sys.argv[1], "w").write("password = \"" + sys.argv[2].replace("\\", "\\\\").replace("\"", "\\\"") + "\"\n")' "$conf" "${PW}-stale"
    chmod 0600 "$conf"
    # ~/.pgpass has the right password: it ranks above the config file's stale one
    pgpass_line "$PW" >"$HOME_PV/.pgpass"
    chmod 0600 "$HOME_PV/.pgpass"
    pv -- --config "$conf" backup -d "$REPO" --db "$DB"
    expect_rc 0 "backup with the right password in ~/.pgpass and a stale one in the config file"
    no_secret_anywhere "~/.pgpass above the config file" "$REPO"
    pv -- --config "$conf" restore -d "$REPO" -f --target "${DB}_p" --db "$DB" latest
    expect_rc 0 "restore with the right password in ~/.pgpass and a stale one in the config file"
    # ~/.pgpass without an entry for this server: the config file's password is used
    python3 -c 'import sys; open(sys.argv[1], "w").write("password = \"" + sys.argv[2].replace("\\", "\\\\").replace("\"", "\\\"") + "\"\n")' "$conf" "$PW"
    pgpass_line nope otherhost >"$HOME_PV/.pgpass"
    pv -- --config "$conf" backup -d "$REPO" --db "$DB"
    expect_rc 0 "backup with the config file's password when ~/.pgpass has no entry for the server"
    no_secret_anywhere "config password below ~/.pgpass" "$REPO"
    rm -f "$HOME_PV/.pgpass"
}

case_wrong_password() {
    rm -f "$HOME_PV/.pgpass"
    local wrong="${PW}-wrong"
    pv DB_PASSWORD="$wrong" -- backup -d "$REPO" --db "$DB"
    expect_rc 5 "backup with a wrong password"
    expect_error_line "backup with a wrong password"
    assert_contains "$(first_err_line)" "password authentication failed" "message of a wrong password"
    assert_not_contains "$ERR" "$wrong" "the wrong password in stderr"
    assert_not_contains "$OUT" "$wrong" "the wrong password in stdout"
    no_secret_anywhere "wrong password" "$REPO"
    pv -- backup -d "$REPO" --db "$DB"
    expect_rc 5 "backup without a password"
}

case_modes() {
    local repo=$SCRATCH/modes/repo f
    (umask 000 && pv DB_PASSWORD="$PW" -- backup -d "$repo" --db "$DB" && [[ $RC == 0 ]]) ||
        fail "backup under umask 000 failed"
    assert_eq "$(file_mode "$repo")" 700 "mode of the repository pgvault created"
    for f in "$repo"/*; do
        case ${f##*/} in
            *.sql.gz | *.sql | catalog.db | catalog.db-wal | catalog.db-shm)
                assert_eq "$(file_mode "$f")" 600 "mode of ${f##*/}" ;;
        esac
    done
    assert_eq "$(file_mode "$repo/.lock")" 600 "mode of .lock"
    assert_eq "$(file_mode "$repo/.locks")" 700 "mode of .locks"
    for f in "$repo"/.locks/*.lock "$repo"/.locks/.recovery.lock; do
        assert_eq "$(file_mode "$f")" 600 "mode of .locks/${f##*/}"
    done
    assert_eq "$(file_mode "$repo/catalog.db")" 600 "mode of catalog.db"
    # a repository that exists keeps its mode; the files are still 0600
    mkdir -m 0750 "$SCRATCH/modes/existing"
    (umask 000 && pv DB_PASSWORD="$PW" -- backup -d "$SCRATCH/modes/existing" --db "$DB" && [[ $RC == 0 ]]) ||
        fail "backup into an existing repository failed"
    for f in "$SCRATCH/modes/existing"/*.sql.gz "$SCRATCH/modes/existing/catalog.db"; do
        assert_eq "$(file_mode "$f")" 600 "mode of ${f##*/} in an existing repository"
    done
}

register_db "${DB}_p"
register_db "${DB}_r" # on the shared cluster: harmless; the private one goes whole
run_case "backup with DB_PASSWORD: not in argv, env, output, catalog; passfile 0600, removed" case_backup_db_password
run_case "backup with PGPASSWORD: PGPASSWORD not passed on" case_backup_pgpassword
run_case "restore with DB_PASSWORD: no client program, the password nowhere" case_restore_password
run_case "password in the config file: 0600 works, readable by others refused (exit 2)" case_config_password
run_case "~/.pgpass ranks above the config file's password, which stays the fallback" case_pgpass_above_config_password
run_case "wrong password: exit 5, not shown" case_wrong_password
run_case "modes under umask 000: repository 0700, files 0600, catalog 0600" case_modes
finish_cases
