#!/usr/bin/env bash
# The example config the package installs (packaging/pgvault.conf) documents every key that
# src/config/config.c accepts, each commented out with its default except backup_dir, and parses:
# as shipped, and with every key uncommented.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"

ROOT=$(cd "$(dirname "$TESTLIB")/../.." && pwd)
CONF=$ROOT/packaging/pgvault.conf
[[ -f "$CONF" ]] || fail "no example config at $CONF"

# 1. The keys config.c knows: the {"key", offsetof(…)} entries of file_value, and the keys
# it compares by name (compression, compress).
accepted=$( (grep -oE '\{"[a-z_]+", offsetof\(struct file_values' "$ROOT/src/config/config.c" |
    sed -E 's/^\{"([a-z_]+)".*/\1/'
    grep -oE 'strcmp\(key, "[a-z_]+"\) == 0' "$ROOT/src/config/config.c" |
    sed -E 's/^strcmp\(key, "([a-z_]+)".*/\1/') | LC_ALL=C sort -u)
[[ $(wc -l <<<"$accepted") -ge 20 ]] || fail "found too few keys in config.c: $accepted"

# 2. The keys the example sets or shows commented out ("#key = value").
documented=$(grep -oE '^#?[a-z_]+ = ' "$CONF" | sed -E 's/^#?([a-z_]+) = $/\1/' | LC_ALL=C sort -u)
assert_eq "$documented" "$accepted" "keys of packaging/pgvault.conf compared with config.c"
active=$(grep -E '^[a-z_]+ = ' "$CONF" | sed -E 's/ = .*//')
assert_eq "$active" "backup_dir" "the keys the example sets"

# 3. It parses as shipped, and with every key uncommented (then it holds a password: 0600).
EMPTY=$SCRATCH/repo
mkdir -m 0700 "$EMPTY"
run_pgvault --config "$CONF" list -d "$EMPTY" --catalog "$EMPTY/catalog.db"
expect_rc 0 "list with the example config"
sed -E 's/^#([a-z_]+ = )/\1/' "$CONF" >"$SCRATCH/all.conf"
chmod 0600 "$SCRATCH/all.conf"
run_pgvault --config "$SCRATCH/all.conf" list -d "$EMPTY" --catalog "$EMPTY/catalog.db"
expect_rc 0 "list with every key of the example set"
chmod 0644 "$SCRATCH/all.conf"
run_pgvault --config "$SCRATCH/all.conf" list -d "$EMPTY" --catalog "$EMPTY/catalog.db"
expect_rc 2 "a world-readable config with a password"
expect_error_line "a world-readable config with a password"

pass
