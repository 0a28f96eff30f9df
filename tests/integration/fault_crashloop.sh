#!/usr/bin/env bash
# The crash loop: a backup is killed (SIGKILL, from the LD_PRELOAD shim) at its N-th
# write, pwrite, fsync or rename in the repository — the dump file, the catalog and its
# WAL, the lock file, the directory — for N = 1, 2, … until one run gets through. After
# every kill:
#   - "pgvault verify --all" passes: every complete row's file is whole;
#   - no complete row names a partial file, a missing file or a file of another size;
#   - the next command (a backup that is not killed) succeeds, and after it no row is
#     'running' and no .partial file is left;
#   - the catalog passes PRAGMA integrity_check.
# Failures are collected per N and reported together.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
# shellcheck source=SCRIPTDIR/../fault/faultlib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../fault/faultlib.sh"
require_cmd xxhsum sqlite3
shim_setup
SANE_HASH=0 # verify --all checks every checksum after each kill

DB=pgv_fault_crash
create_db "$DB"
psql_script "$DB" >/dev/null <<'SQL'
CREATE TABLE a (id int PRIMARY KEY, v text);
INSERT INTO a SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 3000) g;
CREATE TABLE b (id int, w text);
INSERT INTO b SELECT g, 'w' || g FROM generate_series(1, 500) g;
SQL
MAX_N=${FAULT_CRASHLOOP_MAX:-200}

# one iteration: kill at N, then the checks; prints "done" in $SCRATCH/iter.state when
# the run was not killed
iteration() {
    local n=$1 before_max
    before_max=$(catalog_q "$REPO" "SELECT coalesce(max(id), 0) FROM backups")
    run_shim FAILSHIM_OP=write,pwrite,fsync,rename FAILSHIM_MATCH="$REPO" \
        FAILSHIM_NTH="$n" FAILSHIM_ACTION=kill -- backup -d "$REPO" --db "$DB" -j 2
    if [[ $RC -eq 0 ]]; then
        echo "done" >"$SCRATCH/iter.state"
        no_partial "$REPO" "N=$n (not killed)"
        no_running "$REPO" "N=$n (not killed)"
        complete_sane "$REPO" "N=$n (not killed)"
        verify_all "$REPO" "N=$n (not killed)"
        return 0
    fi
    [[ $RC -eq 137 ]] || fail "N=$n: pgvault exited $RC, not killed (stderr: $ERR)"
    # the state the kill left, before any other pgvault command
    complete_sane "$REPO" "N=$n after the kill"
    verify_all "$REPO" "N=$n after the kill"
    # the next command
    run_pgvault backup -d "$REPO" --db "$DB" -j 2
    expect_rc 0 "N=$n: the backup after the kill"
    local running partials
    running=$(count_status "$REPO" running)
    partials=$(find "$REPO" -maxdepth 1 -name '*.partial' -printf x | wc -c)
    [[ "$running" == 0 && "$partials" == 0 ]] ||
        fail "N=$n: after the next backup: $running row(s) 'running', $partials .partial file(s) left"
    complete_sane "$REPO" "N=$n after the next backup"
    # the killed run's row, if it got one, is failed or complete
    local st
    st=$(catalog_q "$REPO" "SELECT coalesce(group_concat(status), '') FROM backups WHERE id = $((before_max + 1))")
    case $st in
        '' | failed | complete) ;;
        *) fail "N=$n: the killed run's row is [$st] after the next backup" ;;
    esac
    assert_eq "$(catalog_q "$REPO" 'PRAGMA integrity_check')" ok "N=$n: catalog integrity"
}

case_crash_loop() {
    REPO=$SCRATCH/repo
    run_pgvault backup -d "$REPO" --db "$DB"
    expect_rc 0 "first backup"
    # how many counted calls a whole backup makes (the loop must pass that)
    local log=$SCRATCH/dry.log total
    shim_log_run "$REPO" "$log" backup -d "$REPO" --db "$DB" -j 2
    total=$(wc -l <"$log")
    note "a whole backup makes $total counted calls: $(awk '{print $2}' "$log" | sort | uniq -c | tr -s ' \n' ' ')"
    ((total < MAX_N)) || fail "a backup makes $total calls, more than the cap $MAX_N"

    local n failures=0 errlog=$SCRATCH/loop.errors
    : >"$errlog"
    rm -f "$SCRATCH/iter.state"
    for ((n = 1; n <= MAX_N; n++)); do
        set +e
        trap - ERR
        (
            set -e
            iteration "$n"
        ) 2>"$SCRATCH/iter.err" >/dev/null
        local rc=$?
        set -e
        trap 'echo "FAIL: $TEST_NAME: command failed (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR
        if [[ $rc -ne 0 ]]; then
            failures=$((failures + 1))
            printf 'N=%d: %s\n' "$n" "$(grep -m1 '^FAIL' "$SCRATCH/iter.err" || tail -n 1 "$SCRATCH/iter.err")" >>"$errlog"
        fi
        [[ ! -f "$SCRATCH/iter.state" ]] || break
    done
    note "the backup got through at N=$n; $failures iteration(s) failed"
    note "catalog: $(catalog_q "$REPO" "SELECT group_concat(status || '=' || c, ' ') FROM (SELECT status, count(*) c FROM backups GROUP BY status)")"
    if ((failures > 0)); then
        # the distinct failures, each with the N where it first showed
        sed -E 's/^(N=[0-9]+): //' "$errlog" | sed -E 's/N=[0-9]+/N=…/g; s/[0-9]{8}_[0-9]{6}/…/g; s/: [0-9]+ row/: # row/g; s/, [0-9]+ \.partial/, # .partial/g' |
            sort | uniq -c | sort -rn | head -n 12 >&2
        head -n 5 "$errlog" >&2
        fail "crash loop: $failures of $n iterations failed"
    fi
    [[ -f "$SCRATCH/iter.state" ]] || fail "the backup never got through in $MAX_N kills"
}

run_case "crash loop: SIGKILL at the N-th write/pwrite/fsync/rename, N = 1.. until done" case_crash_loop
finish_cases
