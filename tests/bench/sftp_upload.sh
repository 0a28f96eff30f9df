#!/usr/bin/env bash
# Throughput of the SFTP backend against OpenSSH's own clients, on one sshd of
# tests/harness/sshd.sh (127.0.0.1):
#
#   tests/bench/sftp_upload.sh REMOTE_TOOL [SIZE_MB [DIR]]
#
# REMOTE_TOOL: a remote_tool binary (build it with -DCMAKE_BUILD_TYPE=Release, without
# the sanitizers, for figures worth quoting). SIZE_MB defaults to 500; DIR (default: a
# new directory under ${TMPDIR:-/tmp}) holds the server's files, the source file and the
# downloads. Prints, for an upload and a download each, the seconds, MB/s and peak RSS
# of remote_tool, scp and sftp, best of three runs. remote_tool's upload includes
# hashing the file (XXH3-128, timed alone on the first line) and an fsync on the server;
# scp and sftp do neither.
set -euo pipefail

tool=${1:?usage: sftp_upload.sh REMOTE_TOOL [SIZE_MB [DIR]]}
size_mb=${2:-500}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=${3:-$(mktemp -d "${TMPDIR:-/tmp}/sftp_bench.XXXXXX")}
mkdir -p "$work/ssh" "$work/srv"
sshd="$here/../harness/sshd.sh"
port=$(bash "$sshd" start "$work/ssh")
trap 'bash "$sshd" stop "$work/ssh"; rm -rf "$work/srv" "$work/src" "$work/dl" "$work"/*.batch' EXIT

head -c "$((size_mb * 1000000))" /dev/urandom >"$work/src"
user=$(id -un)
url="sftp://$user@127.0.0.1:$port$work/srv"
keys=("identity_file=$work/ssh/id_ed25519" "known_hosts=$work/ssh/known_hosts")
ssh_opts=(-q -i "$work/ssh/id_ed25519" -o "UserKnownHostsFile=$work/ssh/known_hosts"
    -o StrictHostKeyChecking=yes -o BatchMode=yes)

# measure NAME CMD…: best wall time of three runs and the peak RSS of that run.
measure() {
    local name=$1 best="" rss=""
    shift
    for _ in 1 2 3; do
        rm -f "$work/dl"
        /usr/bin/time -f '%e %M' -o "$work/time" "$@" >/dev/null
        read -r t m <"$work/time"
        if [[ -z "$best" ]] || awk -v a="$t" -v b="$best" 'BEGIN { exit !(a < b) }'; then
            best=$t
            rss=$m
        fi
    done
    awk -v n="$name" -v t="$best" -v m="$rss" -v s="$size_mb" \
        'BEGIN { printf "%-22s %7.2f s %8.1f MB/s %8.1f MiB peak RSS\n", n, t, (t > 0 ? s / t : 0), m / 1024 }'
}

echo "file: $size_mb MB of random bytes; server files in $work/srv"
measure "xxh3 hash alone" xxhsum -H2 "$work/src"
measure "upload remote_tool" "$tool" "${keys[@]}" "$url" put "$work/src" bench/obj
measure "upload scp" scp "${ssh_opts[@]}" -P "$port" "$work/src" "$user@127.0.0.1:$work/srv/scp_obj"
echo "put $work/src $work/srv/sftp_obj" >"$work/put.batch"
echo "get $work/srv/sftp_obj $work/dl" >"$work/get.batch"
measure "upload sftp" sftp "${ssh_opts[@]}" -P "$port" -b "$work/put.batch" "$user@127.0.0.1"
cmp "$work/src" "$work/srv/bench/obj"
# shellcheck disable=SC2016 # expanded by the inner shell
measure "download remote_tool" bash -c '"$@" >"$0"' "$work/dl" "$tool" "${keys[@]}" "$url" get bench/obj
measure "download scp" scp "${ssh_opts[@]}" -P "$port" "$user@127.0.0.1:$work/srv/scp_obj" "$work/dl"
measure "download sftp" sftp "${ssh_opts[@]}" -P "$port" -b "$work/get.batch" "$user@127.0.0.1"
