#!/usr/bin/env bash
# Makes the build sysroot for cross-compiling FlashMQ and the plugin for armhf or arm64: Debian 12's packages of that
# architecture (headers and libraries), unpacked with dpkg -x into .deps/<arch>/root. Nothing of the target
# architecture is installed on this machine; C library, libstdc++ and libgcc come with the cross compiler
# (g++-arm-linux-gnueabihf / g++-aarch64-linux-gnu, in /usr/<triplet>), so they are not in the sysroot.
# libcrypt is not Debian's (libcrypt1 is libcrypt.so.1, which a Venus image lacks) but libxcrypt built as Venus builds
# it (scripts/xcrypt.sh: libcrypt.so.2 and its crypt.h), so the plugin NEEDs libcrypt.so.2 as on the device.
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
    # the plugin links libnode and libuv (and libcrypt: scripts/xcrypt.sh's, added below):
    libnode108 libnode-dev libuv1 libuv1-dev
    # libnode108's own shared libraries: the linker follows libnode's DT_NEEDED entries (-rpath-link) to check its
    # symbols, and qemu tests take the target's copies from here:
    libicu72 libnghttp2-14 libc-ares2 libbrotli1 zlib1g
)

bash "$here/scripts/xcrypt.sh" --arch "$arch"
xcrypt="$here/.deps/$arch/xcrypt"

root="$here/.deps/$arch/root"
cache="$here/.deps/$arch/debs"
stamp="$root/.dfmq-sysroot"
want="$arch ${packages[*]} + $(cat "$xcrypt/.built-from")"
if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && [ -f "$root/usr/include/openssl/ssl.h" ] &&
   [ -e "$root/usr/lib/$triplet/libnode.so.108" ] && [ -e "$root/usr/lib/$triplet/libcrypt.so.2" ]; then
    say "$arch: $root (already complete)"
    exit 0
fi

deb_fetch "$arch" "$cache" "${packages[@]}"
# From scratch: a half-made root (an interrupted run, another package list) must not leave stray files behind.
rm -rf "$root"
deb_unpack "$arch" "$cache" "$root" "${packages[@]}"
# libcrypt.so.2 where the linker looks first: the cross compiler's own directories (/usr/<triplet>/lib) come after
# the sysroot's, so a libcrypt.so there (a *-cross package) does not win; scripts/cross.sh checks the result.
install -m 0644 "$xcrypt/include/crypt.h" "$root/usr/include/crypt.h"
install -m 0644 "$xcrypt/lib/libcrypt.so.2" "$root/usr/lib/$triplet/libcrypt.so.2"
ln -sfn libcrypt.so.2 "$root/usr/lib/$triplet/libcrypt.so"
if [ -n "$(find "$root" -name 'libcrypt.so.1*' -print -quit)" ]; then
    echo "sysroot.sh: $root holds a libcrypt.so.1 (from a Debian package): Venus has libcrypt.so.2 only" >&2
    exit 1
fi
for f in usr/include/openssl/ssl.h "usr/include/$triplet/openssl/configuration.h" "usr/lib/$triplet/libssl.so" \
         "usr/lib/$triplet/libcrypto.so" usr/include/node/node.h "usr/lib/$triplet/libnode.so.108" \
         usr/include/uv.h "usr/lib/$triplet/libuv.so" usr/include/crypt.h "usr/lib/$triplet/libcrypt.so.2"; do
    [ -e "$root/$f" ] || { echo "sysroot.sh: $root/$f is missing after unpacking" >&2; exit 1; }
done
echo "$want" > "$stamp"
say "$arch: $root ($(du -sh "$root" | cut -f1))"
