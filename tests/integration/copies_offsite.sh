#!/usr/bin/env bash
# Off-site copies on the real servers, through pgvault's own commands: a backup of the
# hostile database reaches an S3 remote (OpenStack Swift with s3api) and an SFTP remote
# (OpenSSH) byte for byte, checked through Swift's own API and the SFTP server's file
# system; retention removes the copies on both; after rm -rf of the repository,
# "import --from" each remote into a new directory and "restore latest" give back the
# same database (pg_dump compared); a wrong S3 secret leaves the backup complete, the
# copy failed, and exits 6.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
# shellcheck source=SCRIPTDIR/../harness/swift.sh
source "$(dirname "$TESTLIB")/swift.sh"
# shellcheck source=SCRIPTDIR/../harness/hostile_db.sh
source "$(dirname "$TESTLIB")/hostile_db.sh"
# shellcheck source=SCRIPTDIR/../harness/restore_helpers.sh
source "$(dirname "$TESTLIB")/restore_helpers.sh"
require_cmd curl cmp sqlite3
SSHD="$(dirname "$TESTLIB")/sshd.sh"

SSH=$SCRATCH/ssh
SRV=$SCRATCH/srv
mkdir -p "$SSH" "$SRV"
_offsite_on_exit() {
    local rc=$?
    swift_stop "$SCRATCH/swift" >/dev/null 2>&1
    bash "$SSHD" kill "$SSH" >/dev/null 2>&1
    (exit "$rc")
    _lib_on_exit
}
trap _offsite_on_exit EXIT
if ! PORT=$(bash "$SSHD" start "$SSH" 2>"$SCRATCH/sshd.err"); then
    [[ $? != 77 ]] || skip "$(cat "$SCRATCH/sshd.err")"
    fail "could not start sshd: $(cat "$SCRATCH/sshd.err")"
fi
swift_start "$SCRATCH/swift" || fail "could not start Swift (logs in $SCRATCH/swift)"
BUCKET=pgvoff
SWIFT_OBJ=$SWIFT_API/v1/AUTH_test
curl -fsS -X PUT "$SWIFT_OBJ/$BUCKET" || fail "could not create the bucket"
printf 'testing\n' >"$SCRATCH/secret"
chmod 600 "$SCRATCH/secret"

DB=pgv_off_hostile
T1=pgv_off_from_s3
T2=pgv_off_from_sftp
register_db "$T1"
register_db "$T2"
CONF=$SCRATCH/pgvault.conf
cat >"$CONF" <<CONF
remote.s3.url = s3://$BUCKET/prod
remote.s3.endpoint = $SWIFT_S3
remote.s3.access_key = test:tester
remote.s3.secret_key_file = $SCRATCH/secret
remote.s3.path_style = yes
remote.nas.url = sftp://$(id -un)@127.0.0.1:$PORT$SRV/store
remote.nas.identity_file = $SSH/id_ed25519
remote.nas.known_hosts = $SSH/known_hosts
CONF
pgv() { run_pgvault --config "$CONF" "$@"; }

# 1. two backups reach both remotes, byte for byte
create_db "$DB"
build_hostile_db "$DB"
REPO=$SCRATCH/host1
pgv backup -d "$REPO" --db "$DB" --no-progress --no-prune
expect_rc 0 "first backup with two remotes"
B1=$(catalog_q "$REPO" "SELECT max(id) FROM backups")
F1=$(catalog_q "$REPO" "SELECT file_name FROM backups WHERE id = $B1")
for r in s3 nas; do
    assert_eq "$(catalog_q "$REPO" "SELECT status FROM copies WHERE backup_id = $B1 AND remote = '$r'")" \
        complete "copy of backup $B1 on $r"
done
curl -fsS "$SWIFT_OBJ/$BUCKET/prod/$DB/$F1" -o "$SCRATCH/from_swift" || fail "Swift has no object for $F1"
cmp "$REPO/$F1" "$SCRATCH/from_swift" || fail "the object in Swift differs from the backup"
cmp "$REPO/$F1" "$SRV/store/$DB/$F1" || fail "the file on the SFTP server differs from the backup"
note "(1) the backup is in Swift and on the SFTP server, byte for byte"

# 2. retention: a second backup with --count 1 removes the first's copies on both
psql_q "$DB" "CREATE TABLE later (i int); INSERT INTO later VALUES (1)" >/dev/null
pgv backup -d "$REPO" --db "$DB" --no-progress -c 1
expect_rc 0 "second backup, keeping one"
for r in s3 nas; do
    assert_eq "$(catalog_q "$REPO" "SELECT status FROM copies WHERE backup_id = $B1 AND remote = '$r'")" \
        pruned "copy of backup $B1 on $r after retention"
done
[[ $(curl -s -o /dev/null -w '%{http_code}' "$SWIFT_OBJ/$BUCKET/prod/$DB/$F1") == 404 ]] ||
    fail "the pruned object is still in Swift"
[[ ! -e "$SRV/store/$DB/$F1" ]] || fail "the pruned file is still on the SFTP server"
note "(2) retention removed the first backup's copies on both remotes"

# 3. the host is lost; each remote alone gives the database back
rm -rf "$REPO"
for r in s3 nas; do
    target=$T1
    [[ $r == nas ]] && target=$T2
    NEW=$SCRATCH/host_$r
    pgv import --from "$r" -d "$NEW"
    expect_rc 0 "import --from $r"
    pgv restore -d "$NEW" --db "$DB" -f --target "$target" --no-progress latest
    expect_rc 0 "restore latest after import --from $r"
    same_dump "$DB" "$target" "restore through remote $r"
done
note "(3) import --from and restore latest, from S3 and from SFTP"

# 4. a secret that the remote refuses: the backup is complete, the copy failed, exit 6
sed -i 's/^remote.nas/#remote.nas/' "$CONF"
printf 'wrong\n' >"$SCRATCH/secret"
REPO3=$SCRATCH/host3
pgv backup -d "$REPO3" --db "$DB" --no-progress
expect_rc 6 "backup with a refused secret"
assert_eq "$(catalog_q "$REPO3" "SELECT status FROM backups")" complete "the local backup"
assert_eq "$(catalog_q "$REPO3" "SELECT status FROM copies")" failed "the copy"
note "(4) a refused secret: exit 6, the backup complete, the copy failed"
pass
