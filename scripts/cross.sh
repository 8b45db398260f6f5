#!/usr/bin/env bash
# Cross-builds the plugin for 32-bit ARM (armhf, as on most GX devices) or 64-bit ARM (arm64) with Debian's cross
# compiler and Debian's libnode of that architecture, then checks the result: an ARM shared object of the right
# class that exports the plugin entry points and nothing else.
#
#   scripts/cross.sh --arch armhf|arm64
#
#   - installs g++-arm-linux-gnueabihf / g++-aarch64-linux-gnu when missing;
#   - makes the sysroot .deps/<arch>/root with scripts/sysroot.sh (target packages fetched with apt-get download and
#     unpacked; nothing of the target architecture is installed on this machine);
#   - configures with cmake/debian-cross.cmake into build-<arch>/ and builds build-<arch>/libdbus-flashmq-ts.so.
# The compiled TypeScript is architecture-independent: the installed layout's dist/ and node_modules/ serve all.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
# shellcheck source=scripts/lib-debian.sh
. "$here/scripts/lib-debian.sh"
deb_arch_only cross.sh "$@"
say() { printf '[cross-%s] %s\n' "$arch" "$*"; }
triplet="$(deb_triplet "$arch")"
case "$arch" in
    armhf) expect="ELF 32-bit LSB shared object, ARM, EABI5" ;;
    arm64) expect="ELF 64-bit LSB shared object, ARM aarch64" ;;
esac

deb_ensure_tool "$triplet-g++" "g++-$triplet"
deb_ensure_tool file file
bash "$here/scripts/sysroot.sh" --arch "$arch"
root="$here/.deps/$arch/root"

[ -f node_modules/node-addon-api/napi.h ] || { say "npm packages are missing: run scripts/setup.sh first"; exit 1; }

build="build-$arch"
toolchain="$here/cmake/debian-cross.cmake"
# A build directory configured with another toolchain file (the former cmake/armhf-debian.cmake) keeps its cached
# compiler settings: start it afresh.
if [ -f "$build/CMakeCache.txt" ] && ! grep -qx "CMAKE_TOOLCHAIN_FILE:[A-Z]*=$toolchain" "$build/CMakeCache.txt"; then
    say "$build/ was configured with another toolchain file: reconfiguring from scratch"
    rm -rf "$build"
fi
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
say "configuring and building in $build/"
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DDFMQ_CROSS_ARCH="$arch" \
    -DDFMQ_SYSROOT="$root" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --parallel "$(nproc)"

so="$build/libdbus-flashmq-ts.so"
description="$(file -b "$so")"
say "$so: $description"
case "$description" in
    "$expect"*) ;;
    *) echo "cross.sh: $so is not a '$expect'" >&2; exit 1 ;;
esac
readelf="$triplet-readelf"
exported="$("$readelf" --dyn-syms -W "$so" | awk '$7 != "UND" && $8 ~ /^flashmq_plugin_/ { print $8 }' | sort)"
for entry in flashmq_plugin_version flashmq_plugin_main_init flashmq_plugin_main_deinit flashmq_plugin_allocate_thread_memory \
             flashmq_plugin_deallocate_thread_memory flashmq_plugin_init flashmq_plugin_deinit flashmq_plugin_login_check \
             flashmq_plugin_acl_check; do
    grep -qx "$entry" <<<"$exported" || { echo "cross.sh: $so does not export $entry" >&2; exit 1; }
done
"$readelf" -d -W "$so" | grep -q 'FLAGS.*BIND_NOW\|FLAGS_1.*NOW' ||
    { echo "cross.sh: $so is not linked with -z now (a broker lacking a function would load it; see CMakeLists.txt)" >&2; exit 1; }
# Two other symbols on purpose: libnode compiles its built-ins through them (native/code_cache.h).
interposed="_ZN4node8builtins13BuiltinLoader16LookupAndCompileEN2v85LocalINS2_7ContextEEEPKcPNS_5RealmE _ZN2v814ScriptCompiler26CreateCodeCacheForFunctionENS_5LocalINS_8FunctionEEE"
for s in $interposed; do
    "$readelf" --dyn-syms -W "$so" | awk -v s="$s" '$7 != "UND" && $8 == s { found = 1 } END { exit !found }' ||
        { echo "cross.sh: $so does not define $s (the code cache's way in)" >&2; exit 1; }
done
others="$("$readelf" --dyn-syms -W "$so" | awk -v s=" $interposed " '$7 != "UND" && $5 == "GLOBAL" && $8 !~ /^flashmq_plugin_/ && index(s, " " $8 " ") == 0 { print $8 }')"
[ -z "$others" ] || { echo "cross.sh: $so exports more than the plugin entry points and the code cache's way in: $others" >&2; exit 1; }
say "exports: $(tr '\n' ' ' <<<"$exported")"
needed="$("$readelf" -d "$so" | awk '/NEEDED/ { gsub(/[\[\]]/, "", $5); print $5 }')"
say "needs: $(tr '\n' ' ' <<<"$needed")"
# A Venus image has libcrypt.so.2 only (libxcrypt without the obsolete API): a plugin that NEEDs Debian's
# libcrypt.so.1 does not load there. The sysroot's libcrypt (scripts/sysroot.sh) is the one to link.
if grep -qx 'libcrypt\.so\.1' <<<"$needed" || ! grep -qx 'libcrypt\.so\.2' <<<"$needed"; then
    echo "cross.sh: $so must NEED libcrypt.so.2 (what Venus has), not $(grep '^libcrypt\.' <<<"$needed" || echo 'no libcrypt'); remove $build/ and .deps/$arch/root and build again" >&2
    exit 1
fi
crypt_r="$("$readelf" --dyn-syms -W "$so" | awk '$7 == "UND" && $8 ~ /^crypt_r@/ { print $8 }')"
[ "$crypt_r" = "crypt_r@XCRYPT_2.0" ] || { echo "cross.sh: $so binds '$crypt_r', expected crypt_r@XCRYPT_2.0" >&2; exit 1; }
crypt_from="$("$readelf" -V -W "$so" | awk 'match($0, /File: [^ ]+/) { file = substr($0, RSTART + 6, RLENGTH - 6) } /Name: XCRYPT_2\.0 / { print file }')"
[ "$crypt_from" = libcrypt.so.2 ] || { echo "cross.sh: $so needs XCRYPT_2.0 from '$crypt_from', expected libcrypt.so.2" >&2; exit 1; }
say "crypt_r: $crypt_r, version needed from $crypt_from"
