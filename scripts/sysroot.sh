#!/usr/bin/env bash
# Makes the build sysroot for cross-compiling FlashMQ and the plugin for armhf or arm64: Debian 12's packages of that
# architecture (headers and libraries), unpacked with dpkg -x into .deps/<arch>/root. Nothing of the target
# architecture is installed on this machine; C library, libstdc++ and libgcc come with the cross compiler
# (g++-arm-linux-gnueabihf / g++-aarch64-linux-gnu, in /usr/<triplet>), so they are not in the sysroot.
#
#   scripts/sysroot.sh --arch armhf|arm64
#
# Result: .deps/<arch>/root (the .debs stay in .deps/<arch>/debs for the next run). Idempotent: a complete sysroot
# for the same package list is left alone; remove .deps/<arch>/root to make it again.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
say() { printf '[sysroot] %s\n' "$*"; }
# shellcheck source=scripts/lib-debian.sh
. "$here/scripts/lib-debian.sh"
deb_arch_only sysroot.sh "$@"
triplet="$(deb_triplet "$arch")"

packages=(
    # FlashMQ links ssl and crypto:
    libssl-dev libssl3
    # the plugin links libnode, libuv and libcrypt:
    libnode108 libnode-dev libuv1 libuv1-dev libcrypt1 libcrypt-dev
    # libnode108's own shared libraries: the linker follows libnode's DT_NEEDED entries (-rpath-link) to check its
    # symbols, and qemu tests take the target's copies from here:
    libicu72 libnghttp2-14 libc-ares2 libbrotli1 zlib1g
)

root="$here/.deps/$arch/root"
cache="$here/.deps/$arch/debs"
stamp="$root/.dfmq-sysroot"
want="$arch ${packages[*]}"
if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && [ -f "$root/usr/include/openssl/ssl.h" ] &&
   [ -e "$root/usr/lib/$triplet/libnode.so.108" ]; then
    say "$arch: $root (already complete)"
    exit 0
fi

deb_fetch "$arch" "$cache" "${packages[@]}"
# From scratch: a half-made root (an interrupted run, another package list) must not leave stray files behind.
rm -rf "$root"
deb_unpack "$arch" "$cache" "$root" "${packages[@]}"
for f in usr/include/openssl/ssl.h "usr/include/$triplet/openssl/configuration.h" "usr/lib/$triplet/libssl.so" \
         "usr/lib/$triplet/libcrypto.so" usr/include/node/node.h "usr/lib/$triplet/libnode.so.108" \
         usr/include/uv.h "usr/lib/$triplet/libuv.so" usr/include/crypt.h "usr/lib/$triplet/libcrypt.so"; do
    [ -e "$root/$f" ] || { echo "sysroot.sh: $root/$f is missing after unpacking" >&2; exit 1; }
done
echo "$want" > "$stamp"
say "$arch: $root ($(du -sh "$root" | cut -f1))"
