#!/usr/bin/env bash
# The Debian package: built from the working tree with
# packaging/build-deb.sh, clean for lintian (errors and warnings) and for
# systemd-analyze verify, installed with dpkg -i on this machine, its pgvault run as
# postgres against a cluster of its own (through the packaged configuration, and through an
# instance configuration /etc/pgvault/NAME.conf as the instance units run it: backup, then
# the monthly test restore), then purged: the purge must leave /var/lib/pgvault and its
# backups in place.
#
# It installs a system package, so it needs root, and refuses to touch a pgvault that
# was installed before it ran. Whatever happens, it purges what it installed and removes
# what it created.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"

if [[ $(id -u) -ne 0 ]]; then
    skip "needs root (it installs the package with dpkg -i)"
fi
require_cmd dpkg-buildpackage dh lintian systemd-analyze man runuser sqlite3
[[ -f /usr/share/bash-completion/bash_completion ]] || fail "bash-completion is not installed"
# the instance units back up and test-restore every database of the cluster they are
# given (backup --all, test-restore --all): a cluster of its own, so that other tests'
# databases, made and dropped meanwhile, are not theirs
private_cluster

top=$(cd "$(dirname "$TESTLIB")/../.." && pwd)
repo=/var/lib/pgvault
conf=/etc/pgvault/pgvault.conf
unit_dir=/lib/systemd/system

status=$(dpkg-query -W -f='${db:Status-Status}' pgvault 2>/dev/null || true)
if [[ -n "$status" && "$status" != not-installed ]]; then
    fail "pgvault is already installed here (dpkg status: $status): this test installs and" \
        "purges the package, so it leaves that one alone; purge it first (dpkg --purge pgvault)"
fi
repo_existed=
[[ -e "$repo" ]] && repo_existed=1
installed=
tmp_repo=

# run_dpkg ARGS...: dpkg, waiting up to two minutes for the lock that apt or another dpkg
# may hold; its output in $DPKG_OUT.
run_dpkg() {
    local _
    for _ in $(seq 60); do
        if DPKG_OUT=$(DEBIAN_FRONTEND=noninteractive dpkg "$@" 2>&1); then
            return 0
        fi
        [[ "$DPKG_OUT" == *"lock"* ]] || return 1
        sleep 2
    done
    return 1
}

_package_cleanup() {
    local rc=$?
    set +e
    if [[ -n "$installed" ]]; then
        run_dpkg --purge pgvault
    fi
    if [[ -z "$repo_existed" ]]; then
        rm -rf "$repo"
    fi
    if [[ -n "$tmp_repo" ]]; then
        rm -rf "$tmp_repo"
    fi
    if [[ -n "${instance_conf:-}" ]]; then
        rm -f "$instance_conf"
    fi
    (exit "$rc")
    _lib_on_exit
}
trap _package_cleanup EXIT

note "build the package from the working tree"
build_out=$(bash "$top/packaging/build-deb.sh" "$SCRATCH/deb")
deb=$(printf '%s\n' "$build_out" | tail -n 1)
[[ -f "$deb" ]] || fail "build-deb.sh did not print the path of a .deb last: $build_out"
version=$(sed -n 's/^project(pgvault VERSION \([^ )]*\).*/\1/p' "$top/CMakeLists.txt")
assert_eq "$(basename "$deb")" "pgvault_${version}_$(dpkg --print-architecture).deb" "package file name"

note "its contents"
contents=$(dpkg-deb -c "$deb" | awk '{print $1, $2, $6}')
for f in ./usr/bin/pgvault ./etc/pgvault/pgvault.conf ./etc/cron.d/pgvault \
    ./lib/systemd/system/pgvault-backup.service ./lib/systemd/system/pgvault-backup.timer \
    ./lib/systemd/system/pgvault-backup@.service ./lib/systemd/system/pgvault-backup@.timer \
    ./lib/systemd/system/pgvault-restore-test.service ./lib/systemd/system/pgvault-restore-test.timer \
    ./lib/systemd/system/pgvault-restore-test@.service \
    ./lib/systemd/system/pgvault-restore-test@.timer ./usr/share/pgvault/pgvault-dashboard.json \
    ./usr/share/man/man1/pgvault.1.gz ./usr/share/bash-completion/completions/pgvault \
    ./usr/share/doc/pgvault/copyright; do
    assert_contains "$contents" " $f" "package contents"
done
assert_not_contains "$contents" "./var/lib/pgvault" "package contents (the repository is made by postinst)"
depends=$(dpkg-deb -f "$deb" Depends)
assert_contains "$depends" "postgresql-client" "Depends"
assert_contains "$depends" "libpq5" "Depends (shlibs)"
assert_eq "$(dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles | sort | tr '\n' ' ')" \
    "/etc/cron.d/pgvault /etc/pgvault/pgvault.conf " "conffiles"

note "lintian --fail-on error,warning"
if ! lint=$(lintian --fail-on error,warning "$deb" 2>&1); then
    fail "lintian rejects the package:
$lint"
fi
lint=$(printf '%s\n' "$lint" | grep -v '^running with root privileges is not recommended!$' || true)
[[ -z "$lint" ]] || note "lintian (informational): $lint"

note "dpkg -i"
installed=1
run_dpkg -i "$deb" || fail "dpkg -i failed:
$DPKG_OUT"
assert_eq "$(dpkg-query -W -f='${db:Status-Status}' pgvault)" installed "dpkg status"
assert_eq "$(/usr/bin/pgvault --version)" "pgvault $version" "installed pgvault --version"

note "systemd-analyze verify: nothing to say about the units"
units=()
for u in pgvault-backup pgvault-backup@ pgvault-restore-test pgvault-restore-test@; do
    units+=("$unit_dir/$u.service" "$unit_dir/$u.timer")
done
if ! sa=$(systemd-analyze verify "${units[@]}" 2>&1) || [[ -n "$sa" ]]; then
    fail "systemd-analyze verify:
$sa"
fi
service=$'\n'$(cat "$unit_dir/pgvault-backup.service")$'\n'
for line in Type=oneshot User=postgres Group=postgres "ExecStart=/usr/bin/pgvault backup --all" \
    ProtectSystem=strict "ReadWritePaths=$repo" NoNewPrivileges=yes PrivateTmp=yes UMask=0077; do
    assert_contains "$service" $'\n'"$line"$'\n' "pgvault-backup.service"
done
if grep -q -E '^RemoveIPC=' <<<"$service"; then
    fail "pgvault-backup.service: RemoveIPC= would remove the PostgreSQL server's shared memory"
fi
timer=$'\n'$(cat "$unit_dir/pgvault-backup.timer")$'\n'
for line in Persistent=true RandomizedDelaySec=30min WantedBy=timers.target; do
    assert_contains "$timer" $'\n'"$line"$'\n' "pgvault-backup.timer"
done
[[ -L /etc/systemd/system/timers.target.wants/pgvault-backup.timer ]] ||
    fail "the timer is not enabled (no timers.target.wants link)"
[[ ! -e /etc/systemd/system/multi-user.target.wants/pgvault-backup.service ]] ||
    fail "the service itself must not be enabled: the timer starts it"

note "the monthly test restore and the instance units of further clusters"
# unit_has UNIT LINE…: each LINE is a line of the installed UNIT
unit_has() {
    local unit=$1 text line
    shift
    text=$'\n'$(cat "$unit_dir/$unit")$'\n'
    for line in "$@"; do
        assert_contains "$text" $'\n'"$line"$'\n' "$unit"
    done
}
hardening=(Type=oneshot User=postgres ProtectSystem=strict "ReadWritePaths=$repo"
    NoNewPrivileges=yes PrivateTmp=yes UMask=0077)
unit_has pgvault-restore-test.service "${hardening[@]}" \
    "ExecStart=/usr/bin/pgvault test-restore --all"
unit_has pgvault-backup@.service "${hardening[@]}" StateDirectory=pgvault/%i \
    "ExecStart=/usr/bin/pgvault --config /etc/pgvault/%i.conf backup --all"
unit_has pgvault-restore-test@.service "${hardening[@]}" StateDirectory=pgvault/%i \
    "ExecStart=/usr/bin/pgvault --config /etc/pgvault/%i.conf test-restore --all"
unit_has pgvault-backup@.timer Persistent=true RandomizedDelaySec=30min "OnCalendar=*-*-* 02:30:00"
for t in pgvault-restore-test.timer pgvault-restore-test@.timer; do
    unit_has "$t" Persistent=true RandomizedDelaySec=2h "OnCalendar=Sun *-*-01..07 04:00:00" \
        WantedBy=timers.target
done
# monthly: the first Sunday of each month
assert_match "$(systemd-analyze calendar --iterations=2 'Sun *-*-01..07 04:00:00' | grep -o '20[0-9-]* 04:00:00' | tr '\n' ' ')" \
    '^[0-9]{4}-[0-9]{2}-0[1-7] 04:00:00 [0-9]{4}-[0-9]{2}-0[1-7] 04:00:00 $' "a monthly calendar"
for u in pgvault-restore-test.timer pgvault-backup@.timer pgvault-restore-test@.timer; do
    [[ ! -e /etc/systemd/system/timers.target.wants/$u ]] ||
        fail "$u must not be enabled by the package"
done
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["uid"] == "pgvault-backups" and d["panels"], "no panels"
' /usr/share/pgvault/pgvault-dashboard.json || fail "the Grafana dashboard is not valid JSON"

note "the cron fallback stands down where systemd runs"
cron=$(grep -v -e '^#' -e '^$' -e '=' /etc/cron.d/pgvault)
read -r m h dom mon dow user cmd <<<"$cron"
assert_eq "$m $h $dom $mon $dow $user" "30 2 * * * postgres" "cron schedule and user"
assert_match "$cmd" '^test -d /run/systemd/system \|\| ' "cron command"
assert_contains "$cmd" "/usr/bin/pgvault backup --all" "cron command"
sh -n -c "$cmd" || fail "cron command is not valid sh: $cmd"
mkdir "$SCRATCH/fakeroot-run"
# the same line, with the systemd check pointed at a directory that exists: no pgvault
stand_down=${cmd/\/run\/systemd\/system/$SCRATCH/fakeroot-run}
stand_down=${stand_down//\/usr\/bin\/pgvault/\/bin\/false}
sh -c "$stand_down" || fail "the cron line does not stand down where systemd runs: $stand_down"

note "manual page and completion"
man -w pgvault >/dev/null || fail "man -w pgvault finds no manual page"
warnings=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z \
    "$(man -w pgvault)" 2>&1 >/dev/null)
[[ -z "$warnings" ]] || fail "the manual page has groff warnings: $warnings"
page=$(MANWIDTH=200 man -l "$(man -w pgvault)" 2>/dev/null)
# every command of "pgvault --help"
run_pgvault --help
mapfile -t commands < <(sed -n '/^Commands:/,/^$/s/^  \([a-z-]*\) .*/\1/p' <<<"$OUT")
[[ ${#commands[@]} -ge 14 ]] || fail "pgvault --help lists ${#commands[@]} commands"
for c in "${commands[@]}"; do
    assert_contains "$page" "pgvault $c" "manual page synopsis"
    # every long option that "COMMAND --help" shows is in the manual page and completion
    run_pgvault "$c" --help
    while IFS= read -r opt; do
        assert_contains "$page" "$opt" "manual page ($c)"
    done < <(grep -o -E -- '--[a-z][a-z-]*' <<<"$OUT" | sort -u)
done
for v in DB_HOST DB_PORT DB_USER DB_PASSWORD DB_NAME BACKUP_DIR PGVAULT_CONFIG PGVAULT_PG_BINDIR \
    PGHOST PGPASSFILE /etc/pgvault/pgvault.conf /var/lib/pgvault "EXIT STATUS"; do
    assert_contains "$page" "$v" "manual page"
done
# shellcheck disable=SC2016 # expanded by the inner bash
comp_out=$(bash -c '
    source /usr/share/bash-completion/bash_completion
    source /usr/share/bash-completion/completions/pgvault
    for c in "" "$@"; do
        COMP_WORDS=(pgvault $c --) COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        COMP_LINE="${COMP_WORDS[*]}" COMP_POINT=${#COMP_LINE} COMPREPLY=()
        _pgvault pgvault -- "${COMP_WORDS[COMP_CWORD - 1]}"
        printf "%s:%s\n" "${c:-none}" "$(printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " ")"
    done' _ "${commands[@]}")
for c in "${commands[@]}"; do
    run_pgvault "$c" --help
    want=$(grep -o -E -- '--[a-z][a-z-]*' <<<"$OUT" | sort -u | tr '\n' ' ')
    assert_eq "$(grep "^$c:" <<<"$comp_out")" "$c:$want" "completion of the options of $c"
done

note "configuration and repository: root:postgres 0640, postgres 0750"
assert_eq "$(stat -c '%U:%G %a' "$conf")" "root:postgres 640" "$conf"
assert_match "$(grep -E '^backup_dir' "$conf")" "^backup_dir *= *$repo\$" "backup_dir of the packaged job"
if [[ -z "$repo_existed" ]]; then
    assert_eq "$(stat -c '%U:%G %a' "$repo")" "postgres:postgres 750" "$repo"
fi

note "the installed pgvault, as postgres, through the packaged configuration"
db=pgvault_pkg_$$
create_db "$db"
psql_q "$db" "CREATE TABLE items (id int PRIMARY KEY, name text);
    INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 321) g" >/dev/null
tmp_repo=$(mktemp -d /tmp/pgvault-pkgtest.XXXXXX)
chown postgres:postgres "$tmp_repo"
# (PGVAULT_CONFIG=/dev/null, which ctest sets, would hide the packaged configuration)
if ! out=$(runuser -u postgres -- env -u PGVAULT_CONFIG /usr/bin/pgvault backup \
        -d "$tmp_repo/repo" --db "$db" --no-progress </dev/null 2>&1); then
    fail "pgvault backup as postgres failed: $out"
fi
assert_contains "$out" "backup 1 complete: $tmp_repo/repo/${db}_" "backup summary"
assert_eq "$(catalog_q "$tmp_repo/repo" "SELECT db_name || ' ' || status || ' ' || table_count || ' ' || row_count FROM backups")" \
    "$db complete 1 321" "catalog row"
file=$(catalog_q "$tmp_repo/repo" "SELECT file_name FROM backups")
assert_eq "$(stat -c '%U %a' "$tmp_repo/repo/$file")" "postgres 600" "backup file"
assert_eq "$(xxh128 "$tmp_repo/repo/$file")" "$(catalog_q "$tmp_repo/repo" "SELECT checksum FROM backups")" "checksum"

note "an instance configuration, as pgvault-backup@NAME and pgvault-restore-test@NAME run it"
instance=pkgtest$$
instance_conf=/etc/pgvault/$instance.conf
printf 'host = %s\nport = %s\nbackup_dir = %s\n' "$PGHOST" "$PGPORT" "$tmp_repo/$instance" \
    >"$instance_conf"
chown root:postgres "$instance_conf"
chmod 0640 "$instance_conf"
# run_unit UNIT: the unit's ExecStart for this instance, as postgres
run_unit() {
    local cmd
    cmd=$(sed -n 's/^ExecStart=//p' "$unit_dir/$1" | sed "s/%i/$instance/g")
    # shellcheck disable=SC2086 # the command line of the unit, split at blanks as systemd does
    runuser -u postgres -- env -u PGVAULT_CONFIG $cmd --no-progress </dev/null 2>&1
}
out=$(run_unit pgvault-backup@.service) || fail "pgvault-backup@$instance as postgres failed: $out"
assert_contains "$out" "complete: $tmp_repo/$instance/${db}_" "instance backup into its backup_dir"
out=$(run_unit pgvault-restore-test@.service) ||
    fail "pgvault-restore-test@$instance as postgres failed: $out"
assert_contains "$out" "of \"$db\" restores" "instance test restore"
assert_match "$(catalog_q "$tmp_repo/$instance" "SELECT count(*) FROM backups
    WHERE db_name = '$db' AND restore_tested_at IS NOT NULL")" '^1$' "restore_tested_at"
rm -f "$instance_conf"

if [[ -z "$repo_existed" ]]; then
    note "the packaged default repository, as the nightly job has it"
    if ! out=$(runuser -u postgres -- env -u PGVAULT_CONFIG /usr/bin/pgvault backup \
            --db "$db" --no-progress </dev/null 2>&1); then
        fail "pgvault backup into $repo as postgres failed: $out"
    fi
    assert_contains "$out" "complete: $repo/${db}_" "backup into $repo"
    before_purge=$(repo_files "$repo")
fi

note "dpkg --purge keeps $repo"
run_dpkg --purge pgvault || fail "dpkg --purge failed:
$DPKG_OUT"
installed=
status=$(dpkg-query -W -f='${db:Status-Status}' pgvault 2>/dev/null || true)
[[ -z "$status" || "$status" == not-installed ]] || fail "after purge, dpkg status is $status"
for f in /usr/bin/pgvault "$conf" /etc/pgvault /etc/cron.d/pgvault "$unit_dir/pgvault-backup.service" \
    "$unit_dir/pgvault-backup@.service" "$unit_dir/pgvault-restore-test.timer" \
    /usr/share/pgvault/pgvault-dashboard.json \
    /etc/systemd/system/timers.target.wants/pgvault-backup.timer; do
    [[ ! -e "$f" && ! -L "$f" ]] || fail "$f is still there after purge"
done
[[ -d "$repo" ]] || fail "purge removed $repo"
if [[ -z "$repo_existed" ]]; then
    assert_eq "$(repo_files "$repo")" "$before_purge" "$repo after purge"
    assert_contains "$before_purge" "catalog.db" "$repo content"
fi

pass
