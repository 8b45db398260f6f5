#!/usr/bin/env bash
# Cross-builds another FlashMQ plugin's CMake source tree for armhf or arm64, as a baseline for the emulated GX device
# (npm run bench:gx -- --stock <its .so>): the original C++ plugin, for one. Nothing of that tree is kept here; its
# build goes where --out says, outside the repository by default, and is never committed.
#
#   scripts/baseline-arm.sh <plugin source dir> [--arch armhf|arm64] [--out <dir>] [--target <cmake target>]
#
# Defaults: --arch armhf, --out <source dir>/../build-<arch>, --target flashmq-dbus-plugin. The last line printed is
# the built .so.
#
# The tree is configured with our toolchain file (cmake/debian-cross.cmake) on a private copy of the cross sysroot
# (scripts/sysroot.sh: OpenSSL, libxcrypt's libcrypt.so.2 as on Venus) to which Debian 12's libdbus-1-dev and
# libdbus-1-3 of the target are added (unpacked, nothing installed): .deps/<arch>/baseline-root, found through
# pkg-config (dbus-1.pc) and the linker's search path. The shared sysroot is left as it is.
# Debian's libdbus-1.so.3 NEEDs libsystemd.so.0 (Venus's is built without systemd): the emulated device's image
# made with --stock carries a stand-in for it (see scripts/gx-vm.sh), not Debian's libsystemd.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
say() { printf '[baseline-%s] %s\n' "$arch" "$*" >&2; }
# shellcheck source=scripts/lib-debian.sh
. "$here/scripts/lib-debian.sh"
usage() { echo "usage: scripts/baseline-arm.sh <plugin source dir> [--arch armhf|arm64] [--out <dir>] [--target <cmake target>]" >&2; exit 2; }

src=""
arch=armhf
out=""
target=flashmq-dbus-plugin
while [ "$#" -gt 0 ]; do
    case "$1" in
        --arch) arch="${2:?--arch needs a value}"; shift 2 ;;
        --out) out="$(realpath -m "${2:?--out needs a directory}")"; shift 2 ;;
        --target) target="${2:?--target needs a name}"; shift 2 ;;
        -*) usage ;;
        *) [ -z "$src" ] || usage; src="$(realpath -e "$1")"; shift ;;
    esac
done
[ -n "$src" ] && [ -f "$src/CMakeLists.txt" ] || usage
triplet="$(deb_triplet "$arch")"
[ -n "$out" ] || out="$(dirname "$src")/build-$arch"
case "$out/" in "$here"/*) echo "baseline-arm.sh: --out must be outside the repository (the build is never committed)" >&2; exit 2 ;; esac

deb_ensure_tool "$triplet-g++" "g++-$triplet" >&2
deb_ensure_tool pkg-config pkg-config >&2
bash "$here/scripts/sysroot.sh" --arch "$arch" >&2
sysroot="$here/.deps/$arch/root"
debs="$here/.deps/$arch/debs"
packages=(libdbus-1-dev libdbus-1-3)
deb_fetch "$arch" "$debs" "${packages[@]}" >&2

# The private sysroot: the shared one (hard links) plus libdbus, made again when either changes.
root="$here/.deps/$arch/baseline-root"
want="$(cat "$sysroot/.dfmq-sysroot") + ${packages[*]}: $(for p in "${packages[@]}"; do basename "$(deb_file "$arch" "$debs" "$p")"; done | tr '\n' ' ')"
if [ "$(cat "$root/.dfmq-baseline-root" 2>/dev/null)" != "$want" ]; then
    say "making $root"
    rm -rf "$root"
    cp -al "$sysroot" "$root"
    rm -f "$root/.dfmq-sysroot"
    deb_unpack "$arch" "$debs" "$root" "${packages[@]}"
    for f in "usr/lib/$triplet/pkgconfig/dbus-1.pc" "usr/lib/$triplet/libdbus-1.so" usr/include/dbus-1.0/dbus/dbus.h; do
        [ -e "$root/$f" ] || { echo "baseline-arm.sh: $root/$f is missing after unpacking" >&2; exit 1; }
    done
    echo "$want" > "$root/.dfmq-baseline-root"
fi

# pkg-config of the target: only the private root's .pc files, their paths under that root.
export PKG_CONFIG_LIBDIR="$root/usr/lib/$triplet/pkgconfig:$root/usr/share/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$root"
export PKG_CONFIG_PATH=""
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
rm -rf "$out"
say "configuring $src for $arch in $out"
cmake -S "$src" -B "$out" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_TOOLCHAIN_FILE="$here/cmake/debian-cross.cmake" \
    -DDFMQ_CROSS_ARCH="$arch" -DDFMQ_SYSROOT="$root" -DCMAKE_CXX_FLAGS=-Wno-psabi >&2
cmake --build "$out" --parallel "$(nproc)" --target "$target" >&2
so="$(find "$out" -maxdepth 1 -name '*.so' -type f | head -n 1)"
[ -n "$so" ] || { echo "baseline-arm.sh: the build made no .so in $out" >&2; exit 1; }
"$triplet-strip" --strip-unneeded "$so"
say "$(file -b "$so")"
say "needs: $("$triplet-readelf" -d "$so" | awk '/NEEDED/ { gsub(/[\[\]]/, "", $5); printf "%s ", $5 }')"
echo "$so"
