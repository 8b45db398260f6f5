#!/bin/sh
# Returns Venus OS's FlashMQ to its stock plugin: removes what install.sh made (the file in /run/flashmq, the line
# in /data/rcS.local, the /data/dfmq-nodejs link, the watchdog's service /service/dbus-flashmq-ts, the plugin's
# status directory /run/dbus-flashmq-ts, its code cache /data/dbus-flashmq-ts-cache, the marker of a fallback) and
# restarts FlashMQ through its service when it runs. The package directory stays (remove it by hand). rc/post-hook.sh runs its copy in rc/ when an unpack cut
# short left the package broken. When /data is too full to rewrite rcS.local, FlashMQ is still switched back, and
# the script says that the plugin returns at the next boot, and fails.
#
#   /data/dbus-flashmq-ts/uninstall.sh
#
# DFMQ_ROOT, DFMQ_QUIET: see lib.sh.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=scripts/venus/lib.sh
. "$here/lib.sh"

rm -f "$ROOT/run/flashmq/$NAME.conf" "$here/.fallback"
dfmq_watchdog_remove || true
rm -rf "$ROOT/run/$NAME" "$ROOT/data/$NAME-cache"
hook_failed=""
dfmq_hook_set '' || hook_failed="$dfmq_why"
[ ! -L "$ROOT/data/dfmq-nodejs" ] || rm -f "$ROOT/data/dfmq-nodejs"
service="$ROOT/service/flashmq"
if [ -d "$service" ] && svstat "$service" 2>/dev/null | grep -q ': up'; then
    svc -t "$service"
    stock="FlashMQ restarted with its stock plugin"
else
    stock="FlashMQ starts with its stock plugin"
fi
[ -z "$hook_failed" ] ||
    refuse "$stock, but $hook_failed: its line runs $NAME's install.sh again at the next boot (make room in /data, then run uninstall.sh again)"
say "uninstalled: $stock"
