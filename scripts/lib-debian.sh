# shellcheck shell=bash
# Sourced (not run) by the build scripts (sysroot.sh, guest-root.sh, cross.sh, package.sh, check-sdk-build.sh,
# flashmq.sh, xcrypt.sh, gx-vm.sh): Debian multiarch helpers to fetch a foreign architecture's packages with
# `apt-get download` and unpack them (dpkg -x) into a directory, without installing anything of that architecture on
# this machine; and the digest a release's source tree is checked against.
# The caller sets `set -euo pipefail` and defines say().

# as_root CMD...: runs CMD as root (directly, or through sudo).
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "need root to run: $*" >&2; exit 1; fi
}

# deb_arch_only SCRIPT ARGS...: the arguments of a script that takes nothing but --arch armhf|arm64; sets $arch.
deb_arch_only() {
    local script="$1"
    shift
    arch=""
    while [ "$#" -gt 0 ]; do
        case "$1" in
            --arch) arch="${2:?--arch needs a value}"; shift 2 ;;
            *) echo "$script: unknown option '$1'" >&2; exit 2 ;;
        esac
    done
    [ -n "$arch" ] || { echo "usage: scripts/$script --arch armhf|arm64" >&2; exit 2; }
}

# deb_triplet ARCH: the GNU triplet of a Debian architecture (the multiarch directory name and compiler prefix).
deb_triplet() {
    case "$1" in
        armhf) echo arm-linux-gnueabihf ;;
        arm64) echo aarch64-linux-gnu ;;
        *) echo "unsupported architecture '$1' (armhf or arm64)" >&2; return 2 ;;
    esac
}

# deb_ensure_tool COMMAND PACKAGE: installs PACKAGE (a host package) when COMMAND is missing. apt-get update only
# when the install fails (the lists may be stale), and its errors are tolerated: one unreachable source (a third-party
# repository, a mirror mid-sync) must not stop us when the Debian lists came through.
deb_ensure_tool() {
    command -v "$1" >/dev/null && return 0
    say "installing $2 (for $1)"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get install -y --no-install-recommends "$2" && return 0
    as_root apt-get update || say "apt-get update reported errors; trying with the lists it did get"
    as_root apt-get install -y --no-install-recommends "$2"
}

# deb_fetch ARCH CACHE PACKAGE...: makes sure CACHE holds a .deb of every PACKAGE for ARCH (downloads the missing
# ones). Enables ARCH in dpkg first when needed (that only adds package lists; nothing of ARCH gets installed).
deb_fetch() {
    local arch="$1" cache="$2"; shift 2
    local missing=() p
    mkdir -p "$cache"
    # apt-get download drops root privileges to _apt: the directory must be writable by it.
    chmod 777 "$cache"
    for p in "$@"; do
        compgen -G "$cache/${p}_*_${arch}.deb" >/dev/null || missing+=("$p:$arch")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    if [ "$arch" != all ] && [ "$arch" != "$(dpkg --print-architecture)" ] && ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
        say "enabling the $arch architecture in dpkg (package lists only)"
        as_root dpkg --add-architecture "$arch"
    fi
    say "downloading ${missing[*]}"
    if ! (cd "$cache" && apt-get download "${missing[@]}" >/dev/null 2>&1); then
        # No lists for ARCH yet (just enabled), or stale ones (a newer version replaced the listed one).
        as_root apt-get update || say "apt-get update reported errors; trying with the lists it did get"
        (cd "$cache" && apt-get download "${missing[@]}")
    fi
}

# deb_file ARCH CACHE PACKAGE: the path of PACKAGE's .deb in CACHE (the highest version when several are cached).
deb_file() {
    local f
    f="$(compgen -G "$2/${3}_*_${1}.deb" | sort -V | tail -n 1 || true)"
    [ -n "$f" ] || { echo "no .deb of $3 for $1 in $2" >&2; return 1; }
    echo "$f"
}

# deb_unpack ARCH CACHE ROOT PACKAGE...: unpacks the cached .debs of the PACKAGEs into ROOT, then makes ROOT's
# absolute symlinks relative to ROOT (libcrypt.so -> /lib/... would otherwise point into this machine).
deb_unpack() {
    local arch="$1" cache="$2" root="$3"; shift 3
    local p link target
    mkdir -p "$root"
    for p in "$@"; do dpkg -x "$(deb_file "$arch" "$cache" "$p")" "$root"; done
    find "$root" -type l -lname '/*' -print0 | while IFS= read -r -d '' link; do
        target="$(readlink "$link")"
        ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" "$root$target")" "$link"
    done
}

# source_tree_digest DIR: the digest a release's source tree is checked against (scripts/flashmq.sh, scripts/xcrypt.sh):
# the sha256 of the sorted list of `sha256sum` lines of every file in it.
source_tree_digest() {
    (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
}
