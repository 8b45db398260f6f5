#!/usr/bin/env bash
# Makes a minimal run-time root for running armhf or arm64 programs under qemu-user (scripts/qemu-run.sh --root):
# only the libraries every Venus OS image has, from Debian 12's packages of that architecture, unpacked with dpkg -x:
#   glibc (libc6), libstdc++6, libgcc-s1, OpenSSL 3 (libssl3), zlib (zlib1g), libdbus-1-3;
# and libcrypt as Venus has it: libxcrypt without the obsolete API (scripts/xcrypt.sh), /usr/lib/libcrypt.so.2 as
# OpenEmbedded installs it; no libcrypt.so.1 (Debian's libcrypt1), which a Venus image lacks.
# Nothing else: libnode, ICU, libuv, ... come with the plugin's package, so a test that needs them adds them itself
# (that is how missing ones show). Note: Debian's libdbus-1-3 needs libsystemd0, which is left out on purpose
# (Venus OS's libdbus is built without systemd; neither FlashMQ nor the plugin loads libdbus).
#
#   scripts/guest-root.sh --arch armhf|arm64 <dir>
#
# The .debs are cached in .deps/<arch>/debs. Idempotent: a complete root of the same architecture and package list
# is left alone. <dir> must be empty, missing, or a root this script made (it is then made again when it differs).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
say() { printf '[guest-root] %s\n' "$*"; }
# shellcheck source=scripts/lib-debian.sh
. "$here/scripts/lib-debian.sh"

arch=""
dir=""
while [ "$#" -gt 0 ]; do
    case "$1" in
        --arch) arch="${2:?--arch needs a value}"; shift 2 ;;
        -*) echo "guest-root.sh: unknown option '$1'" >&2; exit 2 ;;
        *) [ -z "$dir" ] || { echo "guest-root.sh: one directory only" >&2; exit 2; }; dir="$1"; shift ;;
    esac
done
if [ -z "$arch" ] || [ -z "$dir" ]; then echo "usage: scripts/guest-root.sh --arch armhf|arm64 <dir>" >&2; exit 2; fi
triplet="$(deb_triplet "$arch")"
case "$arch" in
    armhf) loader=lib/ld-linux-armhf.so.3 ;;
    arm64) loader=lib/ld-linux-aarch64.so.1 ;;
esac

packages=(libc6 libstdc++6 libgcc-s1 libssl3 zlib1g libdbus-1-3)
bash "$here/scripts/xcrypt.sh" --arch "$arch"
xcrypt="$here/.deps/$arch/xcrypt"
dir="$(realpath -m "$dir")"
stamp="$dir/.dfmq-guest-root"
want="$arch ${packages[*]} + $(cat "$xcrypt/.built-from")"
if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && [ -e "$dir/$loader" ] && [ -e "$dir/usr/lib/libcrypt.so.2" ]; then
    say "$arch: $dir (already complete)"
    exit 0
fi
# Only wipe what is ours: refuse a non-empty directory without our stamp (a typo must not erase someone's files).
if [ -d "$dir" ] && [ -n "$(ls -A "$dir")" ] && [ ! -f "$stamp" ]; then
    echo "guest-root.sh: $dir is not empty and was not made by this script" >&2
    exit 1
fi
[ "$dir" != / ] || { echo "guest-root.sh: refusing /" >&2; exit 1; }

deb_fetch "$arch" "$here/.deps/$arch/debs" "${packages[@]}"
rm -rf "$dir"
deb_unpack "$arch" "$here/.deps/$arch/debs" "$dir" "${packages[@]}"
# Documentation, locales data and the like are no part of what is measured.
rm -rf "${dir:?}/usr/share"
install -D -m 0644 "$xcrypt/lib/libcrypt.so.2" "$dir/usr/lib/libcrypt.so.2"
if [ -n "$(find "$dir" -name 'libcrypt.so.1*' -print -quit)" ]; then
    echo "guest-root.sh: $dir holds a libcrypt.so.1: Venus has libcrypt.so.2 only" >&2
    exit 1
fi
for f in "$loader" "lib/$triplet/libc.so.6" "usr/lib/$triplet/libstdc++.so.6" "lib/$triplet/libgcc_s.so.1" \
         "usr/lib/$triplet/libssl.so.3" "usr/lib/$triplet/libcrypto.so.3" "lib/$triplet/libz.so.1" \
         usr/lib/libcrypt.so.2 "lib/$triplet/libdbus-1.so.3"; do
    [ -e "$dir/$f" ] || { echo "guest-root.sh: $dir/$f is missing after unpacking" >&2; exit 1; }
done
echo "$want" > "$stamp"
say "$arch: $dir ($(du -sh "$dir" | cut -f1))"
