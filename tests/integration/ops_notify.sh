#!/usr/bin/env bash
# The mail after a run (notify_email, notify_on, sendmail_path, notify_from), through a
# capturing sendmail_path (a script that keeps its arguments and its stdin): a success
# with notify_on = always, failures of backup and test-restore (error, hint and what the
# run printed in the body), no mail for a success under the default notify_on = failure,
# a non-ASCII subject, a sendmail that fails or does not exist (a warning, the exit code
# unchanged), and a bad notify_on (exit 2).
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
require_cmd python3

DB=pgv_notify
REPO=$SCRATCH/repo
HOST=$(hostname)
create_db "$DB"
psql_q "$DB" "CREATE TABLE t AS SELECT generate_series(1, 100) AS a" >/dev/null

# the capturing sendmail: one message per file, numbered
MAILDIR=$SCRATCH/mail
mkdir -p "$MAILDIR"
cat >"$SCRATCH/sendmail" <<EOF
#!/bin/sh
n=\$(find "$MAILDIR" -name 'msg.*' | wc -l)
printf '%s\n' "\$*" >"$MAILDIR/args.\$n"
cat >"$MAILDIR/msg.\$n"
EOF
chmod +x "$SCRATCH/sendmail"
conf() { # NAME LINES…: a config file
    local f=$SCRATCH/$1.conf
    shift
    printf '%s\n' "$@" >"$f"
    printf '%s\n' "$f"
}
mails() { find "$MAILDIR" -name 'msg.*' | wc -l; }
last_mail() { cat "$MAILDIR/msg.$(($(mails) - 1))"; }
# header MESSAGE NAME: a header's value, decoded (RFC 2047) by Python's email package
header() {
    python3 -c '
import sys, email, email.policy
m = email.message_from_string(sys.argv[1], policy=email.policy.default)
print(m[sys.argv[2]] or "")' "$1" "$2"
}
ALWAYS=$(conf always "notify_email = dba@example.org, ops@example.org" "notify_email = root" \
    "notify_on = always" "sendmail_path = $SCRATCH/sendmail -t -oi")

note "a success with notify_on = always"
run_pgvault --config "$ALWAYS" backup -d "$REPO" --db "$DB"
expect_rc 0 "backup"
assert_eq "$(mails)" 1 "one mail for the run"
assert_eq "$(cat "$MAILDIR/args.0")" "-t -oi" "sendmail's arguments, split without a shell"
MSG=$(last_mail)
assert_eq "$(header "$MSG" From)" "pgvault@$HOST" "From"
assert_eq "$(header "$MSG" To)" "dba@example.org, ops@example.org, root" "To (list and repeated key)"
assert_eq "$(header "$MSG" Subject)" "[pgvault] $HOST: $DB backup OK" "Subject"
assert_eq "$(header "$MSG" Auto-Submitted)" "auto-generated" "Auto-Submitted"
assert_contains "$MSG" $'\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n' \
    "Content-Type"
assert_match "$(header "$MSG" Date)" '^[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} 20[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} \+0000$' "Date"
python3 -c '
import sys, email.utils
t = email.utils.parsedate_to_datetime(sys.argv[1]).timestamp()
import time
sys.exit(0 if abs(time.time() - t) < 300 else 1)' "$(header "$MSG" Date)" || fail "Date is not now"
BODY=${MSG#*$'\n\n'}
assert_contains "$BODY" "pgvault backup of $DB on $HOST: OK (exit code 0)" "body headline"
assert_contains "$BODY" "$(printf '%s' "$OUT" | head -1)" "body quotes the summary"
assert_contains "$BODY" "100 rows" "body quotes the summary's counts"
assert_not_contains "$BODY" "Error:" "no error in a success"

note "a failed backup"
run_pgvault --config "$ALWAYS" backup -d "$REPO" --db pgv_notify_missing
assert_ne "$RC" 0 "backup of a missing database"
FAILRC=$RC
assert_eq "$(mails)" 2 "a mail for the failure"
MSG=$(last_mail)
assert_eq "$(header "$MSG" Subject)" "[pgvault] $HOST: pgv_notify_missing backup FAILED" "Subject"
assert_contains "$MSG" "FAILED (exit code $FAILRC)" "the exit code"
assert_contains "$MSG" "Error: ${ERR#pgvault: }" "the error line"

note "a failed test-restore: error and hint"
printf 'SELECT count(*) = 1 FROM t;\n' >"$SCRATCH/check.sql"
FAILURE=$(conf failure "notify_email = dba@example.org" "sendmail_path = $SCRATCH/sendmail -t -oi" \
    "notify_from = Backups <backups@example.org>")
run_pgvault --config "$FAILURE" test-restore -d "$REPO" --db "$DB" --check-sql "$SCRATCH/check.sql"
expect_rc 1 "failing test-restore"
assert_eq "$(mails)" 3 "a mail for the failed test restore"
MSG=$(last_mail)
assert_eq "$(header "$MSG" Subject)" "[pgvault] $HOST: $DB test-restore FAILED" "Subject"
assert_eq "$(header "$MSG" From)" "Backups <backups@example.org>" "From from notify_from"
assert_contains "$MSG" "Error: check \"$SCRATCH/check.sql\" line 1 failed: its first column is false" \
    "the error"
assert_contains "$MSG" "HINT: each statement of the check file must return one row" "the hint"

note "no mail for a success under notify_on = failure"
run_pgvault --config "$FAILURE" test-restore -d "$REPO" --db "$DB"
expect_rc 0 "test-restore"
run_pgvault --config "$FAILURE" backup -d "$REPO" --db "$DB"
expect_rc 0 "backup"
run_pgvault --config "$FAILURE" verify -d "$REPO" --all
expect_rc 0 "verify"
assert_eq "$(mails)" 3 "no mail for successes"
# commands that do not report never mail, even with always
run_pgvault --config "$ALWAYS" list -d "$REPO"
run_pgvault --config "$ALWAYS" prune -d "$REPO" --dry-run
assert_eq "$(mails)" 3 "no mail for list and prune --dry-run"
run_pgvault --config "$ALWAYS" verify -d "$REPO" --all --json
expect_rc 0 "verify --json"
assert_eq "$(header "$(last_mail)" Subject)" "[pgvault] $HOST: all backups verify OK" "verify --all"
assert_contains "$(last_mail)" "$OUT" "the JSON document is quoted"

note "a non-ASCII database name in the subject"
UDB=pgv_notify_café
create_db "$UDB"
run_pgvault --config "$ALWAYS" backup -d "$REPO" --db "$UDB"
expect_rc 0 "backup of $UDB"
MSG=$(last_mail)
assert_contains "$MSG" "Subject: =?UTF-8?B?" "the subject is an encoded word"
assert_eq "$(header "$MSG" Subject)" "[pgvault] $HOST: $UDB backup OK" "decoded subject"

note "a sendmail that fails, and one that does not exist: a warning, same exit code"
printf '#!/bin/sh\ncat >/dev/null\necho "relay refused" >&2\nexit 75\n' >"$SCRATCH/badmail"
chmod +x "$SCRATCH/badmail"
BAD=$(conf bad "notify_email = dba@example.org" "notify_on = always" \
    "sendmail_path = $SCRATCH/badmail")
run_pgvault --config "$BAD" backup -d "$REPO" --db "$DB"
expect_rc 0 "backup whose mail fails"
assert_contains "$ERR" "pgvault: warning: could not send the notification mail to dba@example.org" \
    "the warning"
assert_contains "$ERR" "relay refused" "the warning quotes sendmail"
run_pgvault --config "$BAD" test-restore -d "$REPO" --db "$DB" --check-sql "$SCRATCH/check.sql"
expect_rc 1 "failing test-restore whose mail fails keeps exit 1"
assert_contains "$ERR" "could not send the notification mail" "the warning after a failure"
NONE=$(conf none "notify_email = dba@example.org" "sendmail_path = $SCRATCH/no/such/sendmail -t")
run_pgvault --config "$NONE" backup -d "$REPO" --db pgv_notify_missing
assert_eq "$RC" "$FAILRC" "exit code with a missing sendmail"
assert_contains "$ERR" "could not send the notification mail" "missing sendmail: a warning"

note "bad settings"
run_pgvault --config "$(conf on "notify_email = a@b" "notify_on = sometimes")" backup -d "$REPO" --db "$DB"
expect_rc 2 "notify_on = sometimes"
assert_contains "$ERR" "invalid value \"sometimes\" for \"notify_on\"" "the message"
run_pgvault --config "$(conf empty "notify_email = ,")" backup -d "$REPO" --db "$DB"
expect_rc 2 "an empty notify_email"
pass
