#!/usr/bin/env bash
# The mail after a run through a real local MTA with the default sendmail_path
# (/usr/sbin/sendmail -t -oi): Debian's dma (DragonFly Mail Agent, installed by
# packaging/install-deps.sh --test) delivers it to the local user's mailbox, where the
# test finds it by a subject no other run has. Skipped where dma is not installed.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
[[ -x /usr/sbin/dma && -x /usr/sbin/sendmail ]] || skip "dma is not installed (packaging/install-deps.sh --test)"
USER_NAME=$(id -un)
MBOX=/var/mail/$USER_NAME
HOST=$(hostname)

DB=pgv_mta_$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
REPO=$SCRATCH/repo
create_db "$DB"
printf 'notify_email = %s\nnotify_on = always\n' "$USER_NAME" >"$SCRATCH/pgvault.conf"
run_pgvault --config "$SCRATCH/pgvault.conf" backup -d "$REPO" --db "$DB"
expect_rc 0 "backup"
assert_not_contains "$ERR" "could not send" "the MTA took the mail"
SUBJECT="Subject: [pgvault] $HOST: $DB backup OK"
delivered() { [[ -r "$MBOX" ]] && grep -qF "$SUBJECT" "$MBOX"; }
wait_until "the mail in $MBOX" delivered
# the delivered message, read back with Python's mailbox module
MSG=$(python3 - "$MBOX" "$SUBJECT" <<'PY'
import mailbox, sys
for m in mailbox.mbox(sys.argv[1]):
    if "Subject: " + str(m["Subject"]) == sys.argv[2]:
        print(m.as_string())
PY
)
assert_contains "$MSG" "Auto-Submitted: auto-generated" "delivered headers"
assert_contains "$MSG" "From: pgvault@$HOST" "delivered From"
assert_contains "$MSG" "To: $USER_NAME" "delivered To"
assert_contains "$MSG" "pgvault backup of $DB on $HOST: OK (exit code 0)" "delivered body"
pass
