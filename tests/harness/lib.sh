# Sourced by every integration script (ctest passes its path in TESTLIB):
#
#   source "$TESTLIB"
#
# Needs PG_STATE (the directory pg_start.sh wrote env.sh into), PGVAULT_BIN and
# PGVAULT_TEST_TMP; gives the script strict mode, a scratch directory ($SCRATCH) that
# is removed on exit, the databases it created dropped on exit, and the helpers below.
# Set PGVAULT_KEEP_TMP=1 to keep the scratch directory for a post-mortem.
# shellcheck shell=bash

set -euo pipefail
set -E

TEST_NAME=$(basename "${BASH_SOURCE[1]:-$0}" .sh)

: "${PG_STATE:?PG_STATE is not set (run the test through ctest)}"
: "${PGVAULT_BIN:?PGVAULT_BIN is not set (run the test through ctest)}"
: "${PGVAULT_TEST_TMP:?PGVAULT_TEST_TMP is not set (run the test through ctest)}"

if [[ ! -f "$PG_STATE/env.sh" ]]; then
    echo "FAIL: no cluster: $PG_STATE/env.sh is missing (did pg.start run?)" >&2
    exit 1
fi
# shellcheck source=/dev/null
source "$PG_STATE/env.sh"

# Nothing from the developer's environment may steer pgvault: the origin's variables
# take precedence over libpq's (the documented precedence).
unset DB_HOST DB_PORT DB_USER DB_PASSWORD DB_NAME BACKUP_DIR PGVAULT_PG_BINDIR
# A local time zone far from UTC, so that a file name or catalog time taken from local
# time instead of UTC shows (a POSIX TZ string: needs no tzdata).
export TZ='PVT-5:30'

# Client programs of the cluster's version.
client() {
    if [[ -x "$PG_BINDIR/$1" ]]; then
        printf '%s\n' "$PG_BINDIR/$1"
    else
        command -v "$1"
    fi
}
PSQL=$(client psql)
PG_DUMP=$(client pg_dump)

mkdir -p "$PGVAULT_TEST_TMP"
SCRATCH=$(mktemp -d "$PGVAULT_TEST_TMP/$TEST_NAME.XXXXXX")
_TEST_DBS=()

_lib_on_exit() {
    local rc=$?
    local db
    set +e
    for db in ${_TEST_DBS[@]+"${_TEST_DBS[@]}"}; do
        printf 'DROP DATABASE IF EXISTS :"db" WITH (FORCE);\n' |
            "$PSQL" -X -q -v ON_ERROR_STOP=1 -v db="$db" -d postgres >/dev/null 2>&1
    done
    if [[ -n "${_PRIVATE_CLUSTER:-}" ]]; then
        bash "$(dirname "$TESTLIB")/pg_stop.sh" "$_PRIVATE_CLUSTER" >/dev/null 2>&1
    fi
    if [[ "${PGVAULT_KEEP_TMP:-0}" == 1 ]]; then
        echo "note: kept $SCRATCH" >&2
    else
        rm -rf "$SCRATCH"
    fi
    exit "$rc"
}
trap _lib_on_exit EXIT

# private_cluster: from here on, the test talks to a PostgreSQL cluster of its own
# (started like the shared one, stopped when the test ends). For tests whose subject is
# the whole cluster (backup --all, the globals), which the databases of tests running
# at the same time would otherwise disturb.
private_cluster() {
    _PRIVATE_CLUSTER=$SCRATCH/.cluster
    bash "$(dirname "$TESTLIB")/pg_start.sh" "$_PRIVATE_CLUSTER" >"$SCRATCH/.cluster.log" 2>&1 ||
        fail "could not start a private cluster: $(cat "$SCRATCH/.cluster.log")"
    # shellcheck source=/dev/null
    source "$_PRIVATE_CLUSTER/env.sh"
}

# skip REASON: ends the test as skipped (ctest's SKIP_RETURN_CODE), never as passed.
skip() {
    trap - ERR
    printf 'SKIP %s: %s\n' "$TEST_NAME" "$*"
    exit 77
}

# A command that fails outside a condition ends the test (set -e); say where.
trap 'echo "FAIL: $TEST_NAME: command failed (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR

# fail MSG: ends the test.
fail() {
    trap - ERR
    printf 'FAIL: %s\n' "$*" >&2
    exit 1
}

# note MSG: a progress line.
note() {
    printf -- '-- %s\n' "$*"
}

# assert_eq ACTUAL EXPECTED WHAT
assert_eq() {
    if [[ "$1" != "$2" ]]; then
        fail "$3: expected [$2], got [$1]"
    fi
}

# assert_ne ACTUAL UNEXPECTED WHAT
assert_ne() {
    if [[ "$1" == "$2" ]]; then
        fail "$3: got [$1], which it must not be"
    fi
}

# assert_contains HAYSTACK NEEDLE WHAT (fixed string)
assert_contains() {
    if [[ "$1" != *"$2"* ]]; then
        fail "$3: [$2] not found in:
$1"
    fi
}

# assert_not_contains HAYSTACK NEEDLE WHAT (fixed string)
assert_not_contains() {
    if [[ "$1" == *"$2"* ]]; then
        fail "$3: [$2] must not appear in:
$1"
    fi
}

# assert_match STRING ERE WHAT
assert_match() {
    if ! [[ "$1" =~ $2 ]]; then
        fail "$3: [$1] does not match /$2/"
    fi
}

# run_pgvault ARGS...: runs $PGVAULT_BIN with stdin from /dev/null; stdout in $OUT,
# stderr in $ERR, exit code in $RC. Never ends the script. Variables assigned on the
# same line (VAR=x run_pgvault …) reach pgvault's environment.
run_pgvault() {
    local out=$SCRATCH/.pgvault.out err=$SCRATCH/.pgvault.err
    if timeout --kill-after=10 "${PGVAULT_TIMEOUT:-300}" "$PGVAULT_BIN" "$@" \
            </dev/null >"$out" 2>"$err"; then
        RC=0
    else
        RC=$?
    fi
    OUT=$(cat "$out")
    ERR=$(cat "$err")
    if [[ $RC -eq 124 ]]; then
        fail "pgvault $* timed out after ${PGVAULT_TIMEOUT:-300}s; stderr: $ERR"
    fi
    return 0
}

# wait_until WHAT CONDITION…: polls a command every 0.1 s for up to 30 s.
wait_until() {
    local what=$1
    shift
    for _ in $(seq 300); do
        if "$@"; then return 0; fi
        sleep 0.1
    done
    fail "timed out waiting for $what"
}

# expect_rc N WHAT: the last run_pgvault exited N.
expect_rc() {
    if [[ "$RC" != "$1" ]]; then
        fail "$2: pgvault exited $RC, expected $1
--- stdout ---
$OUT
--- stderr ---
$ERR"
    fi
}

# expect_error_line WHAT: the last run_pgvault's stderr is one "pgvault: …" line,
# optionally followed by "HINT: …" / 'Try "pgvault …' lines, and nothing else.
expect_error_line() {
    local first rest line
    first=${ERR%%$'\n'*}
    if [[ "$first" != "pgvault: "?* ]]; then
        fail "$1: stderr does not start with a 'pgvault: ' line:
$ERR"
    fi
    if [[ "$ERR" == *$'\n'* ]]; then
        rest=${ERR#*$'\n'}
        while IFS= read -r line; do
            case "$line" in
                "HINT: "* | "Try \"pgvault"*) ;;
                *) fail "$1: unexpected extra stderr line [$line] in:
$ERR" ;;
            esac
        done <<<"$rest"
    fi
}

# psql_q DB SQL: runs SQL (one string, sent as is), prints unaligned tuples only.
psql_q() {
    "$PSQL" -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"
}

# psql_script DB [PSQL ARGS…] < SCRIPT: runs a psql script from stdin (psql variables
# given as -v name=value are interpolated), stops at the first error.
psql_script() {
    local db=$1
    shift
    "$PSQL" -X -q -At -v ON_ERROR_STOP=1 "$@" -d "$db" -f -
}

# pgv_tag NAME: the 16-hex tag pgvault puts in the temporary and replaced databases'
# names for target NAME (64-bit FNV-1a of its bytes; bash arithmetic wraps mod 2^64).
pgv_tag() {
    local h=-3750763034362895579 b # 14695981039346656037 as a signed 64-bit number
    for b in $(printf '%s' "$1" | od -An -v -tu1); do
        h=$(((h ^ b) * 1099511628211))
    done
    printf '%016x\n' "$h"
}

# drop_db NAME
drop_db() {
    printf 'SET client_min_messages = warning;\nDROP DATABASE IF EXISTS :"db" WITH (FORCE);\n' |
        psql_script postgres -v db="$1"
}

# register_db NAME: drop NAME when the test ends (for databases pgvault creates).
register_db() {
    _TEST_DBS+=("$1")
}

# create_db NAME: (re)creates an empty database, dropped when the test ends.
create_db() {
    register_db "$1"
    drop_db "$1"
    printf 'CREATE DATABASE :"db";\n' | psql_script postgres -v db="$1"
}

# catalog_q REPO SQL: queries REPO/catalog.db.
catalog_q() {
    [[ -f "$1/catalog.db" ]] || fail "no catalog at $1/catalog.db"
    sqlite3 -batch -noheader -cmd '.timeout 10000' "$1/catalog.db" "$2"
}

# xxh128 FILE | xxh128 < STDIN: the XXH3-128 hash as xxhsum -H2 prints it.
xxh128() {
    if [[ $# -gt 0 ]]; then
        xxhsum -H2 <"$1" | awk '{print $1}'
    else
        xxhsum -H2 | awk '{print $1}'
    fi
}

# file_mode PATH: octal permission bits ("600").
file_mode() {
    stat -c %a "$1"
}

# repo_files REPO: the names in REPO, one a line, sorted (hidden ones included).
repo_files() {
    (cd "$1" && find . -mindepth 1 -maxdepth 1 -printf '%f\n' | LC_ALL=C sort)
}

# normalized_dump DB FILE: pg_dump --no-owner --no-privileges of DB into FILE, without
# the lines that differ between two dumps of identical databases (\restrict keys, and
# comment lines naming the database), and with the rows of each table sorted: a table
# that several sessions of a restore loaded at once has its rows in another physical
# order, which SQL never promised.
normalized_dump() {
    local name_re
    # shellcheck disable=SC2016
    name_re=$(printf '%s' "$1" | sed 's/[][\.*^$(){}?+|/]/\\&/g')
    # grep, not awk: mawk takes minutes over a 50 MB line.
    "$PG_DUMP" --no-owner --no-privileges -d "$1" |
        grep -a -v -E '^\\(un)?restrict ' |
        grep -a -v -E -e "^--.*${name_re}" >"$2"
    python3 - "$2" <<'PY'
import sys
out, block = [], None
with open(sys.argv[1], "rb") as f:
    for line in f:
        if block is not None and line == b"\\.\n":
            out.extend(sorted(block))
            block = None
        elif block is not None:
            block.append(line)
            continue
        out.append(line)
        if line.startswith(b"COPY ") and line.rstrip().endswith(b"FROM stdin;"):
            block = []
with open(sys.argv[1], "wb") as f:
    f.writelines(out)
PY
}

# require_cmd NAME…: fails unless each program is installed.
require_cmd() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || fail "$c is not installed (needed by $TEST_NAME)"
    done
}

[[ -x "$PGVAULT_BIN" ]] || fail "PGVAULT_BIN=$PGVAULT_BIN is not an executable"

# pass: the last line of a successful test.
pass() {
    echo "PASS $TEST_NAME"
}
