#!/bin/sh
# Switches Venus OS's FlashMQ from the stock plugin to dbus-flashmq-ts, without touching the read-only root:
#   - /run/flashmq/dbus-flashmq-ts.conf (tmpfs, read by FlashMQ's `include_dir /run/flashmq` after the stock
#     `plugin` line, so its `plugin` line wins) names this package's plugin, plus the plugin_opt_ lines of
#     /data/conf/dbus-flashmq-ts.options when there is one;
#   - /data/rcS.local runs this script again (--boot) early at every boot, so the switch survives reboots and
#     firmware updates (/data persists; a factory-reset stick removes rcS.local, and the stock plugin is back);
#   - FlashMQ is restarted through its service (svc -t /service/flashmq);
#   - /service/dbus-flashmq-ts runs watchdog.sh, which returns FlashMQ to its stock plugin when this one does not
#     serve (see watchdog.sh), and /run/dbus-flashmq-ts is made for the plugin's status file (writable by the
#     broker's user, flashmq from v3.70), and /data/dbus-flashmq-ts-cache for its code cache (made by the plugin
#     after its first start; it makes later starts faster).
# After such a fallback, the marker .fallback in this directory names the package that fell back: --boot does not
# switch to it again (one line says so; the rcS.local line stays, for the next package), a run by hand removes the
# marker and tries again, and so does --boot once the package was unpacked anew (another MANIFEST).
# The archive brings /data/dfmq-nodejs, the link to the package's nodejs/ (the path the packaged libnode reads its
# JavaScript from); this script makes it again when it is missing.
# It refuses, with one line, where the plugin cannot work: another architecture, Venus OS older than v3.60,
# FlashMQ without plugin API 4 (older than 1.21), and a package whose files do not match its MANIFEST (an unpack
# cut short): then, if FlashMQ was switched to this package, it is switched back to the stock plugin.
# ./uninstall.sh undoes all of it.
#
#   /data/dbus-flashmq-ts/install.sh [--boot | --reload]
#
# --reload: after an edit of /data/conf/dbus-flashmq-ts.options, writes the conf again and has FlashMQ re-read it
# (svc -h, a SIGHUP): the options that can change while running apply at once, and the plugin's log line names those
# that take effect only when FlashMQ restarts (this script without --reload restarts it).
# --boot (from rcS.local and rc/post-hook.sh): quiet when all is well, restarts FlashMQ only when it already runs,
# and checks the MANIFEST in full only when a file was written since the last full check (see dfmq_verify_cheap in
# lib.sh): a full check reads the whole package, seconds on a GX device, at every boot otherwise.
# DFMQ_ROOT, DFMQ_UNAME_M: for tests, see lib.sh.
set -eu
PKG="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=scripts/venus/lib.sh
. "$PKG/lib.sh"
BOOT=0
RELOAD=0
case "${1:-}" in
    --boot) BOOT=1 ;;
    --reload) RELOAD=1 ;;
    '') ;;
    *) refuse "unknown option '$1' (install.sh [--boot | --reload])" ;;
esac

conf="$ROOT/run/flashmq/$NAME.conf"
service="$ROOT/service/flashmq"
options="$ROOT/data/conf/$NAME.options"
flashmq_up() {
    svstat "$service" 2>/dev/null | grep -q ': up'
}

# The conf FlashMQ reads from /run/flashmq: this plugin, and the plugin_opt_ lines of the options file.
write_conf() {
    mkdir -p "${conf%/*}"
    {
        echo "# Written by $PKG/install.sh (again at every boot): FlashMQ loads this plugin instead of the stock one."
        echo "# $PKG/uninstall.sh removes it. Plugin options go in /data/conf/$NAME.options (plugin_opt_<name> <value>);"
        echo "# $PKG/install.sh --reload applies an edit of them."
        echo "plugin $PKG/libdbus-flashmq-ts.so"
        [ ! -r "$options" ] || grep -E '^[[:space:]]*plugin_opt_[A-Za-z0-9_]+[[:space:]]' "$options" || true
    } > "$conf.tmp"
    mv "$conf.tmp" "$conf"
}

if [ "$RELOAD" -eq 1 ]; then
    [ -f "$conf" ] || refuse "FlashMQ is not switched to this plugin (not installed, or back on its stock plugin: see $PKG/.fallback); $PKG/install.sh switches it"
    write_conf
    if [ -d "$service" ] && flashmq_up; then
        svc -h "$service"
        say "FlashMQ re-reads its configuration: the options of $options that can change while running apply now; its log names those that take effect when FlashMQ restarts ($PKG/install.sh restarts it)"
    else
        say "FlashMQ is not running: it reads the options of $options when it starts"
    fi
    exit 0
fi

# --- can it work here? --------------------------------------------------------------------------------------------
pkg_arch="$(cat "$PKG/ARCH")"
dfmq_require_device "$pkg_arch"

if [ "$BOOT" -eq 1 ]; then verify=dfmq_verify_cheap; else verify=dfmq_verify; fi
if ! "$verify" "$PKG"; then
    # FlashMQ must not start on a package cut short: back to the stock plugin if it was switched to this one.
    back=""
    if [ -f "$conf" ]; then
        rm -f "$conf"
        back="; FlashMQ is back on its stock plugin"
        if [ -d "$service" ] && flashmq_up; then svc -t "$service" || true; fi
    fi
    refuse "$dfmq_why (an unpack cut short?): unpack the archive again$back"
fi

# --- after a fallback (watchdog.sh) ---------------------------------------------------------------------------------
version="$(cat "$PKG/VERSION" 2>/dev/null)"
if [ -f "$PKG/.fallback" ]; then
    if ! dfmq_fallback_pending "$PKG"; then
        rm -f "$PKG/.fallback"
        say "$version is another package than the one that fell back to the stock plugin: trying it"
    elif [ "$BOOT" -eq 1 ]; then
        [ ! -f "$conf" ] || { rm -f "$conf"; ! flashmq_up || svc -t "$service" || true; }
        say "not switching FlashMQ to $version: it fell back to the stock plugin at $dfmq_fallback_when ($dfmq_fallback_reason); $PKG/install.sh tries again"
        exit 0
    else
        rm -f "$PKG/.fallback"
        say "trying again after the fallback to the stock plugin at $dfmq_fallback_when ($dfmq_fallback_reason)"
    fi
fi

# --- switch -------------------------------------------------------------------------------------------------------
link="$ROOT/data/dfmq-nodejs"
if [ "$PKG" = "$ROOT/data/$NAME" ]; then target="$NAME/nodejs"; else target="$PKG/nodejs"; fi
if [ "$(readlink "$link" 2>/dev/null || true)" != "$target" ]; then
    [ ! -e "$link" ] || [ -L "$link" ] || refuse "$link is not a link: move it away, then run $PKG/install.sh again"
    ln -sfn "$target" "$link" 2>/dev/null || refuse "cannot make the link $link (is /data full?)"
fi

# The boot line before the switch: when /data is full the device stays as it was. So does a device where the
# way back cannot be set up.
dfmq_hook_set "[ -x $PKG/install.sh ] && $PKG/install.sh --boot   # $NAME" || refuse "$dfmq_why"
dfmq_status_dir || refuse "$dfmq_why"
dfmq_cache_dir || say "$dfmq_why: FlashMQ starts without it, more slowly"
if [ -d "$ROOT/service" ]; then
    dfmq_watchdog_add "$PKG" || refuse "$dfmq_why"
else
    say "no $ROOT/service: nothing returns FlashMQ to its stock plugin if this one fails"
fi

write_conf

# --- restart FlashMQ through its service --------------------------------------------------------------------------
if [ ! -d "$service" ]; then
    [ "$BOOT" -eq 1 ] || say "no $service: FlashMQ picks the plugin up when it starts"
elif [ "$BOOT" -eq 1 ] && ! flashmq_up; then
    : # early at boot: FlashMQ starts later and reads the file then
else
    svc -t "$service"
    # The watchdog counts from the switch (one that runs already would count this restart).
    dfmq_watchdog_restart
    say "FlashMQ restarted with $PKG/libdbus-flashmq-ts.so"
fi
[ "$BOOT" -eq 1 ] || say "installed (Venus OS $dfmq_venus, FlashMQ $dfmq_fmq, $pkg_arch); $PKG/uninstall.sh returns to the stock plugin"
