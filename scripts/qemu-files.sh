#!/usr/bin/env bash
# Summarises a `scripts/qemu-run.sh --strace <log>` log: every path the guest opened, probed or executed, one line
# each, with where it came from:
#   root     found in the guest root (qemu -L <root>)
#   host     not in the root: qemu used this machine's file (would the target have it?)
#   missing  the guest asked for it and got ENOENT (may be harmless: search paths are probed in turn)
#
#   scripts/qemu-files.sh --root <dir> <strace-log> [--missing]     (--missing: only the missing ones)
#
# The loader's hardware-capability subdirectories (tls/, v8l/, neon/, vfp/, haswell/...) are left out: probing them
# is normal. "host" is decided now, outside the run's namespace: run it on the machine the log was made on.
set -euo pipefail
root=""
log=""
only_missing=0
while [ "$#" -gt 0 ]; do
    case "$1" in
        --root) root="${2:?--root needs a directory}"; shift 2 ;;
        --missing) only_missing=1; shift ;;
        -*) echo "qemu-files.sh: unknown option '$1'" >&2; exit 2 ;;
        *) log="$1"; shift ;;
    esac
done
if [ -z "$root" ] || [ ! -f "$log" ]; then echo "usage: scripts/qemu-files.sh --root <dir> <strace-log> [--missing]" >&2; exit 2; fi
root="$(realpath "$root")"

# The calls that name a path as their first string argument: open/openat/access/stat/readlink/execve...
# qemu prints a call and its result separately, so another thread's call can come between them ("...)1234 futex(...
# = 0"): a call whose result was cut off that way counts as found when the root has the path, and is otherwise left
# out (it may have been a probe that failed).
{ grep -aoE '(openat|open|access|faccessat|faccessat2|statx|stat64|lstat64|newfstatat|fstatat64|readlink|readlinkat|execve)\((AT_FDCWD,)?"[^"]+"[^)]*\)( = -?[0-9]+( errno=[0-9]+)?|[0-9]+ |$)' "$log" || true; } |
    sed -E -e 's/^[a-z0-9]+\((AT_FDCWD,)?"([^"]+)".* = (-?[0-9]+)( errno=([0-9]+))?$/\2 \3 \5/' \
        -e 's/^[a-z0-9]+\((AT_FDCWD,)?"([^"]+)"[^)]*\)([0-9]+ )?$/\2 ?/' |
    { grep -vE '/(tls|v[5-8]l|neon|vfp|haswell|x86_64|aarch64|atomics|sve2|asimd|glibc-hwcaps)(/[^ ]*)? ' || true; } |
    while read -r path rc errno; do
        case "$path" in /*) ;; *) continue ;; esac      # relative to a directory descriptor: not resolvable here
        if [ "$rc" = -1 ]; then
            if [ "$errno" = 2 ]; then echo "missing $path"; fi
        elif [ "$only_missing" -eq 0 ]; then
            if [ -e "$root$path" ]; then echo "root    $path"; elif [ "$rc" != "?" ]; then echo "host    $path"; fi
        fi
    done | LC_ALL=C sort -u
