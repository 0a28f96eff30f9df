#!/bin/sh
# Installs what building and testing pgvault needs on Debian 12, and nothing when all of
# it is already there (so "apt-get update" runs at most once).
#   packaging/install-deps.sh          build + run (compiler, libraries, PostgreSQL)
#   packaging/install-deps.sh --test   also what the test suite uses
set -eu

pkgs="gcc make cmake pkg-config libpq-dev libsqlite3-dev zlib1g-dev libxxhash-dev
      libzstd-dev libsodium-dev libgpgme-dev libcurl4-openssl-dev libssh-dev gnupg
      postgresql postgresql-client xxhash sqlite3 util-linux"
if [ "${1:-}" = "--test" ]; then
    # prometheus ships promtool, which checks the metrics file (tests/integration/ops_*.sh)
    pkgs="$pkgs python3 procps strace clang jq prometheus"
    # the stock zstd(1) reads and checks the zstd backups (tests/integration/zstd_*.sh)
    pkgs="$pkgs zstd"
    # the stock age and gpg decrypt what pgvault encrypts, and encrypt what it imports
    pkgs="$pkgs age gpg-agent"
    # the remotes the copy tests use: OpenStack Swift with s3api, and OpenSSH
    pkgs="$pkgs swift swift-proxy swift-object swift-container swift-account curl"
    pkgs="$pkgs openssh-server openssh-client"
    # the HTML report is rendered in headless Chromium (tests/integration/report_*.sh)
    pkgs="$pkgs chromium fonts-dejavu-core"
    # a local MTA (sendmail -t, local delivery) for the mail test (tests/integration/ops_notify_mta.sh)
    pkgs="$pkgs dma"
    # the package test (tests/integration/package_deb.sh): build, check and install the .deb
    pkgs="$pkgs dpkg-dev debhelper lintian systemd man-db bash-completion"
fi

missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

SUDO=""
if [ "$(id -u)" != 0 ]; then
    SUDO="sudo"
fi
echo "installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
