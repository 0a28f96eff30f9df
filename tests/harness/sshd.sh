#!/usr/bin/env bash
# A throwaway OpenSSH server for the SFTP backend's tests.
#
#   sshd.sh start DIR [PORT]   starts sshd on 127.0.0.1 (PORT, else a free one) and
#                              prints the port
#   sshd.sh stop DIR           stops it and its sessions (SIGTERM, waits)
#   sshd.sh kill DIR           kills it and its sessions at once (SIGKILL)
#   sshd.sh pause DIR          stops its sessions (SIGSTOP): a server that hangs
#   sshd.sh resume DIR         lets them go on (SIGCONT)
#
# DIR receives: host_ed25519_key (made if missing: delete it to change the host key),
# id_ed25519 (the client key, made if missing), authorized_keys (the client key, for
# the user running this script), known_hosts ("[127.0.0.1]:PORT ssh-ed25519 …", written
# at every start), sshd_config, sshd.pid, sshd.log, port. Sessions get the built-in
# SFTP server. Exits 77 (skipped) when sshd is not installed.
# shellcheck shell=bash
set -euo pipefail

die() {
    printf 'sshd.sh: %s\n' "$*" >&2
    exit 1
}

[[ $# -ge 2 ]] || die "usage: sshd.sh start|stop|kill|pause|resume DIR [PORT]"
cmd=$1
dir=$(cd "$2" && pwd) || die "no directory \"$2\""

# The pid of the sshd this script started in DIR, if it is still that process.
our_pid() {
    local pid
    [[ -s "$dir/sshd.pid" ]] || return 1
    pid=$(<"$dir/sshd.pid")
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-f $dir/sshd_config" || return 1
    printf '%s\n' "$pid"
}

# PID and all its descendants, parents first.
tree() {
    local child
    printf '%s\n' "$1"
    for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do
        tree "$child"
    done
}

port_accepts() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

signal_all() {
    local sig=$1 pid pids
    pid=$(our_pid) || return 0
    pids=$(tree "$pid")
    # shellcheck disable=SC2086
    kill "-$sig" $pids 2>/dev/null || true
    local i
    for ((i = 0; i < 1000; i++)); do
        local alive=0 p
        for p in $pids; do
            if kill -0 "$p" 2>/dev/null && [[ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ]]; then
                alive=1
            fi
        done
        ((alive)) || break
        # the processes are not ours to wait for (sshd detached): poll
        sleep 0.01
    done
    rm -f "$dir/sshd.pid"
}

# Sends sig to the sessions (the listener's descendants), not to the listener.
signal_sessions() {
    local pid pids
    pid=$(our_pid) || die "no sshd running for $dir"
    pids=$(tree "$pid" | tail -n +2)
    # shellcheck disable=SC2086 # one pid a word
    [[ -z "$pids" ]] || kill "-$1" $pids
}

write_config() {
    cat >"$dir/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $1
HostKey $dir/host_ed25519_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers $(id -un)
UsePAM no
StrictModes no
UseDNS no
MaxStartups 50
LogLevel VERBOSE
Subsystem sftp internal-sftp
EOF
}

start() {
    local sshd
    sshd=$(command -v sshd || true)
    [[ -n "$sshd" ]] || [[ ! -x /usr/sbin/sshd ]] || sshd=/usr/sbin/sshd
    if [[ -z "$sshd" ]]; then
        echo "sshd.sh: sshd is not installed (package openssh-server)" >&2
        exit 77
    fi
    if our_pid >/dev/null; then
        die "an sshd is already running for $dir"
    fi
    # privilege separation directory (when running as root)
    [[ -d /run/sshd ]] || { mkdir -p /run/sshd && chmod 755 /run/sshd; } 2>/dev/null || true
    [[ -f "$dir/host_ed25519_key" ]] ||
        ssh-keygen -q -t ed25519 -N '' -C pgvault-test-host -f "$dir/host_ed25519_key"
    [[ -f "$dir/id_ed25519" ]] ||
        ssh-keygen -q -t ed25519 -N '' -C pgvault-test-client -f "$dir/id_ed25519"
    cp "$dir/id_ed25519.pub" "$dir/authorized_keys"
    chmod 600 "$dir/authorized_keys"
    local port=${1:-} attempt
    for ((attempt = 1; attempt <= 20; attempt++)); do
        local try=${port:-$((20000 + RANDOM % 40001))}
        if port_accepts "$try"; then
            [[ -z "$port" ]] || die "port $port is in use"
            continue
        fi
        write_config "$try"
        if "$sshd" -f "$dir/sshd_config" -E "$dir/sshd.log" </dev/null; then
            local i
            for ((i = 0; i < 1000; i++)); do
                if port_accepts "$try" && our_pid >/dev/null; then
                    printf '[127.0.0.1]:%s %s\n' "$try" \
                        "$(cut -d' ' -f1,2 "$dir/host_ed25519_key.pub")" >"$dir/known_hosts"
                    printf '%s\n' "$try" >"$dir/port"
                    printf '%s\n' "$try"
                    return 0
                fi
                sleep 0.01
            done
            signal_all KILL
            die "sshd on port $try did not accept connections: $(tail -n 5 "$dir/sshd.log")"
        fi
        [[ -z "$port" ]] || die "sshd could not start on port $port: $(tail -n 5 "$dir/sshd.log")"
    done
    die "sshd could not start: $(tail -n 5 "$dir/sshd.log")"
}

case $cmd in
start) start "${3:-}" ;;
stop) signal_all TERM ;;
kill) signal_all KILL ;;
pause) signal_sessions STOP ;;
resume) signal_sessions CONT ;;
*) die "unknown command \"$cmd\"" ;;
esac
