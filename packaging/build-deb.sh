#!/bin/bash
# Builds the Debian package of pgvault from the working tree, offline:
#
#   packaging/build-deb.sh [OUTDIR]
#
# Copies the tree (without .git and build directories) into a temporary directory, puts
# packaging/debian/ at its top, runs "dpkg-buildpackage -us -uc -b" there, copies the
# pgvault_<version>_<arch>.deb (and its -dbgsym package) into OUTDIR (default: the
# current directory) and prints the .deb's path as its last line. The build log is
# shown only when the build fails.
#
# Needs dpkg-dev, debhelper and the build dependencies of packaging/debian/control
# ("packaging/install-deps.sh --test" installs them all).
set -euo pipefail

die() {
    printf 'build-deb: %s\n' "$*" >&2
    exit 1
}

[[ $# -le 1 ]] || die "usage: build-deb.sh [OUTDIR]"
top=$(cd "$(dirname "$0")/.." && pwd)
outdir=${1:-.}
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

for tool in dpkg-buildpackage dpkg-parsechangelog dh; do
    command -v "$tool" >/dev/null 2>&1 ||
        die "$tool is not installed (run: packaging/install-deps.sh --test)"
done

# The package's version is the project's: debian/changelog must follow CMakeLists.txt.
version=$(dpkg-parsechangelog -l "$top/packaging/debian/changelog" -S Version)
project_version=$(sed -n 's/^project(pgvault VERSION \([^ )]*\).*/\1/p' "$top/CMakeLists.txt")
[[ "$version" == "$project_version" ]] ||
    die "packaging/debian/changelog is at version $version but CMakeLists.txt at" \
        "$project_version: add a changelog entry (dch -v $project_version)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pgvault-deb.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
src=$tmp/pgvault-$version
mkdir "$src"

# The working tree as it is (uncommitted changes included), without what a build or
# git keeps in it.
tar -C "$top" --anchored --exclude=./.git --exclude='./build*' --exclude='./obj-*' \
    --exclude=./out --exclude=./debian --exclude='./*.deb' -cf - . | tar -C "$src" -xf -
cp -a "$top/packaging/debian" "$src/debian"

log=$tmp/build.log
if ! (cd "$src" && dpkg-buildpackage -us -uc -b --jobs-try=auto) >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    die "dpkg-buildpackage failed (the last 60 lines of its output are above)"
fi

shopt -s nullglob
debs=("$tmp"/pgvault_"$version"_*.deb)
[[ ${#debs[@]} -eq 1 ]] || die "expected one pgvault_${version}_*.deb, found ${#debs[@]}"
for f in "$tmp"/pgvault_"$version"_*.deb "$tmp"/pgvault-dbgsym_"$version"_*.*deb; do
    cp "$f" "$outdir/"
done
printf '%s\n' "$outdir/$(basename "${debs[0]}")"
