# What the device scripts share (install.sh, uninstall.sh, watchdog.sh, rc/pre-hook.sh, rc/post-hook.sh): the
# one-line messages, the checks of whether the plugin can work here, the MANIFEST check, the edit of /data/rcS.local,
# and the way back (the watchdog's service, the plugin's status directory, the marker of a fallback).
# POSIX sh (busybox ash on Venus OS), sourced, never run:
#
#   . "$here/lib.sh"
#
# scripts/package.sh copies this one file into the archive twice: into dbus-flashmq-ts/ for install.sh and
# uninstall.sh, and into rc/ for the hooks, which Venus runs from a temporary directory that holds only rc/.
# DFMQ_ROOT prefixes every device path (tests: a fake /data, /run, /opt, /usr/bin, /service); DFMQ_UNAME_M
# replaces `uname -m`; DFMQ_QUIET=1 keeps the lines out of syslog (the caller logs one line for both).

NAME=dbus-flashmq-ts
ROOT="${DFMQ_ROOT:-}"
# Free space /data must keep after an unpack, in KiB (see dfmq_require_space).
DFMQ_MARGIN_KIB=10240

dfmq_log() {
    [ "${DFMQ_QUIET:-0}" = 1 ] && return 0
    if command -v logger >/dev/null 2>&1; then logger -t "$NAME" "$*" 2>/dev/null || true; fi
}
say() {
    echo "$NAME: $*"
    dfmq_log "$*"
}
refuse() {
    echo "$NAME: $*" >&2
    dfmq_log "$*"
    exit 1
}

# --- can it work here? --------------------------------------------------------------------------------------------
# Refuses, in one line, a device of another architecture than the package's ($1), Venus OS older than v3.60 and a
# FlashMQ without plugin API 4 (older than 1.21). Sets dfmq_venus and dfmq_fmq for the caller's messages.
dfmq_require_device() {
    dfmq_machine="${DFMQ_UNAME_M:-$(uname -m)}"
    case "$dfmq_machine" in
        aarch64|arm64) dfmq_device_arch=arm64 ;;
        armv7*|armv8l|armhf|arm) dfmq_device_arch=armhf ;;
        *) dfmq_device_arch="$dfmq_machine" ;;
    esac
    [ "$dfmq_device_arch" = "$1" ] ||
        refuse "this package is for $1, but this device is $dfmq_machine ($dfmq_device_arch): install the $dfmq_device_arch package"

    dfmq_version_file="$ROOT/opt/victronenergy/version"
    [ -r "$dfmq_version_file" ] || refuse "$dfmq_version_file is missing: this is not a Venus OS device"
    dfmq_venus="$(head -n 1 "$dfmq_version_file")"
    dfmq_major="$(echo "$dfmq_venus" | sed -n 's/^v\{0,1\}\([0-9]*\)\.\([0-9]*\).*/\1/p')"
    dfmq_minor="$(echo "$dfmq_venus" | sed -n 's/^v\{0,1\}\([0-9]*\)\.\([0-9]*\).*/\2/p')"
    { [ -n "$dfmq_major" ] && [ -n "$dfmq_minor" ]; } ||
        refuse "cannot read the Venus OS version from $dfmq_version_file ('$dfmq_venus')"
    # Versions are vX.YZ (v3.60, v3.70); a one-digit minor (v3.6) means the same as v3.60.
    [ "${#dfmq_minor}" -eq 1 ] && dfmq_minor="${dfmq_minor}0"
    if [ "$dfmq_major" -lt 3 ] || { [ "$dfmq_major" -eq 3 ] && [ "$dfmq_minor" -lt 60 ]; }; then
        refuse "Venus OS $dfmq_venus is older than v3.60, the first with a FlashMQ of plugin API 4 (update Venus OS first)"
    fi

    dfmq_flashmq="$ROOT/usr/bin/flashmq"
    [ -x "$dfmq_flashmq" ] || refuse "$dfmq_flashmq is missing: this Venus OS has no FlashMQ"
    dfmq_fmq="$("$dfmq_flashmq" --version 2>/dev/null | sed -n 's/.*FlashMQ [Vv]ersion \([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p' | head -n 1)"
    [ -n "$dfmq_fmq" ] || refuse "cannot read FlashMQ's version from '$dfmq_flashmq --version'"
    dfmq_fmq_major="${dfmq_fmq%%.*}"
    dfmq_fmq_minor="${dfmq_fmq#*.}"
    if [ "$dfmq_fmq_major" -lt 1 ] || { [ "$dfmq_fmq_major" -eq 1 ] && [ "$dfmq_fmq_minor" -lt 21 ]; }; then
        refuse "FlashMQ $dfmq_fmq has no plugin API 4; this plugin needs FlashMQ 1.21 or newer (Venus OS v3.60 or newer)"
    fi
}

# Refuses unless /data has room for the unpacked package ($1 KiB, counted in 4 KiB blocks by package.sh) and
# DFMQ_MARGIN_KIB besides. An update needs the whole size too: the files it replaces are unlinked, but the largest
# ones (libnode, ICU, the plugin: nearly all of it) stay mapped by the running FlashMQ, so their blocks are not
# freed before FlashMQ restarts after the unpack. The margin is for the device, not for the estimate: /data also
# holds Venus's settings, which must still be writable afterwards.
dfmq_require_space() {
    dfmq_free="$(df -Pk "$ROOT/data" 2>/dev/null | awk 'NR > 1 { free = $4 } END { print free }')"
    case "$dfmq_free" in
        ''|*[!0-9]*) refuse "cannot read the free space of $ROOT/data from 'df -Pk'" ;;
    esac
    [ "$dfmq_free" -ge $(($1 + DFMQ_MARGIN_KIB)) ] ||
        refuse "$ROOT/data has $((dfmq_free / 1024)) MB free; the package needs $((($1 + 1023) / 1024)) MB and $((DFMQ_MARGIN_KIB / 1024)) MB to spare (make room, then try again)"
}

# --- the package's files ------------------------------------------------------------------------------------------
# MANIFEST: the sha256 of every file of the package (./path), checked with `sha256sum -c` (busybox's on the device:
# no option but -c), whose own last line is ./VERSION's. package.sh puts MANIFEST last in the archive, so an unpack
# cut short leaves the old MANIFEST, which the files already replaced no longer match.
#
# dfmq_verify DIR: 0 when every file matches; else 1, with the first file that does not in dfmq_why. On success
# it writes DIR/.verified, what `ls -lnic --full-time` says of every file (inode, size, ctime to the second: nothing
# tar can set back) and MANIFEST's sha256, so that dfmq_verify_cheap can tell at boot that no file was written
# since. (Where ls has no --full-time there is no stamp, and every check is a full one.)
dfmq_verify() {
    rm -f "$1/.verified"
    if [ ! -f "$1/MANIFEST" ]; then
        dfmq_why="$1/MANIFEST is missing"
        return 1
    fi
    # Its last line is ./VERSION's: a MANIFEST cut short at the end of a line lists fewer files, and sha256sum -c
    # would check only those.
    if ! tail -n 1 "$1/MANIFEST" | grep -q -x -e '[0-9a-f]\{64\}  \./VERSION' || [ -n "$(tail -c 1 "$1/MANIFEST")" ]; then
        dfmq_why="$1/MANIFEST is cut short"
        return 1
    fi
    if dfmq_out="$(cd "$1" && sha256sum -c MANIFEST 2>/dev/null)"; then
        dfmq_stamp "$1" > "$1/.verified.tmp" 2>/dev/null && mv -f "$1/.verified.tmp" "$1/.verified" 2>/dev/null ||
            rm -f "$1/.verified.tmp"
        return 0
    fi
    dfmq_bad="$(printf '%s\n' "$dfmq_out" | sed -n 's/^\(.*\): FAILED.*$/\1/p' | head -n 1)"
    if [ -n "$dfmq_bad" ]; then
        dfmq_why="$1/${dfmq_bad#./} does not match the package's MANIFEST"
    else
        dfmq_why="$1/MANIFEST cannot be checked (sha256sum -c fails)"
    fi
    return 1
}

# dfmq_verify_cheap DIR: as dfmq_verify, but when DIR/.verified still describes every file, only that is read.
# An unpack since gives every file it wrote a new ctime (and inode: tar unlinks and creates), and a file cut short
# has another size: then the full check.
dfmq_verify_cheap() {
    if [ -f "$1/.verified" ] && dfmq_now="$(dfmq_stamp "$1" 2>/dev/null)" && [ "$dfmq_now" = "$(cat "$1/.verified")" ]; then
        return 0
    fi
    dfmq_verify "$1"
}

dfmq_stamp() {
    (cd "$1" && sha256sum MANIFEST && sed 's/^[0-9a-f]*  //' MANIFEST | xargs ls -lnic --full-time MANIFEST)
}

# --- /data/rcS.local ----------------------------------------------------------------------------------------------
# Venus runs /data/rcS.local early at every boot. One line of it is ours, marked "# dbus-flashmq-ts" at its end.
# dfmq_hook_set LINE puts ours there (replacing an older one), dfmq_hook_set '' takes it out. The file is never
# written in place: the new text goes to a temporary file next to it, which is compared with what it must hold (on
# a full /data a write fails or falls short), gets the old file's mode (and execute bits when a line of ours is to
# run), is flushed, and is renamed over the old one. Every other line stays byte for byte; a last line without a
# newline gets one only when our line follows it. On failure: 1, the reason in dfmq_why, the original untouched.
dfmq_hook_set() {
    dfmq_hook="$ROOT/data/rcS.local"
    # A link (some add-on managers make one) stays a link: the file it names is replaced.
    if [ -L "$dfmq_hook" ] && dfmq_target="$(readlink -f "$dfmq_hook")" && [ -n "$dfmq_target" ]; then
        dfmq_hook="$dfmq_target"
    fi
    if [ -f "$dfmq_hook" ]; then
        dfmq_ours="$(grep -c -e "# $NAME\$" "$dfmq_hook" || true)"
        if [ -z "$1" ]; then
            [ "$dfmq_ours" = 0 ] && return 0
        elif [ "$dfmq_ours" = 1 ] && grep -q -x -F -e "$1" "$dfmq_hook"; then
            return 0
        fi
    elif [ -z "$1" ]; then
        return 0
    fi
    dfmq_tmp="$dfmq_hook.$NAME.tmp"
    rm -f "$dfmq_tmp"
    if {
        if [ -f "$dfmq_hook" ]; then
            cp -p "$dfmq_hook" "$dfmq_tmp" && dfmq_hook_text "$dfmq_hook" "$1" > "$dfmq_tmp"
        else
            dfmq_hook_text "" "$1" > "$dfmq_tmp" && chmod 0755 "$dfmq_tmp"
        fi
    } 2>/dev/null && dfmq_hook_text "$dfmq_hook" "$1" | cmp -s - "$dfmq_tmp" &&
        { [ -z "$1" ] || [ -x "$dfmq_tmp" ] || chmod +x "$dfmq_tmp"; } && sync && mv -f "$dfmq_tmp" "$dfmq_hook"; then
        return 0
    fi
    rm -f "$dfmq_tmp"
    dfmq_why="cannot write a new $dfmq_hook (is ${dfmq_hook%/*} full?); it is unchanged"
    return 1
}

# What rcS.local is to hold: the lines of file $1 (none: a new file) but ours, then line $2 when given.
dfmq_hook_text() {
    if [ -f "$1" ]; then
        sed -e "/# $NAME\$/d" "$1" || return 1
        if [ -n "$2" ] && [ -n "$(sed -e "/# $NAME\$/d" "$1" | tail -c 1)" ]; then
            printf '\n' || return 1
        fi
    else
        printf '#!/bin/sh\n' || return 1
    fi
    [ -z "$2" ] || printf '%s\n' "$2"
}

# --- the way back (watchdog.sh) ------------------------------------------------------------------------------------
# The pid of the FlashMQ process (svstat /service/flashmq) in dfmq_pid; '' when it is not up.
dfmq_flashmq_pid() {
    dfmq_pid=""
    dfmq_svstat="$(svstat "$ROOT/service/flashmq" 2>/dev/null)" || dfmq_svstat=""
    case "$dfmq_svstat" in
        *": up (pid "*) dfmq_pid="${dfmq_svstat#*: up (pid }"; dfmq_pid="${dfmq_pid%%)*}" ;;
    esac
    case "$dfmq_pid" in *[!0-9]*) dfmq_pid="" ;; esac
}

# dfmq_broker_dir DIR MODE WHAT: makes DIR with MODE, owned by the broker's user (flashmq from Venus OS v3.70, root
# before); 1 and dfmq_why ("cannot make DIR for WHAT") when it cannot.
dfmq_broker_dir() {
    if mkdir -p "$1" 2>/dev/null && chmod "$2" "$1" 2>/dev/null &&
        { ! grep -q '^flashmq:' "$ROOT/etc/passwd" 2>/dev/null || chown flashmq "$1" 2>/dev/null; }; then
        return 0
    fi
    dfmq_why="cannot make $1 for $3"
    return 1
}

# The directory of the plugin's status file (/run/dbus-flashmq-ts, a tmpfs: made again at every boot).
dfmq_status_dir() {
    dfmq_broker_dir "$ROOT/run/$NAME" 0755 "the plugin's status"
}

# The directory of the plugin's code cache (/data/dbus-flashmq-ts-cache: it survives reboots and firmware updates,
# outside the package, whose files the MANIFEST covers), for the broker's user only. The plugin writes the cache there
# after its first start and reads it at every start after (native/code_cache.h); without the directory it starts
# without one, more slowly.
dfmq_cache_dir() {
    dfmq_broker_dir "$ROOT/data/$NAME-cache" 0700 "the plugin's code cache"
}

# The marker of a fallback: DIR/.fallback (key=value lines: when, reason, version, manifest_sha256). watchdog.sh
# writes it; install.sh --boot does not switch to the package it names while that package is unchanged.
dfmq_manifest_sha() {
    sha256sum < "$1/MANIFEST" 2>/dev/null | cut -d ' ' -f 1
}

# dfmq_fallback_mark DIR REASON: writes the marker (beside it, then renamed); 1 and dfmq_why when it cannot.
dfmq_fallback_mark() {
    dfmq_marker="$1/.fallback"
    if {
        echo "# $NAME fell back to FlashMQ's stock plugin; $1/install.sh tries again (and removes this file)."
        echo "when=$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
        echo "reason=$2"
        echo "version=$(cat "$1/VERSION" 2>/dev/null)"
        echo "manifest_sha256=$(dfmq_manifest_sha "$1")"
    } > "$dfmq_marker.tmp" 2>/dev/null && mv -f "$dfmq_marker.tmp" "$dfmq_marker" 2>/dev/null; then
        return 0
    fi
    rm -f "$dfmq_marker.tmp" 2>/dev/null
    dfmq_why="cannot write $dfmq_marker (is /data full?)"
    return 1
}

# dfmq_fallback_pending DIR: 0 when DIR/.fallback names the package DIR holds now (not unpacked again since); then
# dfmq_fallback_when and dfmq_fallback_reason say what happened. 1 when there is no marker, or it names another.
dfmq_fallback_pending() {
    dfmq_marker="$1/.fallback"
    [ -f "$dfmq_marker" ] || return 1
    dfmq_fallback_when="$(sed -n 's/^when=//p' "$dfmq_marker" | head -n 1)"
    dfmq_fallback_reason="$(sed -n 's/^reason=//p' "$dfmq_marker" | head -n 1)"
    dfmq_sha="$(sed -n 's/^manifest_sha256=//p' "$dfmq_marker" | head -n 1)"
    [ -n "$dfmq_sha" ] && [ "$dfmq_sha" = "$(dfmq_manifest_sha "$1")" ]
}

# The watchdog's service, /service/dbus-flashmq-ts (a RAM copy made at boot: made again by install.sh --boot),
# running DIR/watchdog.sh; svscan starts a new one within 5 s. It is made under a name svscan ignores (a leading
# dot) and renamed, so that svscan never sees it without its run script. 1 and dfmq_why when it cannot be made.
dfmq_watchdog_add() {
    dfmq_wd="$ROOT/service/$NAME"
    dfmq_run="$(printf '%s\n' '#!/bin/sh' "# $NAME's watchdog, written by $1/install.sh (see $1/watchdog.sh); $1/uninstall.sh removes it." \
        'PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH' 'exec 2>&1' "exec /bin/sh $1/watchdog.sh")"
    if [ -d "$dfmq_wd" ]; then
        [ "$(cat "$dfmq_wd/run" 2>/dev/null)" != "$dfmq_run" ] || return 0
        # Another package's: its run script is replaced; supervise runs the new one when it starts it again.
        printf '%s\n' "$dfmq_run" > "$dfmq_wd/run.tmp" 2>/dev/null && chmod 0755 "$dfmq_wd/run.tmp" &&
            mv -f "$dfmq_wd/run.tmp" "$dfmq_wd/run" && return 0
        rm -f "$dfmq_wd/run.tmp"
    else
        dfmq_new="$ROOT/service/.$NAME.new"
        rm -rf "$dfmq_new"
        mkdir "$dfmq_new" 2>/dev/null && printf '%s\n' "$dfmq_run" > "$dfmq_new/run" 2>/dev/null && chmod 0755 "$dfmq_new/run" &&
            mv "$dfmq_new" "$dfmq_wd" && return 0
        rm -rf "$dfmq_new"
    fi
    dfmq_why="cannot write the watchdog's service $dfmq_wd"
    return 1
}

# Starts the watchdog again (its state anew: a switch just happened). Nothing when supervise does not run it yet.
dfmq_watchdog_restart() {
    svc -t "$ROOT/service/$NAME" 2>/dev/null || true
}

# Stops the watchdog and removes its service: renamed first (svscan ignores it then, and does not start it again),
# supervise told to stop it and exit, the directory removed.
dfmq_watchdog_remove() {
    dfmq_wd="$ROOT/service/$NAME"
    [ -d "$dfmq_wd" ] || return 0
    dfmq_old="$ROOT/service/.$NAME.removed"
    rm -rf "$dfmq_old"
    mv "$dfmq_wd" "$dfmq_old" || return 1
    svc -dx "$dfmq_old" 2>/dev/null || true
    dfmq_i=0
    while [ "$dfmq_i" -lt 5 ] && svok "$dfmq_old" 2>/dev/null; do
        sleep 1
        dfmq_i=$((dfmq_i + 1))
    done
    rm -rf "$dfmq_old"
}
