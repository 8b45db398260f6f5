#!/bin/sh
# Run by Venus OS (update-data.sh) before it unpacks a venus-data*.tar.gz from a USB stick or SD card into /data,
# from a temporary directory that holds only the archive's rc/: a non-zero exit cancels the unpack, so a working
# install is never overwritten by a package that cannot work here. Refuses, in one line (also to syslog): another
# architecture, Venus OS older than v3.60, FlashMQ older than 1.21 (no plugin API 4), and less free space in /data
# than the unpacked package and a margin (lib.sh). What it knows of the package is in rc/dbus-flashmq-ts.info,
# written by scripts/package.sh.
#
#   rc/pre-hook.sh
#
# DFMQ_ROOT, DFMQ_UNAME_M: for tests, see lib.sh.
set -eu
rc="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=scripts/venus/lib.sh
. "$rc/lib.sh"
info="$rc/$NAME.info"
field() {
    sed -n "s/^$1=//p" "$info" | head -n 1
}
[ -r "$info" ] || refuse "$info is missing: the archive is not a whole $NAME package"
arch="$(field arch)"
size="$(field unpacked_kib)"
case "$size" in ''|*[!0-9]*) refuse "$info has no unpacked_kib: the archive is not a whole $NAME package" ;; esac

dfmq_require_device "$arch"
dfmq_require_space "$size"
say "unpacking $(field version) for $arch (Venus OS $dfmq_venus, FlashMQ $dfmq_fmq)"
