#!/usr/bin/env bash
# Cross-builds the plugin for 32-bit ARM (armhf, as on most GX devices) with Debian's cross compiler and Debian's
# armhf libnode, then checks the result: an ARM shared object that exports the plugin entry points.
#   - installs g++-arm-linux-gnueabihf (and enables the armhf architecture in apt, to download armhf packages);
#   - downloads libnode108/libnode-dev/libuv1(-dev)/libcrypt1/libcrypt-dev for armhf with `apt-get download` and
#     unpacks them into .deps/armhf/root (a sysroot; nothing armhf is installed on the machine);
#   - configures with cmake/armhf-debian.cmake into build-armhf/ and builds.
# The compiled TypeScript is architecture-independent: the installed layout's dist/ and node_modules/ serve both.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
say() { printf '[cross-armhf] %s\n' "$*"; }
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "cross-armhf.sh: need root to run: $*" >&2; exit 1; fi
}
export DEBIAN_FRONTEND=noninteractive

if ! command -v arm-linux-gnueabihf-g++ >/dev/null; then
    say "installing Debian's armhf cross compiler"
    as_root apt-get install -y --no-install-recommends g++-arm-linux-gnueabihf || {
        as_root apt-get update || true
        as_root apt-get install -y --no-install-recommends g++-arm-linux-gnueabihf
    }
fi
command -v file >/dev/null || as_root apt-get install -y --no-install-recommends file

packages=(libnode108:armhf libnode-dev:armhf libuv1:armhf libuv1-dev:armhf libcrypt1:armhf libcrypt-dev:armhf)
root="$here/.deps/armhf/root"
if [ ! -f "$root/usr/include/node/node.h" ] || [ ! -e "$root/usr/lib/arm-linux-gnueabihf/libnode.so.108" ]; then
    if ! dpkg --print-foreign-architectures | grep -qx armhf; then
        say "enabling the armhf architecture in apt (package lists only)"
        as_root dpkg --add-architecture armhf
    fi
    debs="$here/.deps/armhf/debs"
    rm -rf "$debs" "$root"
    mkdir -p "$debs" "$root"
    chmod 777 "$debs"
    say "downloading ${packages[*]}"
    if ! (cd "$debs" && apt-get download "${packages[@]}" 2>/dev/null); then
        # A mirror may fail on one index (e.g. security, mid-sync): what the others give is enough.
        as_root apt-get update || say "apt-get update reported errors; trying with the lists it did get"
        (cd "$debs" && apt-get download "${packages[@]}")
    fi
    for deb in "$debs"/*.deb; do dpkg -x "$deb" "$root"; done
    # Absolute symlinks (libcrypt.so -> /lib/...) would point into the build machine: make them sysroot-relative.
    find "$root" -type l -lname '/*' | while read -r link; do
        target="$(readlink "$link")"
        ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" "$root$target")" "$link"
    done
fi

[ -f node_modules/node-addon-api/napi.h ] || { say "npm packages are missing: run scripts/setup.sh first"; exit 1; }

say "configuring and building in build-armhf/"
cmake -S . -B build-armhf -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/armhf-debian.cmake -DDFMQ_ARMHF_SYSROOT="$root" \
    -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-armhf --parallel "$(nproc)"

so=build-armhf/libdbus-flashmq-ts.so
description="$(file -b "$so")"
say "$so: $description"
case "$description" in
    *"ELF 32-bit LSB shared object, ARM, EABI5"*) ;;
    *) echo "cross-armhf.sh: $so is not a 32-bit ARM shared object" >&2; exit 1 ;;
esac
exported="$(arm-linux-gnueabihf-readelf --dyn-syms -W "$so" | awk '$7 != "UND" && $8 ~ /^flashmq_plugin_/ { print $8 }' | sort)"
for entry in flashmq_plugin_version flashmq_plugin_main_init flashmq_plugin_main_deinit flashmq_plugin_allocate_thread_memory \
             flashmq_plugin_deallocate_thread_memory flashmq_plugin_init flashmq_plugin_deinit flashmq_plugin_login_check \
             flashmq_plugin_acl_check; do
    grep -qx "$entry" <<<"$exported" || { echo "cross-armhf.sh: $so does not export $entry" >&2; exit 1; }
done
others="$(arm-linux-gnueabihf-readelf --dyn-syms -W "$so" | awk '$7 != "UND" && $5 == "GLOBAL" && $8 !~ /^flashmq_plugin_/ { print $8 }')"
[ -z "$others" ] || { echo "cross-armhf.sh: $so exports more than the plugin entry points: $others" >&2; exit 1; }
say "exports: $(tr '\n' ' ' <<<"$exported")"
say "needs: $(arm-linux-gnueabihf-readelf -d "$so" | awk '/NEEDED/ { gsub(/[\[\]]/, "", $5); printf "%s ", $5 }')"
