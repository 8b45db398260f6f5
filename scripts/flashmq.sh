#!/usr/bin/env bash
# Builds FlashMQ from its official release source, for this machine or, cross-compiled, for armhf or arm64 (the GX
# devices' architectures). 1.26.2 is the broker the plugin is developed against; 1.23.2 is the one Venus OS v3.7x
# ships and 1.21.1 the one of v3.6x, and the suites run against those too.
#
#   scripts/flashmq.sh [--arch host|armhf|arm64] [--version 1.26.2|1.23.2|1.21.1] [--print]
#
# Source, the first that is there: the tree .deps/FlashMQ-<version> (offline: put the release's source tree there);
# the same tree in this machine's cache ($DFMQ_CACHE, by default ~/.cache/dbus-flashmq-ts); the release archive
# downloaded from GitHub; the release archive in ../shared/deps/ or $DFMQ_SHARED_DEPS (for machines that cannot
# reach GitHub; its own sha256 is checked too). Whatever the source, the tree is checked against a digest of its files before anything is
# built (sha256 of the sorted list of `sha256sum` lines of every file).
# Result: .deps/flashmq/<arch>/flashmq for 1.26.2, .deps/flashmq/<arch>-<version>/flashmq for the others, also kept
# in the cache, so another clone on this machine (a CI run) takes it from there instead of building again.
# --print only prints the path (and fails when it is not built).
# Cross builds need the sysroot made by scripts/sysroot.sh (OpenSSL's headers and libraries for the target).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"

default_version=1.26.2
version="$default_version"
arch=host
print_only=0
while [ "$#" -gt 0 ]; do
    case "$1" in
        --arch) arch="${2:?--arch needs a value}"; shift 2 ;;
        --version) version="${2:?--version needs a value}"; shift 2 ;;
        --print) print_only=1; shift ;;
        *) echo "flashmq.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
done
case "$arch" in host|armhf|arm64) ;; *) echo "flashmq.sh: --arch is host, armhf or arm64, not '$arch'" >&2; exit 2 ;; esac
# Per release: the digest of its source tree's files, and the sha256 of the release archive in ../shared/deps/.
case "$version" in
    1.26.2) tree_digest=0662d0e962b158716d9a0fbbc3fb8c482a9632cc32dd5647b63066336a161359
            archive_digest=8f4465e2a746266a800faa09e4e6ae2e2084a47a281e9b25a74737c910f2e176 ;;
    1.23.2) tree_digest=30263662873c3b5e0e8b89570fcd599f9d02edd8d5e89dd67ca8555307b41361
            archive_digest=0cfb9aa55f555bbf1c1dbfcb6e5d806b3e9625742e898ab47014889362bdcda6 ;;
    1.21.1) tree_digest=9201f8de41632fe62ab02f8f0bb7da86ce3d524d3ba31419673d3ef2079729df
            archive_digest=5e03102f17024ab8391e81229c841dd6b0108a50097c3bc0f4d908df162fddcb ;;
    *) echo "flashmq.sh: --version is 1.26.2, 1.23.2 or 1.21.1, not '$version'" >&2; exit 2 ;;
esac
url="https://github.com/halfgaar/FlashMQ/archive/refs/tags/v$version.tar.gz"
# The release archives beside the project (../shared/deps, its place on the development and CI machines), or where
# DFMQ_SHARED_DEPS says.
shared_archive=""
for dir in ${DFMQ_SHARED_DEPS:+"$DFMQ_SHARED_DEPS"} "$here/../shared/deps" /work/shared/deps; do
    if [ -f "$dir/FlashMQ-$version.tar.gz" ]; then shared_archive="$dir/FlashMQ-$version.tar.gz"; break; fi
done

say() { printf '[flashmq] %s\n' "$*"; }
# shellcheck source=scripts/lib-debian.sh
. "$here/scripts/lib-debian.sh"   # source_tree_digest; deb_* for cross builds
if [ "$version" = "$default_version" ]; then out="$here/.deps/flashmq/$arch"; else out="$here/.deps/flashmq/$arch-$version"; fi
binary="$out/flashmq"
if [ "$print_only" -eq 1 ]; then
    [ -x "$binary" ] || exit 1
    echo "$binary"
    exit 0
fi

cache="${DFMQ_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dbus-flashmq-ts}"
cached="$cache/flashmq-$version-$arch"
want="$version $tree_digest"
stamp="$out/.built-from"
if [ -x "$binary" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    say "$arch: $binary (FlashMQ $version, already built)"
    exit 0
fi
if [ -x "$cached/flashmq" ] && [ "$(cat "$cached/.built-from" 2>/dev/null)" = "$want" ]; then
    mkdir -p "$out"
    install -m 0755 "$cached/flashmq" "$binary"
    echo "$want" > "$stamp"
    say "$arch: $binary (FlashMQ $version, built before on this machine: $cached)"
    exit 0
fi

# unpack ARCHIVE: its FlashMQ-<version>/ tree becomes $src.
unpack() {
    local dir
    dir="$(mktemp -d "$cache/flashmq-unpack.XXXXXX")"
    tar -xzf "$1" -C "$dir"
    [ -d "$dir/FlashMQ-$version" ] || { rm -rf "$dir"; echo "flashmq.sh: $1 holds no FlashMQ-$version/" >&2; exit 1; }
    mv "$dir/FlashMQ-$version" "$src"
    rm -rf "$dir"
}

src="$here/.deps/FlashMQ-$version"
[ -d "$src" ] || src="$cache/FlashMQ-$version"
if [ ! -d "$src" ]; then
    mkdir -p "$cache"
    archive="$cache/FlashMQ-$version.tar.gz"
    say "no source tree at .deps/FlashMQ-$version or $src: downloading $url"
    if curl -fsSL --retry 2 --connect-timeout 10 -o "$archive.part" "$url"; then
        mv "$archive.part" "$archive"
        unpack "$archive"
        rm -f "$archive"
    elif [ -n "$shared_archive" ]; then
        rm -f "$archive.part"
        actual="$(sha256sum "$shared_archive" | cut -d' ' -f1)"
        [ "$actual" = "$archive_digest" ] ||
            { echo "flashmq.sh: $shared_archive is not FlashMQ $version's release archive (sha256 $actual, expected $archive_digest)" >&2; exit 1; }
        say "download failed; taking the release archive $(realpath "$shared_archive") (sha256 verified)"
        unpack "$shared_archive"
    else
        rm -f "$archive.part"
        echo "flashmq.sh: could not download FlashMQ $version, and ../shared/deps has no FlashMQ-$version.tar.gz (DFMQ_SHARED_DEPS names another directory). Offline, put its release source tree at $here/.deps/FlashMQ-$version" >&2
        echo "flashmq.sh: (e.g. git clone https://github.com/halfgaar/FlashMQ && git -C FlashMQ archive --prefix=FlashMQ-$version/ v$version | tar -x -C .deps)" >&2
        exit 1
    fi
fi
actual="$(source_tree_digest "$src")"
if [ "$actual" != "$tree_digest" ]; then
    echo "flashmq.sh: the source tree $src is not FlashMQ $version's release (file digest $actual, expected $tree_digest); remove it to fetch it again" >&2
    exit 1
fi
say "source: $src (digest verified)"

cmake_args=(-DCMAKE_BUILD_TYPE=Release)
case "$arch" in
    host) ;;
    armhf|arm64)
        triplet="$(deb_triplet "$arch")"
        deb_ensure_tool "$triplet-g++" "g++-$triplet"
        sysroot="$here/.deps/$arch/root"
        bash "$here/scripts/sysroot.sh" --arch "$arch"   # idempotent: checks, or makes the sysroot
        # -Wno-psabi: GCC's notes that the ARM calling convention of some std types changed in GCC 7.1, thousands of
        # lines that say nothing about this build.
        cmake_args+=(-DCMAKE_TOOLCHAIN_FILE="$here/cmake/debian-cross.cmake" -DDFMQ_CROSS_ARCH="$arch"
                     -DDFMQ_SYSROOT="$sysroot" -DCMAKE_CXX_FLAGS=-Wno-psabi)
        ;;
esac

work="$here/.deps/flashmq/build-$arch-$version"
rm -rf "$work"
say "building FlashMQ $version for $arch in $work"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S "$src" -B "$work" "${generator[@]}" "${cmake_args[@]}" >/dev/null
cmake --build "$work" --parallel "$(nproc)" --target flashmq
mkdir -p "$out"
install -m 0755 "$work/flashmq" "$binary"
echo "$want" > "$stamp"
rm -rf "$work"
# Kept for the next clone on this machine (and the source tree with it, for offline builds of other targets).
if mkdir -p "$cached" 2>/dev/null; then
    install -m 0755 "$binary" "$cached/flashmq" && echo "$want" > "$cached/.built-from"
    [ -d "$cache/FlashMQ-$version" ] || cp -a "$src" "$cache/FlashMQ-$version"
fi
say "$arch: $binary"
