#!/usr/bin/env bash
# zstd backups: the hostile database (see harness/hostile_db.sh) backed up with
# --compress zstd is one private .sql.zst file that the stock zstd accepts, whose
# XXH3-128 is the catalog's checksum (and the dump's its raw checksum); it restores to
# the same pg_dump through pgvault and through "zstd -dc FILE | psql". A truncated and a
# bit-flipped .zst give exit 3 in verify --deep and in restore, which refuses before it
# touches a database; with the catalog doctored to match the damaged file, verify --deep
# reaches the decompressor's own error, exit 3 too. import adopts a stock
# "pg_dump | zstd" file, and one of two concatenated frames. -Z out of zstd's range and
# -n with --compress zstd are usage errors (exit 2); the config file's compression works.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
# shellcheck source=SCRIPTDIR/../harness/hostile_db.sh
source "$(dirname "$TESTLIB")/hostile_db.sh"
# shellcheck source=SCRIPTDIR/../harness/restore_helpers.sh
source "$(dirname "$TESTLIB")/restore_helpers.sh"
require_cmd zstd xxhsum sqlite3 cmp diff python3

DB=pgv_zstd_hostile
VIA_PGVAULT=pgv_zstd_via_pgvault
VIA_STOCK=pgv_zstd_via_stock
SMALL=pgv_zstd_small
OTHER=pgv_zstd_target
IMPORTED=pgv_zstd_imported
REPO=$SCRATCH/repo
register_db "$VIA_PGVAULT"
register_db "$OTHER"
register_db "$IMPORTED"

# 1. The hostile database, backed up with zstd.
note "building $DB"
create_db "$DB"
build_hostile_db "$DB"
t=$SECONDS
run_pgvault backup -d "$REPO" --db "$DB" --compress zstd --no-progress
expect_rc 0 "zstd backup of $DB"
BID=$(catalog_q "$REPO" "SELECT id FROM backups WHERE status = 'complete'")
note "backup took $((SECONDS - t))s: $(catalog_q "$REPO" "SELECT raw_bytes || ' bytes of SQL in ' ||
                                           size_bytes || ' bytes' FROM backups WHERE id = $BID")"
name=$(catalog_q "$REPO" "SELECT file_name FROM backups WHERE id = $BID")
assert_match "$name" "^${DB}_[0-9]{8}_[0-9]{6}\\.sql\\.zst\$" "file name of the zstd backup"
assert_eq "$(find "$REPO" -maxdepth 1 -name '*.sql*' -printf '%f\n')" "$name" "dump files in the repository"
FILE=$REPO/$name
assert_eq "$(file_mode "$FILE")" 600 "mode of $name"

# 2. The stock tool accepts it; the catalog's numbers are the file's and the dump's.
zstd -q -t "$FILE" || fail "zstd -t $name failed"
assert_eq "$(catalog_q "$REPO" "SELECT compression || ' ' || compression_level FROM backups
                                WHERE id = $BID")" "zstd 3" "catalog compression and level"
assert_eq "$(xxh128 "$FILE")" "$(catalog_q "$REPO" "SELECT checksum FROM backups WHERE id = $BID")" \
    "XXH3-128 of the file against the catalog's checksum"
assert_eq "$(zstd -q -dc "$FILE" | xxh128)" \
    "$(catalog_q "$REPO" "SELECT raw_checksum FROM backups WHERE id = $BID")" \
    "XXH3-128 of the dump against the catalog's raw checksum"
assert_eq "$(stat -c %s "$FILE")" "$(catalog_q "$REPO" "SELECT size_bytes FROM backups WHERE id = $BID")" \
    "size of the file against the catalog"
run_pgvault show -d "$REPO" "$BID"
expect_rc 0 "show of the zstd backup"
assert_match "$OUT" "compression +zstd level 3" "show names the compression"
run_pgvault verify -d "$REPO" --deep "$BID"
expect_rc 0 "verify --deep of the zstd backup"

# 3. It restores to the same dump through pgvault and through the stock tools.
note "restore through pgvault into $VIA_PGVAULT"
t=$SECONDS
run_pgvault restore -d "$REPO" -f --target "$VIA_PGVAULT" --no-progress "$BID"
expect_rc 0 "restore of the zstd backup"
note "restore took $((SECONDS - t))s"
same_dump "$DB" "$VIA_PGVAULT" "restore through pgvault"
note "restore through zstd -dc | psql into $VIA_STOCK"
create_db "$VIA_STOCK"
if ! zstd -q -dc "$FILE" |
        "$PSQL" -X -q -v ON_ERROR_STOP=1 --single-transaction -d "$VIA_STOCK" \
            >"$SCRATCH/stock.out" 2>"$SCRATCH/stock.err"; then
    fail "zstd -dc $name | psql failed: $(head -c 4000 "$SCRATCH/stock.err")"
fi
same_dump "$DB" "$VIA_STOCK" "restore through zstd -dc | psql"
drop_db "$VIA_PGVAULT"
drop_db "$VIA_STOCK"
drop_db "$DB"

# 4. Damaged files: a small database, backed up with zstd (level 1, one thread).
create_db "$SMALL"
psql_script "$SMALL" >/dev/null <<'SQL'
CREATE TABLE orders (id bigint PRIMARY KEY, placed timestamptz, note text, doc jsonb);
INSERT INTO orders SELECT g, '2026-01-01'::timestamptz + g * interval '1 min',
       repeat(md5(g::text), 1 + g % 4), jsonb_build_object('n', g, 'tag', 't' || g % 7)
  FROM generate_series(1, 15000) g;
CREATE TABLE items (order_id bigint REFERENCES orders, sku text, qty int);
INSERT INTO items SELECT 1 + g % 15000, 'sku-' || g % 321, g % 9 FROM generate_series(1, 30000) g;
SQL
run_pgvault backup -d "$REPO" --db "$SMALL" --compress zstd -Z 1 -j 1 --no-progress
expect_rc 0 "zstd backup of $SMALL"
SID=$(catalog_q "$REPO" "SELECT max(id) FROM backups WHERE status = 'complete'")
assert_eq "$(catalog_q "$REPO" "SELECT compression_level FROM backups WHERE id = $SID")" 1 \
    "catalog level of the -Z 1 backup"
ZST=$REPO/$(catalog_q "$REPO" "SELECT file_name FROM backups WHERE id = $SID")
cp -p "$ZST" "$SCRATCH/good.sql.zst"
size=$(stat -c %s "$ZST")
GOOD_SUM=$(catalog_q "$REPO" "SELECT checksum FROM backups WHERE id = $SID")
psql_q "$SMALL" "DELETE FROM items WHERE qty = 0; CREATE TABLE later (z int)" >/dev/null
FP=$(db_fingerprint "$SMALL")

# refused WHAT: verify --deep and restore (in place, and into $OTHER) exit 3 with one
# error line; $SMALL is unchanged, $OTHER not created, no temporary database left.
refused() {
    run_pgvault verify -d "$REPO" --deep "$SID"
    expect_rc 3 "verify --deep of $1"
    note "  $1: verify: ${OUT%%$'\n'*}"
    for args in "-f --db $SMALL" "-f --target $OTHER"; do
        # shellcheck disable=SC2086 # two words each
        run_pgvault restore -d "$REPO" --no-progress $args "$SID"
        expect_rc 3 "restore $args of $1"
        expect_error_line "restore $args of $1"
        assert_eq "$(db_fingerprint "$SMALL")" "$FP" "$1: $SMALL must be unchanged"
        db_exists "$OTHER" && fail "$1: database $OTHER was created"
        expect_no_leftover_dbs "$1"
    done
    note "  $1: restore: ${ERR%%$'\n'*}"
}

# doctor WHAT: the catalog's size and checksum are made the damaged file's, so that only
# the decompressor can tell; verify --deep exits 3 with its message.
doctor() {
    local sum msg=$2
    sum=$(xxh128 "$ZST")
    sqlite3 "$REPO/catalog.db" "UPDATE backups SET size_bytes = $(stat -c %s "$ZST"),
                                checksum = '$sum' WHERE id = $SID"
    run_pgvault verify -d "$REPO" --deep "$SID"
    expect_rc 3 "verify --deep of $1, the catalog doctored"
    assert_contains "$OUT$ERR" "$msg" "verify --deep of $1, the catalog doctored"
    sqlite3 "$REPO/catalog.db" "UPDATE backups SET size_bytes = $size, checksum = '$GOOD_SUM'
                                WHERE id = $SID"
}

note "truncated .zst"
truncate -s $((size / 2)) "$ZST"
refused "a truncated .zst"
doctor "a truncated .zst" "is truncated: the zstd stream does not end"
cp -p "$SCRATCH/good.sql.zst" "$ZST"
truncate -s $((size - 2)) "$ZST" # inside the content checksum
doctor "a .zst without its last bytes" "is truncated: the zstd stream does not end"
cp -p "$SCRATCH/good.sql.zst" "$ZST"

note "bit-flipped .zst"
flip_byte "$ZST" $((size / 2))
refused "a bit-flipped .zst"
doctor "a bit-flipped .zst" "is not valid zstd data"
cp -p "$SCRATCH/good.sql.zst" "$ZST"
run_pgvault verify -d "$REPO" --deep "$SID"
expect_rc 0 "verify --deep of the repaired file"

# 5. import: a stock "pg_dump | zstd" file, and two concatenated frames.
note "import of stock .sql.zst files"
SRC=$SCRATCH/stock
mkdir "$SRC"
"$PG_DUMP" -d "$SMALL" >"$SCRATCH/small.sql"
zstd -q -3 -c "$SCRATCH/small.sql" >"$SRC/${SMALL}_20261102_030405.sql.zst"
half=$(($(stat -c %s "$SCRATCH/small.sql") / 2))
{
    head -c "$half" "$SCRATCH/small.sql" | zstd -q -c
    tail -c +$((half + 1)) "$SCRATCH/small.sql" | zstd -q -19 -c
} >"$SRC/${SMALL}_20261103_030405.sql.zst"
zstd -q -c "$SCRATCH/small.sql" >"$SRC/${SMALL}_20261104_030405.sql"
IREPO=$SCRATCH/imported
run_pgvault import -d "$IREPO" "$SRC/${SMALL}_20261102_030405.sql.zst" \
    "$SRC/${SMALL}_20261103_030405.sql.zst"
expect_rc 0 "import of stock .sql.zst files"
for stamp in 20261102_030405 20261103_030405; do
    f=${SMALL}_${stamp}.sql.zst
    row=$(catalog_q "$IREPO" "SELECT compression, checksum, raw_checksum, row_count, table_count
                              FROM backups WHERE file_name = '$f' AND status = 'complete'")
    assert_eq "$row" "zstd|$(xxh128 "$SRC/$f")|$(xxh128 "$SCRATCH/small.sql")|$(psql_q "$SMALL" \
        "SELECT (SELECT count(*) FROM orders) + (SELECT count(*) FROM items)")|3" "catalog row of imported $f"
done
run_pgvault verify -d "$IREPO" --deep --all
expect_rc 0 "verify --deep of the imported backups"
IID=$(catalog_q "$IREPO" "SELECT id FROM backups WHERE file_name = '${SMALL}_20261103_030405.sql.zst'")
run_pgvault restore -d "$IREPO" -f --target "$IMPORTED" --no-progress "$IID"
expect_rc 0 "restore of the imported two-frame backup"
same_dump "$SMALL" "$IMPORTED" "restore of the imported two-frame backup"
run_pgvault import -d "$IREPO" "$SRC/${SMALL}_20261104_030405.sql"
expect_rc 1 "import of a zstd file named .sql"
assert_contains "$ERR" "it is zstd-compressed but named .sql (rename it .sql.zst)" \
    "import of a zstd file named .sql"

# 6. Usage errors, exit 2 before anything runs; the config file's compression.
note "usage errors and the config file"
run_pgvault backup -d "$REPO" --db "$SMALL" --compress zstd -Z 20
expect_rc 2 "-Z 20 --compress zstd"
expect_error_line "-Z 20 --compress zstd"
assert_eq "${ERR%%$'\n'*}" "pgvault: -Z/--compress-level must be in range 1..19 for zstd" "-Z 20 message"
run_pgvault backup -d "$REPO" --db "$SMALL" -Z 12
expect_rc 2 "-Z 12 with gzip"
assert_eq "${ERR%%$'\n'*}" "pgvault: -Z/--compress-level must be in range 1..9 for gzip" "-Z 12 message"
run_pgvault backup -d "$REPO" --db "$SMALL" --compress zstd -n
expect_rc 2 "--compress zstd -n"
expect_error_line "--compress zstd -n"
assert_eq "${ERR%%$'\n'*}" \
    "pgvault: options -n/--no-compress and --compress cannot be used together" "-n message"
printf 'compression = zstd\ncompress_level = 12\n' >"$SCRATCH/zstd.conf"
before=$(catalog_q "$REPO" "SELECT count(*) FROM backups")
PGVAULT_CONFIG=$SCRATCH/zstd.conf run_pgvault backup -d "$REPO" --db "$SMALL" -Z 15 --compress gzip
expect_rc 2 "-Z 15 --compress gzip with a zstd config"
assert_eq "$(catalog_q "$REPO" "SELECT count(*) FROM backups")" "$before" "no backup after a usage error"
PGVAULT_CONFIG=$SCRATCH/zstd.conf run_pgvault backup -d "$REPO" --db "$SMALL" --no-progress
expect_rc 0 "backup with compression = zstd in the config file"
assert_eq "$(catalog_q "$REPO" "SELECT compression || ' ' || compression_level || ' '
                                || (file_name LIKE '%.sql.zst') FROM backups
                                WHERE id = (SELECT max(id) FROM backups)")" "zstd 12 1" \
    "the config file's compression and level"

pass
