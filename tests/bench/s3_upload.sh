#!/usr/bin/env bash
# Upload throughput of the S3 backend against curl, and the memory of a large multipart
# upload, on a Swift started here (tests/harness/swift.sh). Not part of ctest.
#
#   tests/bench/s3_upload.sh [--size MB] [--big MB] [--rounds N]
#
# 1. The same file (default 500 MB of random bytes) to the same Swift, alternating
#    rounds: curl -T --aws-sigv4 (one PUT), remote_tool put with part_size above the
#    file (one PUT), remote_tool put with the default part size (multipart, 16 MiB
#    parts). remote_tool's time includes its XXH3-128 pass over the file and the HEAD
#    that reads the object back. Medians over the rounds.
# 2. A large file (default 2048 MiB, sparse) with the default part size: parts, time,
#    peak RSS (/usr/bin/time -v).
#
# Without REMOTE_TOOL, builds a Release remote_tool of this tree in build-bench/.
set -euo pipefail

SIZE_MB=500
BIG_MB=2048
ROUNDS=3
while [[ $# -gt 0 ]]; do
    case "$1" in
        --size) SIZE_MB=$2; shift 2 ;;
        --big) BIG_MB=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        *) echo "usage: $0 [--size MB] [--big MB] [--rounds N]" >&2; exit 2 ;;
    esac
done

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if [[ -z "${REMOTE_TOOL:-}" ]]; then
    cmake -S "$ROOT" -B "$ROOT/build-bench" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$ROOT/build-bench" --target remote_tool -j2 >/dev/null
    REMOTE_TOOL=$ROOT/build-bench/tests/remote_tool
fi
source "$ROOT/tests/harness/swift.sh"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/s3bench.XXXXXX")
trap 'swift_stop "$WORK/swift" >/dev/null 2>&1; rm -rf "$WORK"' EXIT
swift_start "$WORK/swift"
curl -fsS -X PUT "$SWIFT_API/v1/AUTH_test/bench"
printf 'testing' >"$WORK/secret"
chmod 600 "$WORK/secret"
CONF=(endpoint="$SWIFT_S3" access_key=test:tester secret_key_file="$WORK/secret" path_style=1)
CURL_URL=${SWIFT_S3/http:\/\//http://test%3Atester:testing@}/bench

head -c $((SIZE_MB * 1000 * 1000)) /dev/urandom >"$WORK/file.bin"
bytes=$(stat -c %s "$WORK/file.bin")

# timed CMD…: seconds the command took
timed() {
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l
}
put_curl() {
    curl -fsS --aws-sigv4 aws:amz:us-east-1:s3 -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
        -T "$WORK/file.bin" "$CURL_URL/curl.bin" -o /dev/null
}
put_single() {
    "$REMOTE_TOOL" "${CONF[@]}" part_size=$((bytes + 1)) s3://bench put "$WORK/file.bin" single.bin
}
put_multi() {
    "$REMOTE_TOOL" "${CONF[@]}" s3://bench put "$WORK/file.bin" multi.bin
}
median() {
    sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

declare -A times
for r in $(seq "$ROUNDS"); do
    for v in curl single multi; do
        t=$(timed "put_$v")
        times[$v]+="$t "
        printf 'round %d %-6s %6.2f s\n' "$r" "$v" "$t" >&2
    done
done
echo
echo "## $SIZE_MB MB ($bytes bytes), $ROUNDS rounds, medians"
echo
echo "| upload | time (s) | MB/s |"
echo "|---|---|---|"
for v in curl single multi; do
    # shellcheck disable=SC2086 # one time a word
    m=$(printf '%s\n' ${times[$v]} | median)
    label=$v
    case "$v" in
        curl) label="curl -T --aws-sigv4 (one PUT)" ;;
        single) label="remote_tool put, one PUT" ;;
        multi) label="remote_tool put, multipart 16 MiB parts" ;;
    esac
    printf '| %s | %.2f | %.0f |\n' "$label" "$m" "$(echo "$bytes / 1000000 / $m" | bc -l)"
done
rm -f "$WORK/file.bin"

truncate -s $((BIG_MB * 1024 * 1024)) "$WORK/big.bin"
/usr/bin/time -v "$REMOTE_TOOL" "${CONF[@]}" s3://bench put "$WORK/big.bin" big.bin \
    2>"$WORK/time.txt"
parts=$(curl -fsS "$SWIFT_API/v1/AUTH_test/bench+segments?prefix=big.bin/" | wc -l)
elapsed=$(awk -F': ' '/Elapsed \(wall clock\)/ { print $2 }' "$WORK/time.txt")
rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$WORK/time.txt")
echo
echo "## $BIG_MB MiB multipart upload (default part size)"
echo
echo "| parts | time | peak RSS |"
echo "|---|---|---|"
printf '| %s | %s | %.1f MiB |\n' "$parts" "$elapsed" "$(echo "$rss / 1024" | bc -l)"
