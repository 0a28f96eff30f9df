# /etc/cron.d/pgvault: nightly backup of every PostgreSQL database, and of the
# cluster's roles and tablespaces, as the postgres user, into the backup_dir of
# /etc/pgvault/pgvault.conf (/var/lib/pgvault as packaged).
#
# This is the fallback for hosts without systemd. Where systemd runs, the
# pgvault-backup.timer does the job ("systemctl list-timers pgvault-backup.timer")
# and this line does nothing. With --quiet, cron mails only warnings and errors.
SHELL=/bin/sh
PATH=/usr/sbin:/usr/bin:/sbin:/bin

30 2 * * *	postgres	test -d /run/systemd/system || test ! -x /usr/bin/pgvault || /usr/bin/pgvault backup --all --quiet
