#!/bin/sh
# The way back: returns FlashMQ to its stock plugin when this one cannot serve. A daemontools service of its own
# (/service/dbus-flashmq-ts, made by install.sh, also at boot), outside FlashMQ, so it works when the plugin cannot
# even load. While FlashMQ is switched to this plugin (/run/flashmq/dbus-flashmq-ts.conf exists) it watches the
# flashmq service (svstat) and the plugin's status file, and falls back when, since the switch (or the watchdog's
# start),
#   - FlashMQ restarted RESTARTS times within WINDOW_S seconds (a plugin that cannot load, or that takes the broker
#     down again and again: daemontools restarts it every second), or
#   - a FlashMQ process was up READY_S seconds without the plugin saying it serves: the status file
#     (/run/dbus-flashmq-ts/status, or the conf's plugin_opt_status_file) holds {"state":"ready"|"degraded", ...,
#     "pid":<that process>}. A file that is missing, garbled, of another process or in another state is not serving.
# Falling back: the conf (and the plugin's code cache) is removed and FlashMQ restarted through its service (svc -t;
# svc -k when the process has not gone after GRACE_S seconds: a broker hung in the plugin), one line is logged (syslog and stdout), and the
# marker <package>/.fallback says why, when and which package (its MANIFEST's sha256); install.sh --boot then does
# not switch to that package again (install.sh by hand, or a new package, does). Then the watchdog idles until the
# conf is back. It never stops or restarts FlashMQ otherwise. All times are the kernel's uptime (/proc/uptime), so
# a clock set at boot or by NTP changes nothing; a FlashMQ that is down (svc -d) is not waited on.
#
#   /service/dbus-flashmq-ts/run: exec /bin/sh /data/dbus-flashmq-ts/watchdog.sh
#
# DFMQ_ROOT: see lib.sh. For tests: DFMQ_WATCHDOG_READY_S (default 300), DFMQ_WATCHDOG_RESTARTS (3),
# DFMQ_WATCHDOG_WINDOW_S (300), DFMQ_WATCHDOG_POLL_S (2), DFMQ_WATCHDOG_GRACE_S (10).
set -u
PKG="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=scripts/venus/lib.sh
. "$PKG/lib.sh"
READY_S="${DFMQ_WATCHDOG_READY_S:-300}"
RESTARTS="${DFMQ_WATCHDOG_RESTARTS:-3}"
WINDOW_S="${DFMQ_WATCHDOG_WINDOW_S:-300}"
POLL_S="${DFMQ_WATCHDOG_POLL_S:-2}"
GRACE_S="${DFMQ_WATCHDOG_GRACE_S:-10}"
conf="$ROOT/run/flashmq/$NAME.conf"
service="$ROOT/service/flashmq"

# Seconds since boot, in $now.
tick() {
    read -r now _ < /proc/uptime
    now="${now%%.*}"
}

# The plugin's state in the status file, in $state ('' when there is none), when the file is of process $1.
read_status() {
    state=""
    [ -n "$status" ] && [ -f "$status" ] || return 0
    [ "$(sed -n '1s/^.*"pid"[[:space:]]*:[[:space:]]*\([0-9][0-9]*\)[^0-9].*$/\1/p' "$status" 2>/dev/null)" = "$1" ] || return 0
    state="$(sed -n '1s/^.*"state"[[:space:]]*:[[:space:]]*"\([a-z]*\)".*$/\1/p' "$status" 2>/dev/null)"
}

# Back to the stock plugin, for reason $1. The plugin's code cache goes too: whatever failed, the next try of the
# plugin starts without it (and makes it again).
fall_back() {
    rm -f "$ROOT/data/$NAME-cache/code-cache"
    rm -f "$conf"
    old="$dfmq_pid"
    svc -t "$service" 2>/dev/null
    waited=0
    dfmq_flashmq_pid
    while [ -n "$old" ] && [ "$dfmq_pid" = "$old" ] && [ "$waited" -lt "$GRACE_S" ]; do
        sleep 1
        waited=$((waited + 1))
        dfmq_flashmq_pid
    done
    killed=""
    if [ -n "$old" ] && [ "$dfmq_pid" = "$old" ]; then
        svc -k "$service" 2>/dev/null
        killed=" (killed: it had not stopped ${GRACE_S} s after svc -t)"
    fi
    if dfmq_fallback_mark "$PKG" "$1"; then
        again="$PKG/install.sh tries again"
    else
        again="$dfmq_why, so the plugin is tried again at the next boot"
    fi
    say "$1: FlashMQ is back on its stock plugin$killed; $again"
}

watching=0
while :; do
    if [ ! -f "$conf" ]; then
        # Not switched to this plugin (not yet, uninstalled, or fallen back): nothing to watch.
        watching=0
        sleep "$POLL_S"
        continue
    fi
    tick
    if [ "$watching" -eq 0 ]; then
        watching=1
        pid=""          # the FlashMQ process last seen
        seen=0          # when it was first seen
        serving=0       # whether the plugin said it serves in that process
        restarts=""     # when FlashMQ restarted, within the window
        status="$ROOT/run/$NAME/status"
        option="$(sed -n 's/^[[:space:]]*plugin_opt_status_file[[:space:]][[:space:]]*\(.*[^[:space:]]\)[[:space:]]*$/\1/p' "$conf" 2>/dev/null | tail -n 1)"
        case "$option" in
            '') ;;
            "''"|'""') status="" ;;
            /*) status="$ROOT$option" ;;
            *) status="$option" ;;
        esac
        echo "$NAME: watching FlashMQ: back to the stock plugin after $RESTARTS restarts within $WINDOW_S s or when not serving $READY_S s after a start (status: ${status:-none})"
    fi

    dfmq_flashmq_pid
    if [ -n "$dfmq_pid" ] && [ "$dfmq_pid" != "$pid" ]; then
        [ -z "$pid" ] || restarts="$restarts $now"
        pid="$dfmq_pid"
        seen="$now"
        serving=0
    fi
    kept=""
    count=0
    for at in $restarts; do
        if [ $((now - at)) -lt "$WINDOW_S" ]; then
            kept="$kept $at"
            count=$((count + 1))
        fi
    done
    restarts="$kept"

    if [ "$count" -ge "$RESTARTS" ]; then
        fall_back "FlashMQ restarted $count times within $WINDOW_S s with $NAME $(cat "$PKG/VERSION" 2>/dev/null)"
        continue
    fi
    # Readiness: only of a process that is up now, and only until it has served once.
    if [ -n "$dfmq_pid" ] && [ "$serving" -eq 0 ] && [ -n "$status" ]; then
        read_status "$dfmq_pid"
        case "$state" in
            ready|degraded) serving=1 ;;
            *)
                if [ $((now - seen)) -ge "$READY_S" ]; then
                    fall_back "$NAME $(cat "$PKG/VERSION" 2>/dev/null) did not serve within $READY_S s of FlashMQ's start (status: ${state:-none})"
                    continue
                fi
                ;;
        esac
    fi
    sleep "$POLL_S"
done
