#!/usr/bin/env bash
# Cross-builds libxcrypt for armhf or arm64 the way OpenEmbedded builds it for Venus OS (v3.6+, scarthgap), so the
# plugin links against what a Venus image has: libcrypt.so.2, without the glibc-compatible obsolete API (no
# libcrypt.so.1, no GLIBC_* symbol versions, no fcrypt/encrypt/setkey). Debian's libcrypt1 is libcrypt.so.1, which
# a Venus image lacks.
#
#   scripts/xcrypt.sh --arch armhf|arm64
#
# Source, the first that is there: the tree .deps/libxcrypt-<version> (offline: put Debian's orig tarball's tree
# there); the same tree in this machine's cache ($DFMQ_CACHE, by default ~/.cache/dbus-flashmq-ts); Debian's orig
# tarball downloaded from deb.debian.org (its sha256 checked). Whatever the source, the tree is checked against a
# digest of its files (sha256 of the sorted list of `sha256sum` lines of every file), as scripts/flashmq.sh does.
# The tree has no configure script: autoreconf makes it, in a copy (the checked tree stays as it is).
# Configure options: OpenEmbedded's libxcrypt recipe (meta/recipes-core/libxcrypt/libxcrypt.inc) passes
# --disable-obsolete-api and builds the target with -Wno-error; its autotools class adds --disable-static. Hashes
# are upstream's default (all), as in the recipe.
# Result: .deps/<arch>/xcrypt/{include/crypt.h, lib/libcrypt.so.2, lib/libcrypt.so -> libcrypt.so.2}, also kept in
# the cache so another clone on this machine takes it from there. Idempotent (a stamp names version, tree digest and
# options). Every run checks the result: soname libcrypt.so.2, crypt_r@@XCRYPT_2.0 defined, no obsolete API.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
# shellcheck source=scripts/lib-debian.sh
. "$here/scripts/lib-debian.sh"
deb_arch_only xcrypt.sh "$@"
say() { printf '[xcrypt-%s] %s\n' "$arch" "$*"; }
triplet="$(deb_triplet "$arch")"
case "$arch" in
    armhf) machine=ARM ;;
    arm64) machine=AArch64 ;;
esac

version=4.4.33
url="http://deb.debian.org/debian/pool/main/libx/libxcrypt/libxcrypt_$version.orig.tar.xz"
archive_digest=5e2da5cb5f263e9ac4c4b3f49c75e3b8523889210f45c60bb7e97b229c75a10b
tree_digest=0c73a0afa6a8d1e7abfb8aa77c06d57892e6acc47c5d9915b6e98d826aa6bb6e
configure_options=(--disable-obsolete-api --disable-static --disable-werror)

cache="${DFMQ_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dbus-flashmq-ts}"
out="$here/.deps/$arch/xcrypt"
cached="$cache/xcrypt-$version-$arch"
want="libxcrypt $version $tree_digest ${configure_options[*]}"

# check PREFIX: the result is what a Venus image has, and nothing of the glibc-compatible libcrypt.so.1.
check() {
    local so="$1/lib/libcrypt.so.2" soname syms defs obsolete
    for f in "$1/include/crypt.h" "$so" "$1/lib/libcrypt.so"; do
        [ -e "$f" ] || { echo "xcrypt.sh: $f is missing" >&2; return 1; }
    done
    readelf -h "$so" | grep -Eq "^ +Machine: +$machine" || { echo "xcrypt.sh: $so is not an $machine object" >&2; return 1; }
    soname="$(readelf -d -W "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')"
    [ "$soname" = libcrypt.so.2 ] || { echo "xcrypt.sh: $so has soname '$soname', not libcrypt.so.2" >&2; return 1; }
    syms="$(readelf --dyn-syms -W "$so")"
    awk '$7 != "UND" && $5 == "GLOBAL" && $8 == "crypt_r@@XCRYPT_2.0" { found = 1 } END { exit !found }' <<<"$syms" ||
        { echo "xcrypt.sh: $so does not define crypt_r@@XCRYPT_2.0" >&2; return 1; }
    defs="$(readelf -V -W "$so" | sed -n '/\.gnu\.version_d/,/^$/s/.*Flags: none.*Name: \([^ ]*\).*/\1/p')"
    if grep -q '^GLIBC_' <<<"$defs"; then
        echo "xcrypt.sh: $so defines glibc's symbol versions ($(grep '^GLIBC_' <<<"$defs" | tr '\n' ' ')): the obsolete API is in" >&2
        return 1
    fi
    obsolete="$(awk '$7 != "UND" { n = $8; sub(/@.*/, "", n); print n }' <<<"$syms" |
        grep -xE 'fcrypt|encrypt|encrypt_r|setkey|setkey_r|bigcrypt' | sort -u | tr '\n' ' ' || true)"
    [ -z "$obsolete" ] || { echo "xcrypt.sh: $so defines the obsolete API: $obsolete" >&2; return 1; }
}

if [ "$(cat "$out/.built-from" 2>/dev/null)" = "$want" ] && check "$out"; then
    say "$out (libxcrypt $version, already built)"
    exit 0
fi
# install_prefix FROM: FROM's files become $out (made aside, then moved in: never a half-made prefix). install, not
# cp -a: the library gets a new time, so a build that links it (ninja) sees it changed.
install_prefix() {
    rm -rf "$out.part"
    mkdir -p "$out.part/include" "$out.part/lib"
    install -m 0644 "$1/include/crypt.h" "$out.part/include/crypt.h"
    install -m 0644 "$1/lib/libcrypt.so.2" "$out.part/lib/libcrypt.so.2"
    ln -s libcrypt.so.2 "$out.part/lib/libcrypt.so"
    check "$out.part"
    echo "$want" > "$out.part/.built-from"
    rm -rf "$out"
    mv "$out.part" "$out"
}
if [ "$(cat "$cached/.built-from" 2>/dev/null)" = "$want" ] && check "$cached"; then
    install_prefix "$cached"
    say "$out (libxcrypt $version, built before on this machine: $cached)"
    exit 0
fi

# The build tools a fresh machine may lack; ltdl.m4 (libltdl-dev) defines LT_SYS_SYMBOL_USCORE, which configure.ac
# uses. The cross C library's headers and start files are only a recommendation of gcc-<triplet>, which
# --no-install-recommends leaves out: without them the cross compiler cannot link ("C compiler cannot create
# executables") unless g++-<triplet> happened to bring them in first.
tools=(autoconf automake libtool libltdl-dev pkg-config perl make "gcc-$triplet" "libc6-dev-$arch-cross")
missing=()
for p in "${tools[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! as_root apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}"; then
        as_root apt-get update || say "apt-get update reported errors; trying with the lists it did get"
        as_root apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}"
    fi
fi

src="$here/.deps/libxcrypt-$version"
[ -d "$src" ] || src="$cache/libxcrypt-$version"
if [ ! -d "$src" ]; then
    mkdir -p "$cache"
    tarball="$cache/libxcrypt_$version.orig.tar.xz"
    say "no source tree at .deps/libxcrypt-$version or $src: downloading $url"
    curl -fsSL --retry 2 --connect-timeout 10 -o "$tarball.part" "$url" || {
        rm -f "$tarball.part"
        echo "xcrypt.sh: could not download $url. Offline, put the tree of that tarball at $here/.deps/libxcrypt-$version" >&2
        exit 1
    }
    actual="$(sha256sum "$tarball.part" | cut -d' ' -f1)"
    [ "$actual" = "$archive_digest" ] ||
        { rm -f "$tarball.part"; echo "xcrypt.sh: $url has sha256 $actual, expected $archive_digest" >&2; exit 1; }
    unpack="$(mktemp -d "$cache/xcrypt-unpack.XXXXXX")"
    tar -xJf "$tarball.part" -C "$unpack"
    rm -f "$tarball.part"
    [ -d "$unpack/libxcrypt-$version" ] || { rm -rf "$unpack"; echo "xcrypt.sh: the tarball holds no libxcrypt-$version/" >&2; exit 1; }
    mv "$unpack/libxcrypt-$version" "$src"
    rm -rf "$unpack"
fi
actual="$(source_tree_digest "$src")"
if [ "$actual" != "$tree_digest" ]; then
    echo "xcrypt.sh: the source tree $src is not libxcrypt $version's (file digest $actual, expected $tree_digest); remove it to fetch it again" >&2
    exit 1
fi
say "source: $src (digest verified)"

work="$here/.deps/$arch/xcrypt-build"
rm -rf "$work"
mkdir -p "$work/build"
cp -a "$src" "$work/src"
# run LOG CMD...: CMD's output goes to LOG, and its end is shown when it fails.
run() {
    local log="$1"; shift
    "$@" >"$log" 2>&1 || { tail -n 30 "$log" >&2; echo "xcrypt.sh: '$*' failed (log: $log)" >&2; exit 1; }
}
say "autoreconf, configure (${configure_options[*]}), make in $work"
# autogen.sh would run autoreconf -Wall,error: warnings differ between autoconf releases, they must not stop us.
(cd "$work/src" && run "$work/autoreconf.log" autoreconf -fi)
(cd "$work/build" && run "$work/configure.log" ../src/configure --host="$triplet" --prefix=/usr "${configure_options[@]}" CFLAGS=-O2)
run "$work/make.log" make -C "$work/build" -j"$(nproc)"
run "$work/install.log" make -C "$work/build" install DESTDIR="$work/dest"
mkdir -p "$work/prefix/include" "$work/prefix/lib"
cp "$work/dest/usr/include/crypt.h" "$work/prefix/include/crypt.h"
cp -L "$work/dest/usr/lib/libcrypt.so.2" "$work/prefix/lib/libcrypt.so.2"
"$triplet-strip" --strip-unneeded "$work/prefix/lib/libcrypt.so.2"
ln -s libcrypt.so.2 "$work/prefix/lib/libcrypt.so"
install_prefix "$work/prefix"
rm -rf "$work"
# Kept for the next clone on this machine.
if mkdir -p "$cache" 2>/dev/null; then
    rm -rf "$cached"
    cp -a "$out" "$cached" || say "could not keep a copy in $cached"
fi
say "$out: libcrypt.so.2 ($(stat -c %s "$out/lib/libcrypt.so.2") bytes), crypt.h"
