#!/bin/sh
# The whole test suite: installs what is missing, builds with AddressSanitizer and
# UndefinedBehaviorSanitizer (warnings are errors), and runs every ctest label.
set -eu
cd "$(dirname "$0")/.."
packaging/install-deps.sh --test
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Debug -DPGVAULT_SANITIZE=ON -DPGVAULT_WERROR=ON >/dev/null
cmake --build build-test -j"$(nproc)"
cd build-test
exec ctest --output-on-failure -j2 "$@"
