#!/usr/bin/env bash
# Runs an armhf or arm64 program under qemu-user with a guest root (scripts/guest-root.sh) as its library root:
#
#   scripts/qemu-run.sh --arch armhf|arm64 --root <dir> [--strace <file>] [--hide <dir>]... [--env VAR=VALUE]...
#                       -- <program> [args...]
#
# qemu -L <dir> looks a guest path up in <dir> first and, when <dir> lacks it, silently uses this machine's file of
# that path: a root that misses a library or a data file would still work here and fail on a device. So qemu runs in
# a private mount namespace in which the places such files would come from are hidden under empty read-only tmpfs
# mounts (the machine itself is unchanged): /usr/lib/<triplet> and /usr/<triplet> (target libraries of multiarch
# and of the cross compiler), /usr/share/nodejs and /usr/lib/nodejs (Debian's Node.js modules, which Debian's
# libnode loads at run time), this project's build sysroots .deps/<arch>/root (a cross-built plugin's build rpath
# points there), and every --hide <dir>; and /etc/ld.so.cache (this machine's) when the root has none.
# Paths outside those that the root lacks still come from this machine (the program, the plugin, dist/, /tmp, /etc):
# --strace <file> logs every system call the guest makes (qemu -strace) to <file>, to see what it opened and what
# it missed (grep for `= -1 errno=2`).
# The environment passes through to the guest (qemu hands it on; QEMU_* variables also configure qemu itself), with
# --env VAR=VALUE added (qemu -E); LD_PRELOAD and LD_LIBRARY_PATH are moved to the guest only (not to the host
# commands this script runs: they name guest files, usually of another architecture). The script ends by exec'ing
# qemu: the process started is the qemu process, so SIGTERM/SIGHUP sent to it reach the guest program.
# Needs root for the mount namespace, or unprivileged user namespaces.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
say() { printf '[qemu-run] %s\n' "$*" >&2; }
usage() { echo "usage: scripts/qemu-run.sh --arch armhf|arm64 --root <dir> [--strace <file>] [--hide <dir>]... [--env VAR=VALUE]... -- <program> [args...]" >&2; exit 2; }

inside=0
arch=""
root=""
strace=""
hide=()
guest_env=()
original=("$@")
while [ "$#" -gt 0 ]; do
    case "$1" in
        --in-namespace) inside=1; shift ;;   # internal: the re-run inside the mount namespace
        --arch) arch="${2:?--arch needs a value}"; shift 2 ;;
        --root) root="${2:?--root needs a directory}"; shift 2 ;;
        --strace) strace="${2:?--strace needs a file}"; shift 2 ;;
        --hide) hide+=("${2:?--hide needs a directory}"); shift 2 ;;
        --env) guest_env+=(-E "${2:?--env needs VAR=VALUE}"); shift 2 ;;
        --) shift; break ;;
        *) usage ;;
    esac
done
if [ -z "$arch" ] || [ -z "$root" ] || [ "$#" -eq 0 ]; then usage; fi
case "$arch" in
    armhf) triplet=arm-linux-gnueabihf; qemu="qemu-arm-static"; loader=lib/ld-linux-armhf.so.3 ;;
    arm64) triplet=aarch64-linux-gnu; qemu="qemu-aarch64-static"; loader=lib/ld-linux-aarch64.so.1 ;;
    *) echo "qemu-run.sh: --arch is armhf or arm64, not '$arch'" >&2; exit 2 ;;
esac

if [ "$inside" -eq 0 ]; then
    # shellcheck source=scripts/lib-debian.sh
    . "$here/scripts/lib-debian.sh"
    deb_ensure_tool "$qemu" qemu-user-static >&2
    [ -e "$root/$loader" ] || { echo "qemu-run.sh: $root has no $loader (make it with scripts/guest-root.sh)" >&2; exit 1; }
    # The loader variables are for the guest's loader: handed on with qemu -E, and kept away from the host
    # commands run from here on (an armhf LD_PRELOAD would make each of them complain).
    moved=()
    for v in LD_PRELOAD LD_LIBRARY_PATH; do
        if [ -n "${!v+set}" ]; then moved+=(--env "$v=${!v}"); unset "$v"; fi
    done
    # unshare execs (no fork) and so does the re-run: the PID the caller started stays that of qemu.
    userns=()
    [ "$(id -u)" -eq 0 ] || userns=(--user --map-current-user)
    exec unshare "${userns[@]}" --mount --propagation private -- bash "${BASH_SOURCE[0]}" --in-namespace "${moved[@]}" "${original[@]}"
fi

root="$(realpath "$root")"
targets=(/usr/lib/"$triplet" /lib/"$triplet" /usr/"$triplet" /usr/share/nodejs /usr/lib/nodejs
         "$here/.deps/armhf/root" "$here/.deps/arm64/root" "${hide[@]}")
declare -A done_paths=()
for t in "${targets[@]}"; do
    [ -d "$t" ] || continue
    real="$(realpath "$t")"
    [ -z "${done_paths[$real]:-}" ] || continue   # /lib is /usr/lib on a merged-/usr machine
    case "$root/" in "$real"/*) echo "qemu-run.sh: the root $root is inside $real, which is to be hidden" >&2; exit 1 ;; esac
    mount -t tmpfs -o ro,mode=0755,size=4k,nr_inodes=16 dfmq-hidden "$real"
    done_paths[$real]=1
done

# The guest's loader reads /etc/ld.so.cache; a root without one would get this machine's (x86-64) cache. An empty
# file in its place makes the loader search its default directories, as it would on the target without a cache.
if [ ! -e "$root/etc/ld.so.cache" ] && [ -e /etc/ld.so.cache ]; then
    mount --bind /dev/null /etc/ld.so.cache
fi

args=(-L "$root" "${guest_env[@]}")
[ -z "$strace" ] || args+=(-strace -D "$strace")
exec "$qemu" "${args[@]}" "$@"
