#!/usr/bin/env bash
# age encryption end to end, against the stock age and age-keygen: the hostile database
# backed up with two --encrypt-to recipients is one .sql.gz.age file whose checksum is the
# ciphertext's and raw checksum the dump's; verify needs no key, verify --deep and restore
# take --identity, and the stock "age -d -i KEY | gunzip | psql" restores it too, to the
# same pg_dump. A -n encrypted backup leaves no plaintext in the repository or TMPDIR; one
# whose dump is an exact multiple of 64 KiB is decrypted by the stock age with either key.
# Without a usable key (none, the wrong one, one others can read) restore exits 2 with one
# line naming the recipients, no database touched; truncated and bit-flipped files exit 3
# on the checksum before any decryption, and with the catalog doctored to match, on the
# authentication. import adopts "pg_dump | gzip | age -r … -r …" files (and a plaintext
# whose size is a multiple of 64 KiB); check warns when the recipients change.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
# shellcheck source=SCRIPTDIR/../harness/hostile_db.sh
source "$(dirname "$TESTLIB")/hostile_db.sh"
# shellcheck source=SCRIPTDIR/../harness/restore_helpers.sh
source "$(dirname "$TESTLIB")/restore_helpers.sh"
require_cmd age age-keygen xxhsum sqlite3 cmp diff python3 gzip zstd

DB=pgv_age_hostile
VIA_PGVAULT=pgv_age_via_pgvault
VIA_STOCK=pgv_age_via_stock
SMALL=pgv_age_small
OTHER=pgv_age_target
IMPORTED=pgv_age_imported
REPO=$SCRATCH/repo
register_db "$VIA_PGVAULT"
register_db "$OTHER"
register_db "$IMPORTED"

# Three key pairs from age-keygen; the third is nobody's recipient.
KEYS=$SCRATCH/keys
mkdir -m 700 "$KEYS"
for k in k1 k2 k3; do
    age-keygen -o "$KEYS/$k" 2>/dev/null
    chmod 600 "$KEYS/$k"
done
R1=$(age-keygen -y "$KEYS/k1")
R2=$(age-keygen -y "$KEYS/k2")
R3=$(age-keygen -y "$KEYS/k3")

# 1. The hostile database, encrypted to two recipients.
note "building $DB"
create_db "$DB"
build_hostile_db "$DB"
t=$SECONDS
run_pgvault backup -d "$REPO" --db "$DB" --encrypt-to "$R1" --encrypt-to "$R2" --no-progress
expect_rc 0 "encrypted backup of $DB"
note "backup took $((SECONDS - t))s"
BID=$(catalog_q "$REPO" "SELECT id FROM backups WHERE status = 'complete'")
name=$(catalog_q "$REPO" "SELECT file_name FROM backups WHERE id = $BID")
assert_match "$name" "^${DB}_[0-9]{8}_[0-9]{6}\\.sql\\.gz\\.age\$" "file name of the age backup"
assert_eq "$(find "$REPO" -maxdepth 1 -name '*.sql*' -printf '%f\n')" "$name" "dump files in the repository"
FILE=$REPO/$name
assert_eq "$(file_mode "$FILE")" 600 "mode of $name"
assert_eq "$(head -c 22 "$FILE")" "age-encryption.org/v1" "the file begins with age's header"
assert_eq "$(catalog_q "$REPO" "SELECT encryption FROM backups WHERE id = $BID")" age "catalog encryption"
assert_eq "$(catalog_q "$REPO" "SELECT recipients FROM backups WHERE id = $BID")" "$R1
$R2" "catalog recipients"
assert_eq "$(xxh128 "$FILE")" "$(catalog_q "$REPO" "SELECT checksum FROM backups WHERE id = $BID")" \
    "checksum is the ciphertext's"
assert_eq "$(age -d -i "$KEYS/k2" "$FILE" | gunzip | xxh128)" \
    "$(catalog_q "$REPO" "SELECT raw_checksum FROM backups WHERE id = $BID")" \
    "raw checksum is the dump's, through the stock age with the second key"
run_pgvault show -d "$REPO" "$BID"
expect_rc 0 "show of the age backup"
assert_contains "$OUT" "age to $R1, $R2" "show names the encryption and recipients"
run_pgvault show -d "$REPO" --json "$BID"
assert_contains "$OUT" "\"encryption\":\"age\",\"recipients\":[\"$R1\",\"$R2\"]" "show --json"
run_pgvault list -d "$REPO" --json
assert_contains "$OUT" "\"encryption\":\"age\",\"recipients\":[\"$R1\",\"$R2\"]" "list --json"

# 2. verify needs no key; verify --deep needs one.
run_pgvault verify -d "$REPO" "$BID"
expect_rc 0 "verify of the age backup without a key"
run_pgvault verify -d "$REPO" --deep "$BID"
expect_rc 2 "verify --deep without a key"
assert_contains "$OUT" "is encrypted with age to $R1, $R2: no age identity to decrypt with" \
    "verify --deep without a key"
run_pgvault verify -d "$REPO" --deep --identity "$KEYS/k2" "$BID"
expect_rc 0 "verify --deep with the second key"

# 3. Restore through pgvault and through the stock tools: the same dump.
note "restore through pgvault into $VIA_PGVAULT"
run_pgvault restore -d "$REPO" -f --target "$VIA_PGVAULT" --identity "$KEYS/k1" --no-progress "$BID"
expect_rc 0 "restore of the age backup"
same_dump "$DB" "$VIA_PGVAULT" "restore through pgvault"
note "restore through age -d | gunzip | psql into $VIA_STOCK"
create_db "$VIA_STOCK"
if ! age -d -i "$KEYS/k1" "$FILE" | gunzip |
        "$PSQL" -X -q -v ON_ERROR_STOP=1 --single-transaction -d "$VIA_STOCK" \
            >"$SCRATCH/stock.out" 2>"$SCRATCH/stock.err"; then
    fail "age -d | gunzip | psql failed: $(head -c 4000 "$SCRATCH/stock.err")"
fi
same_dump "$DB" "$VIA_STOCK" "restore through age -d | gunzip | psql"
drop_db "$VIA_PGVAULT"
drop_db "$VIA_STOCK"
drop_db "$DB"

# 4. -n --encrypt-to: no plaintext anywhere, in the repository nor in TMPDIR.
MARKER="pgvault-marker-$RANDOM$RANDOM-plaintext"
create_db "$SMALL"
psql_script "$SMALL" -v marker="$MARKER" >/dev/null <<'SQL'
CREATE TABLE secrets (id int PRIMARY KEY, v text);
INSERT INTO secrets SELECT g, :'marker' || g FROM generate_series(1, 5000) g;
CREATE TABLE items (id bigint, note text);
INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 20000) g;
SQL
mkdir -m 700 "$SCRATCH/tmp"
TMPDIR=$SCRATCH/tmp run_pgvault backup -d "$REPO" --db "$SMALL" -n --encrypt-to "$R1" --no-progress
expect_rc 0 "-n --encrypt-to backup of $SMALL"
SID=$(catalog_q "$REPO" "SELECT max(id) FROM backups WHERE status = 'complete'")
SNAME=$(catalog_q "$REPO" "SELECT file_name FROM backups WHERE id = $SID")
assert_match "$SNAME" "^${SMALL}_[0-9]{8}_[0-9]{6}\\.sql\\.age\$" "file name of the -n age backup"
if grep -r -a -l -F "$MARKER" "$REPO" "$SCRATCH/tmp" "$(dirname "$TESTLIB")/../.." 2>/dev/null; then
    fail "the marker value is in plaintext on disk"
fi
# (grep -c reads to the end: with -q it would quit early, and under pipefail the
# SIGPIPE that age then gets would fail the check however right the dump is)
[[ $(age -d -i "$KEYS/k1" "$REPO/$SNAME" | grep -c -F "${MARKER}4999") -ge 1 ]] ||
    fail "the stock age does not give the dump of the -n backup"

# 4b. A -n backup to two recipients whose dump is an exact multiple of 64 KiB (the last
#     chunk full): padded after a first backup by what its raw size lacks; the stock age
#     decrypts it with either key, and verify --deep with ours.
PAD=pgv_age_pad
create_db "$PAD"
psql_q "$PAD" "CREATE TABLE pad (t text); INSERT INTO pad VALUES ('x')" >/dev/null
run_pgvault backup -d "$REPO" --db "$PAD" -n --encrypt-to "$R1" --encrypt-to "$R2" --no-progress
expect_rc 0 "first backup of $PAD"
raw=$(catalog_q "$REPO" "SELECT raw_bytes FROM backups WHERE id = (SELECT max(id) FROM backups)")
psql_q "$PAD" "UPDATE pad SET t = repeat('x', 1 + $(((65536 - raw % 65536) % 65536 + 3 * 65536)))" >/dev/null
run_pgvault backup -d "$REPO" --db "$PAD" -n --encrypt-to "$R1" --encrypt-to "$R2" --no-progress
expect_rc 0 "padded backup of $PAD"
row=$(catalog_q "$REPO" "SELECT raw_bytes % 65536, raw_bytes, file_name, raw_checksum FROM backups
                         WHERE id = (SELECT max(id) FROM backups)")
IFS='|' read -r rest raw pname psum <<<"$row"
assert_eq "$rest" 0 "raw size $raw of the padded backup is a multiple of 64 KiB"
for k in k1 k2; do
    assert_eq "$(age -d -i "$KEYS/$k" "$REPO/$pname" | xxh128)" "$psum" \
        "the stock age decrypts the 64 KiB-multiple backup with $k"
done
run_pgvault verify -d "$REPO" --deep --identity "$KEYS/k1" latest --db "$PAD"
expect_rc 0 "verify --deep of the 64 KiB-multiple backup"

# 5. No usable key: exit 2, one line naming the recipients, nothing touched.
FP=$(db_fingerprint "$SMALL")
nrestores=$(catalog_q "$REPO" "SELECT count(*) FROM restores")
keyless() { # WHAT EXPECTED-TEXT ARGS…
    local what=$1 text=$2
    shift 2
    run_pgvault restore -d "$REPO" -f --no-progress "$@" "$SID"
    expect_rc 2 "restore $what"
    expect_error_line "restore $what"
    assert_contains "${ERR%%$'\n'*}" "$text" "restore $what"
    assert_eq "$(db_fingerprint "$SMALL")" "$FP" "$what: $SMALL must be unchanged"
    expect_no_leftover_dbs "$what"
}
keyless "without --identity" "backup $SID is encrypted with age to $R1: no age identity"
keyless "with the wrong key" \
    "backup $SID is encrypted with age to $R1: no identity in \"$KEYS/k3\" matches a recipient" \
    --identity "$KEYS/k3"
keyless "--target with the wrong key" "encrypted with age to $R1" --identity "$KEYS/k3" \
    --target "$OTHER"
db_exists "$OTHER" && fail "database $OTHER was created"
chmod 644 "$KEYS/k1"
keyless "with a key file others can read" \
    "identity file \"$KEYS/k1\" is accessible by others (mode 0644)" --identity "$KEYS/k1"
chmod 600 "$KEYS/k1"
printf 'identity_file = %s\n' "$KEYS/k1" >"$SCRATCH/id.conf"
PGVAULT_CONFIG=$SCRATCH/id.conf run_pgvault restore -d "$REPO" -f --target "$OTHER" --no-progress "$SID"
expect_rc 0 "restore with identity_file in the config file"
drop_db "$OTHER"

# 6. Damaged files: caught by the checksum before any decryption (exit 3); with the
#    catalog doctored to match, by the authentication of the chunks.
GOOD=$SCRATCH/good.age
cp -p "$REPO/$SNAME" "$GOOD"
size=$(stat -c %s "$GOOD")
GOOD_SUM=$(catalog_q "$REPO" "SELECT checksum FROM backups WHERE id = $SID")
hdr=$(python3 -c "import sys; d=open(sys.argv[1],'rb').read(); print(d.index(b'\n---')+d[d.index(b'\n---')+1:].index(b'\n')+2)" "$GOOD")
damaged() { # WHAT EXPECTED-TEXT-AFTER-DOCTORING
    run_pgvault restore -d "$REPO" -f --identity "$KEYS/k1" --no-progress "$SID"
    expect_rc 3 "restore of $1"
    expect_error_line "restore of $1"
    assert_contains "$ERR" "no database was touched" "restore of $1 is stopped by the checksum"
    run_pgvault verify -d "$REPO" "$SID"
    expect_rc 3 "verify of $1 without a key"
    sqlite3 "$REPO/catalog.db" "UPDATE backups SET size_bytes = $(stat -c %s "$REPO/$SNAME"),
                                checksum = '$(xxh128 "$REPO/$SNAME")' WHERE id = $SID"
    run_pgvault verify -d "$REPO" --deep --identity "$KEYS/k1" "$SID"
    expect_rc 3 "verify --deep of $1, the catalog doctored"
    assert_contains "$OUT" "$2" "verify --deep of $1, the catalog doctored"
    run_pgvault restore -d "$REPO" -f --identity "$KEYS/k1" --no-progress "$SID"
    expect_rc 3 "restore of $1, the catalog doctored"
    assert_contains "$ERR" "$2" "restore of $1, the catalog doctored"
    assert_eq "$(db_fingerprint "$SMALL")" "$FP" "$1: $SMALL must be unchanged"
    expect_no_leftover_dbs "$1"
    sqlite3 "$REPO/catalog.db" "UPDATE backups SET size_bytes = $size, checksum = '$GOOD_SUM'
                                WHERE id = $SID"
    cp -p "$GOOD" "$REPO/$SNAME"
}
note "damaged age files"
truncate -s $((hdr + 16 + 65552)) "$REPO/$SNAME" # at a chunk boundary
damaged "a file truncated at a chunk boundary" "failed authentication at age chunk 0"
flip_byte "$REPO/$SNAME" $((size / 2))
damaged "a bit-flipped file" "failed authentication at age chunk"
flip_byte "$REPO/$SNAME" $((hdr - 10))
damaged "a bit-flipped header MAC" "age header"
run_pgvault verify -d "$REPO" --deep --identity "$KEYS/k1" "$SID"
expect_rc 0 "verify --deep of the repaired file"
assert_eq "$(catalog_q "$REPO" "SELECT count(*) FROM restores WHERE status = 'complete'")" \
    "$((nrestores + 1))" "only the one good restore completed"

# 7. import: stock "pg_dump | gzip | age -r -r", "| zstd | age", and a plaintext of a
#    multiple of 64 KiB; wrong names and missing keys are refused.
note "import of stock age files"
SRC=$SCRATCH/stock
mkdir "$SRC"
"$PG_DUMP" -d "$SMALL" >"$SCRATCH/small.sql"
gzip -c "$SCRATCH/small.sql" | age -r "$R1" -r "$R2" >"$SRC/${SMALL}_20261102_030405.sql.gz.age"
zstd -q -c "$SCRATCH/small.sql" | age -r "$R2" >"$SRC/${SMALL}_20261103_030405.sql.zst.age"
python3 - "$SCRATCH/small.sql" "$SCRATCH/exact.sql" <<'PY'
import sys
d = open(sys.argv[1], 'rb').read()
first = d.rindex(b'\n--\n-- PostgreSQL database dump complete') + 1
need = (-(len(d) + 4)) % 65536 + 65536 * 2
open(sys.argv[2], 'wb').write(d[:first] + b'-- ' + b'x' * need + b'\n' + d[first:])
PY
assert_eq "$(($(stat -c %s "$SCRATCH/exact.sql") % 65536))" 0 "the padded dump is a multiple of 64 KiB"
age -r "$R2" -o "$SRC/${SMALL}_20261104_030405.sql.age" "$SCRATCH/exact.sql"
IREPO=$SCRATCH/imported
run_pgvault import -d "$IREPO" "$SRC/${SMALL}_20261102_030405.sql.gz.age"
expect_rc 1 "import of an age file without --identity"
assert_contains "$ERR" "no age identity to decrypt with" "import without --identity"
run_pgvault import -d "$IREPO" --identity "$KEYS/k2" "$SRC/${SMALL}_20261102_030405.sql.gz.age" \
    "$SRC/${SMALL}_20261103_030405.sql.zst.age" "$SRC/${SMALL}_20261104_030405.sql.age"
expect_rc 0 "import of stock age files"
for f in ${SMALL}_20261102_030405.sql.gz.age ${SMALL}_20261103_030405.sql.zst.age; do
    row=$(catalog_q "$IREPO" "SELECT encryption, recipients, checksum, raw_checksum
                              FROM backups WHERE file_name = '$f' AND status = 'complete'")
    assert_eq "$row" "age|$R2
|$(xxh128 "$SRC/$f")|$(xxh128 "$SCRATCH/small.sql")" "catalog row of imported $f"
done
assert_eq "$(catalog_q "$IREPO" "SELECT raw_bytes % 65536, raw_checksum FROM backups
                                 WHERE file_name = '${SMALL}_20261104_030405.sql.age'")" \
    "0|$(xxh128 "$SCRATCH/exact.sql")" "the 64 KiB-multiple plaintext, imported"
run_pgvault verify -d "$IREPO" --deep --all --identity "$KEYS/k2"
expect_rc 0 "verify --deep of the imported backups"
for stamp in 20261102_030405 20261104_030405; do
    IID=$(catalog_q "$IREPO" "SELECT id FROM backups WHERE file_name LIKE '${SMALL}_${stamp}%'")
    run_pgvault restore -d "$IREPO" -f --target "$IMPORTED" --identity "$KEYS/k2" --no-progress "$IID"
    expect_rc 0 "restore of the imported $stamp"
    same_dump "$SMALL" "$IMPORTED" "restore of the imported $stamp"
done
# imported, then damaged with the catalog doctored to match: authentication, exit 3
IF=$IREPO/${SMALL}_20261102_030405.sql.gz.age
flip_byte "$IF" $(($(stat -c %s "$IF") - 5))
sqlite3 "$IREPO/catalog.db" "UPDATE backups SET checksum = '$(xxh128 "$IF")'
                             WHERE file_name = '${SMALL}_20261102_030405.sql.gz.age'"
IID=$(catalog_q "$IREPO" "SELECT id FROM backups WHERE file_name = '${SMALL}_20261102_030405.sql.gz.age'")
run_pgvault restore -d "$IREPO" -f --target "$OTHER" --identity "$KEYS/k1" --no-progress "$IID"
expect_rc 3 "restore of an imported file whose authentication fails"
assert_contains "$ERR" "failed authentication" "restore of an imported file whose authentication fails"
db_exists "$OTHER" && fail "database $OTHER was left after a failed authentication"
cp "$SRC/${SMALL}_20261102_030405.sql.gz.age" "$SRC/${SMALL}_20261105_030405.sql.gz"
gzip -c "$SCRATCH/small.sql" >"$SRC/${SMALL}_20261106_030405.sql.gz.age"
run_pgvault import -d "$IREPO" --identity "$KEYS/k2" "$SRC/${SMALL}_20261105_030405.sql.gz" \
    "$SRC/${SMALL}_20261106_030405.sql.gz.age"
expect_rc 1 "import of misnamed files"
assert_contains "$ERR" "it is age-encrypted but its name does not end in .age" "an age file named .sql.gz"
assert_contains "$ERR" "it is named .age but is not age-encrypted" "a gzip file named .age"
run_pgvault import -d "$IREPO" --identity "$KEYS/k3" "$SRC/${SMALL}_20261103_030405.sql.zst.age"
expect_rc 0 "import of a file already imported"

# 8. Recipients in the config file, refused recipients, check's warning.
note "config keys, refused recipients, check"
printf '# spare\n\n  %s  \n' "$R2" >"$SCRATCH/recipients"
printf 'encrypt_to = %s\nencrypt_to_file = %s\n' "$R1" "$SCRATCH/recipients" >"$SCRATCH/enc.conf"
PGVAULT_CONFIG=$SCRATCH/enc.conf run_pgvault backup -d "$REPO" --db "$SMALL" --no-progress
expect_rc 0 "backup with encrypt_to and encrypt_to_file"
assert_eq "$(catalog_q "$REPO" "SELECT encryption || ':' || recipients FROM backups
                                WHERE id = (SELECT max(id) FROM backups)")" "age:$R1
$R2" "recipients from the config file"
PGVAULT_CONFIG=$SCRATCH/enc.conf run_pgvault check -d "$REPO" --db "$SMALL"
expect_rc 0 "check with the recipients of the last backup"
printf 'encrypt_to = %s\n' "$R3" >"$SCRATCH/rotated.conf"
PGVAULT_CONFIG=$SCRATCH/rotated.conf run_pgvault check -d "$REPO" --db "$SMALL"
expect_rc 1 "check after the recipients changed"
assert_contains "$OUT" "the configured encryption recipients differ from backup" "check's warning"
before=$(catalog_q "$REPO" "SELECT count(*) FROM backups")
# an OpenPGP name beside an age recipient, and an age1 string that is no key
for bad in "ABCDEF0123456789" "someone@example.com" "age1qqqqqqqq"; do
    run_pgvault backup -d "$REPO" --db "$SMALL" --encrypt-to "$R1" --encrypt-to "$bad"
    expect_rc 2 "--encrypt-to $bad"
    expect_error_line "--encrypt-to $bad"
    assert_contains "${ERR%%$'\n'*}" "\"$bad\"" "--encrypt-to $bad is named"
done
assert_eq "$(catalog_q "$REPO" "SELECT count(*) FROM backups")" "$before" "no backup after a usage error"

pass
