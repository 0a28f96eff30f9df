#!/usr/bin/env bash
# Retention per remote: after each backup, a remote without retention keys follows that
# run's rules (-c 1) and one with remote.NAME.keep_count = 3 keeps three copies, its
# removed objects gone from its directory and their rows 'pruned' with an event each. A
# backup pruned here but kept on a remote is restored by downloading it. prune applies a
# remote's changed keys (--dry-run only says so).
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
# shellcheck source=SCRIPTDIR/../harness/restore_helpers.sh
source "$(dirname "$TESTLIB")/restore_helpers.sh"
require_cmd sqlite3

DB=pgv_copies_retention
TARGET=pgv_copies_retention_old
register_db "$TARGET"
REPO=$SCRATCH/repo
SHORT=$SCRATCH/short
LONG=$SCRATCH/long
mkdir -p "$SHORT" "$LONG"
CONF=$SCRATCH/pgvault.conf
cat >"$CONF" <<EOF
remote.short.url = file://$SHORT
remote.long.url = file://$LONG
remote.long.keep_count = 3
EOF
create_db "$DB"
psql_q "$DB" "CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 100)" >/dev/null
pgv() { run_pgvault --config "$CONF" "$@"; }
objects() { find "$1/$DB" -name '*.sql.gz' | wc -l; }
copies() { catalog_q "$REPO" "SELECT count(*) FROM copies WHERE remote = '$1' AND status = '$2'"; }

for i in 1 2 3 4; do
    psql_q "$DB" "INSERT INTO t VALUES ($i)" >/dev/null
    pgv backup -d "$REPO" --db "$DB" -c 1 --no-progress
    expect_rc 0 "backup $i"
done
assert_eq "$(catalog_q "$REPO" "SELECT count(*) FROM backups WHERE status = 'complete'")" 1 "local backups kept"
assert_eq "$(copies short complete)/$(copies short pruned)" "1/3" "copies on the remote with the run's rules"
assert_eq "$(copies long complete)/$(copies long pruned)" "3/1" "copies on the remote that keeps 3"
assert_eq "$(objects "$SHORT")/$(objects "$LONG")" "1/3" "objects left on each remote"
assert_eq "$(catalog_q "$REPO" "SELECT count(*) FROM events WHERE action = 'prune' AND detail LIKE 'remote \"long\": removed %'")" \
    1 "prune events on the long remote"
OLDEST_KEPT=$(catalog_q "$REPO" "SELECT min(backup_id) FROM copies WHERE remote = 'long' AND status = 'complete'")
assert_eq "$(catalog_q "$REPO" "SELECT status FROM backups WHERE id = $OLDEST_KEPT")" pruned \
    "a backup pruned here, kept on the long remote"
pgv list -d "$REPO" --remote long
assert_eq "$(printf '%s\n' "$OUT" | grep -c "$DB")" 3 "list --remote long"

note "a backup pruned here restores from the remote that kept it"
pgv restore -d "$REPO" -f --target "$TARGET" --no-progress "$OLDEST_KEPT"
expect_rc 0 "restore of a locally pruned backup"
assert_eq "$(psql_q "$TARGET" "SELECT count(*) FROM t")" 102 "rows of the restored backup"
assert_eq "$(catalog_q "$REPO" "SELECT status FROM backups WHERE id = $OLDEST_KEPT")" complete \
    "downloaded backup is complete again"

note "prune applies a remote's own keys"
sed -i 's/^remote.long.keep_count = 3$/remote.long.keep_count = 1/' "$CONF"
pgv prune -d "$REPO" --db "$DB" -c 2 --dry-run
expect_rc 0 "prune --dry-run"
assert_contains "$OUT" 'would remove copy of backup' "dry run shows the remote's plan"
assert_eq "$(copies long complete)" 3 "dry run changed nothing"
pgv prune -d "$REPO" --db "$DB" -c 2
expect_rc 0 "prune"
assert_eq "$(copies long complete)/$(objects "$LONG")" "1/1" "the long remote after prune"

pass
