#!/usr/bin/env bash
# Builds the plugin as an integrator with the Venus SDK would: against a sysroot that, like the SDK's, has no Node,
# libnode or libuv (here: only libcrypt as the SDK has it, libxcrypt's libcrypt.so.2 and crypt.h from
# scripts/xcrypt.sh in /usr/lib and /usr/include, next to the cross compiler's C library), and the SDK prefix of
# scripts/package.sh (-DLIBNODE_PREFIX). Proves that prefix holds what the build needs, and that the result NEEDs
# libcrypt.so.2 as on the device. Run after package.sh.
#
#   scripts/check-sdk-build.sh --arch armhf|arm64
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
# shellcheck source=scripts/lib-debian.sh
. "$here/scripts/lib-debian.sh"
deb_arch_only check-sdk-build.sh "$@"
say() { printf '[sdk-build-%s] %s\n' "$arch" "$*"; }

prefix="$here/build-package/sdk-prefix-$arch"
[ -f "$prefix/include/node/node.h" ] || { echo "check-sdk-build.sh: no SDK prefix at $prefix (run scripts/package.sh --arch $arch)" >&2; exit 1; }
root="$here/.deps/$arch/sdk-like-root"
bash "$here/scripts/xcrypt.sh" --arch "$arch" >/dev/null
xcrypt="$here/.deps/$arch/xcrypt"
rm -rf "$root"
mkdir -p "$root/usr/include" "$root/usr/lib"
install -m 0644 "$xcrypt/include/crypt.h" "$root/usr/include/crypt.h"
install -m 0644 "$xcrypt/lib/libcrypt.so.2" "$root/usr/lib/libcrypt.so.2"
ln -s libcrypt.so.2 "$root/usr/lib/libcrypt.so"
build="$here/build-sdk-$arch"
rm -rf "$build"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_TOOLCHAIN_FILE="$here/cmake/debian-cross.cmake" -DDFMQ_CROSS_ARCH="$arch" \
    -DDFMQ_SYSROOT="$root" -DLIBNODE_PREFIX="$prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --parallel "$(nproc)" >/dev/null
so="$build/libdbus-flashmq-ts.so"
needed="$(readelf -d "$so" | awk '/NEEDED/ { gsub(/[\[\]]/, "", $5); print $5 }')"
if ! grep -qx 'libcrypt\.so\.2' <<<"$needed" || grep -qx 'libcrypt\.so\.1' <<<"$needed"; then
    echo "check-sdk-build.sh: $so must NEED libcrypt.so.2 (what Venus has), it NEEDs: $(tr '\n' ' ' <<<"$needed")" >&2
    exit 1
fi
say "$(file -b "$so" | cut -d, -f1-3); NEEDs libcrypt.so.2"
