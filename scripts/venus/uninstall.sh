#!/bin/sh
# Returns Venus OS's FlashMQ to its stock plugin: removes what install.sh made (the file in /run/flashmq, the line
# in /data/rcS.local, the /data/dfmq-nodejs link) and restarts FlashMQ through its service. The package directory
# stays (remove it by hand). DFMQ_ROOT: as in install.sh.
set -eu
NAME=dbus-flashmq-ts
ROOT="${DFMQ_ROOT:-}"
say() {
    echo "$NAME: $*"
    if command -v logger >/dev/null 2>&1; then logger -t "$NAME" "$*" 2>/dev/null || true; fi
}

rm -f "$ROOT/run/flashmq/$NAME.conf"
hook="$ROOT/data/rcS.local"
if [ -f "$hook" ] && grep -q "# $NAME\$" "$hook"; then
    grep -v "# $NAME\$" "$hook" > "$hook.tmp" || true
    cat "$hook.tmp" > "$hook"
    rm -f "$hook.tmp"
fi
[ ! -L "$ROOT/data/dfmq-nodejs" ] || rm -f "$ROOT/data/dfmq-nodejs"
service="$ROOT/service/flashmq"
if [ -d "$service" ]; then
    svc -t "$service"
    say "FlashMQ restarted with its stock plugin"
fi
say "uninstalled"
