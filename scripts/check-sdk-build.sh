#!/usr/bin/env bash
# Builds the plugin as an integrator with the Venus SDK would: against a sysroot that, like the SDK's, has no Node,
# libnode or libuv (here: Debian's libcrypt only, next to the cross compiler's C library), and the SDK prefix of
# scripts/package.sh (-DLIBNODE_PREFIX). Proves that prefix holds what the build needs. Run after package.sh.
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
deb_fetch "$arch" "$here/.deps/$arch/debs" libcrypt1 libcrypt-dev
rm -rf "$root"
deb_unpack "$arch" "$here/.deps/$arch/debs" "$root" libcrypt1 libcrypt-dev
build="$here/build-sdk-$arch"
rm -rf "$build"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_TOOLCHAIN_FILE="$here/cmake/debian-cross.cmake" -DDFMQ_CROSS_ARCH="$arch" \
    -DDFMQ_SYSROOT="$root" -DLIBNODE_PREFIX="$prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --parallel "$(nproc)" >/dev/null
say "$(file -b "$build/libdbus-flashmq-ts.so" | cut -d, -f1-3)"
