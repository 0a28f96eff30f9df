#!/usr/bin/env bash
# The S3 backend against OpenStack Swift with s3api (tests/harness/swift.sh), through
# remote_tool: single and multipart uploads checked byte for byte through Swift's own
# API, stat, get, paged listing, removal, both addressing styles; and the faults of a
# real server: a wrong secret, a missing bucket, a secret key file others can read, the
# proxy killed in the middle of a multipart upload, an interrupted upload, the object
# server stopped (503s).
source "$TESTLIB"
source "$(dirname "$TESTLIB")/swift.sh"
: "${REMOTE_TOOL:?REMOTE_TOOL is not set (run the test through ctest)}"
require_cmd curl xxhsum

# Swift stops before lib.sh's cleanup removes its directory; the test's status is kept.
_remote_s3_on_exit() {
    local rc=$?
    swift_stop "$SCRATCH/swift" >/dev/null 2>&1
    (exit "$rc")
    _lib_on_exit
}
trap _remote_s3_on_exit EXIT
swift_start "$SCRATCH/swift" || fail "could not start Swift (logs in $SCRATCH/swift)"
note "Swift's S3 endpoint: $SWIFT_S3"

BUCKET=pgv
SWIFT_OBJ=$SWIFT_API/v1/AUTH_test
curl -fsS -X PUT "$SWIFT_OBJ/$BUCKET" || fail "could not create the bucket"
printf 'testing\n' >"$SCRATCH/secret"
chmod 600 "$SCRATCH/secret"
CONF=(endpoint="$SWIFT_S3" access_key=test:tester secret_key_file="$SCRATCH/secret"
      path_style=1)
URL=s3://$BUCKET/backups

# rt ARGS…: remote_tool with the remote's keys before the URL; $RC, $OUT, $ERR as
# run_pgvault gives them. Keys in RT_KEYS (an array) come after CONF's.
RT_KEYS=()
rt() {
    local op=$1
    shift
    if timeout 120 "$REMOTE_TOOL" "${CONF[@]}" ${RT_KEYS[@]+"${RT_KEYS[@]}"} "$URL" "$op" "$@" \
            >"$SCRATCH/.rt.out" 2>"$SCRATCH/.rt.err"; then
        RC=0
    else
        RC=$?
    fi
    OUT=
    [[ "$op" == get ]] || OUT=$(cat "$SCRATCH/.rt.out")
    ERR=$(cat "$SCRATCH/.rt.err")
}
expect() {
    [[ "$RC" == "$1" ]] || fail "$2: remote_tool exited $RC, expected $1; stderr: $ERR"
}
# open_uploads: the multipart uploads the bucket holds, through S3's own listing
open_uploads() {
    curl -fsS --aws-sigv4 aws:amz:us-east-1:s3 -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
        "${SWIFT_S3/http:\/\//http://test%3Atester:testing@}/$BUCKET?uploads=" |
        awk '{ n += gsub(/<UploadId>/, "") } END { print n + 0 }'
}
# swift_status KEY: the HTTP status of GET KEY through Swift's own API
swift_status() {
    curl -s -o /dev/null -w '%{http_code}' "$SWIFT_OBJ/$BUCKET/backups/$1"
}

note "a small file: one PUT, read back through Swift's API"
printf 'hello from pgvault\n' >"$SCRATCH/small.txt"
rt put "$SCRATCH/small.txt" shop/small.txt
expect 0 "put small"
curl -fsS "$SWIFT_OBJ/$BUCKET/backups/shop/small.txt" | cmp - "$SCRATCH/small.txt" ||
    fail "the small object differs from the file"
meta=$(curl -fsS -I "$SWIFT_OBJ/$BUCKET/backups/shop/small.txt" | tr -d '\r' |
    awk -F': ' 'tolower($1) == "x-object-meta-xxh3-128" {print $2}')
assert_eq "$meta" "$(xxh128 "$SCRATCH/small.txt")" "checksum metadata as Swift stores it"
rt stat shop/small.txt
expect 0 "stat small"
assert_eq "$OUT" "19 $(xxh128 "$SCRATCH/small.txt")" "stat of the small object"

note "an empty file; a missing object"
: >"$SCRATCH/empty"
rt put "$SCRATCH/empty" shop/empty
expect 0 "put empty"
rt stat shop/empty
assert_eq "$OUT" "0 $(xxh128 "$SCRATCH/empty")" "stat of the empty object"
rt get shop/missing
expect 1 "get of a missing object"
assert_contains "$ERR" "NoSuchKey" "get of a missing object"
rt rm shop/empty

note "13 MiB with part_size 5 MiB: a multipart upload of 3 parts"
head -c $((13 * 1024 * 1024 + 12345)) /dev/urandom >"$SCRATCH/big.bin"
RT_KEYS=(part_size=5242880)
big_size=$(stat -c %s "$SCRATCH/big.bin")
REMOTE_TOOL_PROGRESS=1 rt put "$SCRATCH/big.bin" shop/big.bin
expect 0 "put multipart"
assert_match "$ERR" "^progress: [0-9]{2,} calls, last $big_size/$big_size\$" \
    "progress of the upload, as its bytes go"
RT_KEYS=()
curl -fsS "$SWIFT_OBJ/$BUCKET/backups/shop/big.bin" | cmp - "$SCRATCH/big.bin" ||
    fail "the multipart object differs from the file"
parts=$(curl -fsS "$SWIFT_OBJ/$BUCKET+segments?prefix=backups/shop/big.bin/" | wc -l)
assert_eq "$parts" 3 "segments of the multipart object"
rt stat shop/big.bin
assert_eq "$OUT" "$big_size $(xxh128 "$SCRATCH/big.bin")" \
    "stat of the multipart object"
REMOTE_TOOL_PROGRESS=1 rt get shop/big.bin
expect 0 "get multipart"
assert_match "$ERR" "^progress: [0-9]{2,} calls, last $big_size/$big_size\$" \
    "progress of the download"
cmp "$SCRATCH/.rt.out" "$SCRATCH/big.bin" || fail "get gives other bytes"
assert_eq "$(open_uploads)" 0 "uploads left open after the completed ones"

note "listing over several pages (2 keys a page)"
for i in 1 2 3 4 5; do
    rt put "$SCRATCH/small.txt" "other/o$i"
    expect 0 "put other/o$i"
done
RT_KEYS=(max_keys=2)
rt ls
expect 0 "ls"
assert_eq "$(printf '%s\n' "$OUT" | awk '{print $1}' | tr '\n' ' ')" \
    "other/o1 other/o2 other/o3 other/o4 other/o5 shop/big.bin shop/small.txt " "ls keys"
assert_contains "$OUT" "shop/small.txt 19 -" "ls gives the size (checksum through stat)"
rt ls other/
assert_eq "$(printf '%s\n' "$OUT" | wc -l)" 5 "ls with a prefix"
RT_KEYS=()

note "virtual-host addressing: BUCKET.localhost"
CONF_OK=("${CONF[@]}")
CONF=(endpoint="${SWIFT_S3/127.0.0.1/localhost}" access_key=test:tester
      secret_key_file="$SCRATCH/secret")
rt put "$SCRATCH/small.txt" vhost/small.txt
expect 0 "put through BUCKET.localhost"
curl -fsS "$SWIFT_OBJ/$BUCKET/backups/vhost/small.txt" | cmp - "$SCRATCH/small.txt" ||
    fail "the object put through the virtual host differs"
rt ls vhost/
assert_eq "$OUT" "vhost/small.txt 19 -" "ls through the virtual host"
rt rm vhost/small.txt
expect 0 "rm through the virtual host"
CONF=("${CONF_OK[@]}")

note "rm"
rt rm other/o3
expect 0 "rm"
assert_eq "$(swift_status other/o3)" 404 "the removed object through Swift"
rt stat other/o3
expect 1 "stat of a removed object"
rt rm other/o3
expect 0 "rm of a missing object"

note "a wrong secret: exit 6, the S3 code, never the secret"
printf 'not-the-secret-42\n' >"$SCRATCH/wrong"
chmod 600 "$SCRATCH/wrong"
CONF_OK=("${CONF[@]}")
CONF=(endpoint="$SWIFT_S3" access_key=test:tester secret_key_file="$SCRATCH/wrong" path_style=1)
rt put "$SCRATCH/small.txt" shop/denied.txt
expect 6 "wrong secret"
assert_contains "$ERR" "SignatureDoesNotMatch" "wrong secret message"
assert_contains "$ERR" "$SWIFT_S3" "the endpoint in the message"
assert_contains "$ERR" 'remote "test"' "the remote in the message"
assert_not_contains "$ERR" "not-the-secret-42" "the secret in the message"
assert_eq "$(printf '%s\n' "$ERR" | grep -vc '^HINT: ')" 1 "one line (and its hint)"
rt stat shop/small.txt # a HEAD: its answer has no body, so no S3 code
expect 6 "stat with a wrong secret"
assert_contains "$ERR" "could not read \"backups/shop/small.txt\": HTTP 403" "HEAD refused"
CONF=("${CONF_OK[@]}")

note "a secret key file others can read: exit 2"
chmod 644 "$SCRATCH/secret"
rt stat shop/small.txt
expect 2 "secret key file 0644"
assert_contains "$ERR" "accessible by others" "0644 message"
chmod 600 "$SCRATCH/secret"

note "a missing bucket: exit 6"
URL=s3://nosuchbucket/backups
rt put "$SCRATCH/small.txt" shop/small.txt
expect 6 "missing bucket"
assert_contains "$ERR" "NoSuchBucket" "missing bucket message"
URL=s3://$BUCKET/backups

# A file large enough that its upload (5 MiB parts) is still running when we strike.
truncate -s 400M "$SCRATCH/huge.bin"
RT_KEYS=(part_size=5242880)
# start_huge KEY: a background put of huge.bin as KEY, once a part of it is stored
start_huge() {
    "$REMOTE_TOOL" "${CONF[@]}" "${RT_KEYS[@]}" "$URL" put "$SCRATCH/huge.bin" "$1" \
        >/dev/null 2>"$SCRATCH/.huge.err" &
    HUGE_PID=$!
    wait_until "a stored part of $1" part_stored "$1"
}
part_stored() {
    [[ -n $(curl -fsS "$SWIFT_OBJ/$BUCKET+segments?prefix=backups/$1/" 2>/dev/null) ]]
}
wait_huge() {
    if wait "$HUGE_PID"; then RC=0; else RC=$?; fi
    ERR=$(cat "$SCRATCH/.huge.err")
}

note "interrupted in the middle of a multipart upload: aborted, nothing left"
start_huge shop/cancel.bin
kill -TERM "$HUGE_PID"
wait_huge
expect 1 "interrupted upload"
assert_contains "$ERR" "interrupted" "interrupted upload message"
assert_eq "$(swift_status shop/cancel.bin)" 404 "object of the interrupted upload"
assert_eq "$(open_uploads)" 0 "uploads open after the interruption"

note "the proxy killed in the middle of a multipart upload"
start_huge shop/killed.bin
swift_kill proxy
wait_huge
expect 6 "upload through a dead proxy"
assert_contains "$ERR" "attempts" "the parts were retried"
swift_run proxy || fail "could not restart the proxy"
assert_eq "$(swift_status shop/killed.bin)" 404 "object of the killed upload"
# the abort could not reach the dead proxy: the next upload of the key aborts it
assert_eq "$(open_uploads)" 1 "the upload the dead proxy left open"
rt put "$SCRATCH/big.bin" shop/killed.bin
expect 0 "upload again after the proxy came back"
assert_eq "$(open_uploads)" 0 "uploads open after the new upload"
curl -fsS "$SWIFT_OBJ/$BUCKET/backups/shop/killed.bin" | cmp - "$SCRATCH/big.bin" ||
    fail "the object uploaded again differs"
RT_KEYS=()
rm -f "$SCRATCH/huge.bin"

note "the object server stopped: 503s, retried, then a clear failure"
swift_kill object
rt put "$SCRATCH/small.txt" shop/unavailable.txt
expect 6 "upload without an object server"
assert_contains "$ERR" "ServiceUnavailable" "the S3 code of the failure"
assert_contains "$ERR" "(5 attempts)" "the failure after the retries"
swift_run object || fail "could not restart the object server"
rt put "$SCRATCH/small.txt" shop/unavailable.txt
expect 0 "upload once the object server is back"

pass
