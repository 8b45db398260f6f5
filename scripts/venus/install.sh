#!/bin/sh
# Switches Venus OS's FlashMQ from the stock plugin to dbus-flashmq-ts, without touching the read-only root:
#   - /run/flashmq/dbus-flashmq-ts.conf (tmpfs, read by FlashMQ's `include_dir /run/flashmq` after the stock
#     `plugin` line, so its `plugin` line wins) names this package's plugin, plus the plugin_opt_ lines of
#     /data/conf/dbus-flashmq-ts.options when there is one;
#   - /data/dfmq-nodejs links to this package's nodejs/ (the path the packaged libnode reads its JavaScript from);
#   - /data/rcS.local runs this script again (--boot) early at every boot, so the switch survives reboots and
#     firmware updates (/data persists; a factory-reset stick removes rcS.local, and the stock plugin is back);
#   - FlashMQ is restarted through its service (svc -t /service/flashmq).
# It refuses, with one line, where the plugin cannot work: another architecture, Venus OS older than v3.60,
# FlashMQ without plugin API 4 (older than 1.21). ./uninstall.sh undoes all of it.
#
#   /data/dbus-flashmq-ts/install.sh [--boot]     (--boot: restart FlashMQ only when it already runs)
#
# For tests, DFMQ_ROOT prefixes every device path (a fake /data, /run, /etc, /opt, /service, /usr/bin) and
# DFMQ_UNAME_M replaces `uname -m`.
set -eu
NAME=dbus-flashmq-ts
ROOT="${DFMQ_ROOT:-}"
PKG="$(cd "$(dirname "$0")" && pwd)"
BOOT=0
[ "${1:-}" = --boot ] && BOOT=1

say() {
    echo "$NAME: $*"
    if command -v logger >/dev/null 2>&1; then logger -t "$NAME" "$*" 2>/dev/null || true; fi
}
refuse() {
    say "$*" >&2
    exit 1
}

# --- can it work here? --------------------------------------------------------------------------------------------
pkg_arch="$(cat "$PKG/ARCH")"
machine="${DFMQ_UNAME_M:-$(uname -m)}"
case "$machine" in
    aarch64|arm64) device_arch=arm64 ;;
    armv7*|armv8l|armhf|arm) device_arch=armhf ;;
    *) device_arch="$machine" ;;
esac
[ "$device_arch" = "$pkg_arch" ] ||
    refuse "this package is for $pkg_arch, but this device is $machine ($device_arch): install the $device_arch package"

version_file="$ROOT/opt/victronenergy/version"
[ -r "$version_file" ] || refuse "$version_file is missing: this is not a Venus OS device"
venus="$(head -n 1 "$version_file")"
major="$(echo "$venus" | sed -n 's/^v\{0,1\}\([0-9]*\)\.\([0-9]*\).*/\1/p')"
minor="$(echo "$venus" | sed -n 's/^v\{0,1\}\([0-9]*\)\.\([0-9]*\).*/\2/p')"
{ [ -n "$major" ] && [ -n "$minor" ]; } || refuse "cannot read the Venus OS version from $version_file ('$venus')"
# Versions are vX.YZ (v3.60, v3.70); a one-digit minor (v3.6) means the same as v3.60.
[ "${#minor}" -eq 1 ] && minor="${minor}0"
if [ "$major" -lt 3 ] || { [ "$major" -eq 3 ] && [ "$minor" -lt 60 ]; }; then
    refuse "Venus OS $venus is older than v3.60, the first with a FlashMQ of plugin API 4 (update Venus OS first)"
fi

flashmq="$ROOT/usr/bin/flashmq"
[ -x "$flashmq" ] || refuse "$flashmq is missing: this Venus OS has no FlashMQ"
fmq="$("$flashmq" --version 2>/dev/null | sed -n 's/.*FlashMQ [Vv]ersion \([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p' | head -n 1)"
[ -n "$fmq" ] || refuse "cannot read FlashMQ's version from '$flashmq --version'"
fmq_major="${fmq%%.*}"
fmq_minor="${fmq#*.}"
if [ "$fmq_major" -lt 1 ] || { [ "$fmq_major" -eq 1 ] && [ "$fmq_minor" -lt 21 ]; }; then
    refuse "FlashMQ $fmq has no plugin API 4; this plugin needs FlashMQ 1.21 or newer (Venus OS v3.60 or newer)"
fi

# --- switch -------------------------------------------------------------------------------------------------------
ln -sfn "$PKG/nodejs" "$ROOT/data/dfmq-nodejs"

conf_dir="$ROOT/run/flashmq"
conf="$conf_dir/$NAME.conf"
options="$ROOT/data/conf/$NAME.options"
mkdir -p "$conf_dir"
{
    echo "# Written by $PKG/install.sh (again at every boot): FlashMQ loads this plugin instead of the stock one."
    echo "# $PKG/uninstall.sh removes it. Plugin options go in /data/conf/$NAME.options (plugin_opt_<name> <value>)."
    echo "plugin $PKG/libdbus-flashmq-ts.so"
    [ ! -r "$options" ] || grep -E '^[[:space:]]*plugin_opt_[A-Za-z0-9_]+[[:space:]]' "$options" || true
} > "$conf.tmp"
mv "$conf.tmp" "$conf"

hook="$ROOT/data/rcS.local"
line="[ -x $PKG/install.sh ] && $PKG/install.sh --boot   # $NAME"
if [ ! -f "$hook" ]; then
    printf '#!/bin/sh\n' > "$hook"
fi
grep -q "# $NAME\$" "$hook" || echo "$line" >> "$hook"
chmod +x "$hook"

# --- restart FlashMQ through its service --------------------------------------------------------------------------
service="$ROOT/service/flashmq"
if [ ! -d "$service" ]; then
    [ "$BOOT" -eq 1 ] || say "no $service: FlashMQ picks the plugin up when it starts"
elif [ "$BOOT" -eq 1 ] && ! svstat "$service" 2>/dev/null | grep -q ': up'; then
    : # early at boot: FlashMQ starts later and reads the file then
else
    svc -t "$service"
    say "FlashMQ restarted with $PKG/libdbus-flashmq-ts.so"
fi
[ "$BOOT" -eq 1 ] || say "installed (Venus OS $venus, FlashMQ $fmq, $pkg_arch); $PKG/uninstall.sh returns to the stock plugin"
