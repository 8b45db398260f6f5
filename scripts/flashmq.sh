#!/usr/bin/env bash
# Builds FlashMQ 1.26.2 (the broker the plugin is tested in) from its official release source, for this machine
# or, cross-compiled, for armhf or arm64 (the GX devices' architectures).
#
#   scripts/flashmq.sh [--arch host|armhf|arm64] [--print]
#
# Source: the tree .deps/FlashMQ-1.26.2 when it is there (offline: put the release's source tree there), else the
# same tree in this machine's cache ($DFMQ_CACHE, by default ~/.cache/dbus-flashmq-ts), else the release archive
# downloaded from GitHub into that cache. Either way the tree is checked against a digest of its files before
# anything is built (sha256 of the sorted list of `sha256sum` lines of every file).
# Result: .deps/flashmq/<arch>/flashmq, also kept in the cache, so another clone on this machine (a CI run) takes
# it from there instead of building again. --print only prints the path (and fails when it is not built).
# Cross builds need the sysroot made by scripts/sysroot.sh (OpenSSL's headers and libraries for the target).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"

version=1.26.2
tree_digest=0662d0e962b158716d9a0fbbc3fb8c482a9632cc32dd5647b63066336a161359
url="https://github.com/halfgaar/FlashMQ/archive/refs/tags/v$version.tar.gz"

arch=host
print_only=0
while [ "$#" -gt 0 ]; do
    case "$1" in
        --arch) arch="${2:?--arch needs a value}"; shift 2 ;;
        --print) print_only=1; shift ;;
        *) echo "flashmq.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
done
case "$arch" in host|armhf|arm64) ;; *) echo "flashmq.sh: --arch is host, armhf or arm64, not '$arch'" >&2; exit 2 ;; esac

say() { printf '[flashmq] %s\n' "$*"; }
out="$here/.deps/flashmq/$arch"
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

digest_of() { (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1); }

src="$here/.deps/FlashMQ-$version"
[ -d "$src" ] || src="$cache/FlashMQ-$version"
if [ ! -d "$src" ]; then
    archive="$cache/FlashMQ-$version.tar.gz"
    say "no source tree at .deps/FlashMQ-$version or $src: downloading $url"
    mkdir -p "$cache"
    if ! curl -fsSL --retry 2 -o "$archive.part" "$url"; then
        rm -f "$archive.part"
        echo "flashmq.sh: could not download FlashMQ $version. Offline, put its release source tree at $here/.deps/FlashMQ-$version" >&2
        echo "flashmq.sh: (e.g. git clone https://github.com/halfgaar/FlashMQ && git -C FlashMQ archive --prefix=FlashMQ-$version/ v$version | tar -x -C .deps)" >&2
        exit 1
    fi
    mv "$archive.part" "$archive"
    unpack="$(mktemp -d "$cache/flashmq-unpack.XXXXXX")"
    tar -xzf "$archive" -C "$unpack"
    mv "$unpack/FlashMQ-$version" "$src"
    rm -rf "$unpack" "$archive"
fi
actual="$(digest_of "$src")"
if [ "$actual" != "$tree_digest" ]; then
    echo "flashmq.sh: the source tree $src is not FlashMQ $version's release (file digest $actual, expected $tree_digest); remove it to download again" >&2
    exit 1
fi
say "source: $src (digest verified)"

cmake_args=(-DCMAKE_BUILD_TYPE=Release)
case "$arch" in
    host) ;;
    armhf|arm64)
        # shellcheck source=scripts/lib-debian.sh
        . "$here/scripts/lib-debian.sh"
        triplet="$(deb_triplet "$arch")"
        deb_ensure_tool "$triplet-g++" "g++-$triplet"
        sysroot="$here/.deps/$arch/root"
        bash "$here/scripts/sysroot.sh" --arch "$arch"   # idempotent: checks, or makes the sysroot
        cmake_args+=(-DCMAKE_TOOLCHAIN_FILE="$here/cmake/debian-cross.cmake" -DDFMQ_CROSS_ARCH="$arch"
                     -DDFMQ_SYSROOT="$sysroot")
        ;;
esac

work="$here/.deps/flashmq/build-$arch"
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
