#!/bin/sh
# Run by Venus OS (update-data.sh) after it unpacked a venus-data*.tar.gz from a USB stick or SD card into /data,
# from the temporary directory that holds the archive's rc/ (rc/ never lands in /data), with one argument:
#   success            the package in /data is checked against its MANIFEST (and the MANIFEST against the one this
#                      archive carries), then install.sh --boot switches FlashMQ to it (not when this very package
#                      fell back to the stock plugin before: see install.sh);
#   extraction-failed  (or anything else) nothing is switched to what is in /data. If FlashMQ was switched to this
#                      plugin and the package in /data no longer matches its MANIFEST (the unpack replaced part of
#                      it), the device goes back to the stock plugin (this rc/'s copy of uninstall.sh).
# One line says what happened (also to syslog).
#
#   rc/post-hook.sh success|extraction-failed
#
# DFMQ_ROOT, DFMQ_UNAME_M: for tests, see lib.sh.
set -eu
rc="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=scripts/venus/lib.sh
. "$rc/lib.sh"
info="$rc/$NAME.info"
field() {
    sed -n "s/^$1=//p" "$info" 2>/dev/null | head -n 1
}
pkg="$ROOT/data/$NAME"
version="$(field version)"

broken=0
if [ "${1:-}" = success ]; then
    manifest="$(field manifest_sha256)"
    if [ -z "$manifest" ] || [ "$(sha256sum < "$pkg/MANIFEST" 2>/dev/null | cut -d ' ' -f 1)" != "$manifest" ]; then
        dfmq_why="$pkg/MANIFEST is not this archive's"
    elif dfmq_verify "$pkg"; then
        # install.sh finds the stamp dfmq_verify wrote and does not read the package a second time.
        sh "$pkg/install.sh" --boot || exit 1
        # The same package that fell back to the stock plugin (watchdog.sh): install.sh said it does not switch.
        dfmq_fallback_pending "$pkg" && exit 0
        say "installed $version from the archive"
        exit 0
    fi
    broken=1
    problem="the archive of $version was unpacked, but $dfmq_why"
elif [ "${1:-}" = extraction-failed ]; then
    problem="Venus could not unpack the archive of $version"
else
    problem="unknown argument '${1:-}' (expected success or extraction-failed)"
fi

# Nothing is switched to what is in /data. Was FlashMQ switched to it before?
active=0
[ -f "$ROOT/run/flashmq/$NAME.conf" ] && active=1
[ -f "$ROOT/data/rcS.local" ] && grep -q -e "# $NAME\$" "$ROOT/data/rcS.local" && active=1
[ "$active" -eq 1 ] || refuse "$problem: nothing installed, FlashMQ keeps its plugin"
if [ "$broken" -eq 0 ]; then
    dfmq_verify "$pkg" && refuse "$problem, but $pkg still matches its MANIFEST: it stays installed"
    problem="$problem, and $dfmq_why"
fi
if out="$(DFMQ_QUIET=1 sh "$rc/uninstall.sh" 2>&1)"; then
    refuse "$problem: FlashMQ is back on its stock plugin (unpack the archive again)"
fi
refuse "$problem: ${out#"$NAME: "}"
