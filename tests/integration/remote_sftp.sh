#!/usr/bin/env bash
# The SFTP backend against a real OpenSSH server (tests/harness/sshd.sh) on 127.0.0.1,
# through remote_tool: put, stat, get, ls and rm, checked byte for byte through the
# server's file system; then the faults: a changed host key, an unknown host, a wrong
# client key, a key file readable by others, a cancelled upload, the server killed in
# the middle of an upload, a full disk on the server side, a server that is not there.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
require_cmd ssh-keygen cmp xxhsum
: "${REMOTE_TOOL:?REMOTE_TOOL is not set (run the test through ctest)}"
SSHD="$(dirname "$TESTLIB")/sshd.sh"

SSH=$SCRATCH/ssh
SRV=$SCRATCH/srv
mkdir -p "$SSH" "$SRV"
_MOUNT=
AGENT_PID=
cleanup() {
    bash "$SSHD" kill "$SSH" >/dev/null 2>&1
    [[ -z "$AGENT_PID" ]] || kill "$AGENT_PID" 2>/dev/null
    if [[ -n "$_MOUNT" ]] && mountpoint -q "$_MOUNT"; then
        umount "$_MOUNT" 2>/dev/null || umount -l "$_MOUNT" 2>/dev/null
    fi
    return 0
}
# shellcheck disable=SC2154 # _rc is set inside the trap
trap '_rc=$?; set +e; cleanup; (exit $_rc); _lib_on_exit' EXIT

if ! PORT=$(bash "$SSHD" start "$SSH" 2>"$SCRATCH/sshd.err"); then
    [[ $? != 77 ]] || skip "$(cat "$SCRATCH/sshd.err")"
    fail "could not start sshd: $(cat "$SCRATCH/sshd.err")"
fi
note "sshd on port $PORT"
URL="sftp://$(id -un)@127.0.0.1:$PORT$SRV/store"
KEYS=("identity_file=$SSH/id_ed25519" "known_hosts=$SSH/known_hosts")

# tool [SETTING…] OP ARGS…: remote_tool on $URL with the test's keys (settings given
# override them); stdout in $OUT, stderr in $ERR, exit code in $RC.
tool() {
    local settings=("${KEYS[@]}")
    while [[ $# -gt 0 && "$1" == *=* ]]; do
        settings+=("$1")
        shift
    done
    if timeout 120 "$REMOTE_TOOL" "${settings[@]}" "$URL" "$@" >"$SCRATCH/.out" 2>"$SCRATCH/.err"; then
        RC=0
    else
        RC=$?
    fi
    OUT=$(head -c 65536 "$SCRATCH/.out" | tr -d '\0')
    ERR=$(<"$SCRATCH/.err")
}

# expect_tool N WHAT: the last tool call exited N.
expect_tool() {
    [[ "$RC" == "$1" ]] || fail "$2: remote_tool exited $RC, expected $1
--- stdout ---
$OUT
--- stderr ---
$ERR"
}

# no_leftovers DIR WHAT: no temporary upload file in DIR.
no_leftovers() {
    local left
    left=$(find "$1" -name '.*.partial.*' 2>/dev/null)
    [[ -z "$left" ]] || fail "$2: temporaries left behind: $left"
}

xxh() {
    xxhsum -H2 "$1" | awk '{print $1}'
}

head -c 1000 /dev/urandom >"$SCRATCH/small"
head -c 30000000 /dev/urandom >"$SCRATCH/big"

note "put, stat, get, ls, rm"
tool put "$SCRATCH/small" shop/shop_1.sql.gz
expect_tool 0 "put small"
tool put "$SCRATCH/big" shop/deep/er/big.sql.zst
expect_tool 0 "put big"
cmp "$SCRATCH/small" "$SRV/store/shop/shop_1.sql.gz" || fail "small file differs on the server"
cmp "$SCRATCH/big" "$SRV/store/shop/deep/er/big.sql.zst" || fail "big file differs on the server"
assert_eq "$(cat "$SRV/store/shop/deep/er/big.sql.zst.xxh3")" "$(xxh "$SCRATCH/big")" "sidecar"
assert_eq "$(stat -c %s "$SRV/store/shop/deep/er/big.sql.zst.xxh3")" 33 "sidecar size"
assert_eq "$(stat -c %a "$SRV/store/shop/shop_1.sql.gz")" 600 "object mode"
no_leftovers "$SRV" "after the puts"
tool stat shop/deep/er/big.sql.zst
expect_tool 0 "stat"
assert_eq "$OUT" "30000000 $(xxh "$SCRATCH/big")" "stat output"
tool stat shop/nothing
expect_tool 1 "stat of a missing object"
tool get shop/deep/er/big.sql.zst
expect_tool 0 "get"
cmp "$SCRATCH/big" "$SCRATCH/.out" || fail "get: bytes differ"
echo stray >"$SRV/store/shop/.other.partial.99"
tool ls
expect_tool 0 "ls"
assert_eq "$(sort <<<"$OUT")" "$(sort <<EOF
shop/deep/er/big.sql.zst 30000000 $(xxh "$SCRATCH/big")
shop/shop_1.sql.gz 1000 $(xxh "$SCRATCH/small")
EOF
)" "ls lists the objects, without sidecars and temporaries"
rm "$SRV/store/shop/.other.partial.99"
tool ls shop/sh
assert_eq "$OUT" "shop/shop_1.sql.gz 1000 $(xxh "$SCRATCH/small")" "ls with a prefix"
tool ls nowhere/
expect_tool 0 "ls of a missing directory"
assert_eq "$OUT" "" "ls of a missing directory"
: >"$SCRATCH/empty"
tool put "$SCRATCH/empty" empty
expect_tool 0 "put of an empty file"
tool get empty
expect_tool 0 "get of an empty object"
assert_eq "$(stat -c %s "$SCRATCH/.out")" 0 "empty object's bytes"
# an object without a sidecar has no checksum
cp "$SCRATCH/small" "$SRV/store/bare"
tool stat bare
assert_eq "$OUT" "1000 -" "stat without a sidecar"
# a second put replaces the object and its checksum
tool put "$SCRATCH/big" shop/shop_1.sql.gz
expect_tool 0 "put over an existing object"
cmp "$SCRATCH/big" "$SRV/store/shop/shop_1.sql.gz" || fail "replaced file differs"
assert_eq "$(cat "$SRV/store/shop/shop_1.sql.gz.xxh3")" "$(xxh "$SCRATCH/big")" "replaced sidecar"
tool rm shop/shop_1.sql.gz
expect_tool 0 "rm"
[[ ! -e "$SRV/store/shop/shop_1.sql.gz" && ! -e "$SRV/store/shop/shop_1.sql.gz.xxh3" ]] ||
    fail "rm left the file or its sidecar"
tool rm shop/shop_1.sql.gz
expect_tool 0 "rm of a missing object"
tool get shop/shop_1.sql.gz
expect_tool 1 "get of a missing object"
assert_contains "$ERR" 'object "shop/shop_1.sql.gz" does not exist on remote "test"' "get missing"
tool put "$SCRATCH/small" ../escape
expect_tool 2 "a key with .."

note "bad urls"
for bad in "sftp://u@h:0/x" "sftp://u@h:65536/x" "sftp://u@h" "sftp://@h/x" "sftp://u@/x" \
    "sftp://u@h/x%20y" "sftp://u@[::1/x"; do
    if "$REMOTE_TOOL" "$bad" ls >/dev/null 2>"$SCRATCH/.err"; then rc=0; else rc=$?; fi
    assert_eq "$rc" 2 "url $bad ($(cat "$SCRATCH/.err"))"
done

note "unknown host, changed host key"
: >"$SCRATCH/empty_known_hosts"
tool "known_hosts=$SCRATCH/empty_known_hosts" stat bare
expect_tool 6 "unknown host"
fp=$(ssh-keygen -lf "$SSH/host_ed25519_key.pub" | awk '{print $2}')
assert_contains "$ERR" "unknown host key of 127.0.0.1 port $PORT (offered ssh-ed25519 $fp), refused" \
    "unknown host message"
assert_contains "$ERR" "ssh-keyscan -p $PORT 127.0.0.1 >>" "unknown host hint"
assert_eq "$(stat -c %s "$SCRATCH/empty_known_hosts")" 0 "known_hosts left alone"
tool "known_hosts=$SCRATCH/no_such_file" stat bare
expect_tool 6 "missing known_hosts"
cp "$SSH/known_hosts" "$SCRATCH/old_known_hosts"
bash "$SSHD" stop "$SSH"
rm "$SSH"/host_ed25519_key*
bash "$SSHD" start "$SSH" "$PORT" >/dev/null
fp=$(ssh-keygen -lf "$SSH/host_ed25519_key.pub" | awk '{print $2}')
tool "known_hosts=$SCRATCH/old_known_hosts" put "$SCRATCH/small" changed
expect_tool 6 "changed host key"
assert_contains "$ERR" "changed host key of 127.0.0.1 port $PORT (offered ssh-ed25519 $fp), refused" \
    "changed host key message"
[[ ! -e "$SRV/store/changed" ]] || fail "an upload went to a server with a changed key"
cmp -s "$SSH/known_hosts" "$SCRATCH/old_known_hosts" && fail "the host key did not change"

note "wrong client key, key file readable by others"
ssh-keygen -q -t ed25519 -N '' -f "$SCRATCH/other_key"
tool "identity_file=$SCRATCH/other_key" stat bare
expect_tool 6 "wrong client key"
assert_contains "$ERR" "refused the key \"$SCRATCH/other_key\"" "wrong key message"
cp "$SSH/id_ed25519" "$SCRATCH/open_key"
chmod 644 "$SCRATCH/open_key"
tool "identity_file=$SCRATCH/open_key" stat bare
expect_tool 2 "key file mode 0644"
assert_contains "$ERR" "is accessible by group or others (mode 0644)" "open key message"
tool "identity_file=$SCRATCH/missing_key" stat bare
expect_tool 2 "missing key file"

note "a key with a passphrase: refused alone, used through an ssh-agent"
ssh-keygen -q -t ed25519 -N 'secret words' -f "$SCRATCH/enc_key"
cat "$SCRATCH/enc_key.pub" >>"$SSH/authorized_keys"
SSH_AUTH_SOCK='' tool "identity_file=$SCRATCH/enc_key" stat bare
expect_tool 2 "key with a passphrase, no agent"
assert_contains "$ERR" "could not load identity file \"$SCRATCH/enc_key\"" "encrypted key message"
printf '#!/bin/sh\necho "secret words"\n' >"$SCRATCH/askpass"
chmod 700 "$SCRATCH/askpass"
AGENT_SOCK=$SCRATCH/agent.sock
AGENT_PID=$(ssh-agent -s -a "$AGENT_SOCK" | sed -n 's/^SSH_AGENT_PID=\([0-9]*\);.*/\1/p')
SSH_AUTH_SOCK=$AGENT_SOCK SSH_ASKPASS=$SCRATCH/askpass SSH_ASKPASS_REQUIRE=force DISPLAY=:0 \
    ssh-add -q "$SCRATCH/enc_key" </dev/null
SSH_AUTH_SOCK=$AGENT_SOCK tool "identity_file=$SCRATCH/enc_key" stat bare
expect_tool 0 "key with a passphrase through the agent"
assert_eq "$OUT" "1000 -" "stat through the agent"
kill "$AGENT_PID"
AGENT_PID=

# put_in_background KEY [SETTING…]: a paced upload of the big file; its pid in $BG.
put_in_background() {
    local key=$1
    shift
    REMOTE_TOOL_PACE_MS=20 "$REMOTE_TOOL" "${KEYS[@]}" "$@" "$URL" put "$SCRATCH/big" "$key" \
        >"$SCRATCH/.bg.out" 2>"$SCRATCH/.bg.err" &
    BG=$!
}
growing() {
    local f
    for f in "$1"/.*.partial.*; do
        [[ -f "$f" && $(stat -c %s "$f") -gt 0 ]] && return 0
    done
    return 1
}

note "cancelled upload"
put_in_background cancel/big
wait_until "the upload to start" growing "$SRV/store/cancel"
kill -TERM "$BG"
rc=0
wait "$BG" || rc=$?
assert_eq "$rc" 1 "cancelled upload exit code"
assert_contains "$(cat "$SCRATCH/.bg.err")" "interrupted" "cancelled upload message"
[[ ! -e "$SRV/store/cancel/big" && ! -e "$SRV/store/cancel/big.xxh3" ]] ||
    fail "a cancelled upload left the object"
no_leftovers "$SRV/store/cancel" "cancelled upload"

note "cancelled download"
REMOTE_TOOL_PACE_MS=20 "$REMOTE_TOOL" "${KEYS[@]}" "$URL" get shop/deep/er/big.sql.zst \
    >"$SCRATCH/.bg.out" 2>"$SCRATCH/.bg.err" &
BG=$!
started() { [[ $(stat -c %s "$SCRATCH/.bg.out") -gt 0 ]]; }
wait_until "the download to start" started
kill -TERM "$BG"
rc=0
wait "$BG" || rc=$?
assert_eq "$rc" 1 "cancelled download exit code"
assert_contains "$(cat "$SCRATCH/.bg.err")" "interrupted" "cancelled download message"
size=$(stat -c %s "$SCRATCH/.bg.out")
((size < 30000000)) || fail "the download was not cut short ($size bytes)"

note "server that stops answering during an upload"
put_in_background stall/big io_timeout=2
wait_until "the upload to start" growing "$SRV/store/stall"
bash "$SSHD" pause "$SSH"
t0=$SECONDS
rc=0
wait "$BG" || rc=$?
bash "$SSHD" resume "$SSH"
assert_eq "$rc" 6 "upload to a server that hangs: exit code ($(cat "$SCRATCH/.bg.err"))"
assert_contains "$(cat "$SCRATCH/.bg.err")" "127.0.0.1 port $PORT did not answer for 2 s" \
    "hung server message"
((SECONDS - t0 < 20)) || fail "giving up on a hung server took $((SECONDS - t0)) s"
[[ ! -e "$SRV/store/stall/big" && ! -e "$SRV/store/stall/big.xxh3" ]] ||
    fail "an upload to a hung server left the object or its sidecar"

note "server killed during an upload"
put_in_background killed/big
wait_until "the upload to start" growing "$SRV/store/killed"
bash "$SSHD" kill "$SSH"
rc=0
wait "$BG" || rc=$?
assert_eq "$rc" 6 "upload to a killed server: exit code ($(cat "$SCRATCH/.bg.err"))"
assert_contains "$(cat "$SCRATCH/.bg.err")" "lost the connection to 127.0.0.1 port $PORT" \
    "killed server message"
[[ ! -e "$SRV/store/killed/big" && ! -e "$SRV/store/killed/big.xxh3" ]] ||
    fail "an interrupted upload left the object or its sidecar"
# the temporary cannot be removed over a dead connection; the next upload of the same
# object removes it
bash "$SSHD" start "$SSH" "$PORT" >/dev/null
tool put "$SCRATCH/small" killed/big
expect_tool 0 "upload after the restart"
no_leftovers "$SRV/store/killed" "after the upload that followed the kill"
cmp "$SCRATCH/small" "$SRV/store/killed/big" || fail "upload after the restart differs"

note "disk full on the server"
if [[ $(id -u) -ne 0 ]]; then
    note "SKIP disk full: not root, cannot mount a tmpfs"
else
    mkdir -p "$SRV/full"
    if mount -t tmpfs -o size=4m tmpfs "$SRV/full" 2>"$SCRATCH/mount.err"; then
        _MOUNT=$SRV/full
        URL="sftp://$(id -un)@127.0.0.1:$PORT$SRV/full"
        tool put "$SCRATCH/big" db/big
        expect_tool 1 "upload to a full disk"
        assert_contains "$ERR" "could not write" "disk full message"
        assert_contains "$ERR" "is full" "disk full message"
        [[ ! -e "$SRV/full/db/big" ]] || fail "disk full: the object exists"
        no_leftovers "$SRV/full" "disk full"
        tool put "$SCRATCH/small" db/small
        expect_tool 0 "a small upload to the nearly full disk"
        umount "$SRV/full"
        _MOUNT=
    else
        note "SKIP disk full: mount -t tmpfs failed: $(cat "$SCRATCH/mount.err")"
    fi
    URL="sftp://$(id -un)@127.0.0.1:$PORT$SRV/store"
fi

note "no server"
bash "$SSHD" stop "$SSH"
tool stat bare
expect_tool 6 "server not running"
assert_contains "$ERR" "could not connect to 127.0.0.1 port $PORT" "connection refused message"

pass
