#!/usr/bin/env bash
# Help for pgvault and every command, usage errors, listing an empty repository, a
# missing one (an error for list, prune and verify alike) and a repository with one
# backup (table, JSON, CSV), and `restore -l` as a synonym of list.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
require_cmd jq

COMMANDS=(backup restore list show verify prune pin unpin log query diff import check)

# 1. pgvault --help / -h / --version.
run_pgvault --help
expect_rc 0 "pgvault --help"
[[ -n "$OUT" ]] || fail "pgvault --help printed nothing on stdout"
for cmd in "${COMMANDS[@]}"; do
    grep -qw -- "$cmd" <<<"$OUT" || fail "pgvault --help does not name the command $cmd:
$OUT"
done
help_out=$OUT
run_pgvault -h
expect_rc 0 "pgvault -h"
assert_eq "$OUT" "$help_out" "pgvault -h compared with pgvault --help"
run_pgvault --version
expect_rc 0 "pgvault --version"
assert_contains "$OUT" pgvault "pgvault --version"

# 2. pgvault COMMAND --help for every command; -h too for the origin's two.
for cmd in "${COMMANDS[@]}"; do
    run_pgvault "$cmd" --help
    expect_rc 0 "pgvault $cmd --help"
    grep -qw -- "$cmd" <<<"$OUT" || fail "pgvault $cmd --help does not name $cmd on stdout:
$OUT"
done
for cmd in backup restore; do
    run_pgvault "$cmd" --help
    cmd_help=$OUT
    run_pgvault "$cmd" -h
    expect_rc 0 "pgvault $cmd -h"
    assert_eq "$OUT" "$cmd_help" "pgvault $cmd -h compared with --help"
done

# 3. Usage errors: exit 2, one error line and a hint.
run_pgvault frobnicate
expect_rc 2 "pgvault frobnicate"
expect_error_line "pgvault frobnicate"
assert_contains "$ERR" frobnicate "error about an unknown command"
run_pgvault list --frobnicate
expect_rc 2 "pgvault list --frobnicate"
expect_error_line "pgvault list --frobnicate"
assert_contains "$ERR" 'Try "pgvault list --help"' "hint after an unknown option of list"

# 4. Listing an empty repository works.
EMPTY=$SCRATCH/empty
mkdir -m 0700 "$EMPTY"
run_pgvault list -d "$EMPTY"
expect_rc 0 "list of an empty repository"
[[ -n "$OUT$ERR" ]] || fail "list of an empty repository printed nothing at all"
run_pgvault list -d "$EMPTY" --json
expect_rc 0 "list --json of an empty repository"
jq -e 'type == "array" and length == 0' <<<"$OUT" >/dev/null ||
    fail "list --json of an empty repository is not an empty JSON array: [$OUT]"

# 4'. A repository directory that does not exist is an error for every reader alike:
#     exit 1, one line naming the directory, nothing created (backup creates it).
MISSING=$SCRATCH/no_such_repo
for args in "list" "list --json" "prune" "prune --dry-run" "verify --all"; do
    # shellcheck disable=SC2086
    run_pgvault $args -d "$MISSING"
    expect_rc 1 "$args of a missing repository"
    expect_error_line "$args of a missing repository"
    assert_eq "${ERR%%$'\n'*}" "pgvault: repository \"$MISSING\" does not exist" \
        "$args of a missing repository"
    [[ ! -e "$MISSING" ]] || fail "$args created the missing repository"
done
run_pgvault list --json -d "$MISSING"
assert_eq "$OUT" "" "list --json of a missing repository prints no document"

# 5. A repository with one backup.
DB=pgv_listhelp
create_db "$DB"
psql_q "$DB" "CREATE TABLE t AS SELECT g AS a FROM generate_series(1, 10) g"
REPO=$SCRATCH/repo
run_pgvault backup -d "$REPO" --db "$DB"
expect_rc 0 "backup of $DB"
name=$(catalog_q "$REPO" "SELECT file_name FROM backups WHERE status = 'complete'")
[[ -n "$name" ]] || fail "no complete backup after the backup of $DB"

run_pgvault list -d "$REPO"
expect_rc 0 "list"
assert_contains "$OUT" "$name" "list"
list1=$OUT
run_pgvault list -d "$REPO" --json
expect_rc 0 "list --json"
jq -e 'type == "array" and length == 1 and (.[0] | type == "object")' <<<"$OUT" >/dev/null ||
    fail "list --json is not an array of one object: [$OUT]"
assert_contains "$OUT" "$name" "list --json"
run_pgvault list -d "$REPO" --csv
expect_rc 0 "list --csv"
assert_contains "$OUT" "$name" "list --csv"

# 6. restore -l / --list is list (a relative age may tick between the runs).
for flag in -l --list; do
    run_pgvault restore -d "$REPO" "$flag"
    expect_rc 0 "restore $flag"
    restore_out=$OUT
    run_pgvault list -d "$REPO"
    if [[ "$restore_out" != "$list1" && "$restore_out" != "$OUT" ]]; then
        fail "restore $flag differs from list:
--- restore $flag ---
$restore_out
--- list ---
$OUT"
    fi
done

pass
