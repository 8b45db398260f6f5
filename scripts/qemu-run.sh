#!/usr/bin/env bash
# Runs an armhf or arm64 program under qemu-user, chrooted into a guest root (scripts/guest-root.sh), so the
# program sees that root and nothing of this machine, as on the target:
#
#   scripts/qemu-run.sh --arch armhf|arm64 --root <dir> [--strace <guest file>] [--bind <dir>]... [--env VAR=VALUE]...
#                       [--user UID:GID] -- <program in the root> [args...]
#
# It runs in a private mount namespace (this machine is unchanged): the root gets /proc and /dev mounted, every
# --bind <dir> of this machine appears at the same path inside (a D-Bus daemon's socket directory, say), qemu's
# own static binary is copied into the root, and qemu runs chrooted there. (qemu -L <root> would be simpler, but
# it silently falls back to this machine's file where the root lacks one, which hides exactly what a package
# misses; and qemu, 7.2 and 10 alike, ignores -L for statx, which glibc's stat() uses on 32-bit ARM.)
# --strace <file> logs every system call the guest makes (qemu -strace) to <file>, a path inside the root.
# The environment passes through to the guest, with --env VAR=VALUE added (qemu -E). --user runs the guest (and qemu)
# as that user and group, with no supplementary groups, as Venus OS v3.70+ runs FlashMQ (setuidgid flashmq). The script ends by exec'ing
# chroot and qemu: the process started is the qemu process, so SIGTERM/SIGHUP sent to it reach the guest program.
# Needs root (mount namespace, chroot).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
usage() { echo "usage: scripts/qemu-run.sh --arch armhf|arm64 --root <dir> [--strace <guest file>] [--bind <dir>]... [--env VAR=VALUE]... [--user UID:GID] -- <program> [args...]" >&2; exit 2; }

inside=0
arch=""
root=""
strace=""
binds=()
guest_env=()
user=""
original=("$@")
while [ "$#" -gt 0 ]; do
    case "$1" in
        --in-namespace) inside=1; shift ;;   # internal: the re-run inside the mount namespace
        --arch) arch="${2:?--arch needs a value}"; shift 2 ;;
        --root) root="${2:?--root needs a directory}"; shift 2 ;;
        --strace) strace="${2:?--strace needs a file}"; shift 2 ;;
        --bind) binds+=("${2:?--bind needs a directory}"); shift 2 ;;
        --env) guest_env+=(-E "${2:?--env needs VAR=VALUE}"); shift 2 ;;
        --user) user="${2:?--user needs UID:GID}"; shift 2 ;;
        --) shift; break ;;
        *) usage ;;
    esac
done
if [ -z "$arch" ] || [ -z "$root" ] || [ "$#" -eq 0 ]; then usage; fi
case "$arch" in
    armhf) qemu="qemu-arm-static"; loader=lib/ld-linux-armhf.so.3 ;;
    arm64) qemu="qemu-aarch64-static"; loader=lib/ld-linux-aarch64.so.1 ;;
    *) echo "qemu-run.sh: --arch is armhf or arm64, not '$arch'" >&2; exit 2 ;;
esac
[ "$(id -u)" -eq 0 ] || { echo "qemu-run.sh: needs root (a mount namespace and chroot)" >&2; exit 1; }

if [ "$inside" -eq 0 ]; then
    say() { printf '[qemu-run] %s\n' "$*" >&2; }
    # shellcheck source=scripts/lib-debian.sh
    . "$here/scripts/lib-debian.sh"
    deb_ensure_tool "$qemu" qemu-user-static >&2
    [ -e "$root/$loader" ] || { echo "qemu-run.sh: $root has no $loader (make it with scripts/guest-root.sh)" >&2; exit 1; }
    # unshare execs (no fork) and so does the re-run: the PID the caller started stays that of qemu.
    exec unshare --mount --propagation private -- bash "${BASH_SOURCE[0]}" --in-namespace "${original[@]}"
fi

root="$(realpath "$root")"
mkdir -p "$root/proc" "$root/dev" "$root/.qemu"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
for dir in "${binds[@]}"; do
    mkdir -p "$root$dir"
    mount --bind "$dir" "$root$dir"
done
install -m 0755 "$(command -v "$qemu")" "$root/.qemu/$qemu"

args=("${guest_env[@]}")
[ -z "$strace" ] || args+=(-strace -D "$strace")
chroot_args=()
[ -z "$user" ] || chroot_args=(--userspec="$user" --groups="${user#*:}")
exec chroot "${chroot_args[@]}" "$root" "/.qemu/$qemu" "${args[@]}" "$@"
