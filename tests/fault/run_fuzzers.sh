#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for a bounded time (ctest
# fault.fuzz). Independent of the main build's compiler: the sources are compiled here,
# straight from the source tree.
#
#   run_fuzzers.sh SRC_DIR OUT_DIR SECONDS_EACH
#
# For each target tests/fuzz/fuzz_NAME.c:
#   1. every file of tests/fuzz/regress_NAME/ (inputs that once crashed it) is run once;
#   2. the fuzzer runs SECONDS_EACH seconds from the seed corpus tests/fuzz/corpus_NAME/
#      (read only: new inputs go to OUT_DIR/work_NAME).
# A crash leaves its input in OUT_DIR/artifacts/ and fails the test; keep it as
# tests/fuzz/regress_NAME/<name> once fixed.
# Without clang (or a clang without libFuzzer) the test says SKIP and exits 77, which
# ctest reports as skipped (SKIP_RETURN_CODE), never as passed.
set -euo pipefail

[[ $# -eq 3 ]] || { echo "usage: run_fuzzers.sh SRC_DIR OUT_DIR SECONDS_EACH" >&2; exit 2; }
src=$1 out=$2 secs=$3

cc=
for c in clang clang-19 clang-18 clang-17 clang-16 clang-15 clang-14; do
    if command -v "$c" >/dev/null 2>&1; then
        cc=$c
        break
    fi
done
if [[ -z "$cc" ]]; then
    echo "SKIP: clang is not installed: the fuzzers were not run (apt-get install clang)"
    exit 77
fi

mkdir -p "$out/artifacts"
probe=$out/probe.c
echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }' >"$probe"
if ! "$cc" -fsanitize=fuzzer "$probe" -o "$out/probe" 2>/dev/null; then
    echo "SKIP: $cc has no libFuzzer (-fsanitize=fuzzer): the fuzzers were not run"
    exit 77
fi

# shellcheck disable=SC2054 # the commas belong to -fsanitize=
flags=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -D_GNU_SOURCE -DPGVAULT_VERSION='"fuzz"' -DPGVAULT_SYSCONFDIR='"/nonexistent"'
       -I"$src/src")
declare -A sources=(
    [dumpscan]="src/postgres/dumpscan.c src/common/util.c src/common/err.c"
    [config]="src/config/config.c src/common/compression.c src/common/util.c src/common/err.c"
)

status=0
for name in dumpscan config; do
    bin=$out/fuzz_$name
    srcs=()
    for f in ${sources[$name]}; do
        srcs+=("$src/$f")
    done
    echo "== fuzz_$name: building with $cc"
    "$cc" "${flags[@]}" "${srcs[@]}" "$src/tests/fuzz/fuzz_$name.c" -o "$bin"

    regress=$src/tests/fuzz/regress_$name
    if [[ -d "$regress" ]] && compgen -G "$regress/*" >/dev/null; then
        echo "== fuzz_$name: regression inputs"
        if ! "$bin" -runs=1 "$regress"/* >"$out/regress_$name.log" 2>&1; then
            tail -n 40 "$out/regress_$name.log"
            echo "FAIL: fuzz_$name crashes on a regression input in $regress"
            status=1
        fi
    fi

    echo "== fuzz_$name: ${secs}s from tests/fuzz/corpus_$name"
    rm -rf "$out/work_$name"
    mkdir -p "$out/work_$name"
    if ! "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
            -artifact_prefix="$out/artifacts/${name}-" \
            "$out/work_$name" "$src/tests/fuzz/corpus_$name" >"$out/fuzz_$name.log" 2>&1; then
        tail -n 60 "$out/fuzz_$name.log"
        echo "FAIL: fuzz_$name found a crash; its input is in $out/artifacts/"
        ls -l "$out/artifacts/" || true
        status=1
    else
        grep -E '^(stat::number_of_executed_units|stat::new_units_added|Done )' \
            "$out/fuzz_$name.log" || true
        echo "ok: fuzz_$name"
    fi
done
exit "$status"
