#!/usr/bin/env bash
# Builds the Venus OS package for one target: everything the plugin needs on a Venus v3.6+ image and nothing the
# image has already (glibc, libstdc++/libgcc, OpenSSL 3, zlib, libcrypt, libdbus).
#
#   scripts/package.sh --arch armhf|arm64 [--out <dir>]        (default --out: packages/)
#
# Results: <out>/venus-data-dbus-flashmq-ts-<version>-<arch>.tar.gz, which unpacks into /data (also from a USB stick or
# SD card, as Venus does with venus-data*.tar.gz at boot, running rc/post-hook.sh afterwards):
#
#   dbus-flashmq-ts/libdbus-flashmq-ts.so     the plugin (RUNPATH $ORIGIN/lib)
#   dbus-flashmq-ts/lib/                      libnode and the libraries it needs that Venus lacks (RUNPATH $ORIGIN):
#                                             ICU 72, libuv, c-ares, nghttp2, brotli, from Debian 12; ICU's data
#                                             library is our empty stand-in (native/icu/icudata-stub.c): the real
#                                             one maps 30 MB, a fifth of what Venus allows a 32-bit broker
#   dbus-flashmq-ts/nodejs/                   the five JavaScript files libnode reads at start (see below)
#   dbus-flashmq-ts/dist/ts/                  the compiled TypeScript (no npm package is needed)
#   dbus-flashmq-ts/install.sh, uninstall.sh  switch FlashMQ to this plugin and back (see scripts/venus/install.sh)
#   dbus-flashmq-ts/ARCH, VERSION, MANIFEST, licenses/
#   rc/post-hook.sh                           run by Venus after unpacking a venus-data archive: installs
# and <out>/dbus-flashmq-ts-sdk-prefix-<version>-<arch>.tar.gz, for building the plugin with the Venus SDK.
#
# libnode: Debian's build reads five of Node's own JavaScript files (cjs-module-lexer, undici, acorn, acorn-walk)
# from /usr/share/nodejs at every start, a path compiled into the library; Venus's /usr is read-only and has no
# such files. The package carries the files, and the library's five paths are rewritten, byte for byte and at the
# same length, from /usr/share/nodejs/ to /data/dfmq-nodejs/, a link install.sh makes to the package's nodejs/.
# Nothing else of libnode changes. The script checks that no path of this machine is left in any file.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
arch=""
out="$here/packages"
while [ "$#" -gt 0 ]; do
    case "$1" in
        --arch) arch="${2:?--arch needs a value}"; shift 2 ;;
        --out) out="$(realpath -m "${2:?--out needs a directory}")"; shift 2 ;;
        *) echo "package.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
done
[ -n "$arch" ] || { echo "usage: scripts/package.sh --arch armhf|arm64 [--out <dir>]" >&2; exit 2; }
say() { printf '[package-%s] %s\n' "$arch" "$*"; }
# shellcheck source=scripts/lib-debian.sh
. "$here/scripts/lib-debian.sh"
triplet="$(deb_triplet "$arch")"
deb_ensure_tool patchelf patchelf
deb_ensure_tool "$triplet-readelf" "binutils-$triplet"

version="$(node -p "require('./package.json').version")"
NODEJS_FROM=/usr/share/nodejs/
NODEJS_TO=/data/dfmq-nodejs/
[ "${#NODEJS_FROM}" -eq "${#NODEJS_TO}" ] || { echo "package.sh: the two nodejs paths must have one length" >&2; exit 1; }

# The plugin for the target, and the compiled TypeScript (architecture-independent).
bash "$here/scripts/cross.sh" --arch "$arch"
[ -f dist/ts/index.js ] || npm run build:ts >/dev/null

# Libraries libnode needs that Venus lacks, from the sysroot (Debian 12 packages of the target). The JavaScript
# files come from Debian's (architecture-independent) node-* packages.
sysroot="$here/.deps/$arch/root"
libs=(libnode.so.108 libuv.so.1 libicuuc.so.72 libicui18n.so.72 libnghttp2.so.14 libcares.so.2
      libbrotlienc.so.1 libbrotlidec.so.1 libbrotlicommon.so.1)
js_packages=(node-cjs-module-lexer node-undici node-acorn)
js_files=(cjs-module-lexer/lexer.js cjs-module-lexer/dist/lexer.js undici/undici-fetch.js acorn/dist/acorn.js acorn-walk/dist/walk.js)
deb_fetch all "$here/.deps/all/debs" "${js_packages[@]}"
jsroot="$here/.deps/all/root"
rm -rf "$jsroot"
deb_unpack all "$here/.deps/all/debs" "$jsroot" "${js_packages[@]}"

stage="$here/build-package/$arch"
pkg="$stage/dbus-flashmq-ts"
rm -rf "$stage"
mkdir -p "$pkg/lib" "$pkg/nodejs" "$pkg/licenses" "$stage/rc"

install -m 0755 "build-$arch/libdbus-flashmq-ts.so" "$pkg/"
"$triplet-strip" --strip-unneeded "$pkg/libdbus-flashmq-ts.so"
patchelf --set-rpath '$ORIGIN/lib' "$pkg/libdbus-flashmq-ts.so"
for lib in "${libs[@]}"; do
    found=""
    for dir in "usr/lib/$triplet" "lib/$triplet"; do
        [ -e "$sysroot/$dir/$lib" ] && found="$sysroot/$dir/$lib" && break
    done
    [ -n "$found" ] || { echo "package.sh: $lib is not in $sysroot" >&2; exit 1; }
    cp -L "$found" "$pkg/lib/$lib"
    chmod 0644 "$pkg/lib/$lib"
    patchelf --set-rpath '$ORIGIN' "$pkg/lib/$lib"
done
# ICU's data: the empty stand-in, for the ICU major version libicuuc was built with.
icu_major="$(printf '%s\n' "${libs[@]}" | sed -n 's/^libicuuc\.so\.//p')"
"$triplet-gcc" -O2 -shared -fPIC -DICU_MAJOR="$icu_major" -Wl,-soname,"libicudata.so.$icu_major" -Wl,-z,noexecstack \
    -o "$pkg/lib/libicudata.so.$icu_major" native/icu/icudata-stub.c
"$triplet-strip" --strip-unneeded "$pkg/lib/libicudata.so.$icu_major"
patchelf --set-rpath '$ORIGIN' "$pkg/lib/libicudata.so.$icu_major"
# libnode's paths of its externalized builtins (see the top of this file).
count="$(grep -a -o "$NODEJS_FROM" "$pkg/lib/libnode.so.108" | wc -l)"
[ "$count" -ge 5 ] || { echo "package.sh: libnode.so.108 names $NODEJS_FROM $count times, expected at least 5" >&2; exit 1; }
size_before="$(stat -c %s "$pkg/lib/libnode.so.108")"
perl -0777 -pi -e "s{\Q$NODEJS_FROM\E}{$NODEJS_TO}g" "$pkg/lib/libnode.so.108"
[ "$(stat -c %s "$pkg/lib/libnode.so.108")" = "$size_before" ] || { echo "package.sh: rewriting libnode changed its size" >&2; exit 1; }
! grep -q -a "$NODEJS_FROM" "$pkg/lib/libnode.so.108" || { echo "package.sh: $NODEJS_FROM is still in libnode.so.108" >&2; exit 1; }
for f in "${js_files[@]}"; do
    mkdir -p "$(dirname "$pkg/nodejs/$f")"
    cp "$jsroot/usr/share/nodejs/$f" "$pkg/nodejs/$f"
done
# The licences of what is bundled (Debian's copyright files).
for p in libnode108 libuv1 libicu72 libnghttp2-14 libc-ares2 libbrotli1; do
    f="$(compgen -G "$sysroot/usr/share/doc/$p/copyright" || true)"
    [ -z "$f" ] || cp "$f" "$pkg/licenses/$p.copyright"
done
for p in "${js_packages[@]}"; do
    [ ! -f "$jsroot/usr/share/doc/$p/copyright" ] || cp "$jsroot/usr/share/doc/$p/copyright" "$pkg/licenses/$p.copyright"
done

# The compiled TypeScript, without the development tools (simulator, demo).
mkdir -p "$pkg/dist"
cp -r dist/ts "$pkg/dist/ts"
rm -rf "$pkg/dist/ts/sim" "$pkg/dist/ts/demo"
find "$pkg/dist" -name '*.map' -delete

install -m 0755 scripts/venus/install.sh "$pkg/install.sh"
install -m 0755 scripts/venus/uninstall.sh "$pkg/uninstall.sh"
install -m 0755 scripts/venus/post-hook.sh "$stage/rc/post-hook.sh"
echo "$arch" > "$pkg/ARCH"
echo "$version" > "$pkg/VERSION"

# No path of this machine anywhere: not in a RUNPATH, not in a file.
for so in "$pkg/libdbus-flashmq-ts.so" "$pkg"/lib/*.so*; do
    runpath="$("$triplet-readelf" -d "$so" | sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p')"
    case "$runpath" in '$ORIGIN'|'$ORIGIN/lib') ;; *) echo "package.sh: $so has RUNPATH '$runpath'" >&2; exit 1 ;; esac
done
if grep -r -l -a -e "$here" -e "$HOME/" "$stage" >/dev/null; then
    echo "package.sh: files name a path of this machine: $(grep -r -l -a -e "$here" -e "$HOME/" "$stage" | tr '\n' ' ')" >&2
    exit 1
fi
(cd "$pkg" && find . -type f ! -name MANIFEST -print0 | LC_ALL=C sort -z | xargs -0 sha256sum > MANIFEST)

# The SDK prefix: what the Venus SDK lacks to build the plugin (it has no Node, libnode or libuv): libnode's and
# libuv's headers, and the package's libraries to link against (cmake -DLIBNODE_PREFIX=<this>, see the README).
sdk="$here/build-package/sdk-prefix-$arch"
rm -rf "$sdk"
mkdir -p "$sdk/include" "$sdk/lib"
cp -r "$sysroot/usr/include/node" "$sdk/include/node"
cp -r "$sysroot/usr/include/uv.h" "$sysroot/usr/include/uv" "$sdk/include/"
cp -a "$pkg"/lib/*.so* "$sdk/lib/"
ln -sfn libnode.so.108 "$sdk/lib/libnode.so"
ln -sfn libuv.so.1 "$sdk/lib/libuv.so"

mkdir -p "$out"
tar --owner=0 --group=0 --numeric-owner --sort=name -C "$here/build-package" -czf "$out/dbus-flashmq-ts-sdk-prefix-$version-$arch.tar.gz" "sdk-prefix-$arch"
archive="$out/venus-data-dbus-flashmq-ts-$version-$arch.tar.gz"
tar --owner=0 --group=0 --numeric-owner --sort=name -C "$stage" -czf "$archive.part" dbus-flashmq-ts rc
mv "$archive.part" "$archive"
say "$archive ($(du -h "$archive" | cut -f1); unpacked $(du -sh "$stage" | cut -f1))"
