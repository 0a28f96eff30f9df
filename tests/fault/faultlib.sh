# Sourced by tests/integration/fault_*.sh after the harness library:
#
#   source "$TESTLIB"
#   source "$(dirname "${BASH_SOURCE[0]}")/../fault/faultlib.sh"
#
# Gives the fault tests:
# - cases that fail on their own: "run_case NAME FUNCTION" runs FUNCTION in a subshell
#   (strict mode; fail/assert end only that case), records PASS/FAIL, and
#   "finish_cases" prints the table of cases and fails the test if any case failed;
# - the checks every case makes afterwards: the repository (no .partial, every complete
#   row's file there and verifying), the catalog (no 'running' row, no complete row for a
#   partial file), the database (fingerprints);
# - the LD_PRELOAD shim (tests/fault/failshim.c): run_shim ENV… -- ARGS…;
# - background runs of pgvault that a test kills: start_pgvault / wait_pgvault.
# shellcheck shell=bash

FAULT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HARNESS_DIR=$(cd "$(dirname "$TESTLIB")" && pwd)
_CASE_NAMES=()
_CASE_RESULTS=()
_CLEANUPS=()

# at_exit COMMAND…: runs COMMAND (eval'd) when the test ends, before the harness's own
# cleanup, last registered first.
at_exit() {
    _CLEANUPS+=("$*")
}
_fault_on_exit() {
    local rc=$? i db
    set +e
    reap_background
    for ((i = ${#_CLEANUPS[@]} - 1; i >= 0; i--)); do
        eval "${_CLEANUPS[$i]}"
    done
    # the databases the cases (subshells) registered
    if [[ -f "$SCRATCH/.dbs" ]]; then
        while IFS= read -r -d '' db; do
            _TEST_DBS+=("$db")
        done <"$SCRATCH/.dbs"
    fi
    (exit "$rc")
    _lib_on_exit
}
trap _fault_on_exit EXIT

# register_db NAME: as the harness's, and also from inside a case (a subshell).
register_db() {
    _TEST_DBS+=("$1")
    printf '%s\0' "$1" >>"$SCRATCH/.dbs"
}

# run_case NAME FUNCTION [ARGS…]: one case; a failure inside ends the case, not the test.
run_case() {
    local name=$1 rc
    shift
    printf '\n== case: %s\n' "$name"
    # the parent neither stops nor reports: the subshell reports where it failed
    set +e
    trap - ERR
    (
        trap 'echo "FAIL: $TEST_NAME: case \"$name\": command failed (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR
        set -e
        "$@"
    )
    rc=$?
    trap 'echo "FAIL: $TEST_NAME: command failed (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR
    set -e
    reap_background
    _CASE_NAMES+=("$name")
    if [[ $rc -eq 0 ]]; then
        _CASE_RESULTS+=(PASS)
        printf -- '-- case PASS: %s\n' "$name"
    elif [[ $rc -eq 77 ]]; then
        _CASE_RESULTS+=(SKIP)
        printf -- '-- case SKIP: %s\n' "$name"
    else
        _CASE_RESULTS+=(FAIL)
        printf -- '-- case FAIL: %s\n' "$name"
    fi
    return 0
}

# try COMMAND…: runs COMMAND in a subshell in strict mode; its status in TRY_RC (try
# itself returns 0: never call it after || or in an if, where strict mode would be off
# inside), without reporting through the caller's ERR trap.
try() {
    local rc saved
    saved=$(trap -p ERR)
    trap - ERR
    set +e
    (
        [[ -z "$saved" ]] || eval "$saved"
        set -e
        "$@"
    )
    rc=$?
    set -e
    [[ -z "$saved" ]] || eval "$saved"
    # shellcheck disable=SC2034 # read by the caller
    TRY_RC=$rc
    return 0
}

# finish_cases: the table; exit 1 if a case failed, 77 (ctest: skipped) if one was
# skipped (a case skips with "exit 77"), else pass.
finish_cases() {
    local i failed=0 skipped=0
    printf '\n%s: %d cases\n' "$TEST_NAME" "${#_CASE_NAMES[@]}"
    for i in "${!_CASE_NAMES[@]}"; do
        printf '  %-4s  %s\n' "${_CASE_RESULTS[$i]}" "${_CASE_NAMES[$i]}"
        case ${_CASE_RESULTS[$i]} in
            PASS) ;;
            SKIP) skipped=$((skipped + 1)) ;;
            *) failed=$((failed + 1)) ;;
        esac
    done
    if ((failed > 0)); then
        trap - ERR
        printf 'FAIL: %s: %d of %d cases failed\n' "$TEST_NAME" "$failed" "${#_CASE_NAMES[@]}" >&2
        exit 1
    fi
    if ((skipped > 0)); then
        printf 'SKIP %s: %d of %d cases skipped\n' "$TEST_NAME" "$skipped" "${#_CASE_NAMES[@]}"
        exit 77
    fi
    pass
}

# expect_usage_error WHAT CMD: exit 2 (3 for check: a monitoring plugin's UNKNOWN), one
# "pgvault: " line, then the 'Try "pgvault CMD --help"' line ('Try "pgvault --help"' when
# CMD is empty).
expect_usage_error() {
    if [[ "$2" == check ]]; then
        expect_rc 3 "$1"
    else
        expect_rc 2 "$1"
    fi
    expect_error_line "$1"
    assert_contains "$ERR" "Try \"pgvault ${2:+$2 }--help\"" "$1: usage hint"
    local n
    n=$(printf '%s\n' "$ERR" | wc -l)
    assert_eq "$n" 2 "$1: stderr lines (the error and the hint)"
}

# first_line: the first line of the last run's stderr.
first_err_line() {
    printf '%s\n' "${ERR%%$'\n'*}"
}

# --- repository and catalog -------------------------------------------------------------

# no_partial REPO WHAT: no *.partial file is left in REPO.
no_partial() {
    local left
    left=$(find "$1" -maxdepth 1 -name '*.partial' -printf '%f\n' 2>/dev/null || true)
    [[ -z "$left" ]] || fail "$2: partial file(s) left in the repository: $left"
}

# no_running REPO WHAT: no catalog row is 'running'.
no_running() {
    local n
    n=$(catalog_q "$1" "SELECT count(*) FROM backups WHERE status = 'running'")
    [[ "$n" == 0 ]] || fail "$2: $n backup row(s) left 'running': $(catalog_q "$1" \
        "SELECT id || ' ' || file_name || ' pid ' || coalesce(pid, '') FROM backups WHERE status = 'running'")"
}

# complete_sane REPO WHAT: every complete row names an existing regular file that is not
# a partial one, of the recorded size (and, unless SANE_HASH=0, checksum).
complete_sane() {
    local id file size sum
    while IFS='|' read -r id file size sum; do
        [[ -n "$id" ]] || continue
        [[ "$file" != *.partial ]] || fail "$2: complete backup $id is a partial file ($file)"
        [[ -f "$1/$file" && ! -L "$1/$file" ]] ||
            fail "$2: complete backup $id: file $file is not in the repository"
        assert_eq "$(stat -c %s "$1/$file")" "$size" "$2: size of complete backup $id"
        if [[ "${SANE_HASH:-1}" == 1 ]]; then
            assert_eq "$(xxh128 "$1/$file")" "$sum" "$2: checksum of complete backup $id"
        fi
    done < <(catalog_q "$1" "SELECT id, file_name, size_bytes, checksum FROM backups WHERE status = 'complete'")
}

# verify_all REPO WHAT: "pgvault verify --all" exits 0.
verify_all() {
    run_pgvault verify -d "$1" --all
    expect_rc 0 "$2: pgvault verify --all"
}

# count_status REPO STATUS
count_status() {
    catalog_q "$1" "SELECT count(*) FROM backups WHERE status = '$2'"
}

# last_row REPO COLUMN: COLUMN of the newest backup row.
last_row() {
    catalog_q "$1" "SELECT $2 FROM backups ORDER BY id DESC LIMIT 1"
}

# expect_last_failed REPO WHAT: the newest row is 'failed' with an error text.
expect_last_failed() {
    assert_eq "$(last_row "$1" status)" failed "$2: status of the newest backup row"
    assert_ne "$(last_row "$1" "coalesce(error, '')")" "" "$2: error text of the failed row"
}

# dump_files REPO: the number of backup files (.sql, .sql.gz) in REPO.
dump_files() {
    find "$1" -maxdepth 1 \( -name '*.sql' -o -name '*.sql.gz' \) -printf x 2>/dev/null | wc -c
}

# --- databases --------------------------------------------------------------------------

# conninfo NAME: a connection string for database NAME, whatever it holds (psql -d takes
# a string with "=" as a connection string).
conninfo() {
    local v=${1//\\/\\\\}
    v=${v//\'/\\\'}
    printf "dbname='%s'\n" "$v"
}

# db_oid NAME: the database's oid (empty if it does not exist); an unchanged oid proves
# that a restore did not swap it.
db_oid() {
    psql_q postgres "SELECT oid FROM pg_database WHERE datname = '$1'"
}

# db_fingerprint DB: row count and md5 of every user table, in one line.
db_fingerprint() {
    local t out=""
    while IFS= read -r t; do
        [[ -n "$t" ]] || continue
        out+="$t:$(psql_q "$(conninfo "$1")" "SELECT count(*) || '/' || md5(coalesce(string_agg(md5(x::text), '' ORDER BY md5(x::text)), '')) FROM $t x") "
    done < <(psql_q "$(conninfo "$1")" "SELECT format('%I.%I', schemaname, relname) FROM pg_stat_user_tables ORDER BY 1")
    printf '%s\n' "$out"
}

# temp_dbs TARGET…: pgvault's temporary and replaced databases for these restore targets
# (other tests restore theirs at the same time).
temp_dbs() {
    local re="" t
    for t in "$@"; do
        re+="$(pgv_tag "$t")|"
    done
    psql_q postgres "SELECT string_agg(datname, ' ') FROM pg_database
                     WHERE datname ~ '^pgvault_(tmp|old)_(${re%|})(_|\$)'"
}

# --- background runs --------------------------------------------------------------------

# track_background PID: a process a case started; killed when the case ends.
track_background() {
    echo "$1" >>"$SCRATCH/.background"
}

# reap_background: kills what the last case left running (a case that failed half-way).
reap_background() {
    local pid
    [[ -f "$SCRATCH/.background" ]] || return 0
    while read -r pid; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            sleep 0.5
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done <"$SCRATCH/.background"
    rm -f "$SCRATCH/.background"
}

# start_pgvault ARGS…: runs pgvault in the background (stdin /dev/null, output in
# $SCRATCH/bg.out / bg.err); its pid in BG_PID.
start_pgvault() {
    "$PGVAULT_BIN" "$@" </dev/null >"$SCRATCH/bg.out" 2>"$SCRATCH/bg.err" &
    BG_PID=$!
    track_background "$BG_PID"
}

# wait_pgvault: waits for the background pgvault (at most 120 s); RC, OUT, ERR as
# run_pgvault sets them.
wait_pgvault() {
    local i
    for ((i = 0; i < 1200; i++)); do
        kill -0 "$BG_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$BG_PID" 2>/dev/null; then
        kill -9 "$BG_PID" 2>/dev/null || true
        fail "pgvault (pid $BG_PID) did not end within 120 s"
    fi
    if wait "$BG_PID" 2>/dev/null; then RC=0; else RC=$?; fi
    OUT=$(cat "$SCRATCH/bg.out")
    ERR=$(cat "$SCRATCH/bg.err")
}

# wait_for WHAT SECONDS COMMAND…: polls COMMAND every 20 ms until it succeeds.
wait_for() {
    local what=$1 secs=$2 i
    shift 2
    for ((i = 0; i < secs * 50; i++)); do
        if "$@"; then
            return 0
        fi
        if [[ -n "${BG_PID:-}" ]] && ! kill -0 "$BG_PID" 2>/dev/null; then
            fail "pgvault ended before $what (the case needs a slower run); stderr: $(cat "$SCRATCH/bg.err")"
        fi
        sleep 0.02
    done
    fail "timed out after ${secs}s waiting for $what"
}

# partial_bigger_than REPO BYTES: a .partial file of more than BYTES exists that was not
# there when snapshot_partials REPO ran.
snapshot_partials() {
    find "$1" -maxdepth 1 -name '*.partial' -printf '%f\n' >"$SCRATCH/.partials" 2>/dev/null || :
}
partial_bigger_than() {
    local f
    for f in "$1"/*.partial; do
        [[ -f "$f" ]] || continue
        grep -qxF "${f##*/}" "$SCRATCH/.partials" 2>/dev/null && continue
        (($(stat -c %s "$f") > $2)) && return 0
    done
    return 1
}

# child_pid PARENT NAME: the pid of PARENT's child process named NAME (or empty).
child_pid() {
    pgrep -P "$1" -x "$2" | head -n 1 || true
}

# --- a private cluster ------------------------------------------------------------------

# start_private_cluster NAME: a cluster of its own (tests/harness/pg_start.sh), for the
# cases that stop the server or change its authentication; stopped when the test ends.
# Sets P_HOST, P_PORT, P_BINDIR, P_DATA, P_STATE. Run commands against it with
# "on_private CMD…".
start_private_cluster() {
    P_STATE=$SCRATCH/$1-state
    bash "$HARNESS_DIR/pg_start.sh" "$P_STATE" >/dev/null || fail "could not start a private cluster"
    at_exit "bash '$HARNESS_DIR/pg_stop.sh' '$P_STATE' >/dev/null 2>&1"
    P_HOST=$(bash -c 'source "$1"; printf %s "$PGHOST"' _ "$P_STATE/env.sh")
    P_PORT=$(bash -c 'source "$1"; printf %s "$PGPORT"' _ "$P_STATE/env.sh")
    P_BINDIR=$(bash -c 'source "$1"; printf %s "$PG_BINDIR"' _ "$P_STATE/env.sh")
    P_DATA=$(bash -c 'source "$1"; printf %s "$PG_TMPDIR"' _ "$P_STATE/env.sh")/data
}

# on_private CMD…: CMD with libpq's variables pointing at the private cluster.
on_private() {
    PGHOST=$P_HOST PGPORT=$P_PORT "$@"
}

# private_pg_ctl ARGS…: pg_ctl of the private cluster, as postgres when root.
private_pg_ctl() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$P_BINDIR/pg_ctl" -D "$P_DATA" "$@"
    else
        "$P_BINDIR/pg_ctl" -D "$P_DATA" "$@"
    fi
}

# private_start: starts the private cluster again with the options pg_start.sh used.
private_start() {
    private_pg_ctl start -w -t 60 -s -l "$P_DATA/../server.log" \
        -o "-c listen_addresses='' -k $P_HOST -p $P_PORT -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50 -c logging_collector=off" \
        >/dev/null
}

# --- the LD_PRELOAD shim ----------------------------------------------------------------

# The shim library: built by ctest (FAILSHIM), else compiled here for a run by hand.
shim_setup() {
    if [[ -z "${FAILSHIM:-}" || ! -f "$FAILSHIM" ]]; then
        FAILSHIM=$SCRATCH/libfailshim.so
        cc -O2 -shared -fPIC -o "$FAILSHIM" "$FAULT_DIR/failshim.c" -ldl ||
            fail "could not build the failshim library"
    fi
    # A binary built with AddressSanitizer needs its runtime first in LD_PRELOAD.
    SHIM_PRELOAD=$FAILSHIM
    local asan
    asan=$(ldd "$PGVAULT_BIN" | awk '/libasan\.so/ {print $3; exit}')
    if [[ -n "$asan" ]]; then
        SHIM_PRELOAD="$asan $FAILSHIM"
    fi
}

# run_shim VAR=VALUE… -- ARGS…: like run_pgvault, with the shim preloaded and the
# FAILSHIM_* variables given (timeout itself runs without it).
run_shim() {
    local vars=()
    while [[ $# -gt 0 && "$1" != -- ]]; do
        vars+=("$1")
        shift
    done
    shift
    local out=$SCRATCH/.pgvault.out err=$SCRATCH/.pgvault.err
    if timeout --kill-after=10 "${PGVAULT_TIMEOUT:-300}" env LD_PRELOAD="$SHIM_PRELOAD" \
            "${vars[@]}" "$PGVAULT_BIN" "$@" </dev/null >"$out" 2>"$err"; then
        RC=0
    else
        RC=$?
    fi
    # shellcheck disable=SC2034 # read by the caller
    OUT=$(cat "$out")
    ERR=$(cat "$err")
    if [[ $RC -eq 124 ]]; then
        fail "pgvault $* (with the shim) timed out; stderr: $ERR"
    fi
    return 0
}

# shim_log_run REPO LOG ARGS…: a successful run of pgvault ARGS… that logs every write,
# pwrite, fsync and rename in REPO (one line each: "N OP PATH") into LOG.
shim_log_run() {
    local repo=$1 log=$2
    shift 2
    rm -f "$log"
    run_shim FAILSHIM_OP=write,pwrite,fsync,rename FAILSHIM_MATCH="$repo" FAILSHIM_LOG="$log" \
        -- "$@"
    expect_rc 0 "dry run with the shim logging ($*)"
    [[ -s "$log" ]] || fail "the shim logged nothing: is it preloaded?"
}

# nth_in_log LOG OPS AFTER_ERE TARGET_ERE: counting only the lines whose operation is in
# OPS (a regex such as "fsync|fdatasync"), the number of the first line matching
# TARGET_ERE that comes after the first line matching AFTER_ERE (an empty AFTER_ERE: from
# the start). Prints nothing if there is none.
nth_in_log() {
    awk -v ops="^($2)\$" -v after="$3" -v target="$4" '
        { line = $0; sub(/^[0-9]+ /, "", line); op = line; sub(/ .*/, "", op)
          if (op !~ ops) next
          n++
          if (!seen && (after == "" || line ~ after)) { seen = 1; if (after != "") next }
          if (seen && line ~ target) { print n; exit } }' "$1"
}
