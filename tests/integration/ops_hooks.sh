#!/usr/bin/env bash
# pre_backup_hook and post_backup_hook: an argument vector, no shell;
# PGVAULT_OUTCOME, PGVAULT_BACKUP_ID, PGVAULT_DB, PGVAULT_FILE, PGVAULT_EXIT_CODE in the
# environment; the post hook runs after every backup, failed ones included (a database
# that does not exist: exit 5; pg_dump failing: exit 1), and its failure is a warning; a
# failing or hanging pre hook aborts the backup with exit 1 before pg_dump runs, leaving
# no file; with backup --all the hooks run once per database. On a cluster of its own,
# so that backup --all sees no other test's databases.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
require_cmd sqlite3
private_cluster

DB=pgv_ops_hooks
create_db "$DB"
psql_script "$DB" >/dev/null <<'SQL'
CREATE TABLE t (a int, b text);
INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 1000) g;
SQL
REPO=$SCRATCH/repo
HOOKS=$SCRATCH/hooks
mkdir -p "$HOOKS"

# record.sh NAME: writes the PGVAULT_* variables pgvault sets to $HOOKS/NAME.env and a
# line "NAME DB OUTCOME FILE-EXISTS" to $HOOKS/order.
cat >"$HOOKS/record.sh" <<'SH'
#!/bin/sh
dir=$(dirname "$0")
env | grep -E '^PGVAULT_(HOOK|OUTCOME|BACKUP_ID|DB|FILE|EXIT_CODE|ERROR)=' | LC_ALL=C sort >"$dir/$1.env"
if [ -e "$PGVAULT_FILE" ]; then exists=file; else exists=nofile; fi
echo "$1 $PGVAULT_DB $PGVAULT_OUTCOME $exists" >>"$dir/order"
SH
# args.sh: writes its arguments, one a line, to $HOOKS/args.
cat >"$HOOKS/args.sh" <<'SH'
#!/bin/sh
printf '%s\n' "$@" >"$(dirname "$0")/args"
SH
chmod 0755 "$HOOKS/record.sh" "$HOOKS/args.sh"

# conf NAME LINES…: writes a config file $SCRATCH/NAME.conf.
conf() {
    local name=$1
    shift
    printf '%s\n' "$@" >"$SCRATCH/$name.conf"
}

# var NAME FILE: the value of NAME in a recorded environment file.
var() {
    sed -n "s/^$1=//p" "$2"
}

# data_files REPO: the repository's files but the catalog and the lock.
data_files() {
    repo_files "$1" | grep -v -E '^(catalog\.db.*|\.lock)$' || true
}

# the first one is quoted as a whole in the config file, the inner quotes kept for the
# split: a hook path may hold blanks
conf record \
    "pre_backup_hook = \"\\\"$HOOKS/record.sh\\\" pre\"" \
    "post_backup_hook = $HOOKS/record.sh post" \
    "hook_timeout = 30"

note "a successful backup: pre hook before pg_dump, post hook after, with the variables"
run_pgvault backup --config "$SCRATCH/record.conf" -d "$REPO" --db "$DB"
expect_rc 0 "backup with hooks"
id=$(catalog_q "$REPO" "SELECT max(id) FROM backups")
file=$(catalog_q "$REPO" "SELECT file_name FROM backups WHERE id = $id")
assert_eq "$(cat "$HOOKS/order")" "pre $DB started nofile
post $DB success file" "hook order and outcome"
assert_eq "$(cat "$HOOKS/pre.env")" "PGVAULT_BACKUP_ID=$id
PGVAULT_DB=$DB
PGVAULT_ERROR=
PGVAULT_EXIT_CODE=
PGVAULT_FILE=$REPO/$file
PGVAULT_HOOK=pre_backup_hook
PGVAULT_OUTCOME=started" "pre hook environment"
assert_eq "$(cat "$HOOKS/post.env")" "PGVAULT_BACKUP_ID=$id
PGVAULT_DB=$DB
PGVAULT_ERROR=
PGVAULT_EXIT_CODE=0
PGVAULT_FILE=$REPO/$file
PGVAULT_HOOK=post_backup_hook
PGVAULT_OUTCOME=success" "post hook environment"
assert_not_contains "$ERR" "warning" "no warning"

note "a database that does not exist: exit 5, no pre hook, the post hook says failure"
: >"$HOOKS/order"
run_pgvault backup --config "$SCRATCH/record.conf" -d "$REPO" --db "${DB}_missing"
expect_rc 5 "backup of a missing database"
expect_error_line "backup of a missing database"
assert_eq "$(cat "$HOOKS/order")" "post ${DB}_missing failure nofile" "only the post hook ran"
assert_eq "$(var PGVAULT_OUTCOME "$HOOKS/post.env")" failure "outcome"
assert_eq "$(var PGVAULT_EXIT_CODE "$HOOKS/post.env")" 5 "exit code"
assert_eq "$(var PGVAULT_DB "$HOOKS/post.env")" "${DB}_missing" "database"
assert_eq "$(var PGVAULT_BACKUP_ID "$HOOKS/post.env")" "" "no catalog row, no id"
assert_eq "$(var PGVAULT_FILE "$HOOKS/post.env")" "" "no file name chosen, PGVAULT_FILE empty (as README says)"
assert_contains "$(var PGVAULT_ERROR "$HOOKS/post.env")" "does not exist" "error text"

note "pg_dump failing after the row exists: exit 1, the post hook has the failed row's id"
: >"$HOOKS/order"
mkdir -p "$SCRATCH/fakebin"
version=$("$PG_DUMP" --version)
cat >"$SCRATCH/fakebin/pg_dump" <<SH
#!/bin/sh
case "\$1" in --version | -V) echo "$version"; exit 0 ;; esac
echo "pg_dump: error: simulated failure" >&2
exit 1
SH
chmod 0755 "$SCRATCH/fakebin/pg_dump"
PGVAULT_PG_BINDIR=$SCRATCH/fakebin run_pgvault backup --config "$SCRATCH/record.conf" \
    -d "$REPO" --db "$DB"
expect_rc 1 "backup with a failing pg_dump"
id=$(catalog_q "$REPO" "SELECT max(id) FROM backups")
assert_eq "$(catalog_q "$REPO" "SELECT status FROM backups WHERE id = $id")" failed "row"
assert_eq "$(cat "$HOOKS/order")" "pre $DB started nofile
post $DB failure nofile" "hooks around a failed dump"
assert_eq "$(var PGVAULT_BACKUP_ID "$HOOKS/post.env")" "$id" "failed row's id"
assert_eq "$(var PGVAULT_EXIT_CODE "$HOOKS/post.env")" 1 "exit code"
assert_contains "$(var PGVAULT_ERROR "$HOOKS/post.env")" "simulated failure" "error text"

note "a failing pre hook aborts the backup: exit 1, no file, the row failed, post hook ran"
conf prefail \
    "pre_backup_hook = sh -c 'echo not the primary >&2; exit 3'" \
    "post_backup_hook = $HOOKS/record.sh post"
: >"$HOOKS/order"
before=$(data_files "$REPO")
run_pgvault backup --config "$SCRATCH/prefail.conf" -d "$REPO" --db "$DB"
expect_rc 1 "backup with a failing pre hook"
expect_error_line "failing pre hook"
assert_eq "${ERR%%$'\n'*}" \
    "pgvault: pre_backup_hook failed: sh failed with exit code 3: not the primary" "message"
assert_eq "$(data_files "$REPO")" "$before" "no new file"
id=$(catalog_q "$REPO" "SELECT max(id) FROM backups")
assert_eq "$(catalog_q "$REPO" "SELECT status || ': ' || error FROM backups WHERE id = $id")" \
    "failed: pre_backup_hook failed: sh failed with exit code 3: not the primary" "row"
assert_eq "$(cat "$HOOKS/order")" "post $DB failure nofile" "post hook after the aborted backup"

note "a pre hook that hangs is killed after hook_timeout"
conf prehang "pre_backup_hook = sleep 60" "hook_timeout = 1"
t0=$SECONDS
run_pgvault backup --config "$SCRATCH/prehang.conf" -d "$REPO" --db "$DB"
expect_rc 1 "backup with a hanging pre hook"
assert_eq "${ERR%%$'\n'*}" \
    "pgvault: pre_backup_hook failed: sleep did not finish within 1 s and was killed" "message"
[[ $((SECONDS - t0)) -lt 20 ]] || fail "the hanging hook was not killed in time"
assert_eq "$(data_files "$REPO")" "$before" "no new file after the timeout"

note "a failing post hook is a warning; the backup stands"
conf postfail "post_backup_hook = sh -c 'echo ping failed >&2; exit 4'"
run_pgvault backup --config "$SCRATCH/postfail.conf" -d "$REPO" --db "$DB"
expect_rc 0 "backup with a failing post hook"
assert_contains "$ERR" \
    "pgvault: warning: post_backup_hook failed: sh failed with exit code 4: ping failed" \
    "post hook warning"

note "no shell: the words reach the program as they are"
# shellcheck disable=SC2016
conf args "post_backup_hook = $HOOKS/args.sh 'a b' \"c;d\" \$HOME \`id\` *"
run_pgvault backup --config "$SCRATCH/args.conf" -d "$REPO" --db "$DB"
expect_rc 0 "backup with an argument-vector hook"
# shellcheck disable=SC2016
assert_eq "$(cat "$HOOKS/args")" 'a b
c;d
$HOME
`id`
*' "hook arguments"

note "backup --all: the hooks run for each database"
: >"$HOOKS/order"
run_pgvault backup --all --config "$SCRATCH/record.conf" -d "$SCRATCH/all" --no-prune
expect_rc 0 "backup --all"
order=$(cat "$HOOKS/order")
assert_contains "$order" "pre @globals started nofile" "pre hook for the globals"
assert_contains "$order" "post @globals success file" "post hook for the globals"
assert_contains "$order" "pre $DB started nofile" "pre hook for $DB"
assert_contains "$order" "post $DB success file" "post hook for $DB"
assert_eq "$(grep -c '^pre ' <<<"$order")" 3 "pre hooks (@globals, postgres, $DB)"
assert_eq "$(grep -c '^post ' <<<"$order")" 3 "post hooks (@globals, postgres, $DB)"

pass
