#!/usr/bin/env bash
# Storage faults during a backup: the disk fills up (a 2 MiB tmpfs as the repository), the
# repository is read-only, and write/fsync/rename/the catalog's writes fail with an I/O
# error (the LD_PRELOAD shim tests/fault/failshim.c, preloaded after ASan's runtime).
# Each case: exit 1, one "pgvault: " line naming the cause, no partial file, the row
# 'failed', no file that the catalog does not list as complete, the earlier backups
# still verifying.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
# shellcheck source=SCRIPTDIR/../fault/faultlib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../fault/faultlib.sh"
require_cmd xxhsum sqlite3 mount umount
shim_setup

DB=pgv_fault_storage
create_db "$DB"
# ~11 MB of dump text that compresses only ~2x: does not fit in 2 MiB.
psql_script "$DB" >/dev/null <<'SQL'
CREATE TABLE t (id int PRIMARY KEY, a text, b text);
INSERT INTO t SELECT g, md5(g::text), md5((g * 7)::text) FROM generate_series(1, 150000) g;
SQL
SMALL=pgv_fault_storage_small
create_db "$SMALL"
psql_script "$SMALL" >/dev/null <<'SQL'
CREATE TABLE s (id int PRIMARY KEY, v text);
INSERT INTO s SELECT g, 'v' || g FROM generate_series(1, 200) g;
SQL

# The mounts a case made (cases run in subshells: the list is a file), unmounted when the
# test ends, before the scratch directory is removed.
track_mount() {
    echo "$1" >>"$SCRATCH/.mounts"
}
cleanup_mounts() {
    local m
    [[ -f "$SCRATCH/.mounts" ]] || return 0
    while read -r m; do
        if mountpoint -q "$m" 2>/dev/null; then
            umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
        fi
    done < <(tac "$SCRATCH/.mounts")
}
at_exit cleanup_mounts

can_mount=1
if [[ $(id -u) -ne 0 ]]; then
    can_mount=0
fi

# files_but_catalogued REPO WHAT: every backup file in REPO is a complete row's file.
files_but_catalogued() {
    local f
    while IFS= read -r f; do
        [[ -n "$f" ]] || continue
        [[ "$(catalog_q "$1" "SELECT count(*) FROM backups WHERE status = 'complete' AND file_name = '$f'")" == 1 ]] ||
            fail "$2: file $f is in the repository but no complete row names it"
    done < <(find "$1" -maxdepth 1 \( -name '*.sql' -o -name '*.sql.gz' \) -printf '%f\n')
}

# after_failure REPO WHAT: the checks after a failed backup.
after_failure() {
    no_partial "$1" "$2"
    expect_last_failed "$1" "$2"
    no_running "$1" "$2"
    complete_sane "$1" "$2"
    files_but_catalogued "$1" "$2"
    verify_all "$1" "$2"
    assert_eq "$(catalog_q "$1" 'PRAGMA integrity_check')" ok "$2: catalog integrity"
}

# A repository with one good backup of the small database.
new_repo() {
    REPO=$SCRATCH/$1
    run_pgvault backup -d "$REPO" --db "$SMALL"
    expect_rc 0 "$1: first backup"
}

case_disk_full() {
    [[ $can_mount == 1 ]] || { note "SKIP: not root, cannot mount a tmpfs"; exit 77; }
    local mnt=$SCRATCH/full
    mkdir -p "$mnt"
    mount -t tmpfs -o size=2m,mode=0700 tmpfs "$mnt"
    track_mount "$mnt"
    REPO=$mnt/repo
    run_pgvault backup -d "$REPO" --db "$SMALL"
    expect_rc 0 "backup of the small database on the tmpfs"
    run_pgvault backup -d "$REPO" --db "$DB" -j 1
    expect_rc 1 "backup onto a full disk"
    expect_error_line "backup onto a full disk"
    assert_contains "$(first_err_line)" "No space left on device" "message of a full disk"
    after_failure "$REPO" "disk full"
    assert_eq "$(count_status "$REPO" complete)" 1 "complete backups after the disk filled"
    # the space came back: the next backup of the small database works
    run_pgvault backup -d "$REPO" --db "$SMALL"
    expect_rc 0 "backup after the disk-full failure"
    no_partial "$REPO" "backup after the disk-full failure"
    # the same with compression on all cores
    run_pgvault backup -d "$REPO" --db "$DB" -j 2
    expect_rc 1 "backup onto a full disk (-j 2)"
    expect_error_line "backup onto a full disk (-j 2)"
    assert_contains "$(first_err_line)" "No space left on device" "message of a full disk (-j 2)"
    after_failure "$REPO" "disk full (-j 2)"
    umount "$mnt"
}

case_readonly_repo() {
    [[ $can_mount == 1 ]] || { note "SKIP: not root, cannot mount"; exit 77; }
    local src=$SCRATCH/ro_src mnt=$SCRATCH/ro
    mkdir -p "$src" "$mnt"
    run_pgvault backup -d "$src/repo" --db "$SMALL"
    expect_rc 0 "backup before the repository turns read-only"
    local before
    before=$(sqlite3 "$src/repo/catalog.db" .dump | md5sum)
    mount --bind "$src" "$mnt"
    track_mount "$mnt"
    mount -o remount,bind,ro "$mnt"
    if touch "$mnt/repo/x" 2>/dev/null; then
        fail "the read-only bind mount is writable"
    fi
    REPO=$mnt/repo
    run_pgvault backup -d "$REPO" --db "$SMALL"
    expect_rc 1 "backup into a read-only repository"
    expect_error_line "backup into a read-only repository"
    assert_contains "$(first_err_line)" "Read-only file system" "message of a read-only repository"
    no_partial "$REPO" "read-only repository"
    # a new repository below a read-only directory
    run_pgvault backup -d "$mnt/newrepo" --db "$SMALL"
    expect_rc 1 "backup into a new repository on a read-only file system"
    expect_error_line "backup into a new repository on a read-only file system"
    assert_contains "$(first_err_line)" "Read-only file system" "message of a read-only parent"
    umount "$mnt"
    assert_eq "$(sqlite3 "$src/repo/catalog.db" .dump | md5sum)" "$before" \
        "catalog after the read-only attempts"
}

# Readers on a read-only repository (a snapshot, a read-only mount of the backup disk):
# list and verify read; they must not need to write.
case_readonly_readers() {
    [[ $can_mount == 1 ]] || { note "SKIP: not root, cannot mount"; exit 77; }
    local src=$SCRATCH/ror_src mnt=$SCRATCH/ror
    mkdir -p "$src" "$mnt"
    run_pgvault backup -d "$src/repo" --db "$SMALL"
    expect_rc 0 "backup before the repository turns read-only"
    mount --bind "$src" "$mnt"
    track_mount "$mnt"
    mount -o remount,bind,ro "$mnt"
    run_pgvault list -d "$mnt/repo"
    expect_rc 0 "list on a read-only repository"
    assert_contains "$OUT" "${SMALL}_" "list on a read-only repository"
    run_pgvault verify -d "$mnt/repo" --all
    expect_rc 0 "verify on a read-only repository"
    umount "$mnt"
}

# shim_fail NAME OPS MATCH NTH ERRNO EXPECT [ARGS…]: a backup of $DB (with ARGS) whose
# NTH counted OPS call on MATCH fails with ERRNO; the first error line must contain EXPECT.
shim_fail() {
    local name=$1 ops=$2 match=$3 nth=$4 errno=$5 expect=$6
    shift 6
    run_shim FAILSHIM_OP="$ops" FAILSHIM_MATCH="$match" FAILSHIM_NTH="$nth" \
        FAILSHIM_ERRNO="$errno" -- backup -d "$REPO" --db "$DB" "$@"
    expect_rc 1 "$name"
    expect_error_line "$name"
    assert_contains "$(first_err_line)" "$expect" "$name: message"
    local text
    case $errno in
        EIO) text="Input/output error" ;;
        ENOSPC) text="No space left on device" ;;
        EDQUOT) text="Disk quota exceeded" ;;
        *) text=$errno ;;
    esac
    assert_contains "$(first_err_line)" "$text" "$name: the system's error text"
    after_failure "$REPO" "$name"
}

case_write_eio() {
    new_repo repo_write
    shim_fail "write EIO (first write, -j 1)" write .partial 1 EIO "could not write" -j 1
    shim_fail "write EIO (fifth write, -j 1)" write .partial 5 EIO "could not write" -j 1
    shim_fail "write EIO (fifth write, -j 2)" write .partial 5 EIO "could not write" -j 2
    shim_fail "write ENOSPC (third write, -j 2)" write .partial 3 ENOSPC "could not write" -j 2
    shim_fail "write EDQUOT (-n)" write .partial 2 EDQUOT "could not write" -n
    assert_eq "$(count_status "$REPO" complete)" 1 "complete backups after the write failures"
}

case_fsync_eio() {
    new_repo repo_fsync
    shim_fail "fsync EIO on the partial file" fsync .partial 1 EIO "could not fsync"
    assert_eq "$(count_status "$REPO" complete)" 1 "complete backups after the fsync failure"
}

case_rename_eio() {
    new_repo repo_rename
    shim_fail "renameat2 EIO" rename .partial 1 EIO "could not rename"
    assert_eq "$(dump_files "$REPO")" 1 "backup files after the rename failure"
}

# The directory fsync after the rename fails: the file has its final name already.
case_dir_fsync_eio() {
    new_repo repo_dirsync
    local log=$SCRATCH/dirsync.log nth
    shim_log_run "$REPO" "$log" backup -d "$REPO" --db "$SMALL"
    # counting fsync/fdatasync and renames in the repository: the first fsync of the
    # directory itself after the rename
    nth=$(nth_in_log "$log" 'fsync|fdatasync|rename' '^rename ' "^(fsync|fdatasync) ${REPO}\$")
    [[ -n "$nth" ]] || fail "no directory fsync after the rename in the dry run: $(cat "$log")"
    note "the directory fsync is call $nth"
    shim_fail "directory fsync EIO after the rename" fsync,rename "$REPO" "$nth" EIO "could not fsync"
}

# The catalog cannot record the result: the first WAL write after the rename fails.
case_catalog_write_eio() {
    new_repo repo_catwrite
    local log=$SCRATCH/catwrite.log nth
    shim_log_run "$REPO" "$log" backup -d "$REPO" --db "$SMALL"
    nth=$(nth_in_log "$log" 'pwrite|pwrite64|pwritev|rename' '^rename ' 'catalog\.db-wal$')
    [[ -n "$nth" ]] || fail "no catalog write after the rename in the dry run: $(cat "$log")"
    note "the first catalog write after the rename is call $nth"
    run_shim FAILSHIM_OP=pwrite,rename FAILSHIM_MATCH="$REPO" FAILSHIM_NTH="$nth" \
        FAILSHIM_ERRNO=EIO -- backup -d "$REPO" --db "$DB" -j 2
    expect_rc 1 "catalog write EIO after the rename"
    expect_error_line "catalog write EIO after the rename"
    assert_contains "$(first_err_line)" "catalog" "catalog write EIO: message names the catalog"
    no_partial "$REPO" "catalog write EIO"
    no_running "$REPO" "catalog write EIO"
    complete_sane "$REPO" "catalog write EIO"
    files_but_catalogued "$REPO" "catalog write EIO"
    verify_all "$REPO" "catalog write EIO"
    assert_eq "$(catalog_q "$REPO" 'PRAGMA integrity_check')" ok "catalog write EIO: integrity"
}

run_case "disk full (2 MiB tmpfs): exit 1, No space left on device" case_disk_full
run_case "read-only repository: exit 1, Read-only file system" case_readonly_repo
run_case "read-only repository: list and verify still read" case_readonly_readers
run_case "write fails (EIO, ENOSPC, EDQUOT; -j 1 and -j 2)" case_write_eio
run_case "fsync of the partial file fails (EIO)" case_fsync_eio
run_case "rename (renameat2) fails (EIO)" case_rename_eio
run_case "directory fsync after the rename fails (EIO)" case_dir_fsync_eio
run_case "catalog write fails after the rename (EIO)" case_catalog_write_eio
finish_cases
