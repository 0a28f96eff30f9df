#!/usr/bin/env bash
# OpenPGP encryption end to end, through GPGME and the stock gpg: the hostile database
# backed up with --encrypt-to an address of a key in GNUPGHOME is one .sql.gz.gpg file,
# the catalog records the key's fingerprint; pgvault restores it, and the stock
# "gpg --decrypt | gunzip | psql" restores it too, to the same pg_dump. With a keyring
# that holds only the public key, restore exits 2 with one line naming the recipient and
# touches no database. import adopts "pg_dump | gzip | gpg --encrypt -r …" files, which
# then restore; check warns when the configured recipient is another key.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
# shellcheck source=SCRIPTDIR/../harness/hostile_db.sh
source "$(dirname "$TESTLIB")/hostile_db.sh"
# shellcheck source=SCRIPTDIR/../harness/restore_helpers.sh
source "$(dirname "$TESTLIB")/restore_helpers.sh"
require_cmd gpg gpgconf sqlite3 gzip

DB=pgv_pgp_hostile
VIA_PGVAULT=pgv_pgp_via_pgvault
VIA_STOCK=pgv_pgp_via_stock
IMPORTED=pgv_pgp_imported
REPO=$SCRATCH/repo
register_db "$VIA_PGVAULT"
register_db "$VIA_STOCK"
register_db "$IMPORTED"

# Keyrings on short paths (gpg-agent's socket path is limited); the agents go at the end.
HOME1=$(mktemp -d /tmp/pgv-pgp1.XXXXXX)
HOME2=$(mktemp -d /tmp/pgv-pgp2.XXXXXX)
cleanup_gpg() {
    GNUPGHOME=$HOME1 gpgconf --kill all 2>/dev/null || true
    GNUPGHOME=$HOME2 gpgconf --kill all 2>/dev/null || true
    rm -rf "$HOME1" "$HOME2"
}
trap cleanup_gpg EXIT
chmod 700 "$HOME1" "$HOME2"
for who in backup other; do
    GNUPGHOME=$HOME1 gpg --batch --quiet --passphrase '' --quick-gen-key \
        "pgvault $who <$who@pgv.test>" future-default default never 2>/dev/null
done
FPR=$(GNUPGHOME=$HOME1 gpg --batch --with-colons --list-keys backup@pgv.test | awk -F: '/^fpr/{print $10; exit}')
[[ ${#FPR} -eq 40 ]] || fail "no fingerprint for the generated key: $FPR"
# the second keyring: the public key only
GNUPGHOME=$HOME1 gpg --batch --export backup@pgv.test | GNUPGHOME=$HOME2 gpg --batch --quiet --import
export GNUPGHOME=$HOME1

# 1. the hostile database, encrypted to the key's address
create_db "$DB"
build_hostile_db "$DB"
run_pgvault backup -d "$REPO" --db "$DB" --encrypt-to backup@pgv.test --no-progress
expect_rc 0 "OpenPGP-encrypted backup of $DB"
BID=$(catalog_q "$REPO" "SELECT max(id) FROM backups WHERE status = 'complete'")
name=$(catalog_q "$REPO" "SELECT file_name FROM backups WHERE id = $BID")
assert_match "$name" "^${DB}_[0-9]{8}_[0-9]{6}\\.sql\\.gz\\.gpg\$" "file name of the OpenPGP backup"
assert_eq "$(catalog_q "$REPO" "SELECT encryption FROM backups WHERE id = $BID")" openpgp "catalog encryption"
assert_eq "$(catalog_q "$REPO" "SELECT recipients FROM backups WHERE id = $BID")" "$FPR" "catalog recipients: the fingerprint"
FILE=$REPO/$name
gzip -t "$FILE" 2>/dev/null && fail "the stored file is plain gzip"
run_pgvault verify -d "$REPO" "$BID"
expect_rc 0 "verify without a key"
note "(1) backup: .sql.gz.gpg, the fingerprint recorded"

# 2. restored by pgvault, and by the stock gpg
run_pgvault restore -d "$REPO" -f --target "$VIA_PGVAULT" "$BID"
expect_rc 0 "restore of the OpenPGP backup"
same_dump "$DB" "$VIA_PGVAULT" "restore through pgvault"
create_db "$VIA_STOCK"
gpg --batch --quiet --decrypt "$FILE" | gunzip | psql_script "$VIA_STOCK" >/dev/null
same_dump "$DB" "$VIA_STOCK" "gpg --decrypt | gunzip | psql"
note "(2) pgvault and the stock gpg restore the same database"

# 3. no secret key: exit 2, naming the recipient, nothing touched
GNUPGHOME=$HOME2 run_pgvault restore -d "$REPO" -f --target pgv_pgp_nokey "$BID"
expect_rc 2 "restore without the secret key"
expect_error_line "restore without the secret key"
assert_contains "$ERR" "$FPR" "the recipient is named"
[[ $(psql_q postgres "SELECT count(*) FROM pg_database WHERE datname = 'pgv_pgp_nokey'") == 0 ]] ||
    fail "a database was created without a key"
expect_no_leftover_dbs "restore without the secret key"
note "(3) without the secret key: exit 2, no database touched"

# 4. a file made by the stock tools is adopted and restores
IREPO=$SCRATCH/irepo
mkdir -m 700 "$IREPO"
ifile=$IREPO/${DB}_20261101_020000.sql.gz.gpg
"$PG_DUMP" "$DB" | gzip | gpg --batch --quiet --trust-model always --encrypt -r backup@pgv.test >"$ifile"
run_pgvault import -d "$IREPO" "$ifile"
expect_rc 0 "import of a gpg-encrypted dump"
iid=$(catalog_q "$IREPO" "SELECT max(id) FROM backups WHERE status = 'complete'")
assert_eq "$(catalog_q "$IREPO" "SELECT encryption FROM backups WHERE id = $iid")" openpgp "imported encryption"
run_pgvault restore -d "$IREPO" -f --target "$IMPORTED" "$iid"
expect_rc 0 "restore of the imported file"
same_dump "$DB" "$IMPORTED" "restore of the imported file"
note "(4) import of a stock gpg file"

# 5. check: the same key by another name is no change; another key is
conf=$SCRATCH/enc.conf
printf 'encrypt_to = %s\n' "$FPR" >"$conf"
run_pgvault --config "$conf" check -d "$REPO" --db "$DB" --max-age 24
assert_eq "$RC" 0 "check with the recipient's fingerprint (output: $OUT)"
printf 'encrypt_to = other@pgv.test\n' >"$conf"
run_pgvault --config "$conf" check -d "$REPO" --db "$DB" --max-age 24
assert_eq "$RC" 1 "check with another recipient (output: $OUT)"
assert_contains "$OUT" "recipients differ" "check names the change"
note "(5) check warns about a changed recipient"
pass
