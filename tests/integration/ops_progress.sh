#!/usr/bin/env bash
# The progress line: on a terminal, backup, verify and restore
# draw one line on stderr, redrawn in place ("\r" … "\e[K") at most five times a second,
# with an estimate ("of ~N", ETA) from the database's earlier backups, and cleared before
# the summary. Never in captured output, nor with --no-progress, --quiet or --json;
# --progress forces it. The --json documents of backup, verify and restore parse.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
require_cmd script python3 sqlite3 timeout

DB=pgv_ops_progress
create_db "$DB"
psql_script "$DB" >/dev/null <<'SQL'
CREATE TABLE t AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 300000) g;
SQL
REPO=$SCRATCH/repo
TARGET=pgv_ops_progress_copy
register_db "$TARGET"

# on_tty OUTFILE ARGS…: runs pgvault ARGS on a pseudo-terminal (stdin, stdout and stderr),
# everything it wrote in OUTFILE; exit code in RC, wall time (s) in SECS.
on_tty() {
    local out=$1 cmd t0
    shift
    cmd=$(printf '%q ' "$PGVAULT_BIN" "$@")
    t0=$EPOCHREALTIME
    if timeout --kill-after=10 300 script -qec "$cmd" /dev/null </dev/null >"$out" 2>&1; then
        RC=0
    else
        RC=$?
    fi
    SECS=$(python3 -c "print($EPOCHREALTIME - $t0)")
}

# draws FILE LABEL: how many times the progress line starting with LABEL was drawn.
draws() {
    python3 - "$1" "$2" <<'PY'
import sys
data = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
print(sum(1 for part in data.split("\r") if part.startswith(sys.argv[2]) and "elapsed" in part))
PY
}

# cleared_before FILE RE: the line is cleared ("\r\e[K") right before what RE (a Python
# regular expression) matches: the summary.
cleared_before() {
    python3 - "$1" "$2" <<'PY'
import re, sys
data = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
sys.exit(0 if re.search("\r\x1b\\[K" + sys.argv[2], data) else 1)
PY
}

note "backup on a terminal: a progress line, cleared before the summary"
on_tty "$SCRATCH/b1" backup -d "$REPO" --db "$DB"
expect_rc 0 "first backup on a terminal"
n=$(draws "$SCRATCH/b1" "backup \"$DB\": ")
[[ $n -ge 1 ]] || fail "no progress line in: $(cat -A "$SCRATCH/b1")"
cleared_before "$SCRATCH/b1" "backup 1 complete: " ||
    fail "progress line not cleared before the summary: $(cat -A "$SCRATCH/b1")"
# the first backup has no history: no estimate
assert_not_contains "$(cat "$SCRATCH/b1")" "of ~" "first backup: no estimated total"

note "second backup: estimated total and ETA from the first; at most 5 redraws a second"
on_tty "$SCRATCH/b2" backup -d "$REPO" --db "$DB" -j 1
expect_rc 0 "second backup on a terminal"
assert_contains "$(cat "$SCRATCH/b2")" "of ~" "second backup: total estimated from the first"
assert_contains "$(cat "$SCRATCH/b2")" ", ETA " "second backup: an ETA"
n=$(draws "$SCRATCH/b2" "backup \"$DB\": ")
max=$(python3 -c "import math; print(math.ceil(5 * $SECS) + 1)")
[[ $n -ge 1 && $n -le $max ]] || fail "$n redraws in $SECS s (at most $max)"
cleared_before "$SCRATCH/b2" "backup 2 complete:" || fail "second backup: line not cleared"

note "captured stderr: no progress"
run_pgvault backup -d "$REPO" --db "$DB"
expect_rc 0 "backup with stderr captured"
assert_not_contains "$ERR" "elapsed" "captured stderr"
assert_not_contains "$ERR" $'\r' "captured stderr"
assert_not_contains "$OUT" "elapsed" "captured stdout"

note "--no-progress, --quiet and --json silence it on a terminal"
for flag in --no-progress --quiet --json; do
    on_tty "$SCRATCH/silent" backup -d "$REPO" --db "$DB" "$flag"
    expect_rc 0 "backup $flag on a terminal"
    assert_not_contains "$(cat "$SCRATCH/silent")" "elapsed" "backup $flag on a terminal"
done

note "--progress forces it even without a terminal"
run_pgvault backup -d "$REPO" --db "$DB" --progress
expect_rc 0 "backup --progress"
assert_contains "$ERR" $'\r'"backup \"$DB\": " "forced progress line"
assert_contains "$ERR" $'\r\e[K' "forced progress line cleared"

note "verify and verify --deep on a terminal"
on_tty "$SCRATCH/v" verify -d "$REPO" --db "$DB" latest
expect_rc 0 "verify on a terminal"
id=$(catalog_q "$REPO" "SELECT max(id) FROM backups WHERE status = 'complete'")
[[ $(draws "$SCRATCH/v" "verify $id (") -ge 1 ]] || fail "verify: no progress: $(cat -A "$SCRATCH/v")"
assert_contains "$(cat "$SCRATCH/v")" $'\r\e[Kok ' "verify: line cleared before the result"
on_tty "$SCRATCH/vd" verify --deep -d "$REPO" --db "$DB" latest
expect_rc 0 "verify --deep on a terminal"
[[ $(draws "$SCRATCH/vd" "verify $id (") -ge 1 ]] || fail "verify --deep: no progress"
run_pgvault verify -d "$REPO" --db "$DB" latest
assert_not_contains "$ERR$OUT" "elapsed" "verify with output captured"

note "restore on a terminal: checksum, then load"
on_tty "$SCRATCH/r" restore -f -d "$REPO" --db "$DB" --target "$TARGET" latest
expect_rc 0 "restore on a terminal"
[[ $(draws "$SCRATCH/r" "restore \"$TARGET\" (backup $id): ") -ge 1 ]] ||
    fail "restore: no progress: $(cat -A "$SCRATCH/r")"
cleared_before "$SCRATCH/r" "restore [0-9]+ complete: " || fail "restore: line not cleared before the summary"
assert_eq "$(psql_q "$TARGET" "SELECT count(*) FROM t")" 300000 "rows restored"
drop_db "$TARGET"

note "--json documents parse"
run_pgvault backup -d "$REPO" --db "$DB" --json
expect_rc 0 "backup --json"
printf '%s' "$OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["outcome"] == "complete", d
assert d["db_name"] == sys.argv[1], d
assert d["row_count"] == 300000 and d["table_count"] == 1, d
assert len(d["checksum"]) == 32 and d["size_bytes"] > 0 and d["raw_bytes"] > d["size_bytes"], d
' "$DB" || fail "backup --json: $OUT"
bid=$(printf '%s' "$OUT" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
assert_eq "$(catalog_q "$REPO" "SELECT status FROM backups WHERE id = $bid")" complete "json id"

run_pgvault verify -d "$REPO" --db "$DB" --all --json
expect_rc 0 "verify --json"
printf '%s' "$OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert isinstance(d, list) and len(d) >= 5, d
assert all(v["ok"] is True and v["error"] is None for v in d), d
' || fail "verify --json: $OUT"

run_pgvault restore -f -d "$REPO" --db "$DB" --target "$TARGET" --json latest
expect_rc 0 "restore --json"
printf '%s' "$OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["outcome"] == "complete" and d["target_db"] == sys.argv[1], d
assert d["tables_checked"] == 1 and d["rows_checked"] == 300000, d
' "$TARGET" || fail "restore --json: $OUT"
assert_not_contains "$ERR" "elapsed" "restore --json: no progress"

pass
