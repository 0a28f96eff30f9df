# OpenStack Swift on 127.0.0.1 for the S3 tests: one account, container and object
# server and two proxies, all under one directory of the test, on free ports.
#
#   source swift.sh; swift_start DIR     (then $SWIFT_S3, $SWIFT_API, see below)
#   bash swift.sh start DIR              prints the S3 endpoint
#   bash swift.sh stop DIR               stops exactly the servers DIR/*.pid name
#
# The S3 proxy runs the s3api middleware with tempauth: access key "test:tester",
# secret "testing", region us-east-1; path-style addressing on $SWIFT_S3, virtual-host
# addressing on http://localhost:PORT (storage_domain localhost: BUCKET.localhost, which
# curl resolves to 127.0.0.1 itself). Its pipeline has slo (the
# multipart uploads' manifests) and the cache middleware without any memcached (tempauth
# does not need it for S3 requests, which carry their own signature).
#
# Swift's own API, to create buckets (containers) and to read objects back without the
# S3 layer, is a second proxy with no auth middleware (like Swift's internal client), on
# $SWIFT_API: $SWIFT_API/v1/AUTH_test/BUCKET/KEY. Tempauth's tokens would need memcached.
#
# Swift reads its hash prefix and suffix from /etc/swift/swift.conf whatever swift_dir
# says; the file is created only when it is missing (the Debian package ships one).
#
# swift_start exits 77 (skipped) when the Swift servers are not installed, fails (1) on
# anything else. swift_kill NAME / swift_run NAME stop and start one server (proxy,
# object, container, account, api) for fault tests.
# shellcheck shell=bash

_SWIFT_SERVERS="account container object proxy api"

# A port below the kernel's ephemeral range (32768-60999) that no socket uses, listening
# or connected: a server binds it without waiting for a client's port to be released.
_swift_free_port() {
    local port taken
    taken=$(ss -Htan 2>/dev/null | awk '{ n = split($4, a, ":"); print a[n] }')
    while :; do
        port=$((10000 + RANDOM % 22000))
        if ! grep -qx "$port" <<<"$taken" && ! grep -qx "$port" "$SWIFT_DIR"/*.port 2>/dev/null &&
            ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            printf '%s\n' "$port"
            return 0
        fi
    done
}

_swift_conf_common() {
    # $1 port, $2 dir
    cat <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $1
workers = 0
user = $(id -un)
swift_dir = $2
devices = $2/srv
mount_check = false
log_name = swift
EOF
}

# The [filter:NAME] sections of the given middlewares (all egg:swift#NAME).
_swift_filters() {
    local f
    for f in "$@"; do
        printf '\n[filter:%s]\nuse = egg:swift#%s\n' "$f" "${f//-/_}"
    done
}

_swift_write_confs() {
    local dir=$1 name
    for name in account container object; do
        {
            _swift_conf_common "$(cat "$dir/$name.port")" "$dir"
            printf '\n[pipeline:main]\npipeline = %s-server\n\n' "$name"
            printf '[app:%s-server]\nuse = egg:swift#%s\n' "$name" "$name"
        } >"$dir/$name-server.conf"
    done
    # the S3 proxy
    {
        _swift_conf_common "$(cat "$dir/proxy.port")" "$dir"
        cat <<'EOF'

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin

[filter:s3api]
use = egg:swift#s3api
location = us-east-1
storage_domain = localhost

[filter:cache]
use = egg:swift#memcache
EOF
        _swift_filters catch_errors gatekeeper healthcheck proxy-logging listing_formats copy slo dlo
    } >"$dir/proxy-server.conf"
    # Swift's own API, without auth
    {
        _swift_conf_common "$(cat "$dir/api.port")" "$dir"
        cat <<'EOF'

[pipeline:main]
pipeline = catch_errors healthcheck proxy-logging cache copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
allow_account_management = true

[filter:cache]
use = egg:swift#memcache
EOF
        _swift_filters catch_errors healthcheck proxy-logging copy slo dlo
    } >"$dir/api-server.conf"
}

_swift_rings() {
    local dir=$1 name
    for name in account container object; do
        swift-ring-builder "$dir/$name.builder" create 4 1 1 >/dev/null &&
            swift-ring-builder "$dir/$name.builder" add \
                "r1z1-127.0.0.1:$(cat "$dir/$name.port")/d1" 100 >/dev/null &&
            swift-ring-builder "$dir/$name.builder" rebalance >/dev/null
        # rebalance exits 1 on warnings; the ring file is what counts
        [[ -f "$dir/$name.ring.gz" ]] || {
            echo "swift.sh: could not build the $name ring" >&2
            return 1
        }
    done
}

# swift_launch NAME: starts one server of $SWIFT_DIR (proxy, api, object, container,
# account) in the background.
swift_launch() {
    local dir=$SWIFT_DIR name=$1 bin=$1
    case "$name" in proxy | api) bin=proxy ;; esac
    "swift-$bin-server" "$dir/$name-server.conf" -v >>"$dir/$name.log" 2>&1 </dev/null &
    echo $! >"$dir/$name.pid"
    disown $! 2>/dev/null || true # no "Killed" notice from the shell that sourced us
}

# swift_wait NAME: waits until the server answers HTTP (at most 60 s).
swift_wait() {
    local dir=$SWIFT_DIR name=$1 port url _
    port=$(cat "$dir/$name.port")
    case "$name" in
        proxy | api) url="http://127.0.0.1:$port/healthcheck" ;;
        *) url="http://127.0.0.1:$port/recon/d1" ;; # any HTTP answer means it listens
    esac
    for _ in $(seq 600); do
        if curl -s -o /dev/null "$url"; then
            return 0
        fi
        if ! kill -0 "$(cat "$dir/$name.pid")" 2>/dev/null; then
            echo "swift.sh: $name server exited: $(tail -n 5 "$dir/$name.log")" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "swift.sh: $name server did not answer on port $port" >&2
    return 1
}

# swift_run NAME: swift_launch, then swift_wait.
swift_run() {
    swift_launch "$1" && swift_wait "$1"
}

# swift_kill NAME [SIGNAL]: stops one server started by swift_run (default SIGKILL) and
# waits until it is gone.
swift_kill() {
    local pidfile=$SWIFT_DIR/$1.pid pid _
    [[ -f "$pidfile" ]] || return 0
    pid=$(cat "$pidfile")
    kill "-${2:-KILL}" "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$pidfile"
}

# swift_start DIR: a fresh Swift under DIR; sets SWIFT_DIR, SWIFT_S3 (the S3 endpoint)
# and SWIFT_API (Swift's own API, unauthenticated).
swift_start() {
    local dir name
    for name in swift-ring-builder swift-proxy-server swift-object-server \
        swift-container-server swift-account-server; do
        if ! command -v "$name" >/dev/null 2>&1; then
            echo "SKIP: $name is not installed" >&2
            exit 77
        fi
    done
    mkdir -p "$1/srv/d1" || return 1
    dir=$(cd "$1" && pwd)
    SWIFT_DIR=$dir
    for name in $_SWIFT_SERVERS; do
        _swift_free_port >"$dir/$name.port"
    done
    printf '[swift-hash]\nswift_hash_path_suffix = pgvault-test\nswift_hash_path_prefix = pgvault-test\n' \
        >"$dir/swift.conf"
    if [[ ! -e /etc/swift/swift.conf ]]; then
        mkdir -p /etc/swift && cp "$dir/swift.conf" /etc/swift/swift.conf || return 1
    fi
    _swift_write_confs "$dir" && _swift_rings "$dir" || return 1
    # all at once: each takes seconds of CPU to start
    for name in $_SWIFT_SERVERS; do
        swift_launch "$name"
    done
    for name in $_SWIFT_SERVERS; do
        swift_wait "$name" || {
            swift_stop "$dir"
            return 1
        }
    done
    SWIFT_S3=http://127.0.0.1:$(cat "$dir/proxy.port")
    SWIFT_API=http://127.0.0.1:$(cat "$dir/api.port")
    printf '%s\n' "$SWIFT_S3" >"$dir/endpoint"
    export SWIFT_DIR SWIFT_S3 SWIFT_API
}

_swift_any_alive() {
    local pid
    for pid in "$@"; do
        kill -0 "$pid" 2>/dev/null && return 0
    done
    return 1
}

# swift_stop DIR: stops the servers whose pid files DIR holds, and only those (SIGTERM,
# then SIGKILL for any still there after 5 s).
swift_stop() {
    local name pids=() pid _
    SWIFT_DIR=$(cd "$1" && pwd) || return 0
    for name in $_SWIFT_SERVERS; do
        [[ -f "$SWIFT_DIR/$name.pid" ]] && pids+=("$(cat "$SWIFT_DIR/$name.pid")")
        rm -f "$SWIFT_DIR/$name.pid"
    done
    [[ ${#pids[@]} -gt 0 ]] || return 0
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for _ in $(seq 50); do
        _swift_any_alive "${pids[@]}" || break
        sleep 0.1
    done
    for pid in "${pids[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
    done
    return 0
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    case "${1:-}" in
        start)
            swift_start "$2" || exit 1
            printf '%s\n' "$SWIFT_S3"
            ;;
        stop) swift_stop "$2" ;;
        *)
            echo "usage: swift.sh start|stop DIR" >&2
            exit 2
            ;;
    esac
fi
