#!/usr/bin/env bash
# Builds the Venus OS package for one target: everything the plugin needs on a Venus v3.6+ image and nothing the
# image has already (glibc, libstdc++/libgcc, OpenSSL 3, zlib, libcrypt, libdbus).
#
#   scripts/package.sh --arch armhf|arm64 [--out <dir>]        (default --out: packages/)
#   scripts/package.sh --arch armhf|arm64 --payload <dir> [--version <v>] [--out <dir>]
#
# Results: <out>/venus-data-dbus-flashmq-ts-<version>-<arch>.tar.gz, complete as it is unpacked into /data (by hand,
# or by Venus from a USB stick or SD card: see rc/ below):
#
#   dbus-flashmq-ts/libdbus-flashmq-ts.so     the plugin (RUNPATH $ORIGIN/lib)
#   dbus-flashmq-ts/lib/                      libnode and the libraries it needs that Venus lacks (RUNPATH $ORIGIN):
#                                             ICU 72, libuv, c-ares, nghttp2, brotli, from Debian 12; ICU's data
#                                             library is our empty stand-in (native/icu/icudata-stub.c): the real
#                                             one maps 30 MB, a fifth of what Venus allows a 32-bit broker
#   dbus-flashmq-ts/nodejs/                   the five JavaScript files libnode reads at start (see below)
#   dbus-flashmq-ts/dist/ts/index.js          the compiled TypeScript in one file (no npm package is needed)
#   dbus-flashmq-ts/install.sh, uninstall.sh  switch FlashMQ to this plugin and back (see scripts/venus/install.sh)
#   dbus-flashmq-ts/watchdog.sh               the way back: the service install.sh adds returns FlashMQ to its
#                                             stock plugin when this one does not serve
#   dbus-flashmq-ts/lib.sh                    what the device scripts share (scripts/venus/lib.sh)
#   dbus-flashmq-ts/ARCH, VERSION, licenses/
#   dbus-flashmq-ts/MANIFEST                  sha256 of every file above (./VERSION's line last), checked before any
#                                             switch; last in the archive, so an unpack cut short leaves an old one
#                                             that does not match
#   dfmq-nodejs -> dbus-flashmq-ts/nodejs     where the packaged libnode reads its JavaScript (/data/dfmq-nodejs)
#   rc/pre-hook.sh, post-hook.sh, uninstall.sh, lib.sh, dbus-flashmq-ts.info
#                                             for Venus's update-data.sh, which unpacks venus-data*.tar.gz from a
#                                             USB stick or SD card at boot: it extracts rc/ alone into a temporary
#                                             directory, runs rc/pre-hook.sh there (which refuses where the plugin
#                                             cannot work, before anything is overwritten), extracts the rest into
#                                             /data and runs rc/post-hook.sh success|extraction-failed. rc/ never
#                                             lands in /data. The .info file: version, arch, unpacked_kib (in 4 KiB
#                                             blocks), manifest_sha256.
#
# Every directory is 0755, every file 0644, scripts and shared objects 0755, owned by 0:0, whatever the umask:
# from Venus v3.70 FlashMQ runs as the user flashmq, which must read all of it.
# Also <out>/dbus-flashmq-ts-sdk-prefix-<version>-<arch>.tar.gz, for building the plugin with the Venus SDK.
#
# --payload <dir>: take the package's payload (libdbus-flashmq-ts.so, lib/, nodejs/, dist/, licenses/ or any part
# of them) from <dir> instead of building and collecting it, and make only the archive (no SDK prefix); --version
# replaces package.json's. Tests make small archives this way with the real layout and device scripts.
#
# libnode: Debian's build reads five of Node's own JavaScript files (cjs-module-lexer, undici, acorn, acorn-walk)
# from /usr/share/nodejs at every start, a path compiled into the library; Venus's /usr is read-only and has no
# such files. The package carries the files, and the library's five paths are rewritten, byte for byte and at the
# same length, from /usr/share/nodejs/ to /data/dfmq-nodejs/, a link the archive carries (install.sh makes it
# again when it is missing). Nothing else of libnode changes. The script checks that no path of this machine is
# left in any file.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
arch=""
out="$here/packages"
payload=""
version=""
while [ "$#" -gt 0 ]; do
    case "$1" in
        --arch) arch="${2:?--arch needs a value}"; shift 2 ;;
        --out) out="$(realpath -m "${2:?--out needs a directory}")"; shift 2 ;;
        --payload) payload="$(realpath -e "${2:?--payload needs a directory}")"; shift 2 ;;
        --version) version="${2:?--version needs a value}"; shift 2 ;;
        *) echo "package.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
done
[ -n "$arch" ] || { echo "usage: scripts/package.sh --arch armhf|arm64 [--out <dir>] [--payload <dir> [--version <v>]]" >&2; exit 2; }
case "$arch" in armhf|arm64) ;; *) echo "package.sh: --arch is armhf or arm64, not '$arch'" >&2; exit 2 ;; esac
say() { printf '[package-%s] %s\n' "$arch" "$*"; }
[ -n "$version" ] || version="$(node -p "require('./package.json').version")"

NODEJS_FROM=/usr/share/nodejs/
NODEJS_TO=/data/dfmq-nodejs/
[ "${#NODEJS_FROM}" -eq "${#NODEJS_TO}" ] || { echo "package.sh: the two nodejs paths must have one length" >&2; exit 1; }
# Libraries libnode needs that Venus lacks, from the sysroot (Debian 12 packages of the target). The JavaScript
# files come from Debian's (architecture-independent) node-* packages.
libs=(libnode.so.108 libuv.so.1 libicuuc.so.72 libicui18n.so.72 libnghttp2.so.14 libcares.so.2
      libbrotlienc.so.1 libbrotlidec.so.1 libbrotlicommon.so.1)
js_packages=(node-cjs-module-lexer node-undici node-acorn)
js_files=(cjs-module-lexer/lexer.js cjs-module-lexer/dist/lexer.js undici/undici-fetch.js acorn/dist/acorn.js acorn-walk/dist/walk.js)
sysroot="$here/.deps/$arch/root"

# The payload, into $pkg: the plugin for the target, the libraries, libnode's JavaScript files, the licences and the
# compiled TypeScript.
collect_payload() {
    # shellcheck source=scripts/lib-debian.sh
    . "$here/scripts/lib-debian.sh"
    triplet="$(deb_triplet "$arch")"
    deb_ensure_tool patchelf patchelf
    deb_ensure_tool "$triplet-readelf" "binutils-$triplet"

    bash "$here/scripts/cross.sh" --arch "$arch"
    [ -f dist/ts/index.js ] || npm run build:ts >/dev/null

    deb_fetch all "$here/.deps/all/debs" "${js_packages[@]}"
    jsroot="$here/.deps/all/root"
    rm -rf "$jsroot"
    deb_unpack all "$here/.deps/all/debs" "$jsroot" "${js_packages[@]}"

    mkdir -p "$pkg/lib" "$pkg/nodejs" "$pkg/licenses"
    cp "build-$arch/libdbus-flashmq-ts.so" "$pkg/"
    "$triplet-strip" --strip-unneeded "$pkg/libdbus-flashmq-ts.so"
    patchelf --set-rpath '$ORIGIN/lib' "$pkg/libdbus-flashmq-ts.so"
    for lib in "${libs[@]}"; do
        found=""
        for dir in "usr/lib/$triplet" "lib/$triplet"; do
            [ -e "$sysroot/$dir/$lib" ] && found="$sysroot/$dir/$lib" && break
        done
        [ -n "$found" ] || { echo "package.sh: $lib is not in $sysroot" >&2; exit 1; }
        cp -L "$found" "$pkg/lib/$lib"
        chmod u+w "$pkg/lib/$lib"
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

    # The compiled TypeScript: its entry bundled with every module it needs (scripts/bundle.js), nothing else.
    head -c 64 dist/ts/index.js | grep -q '^// dbus-flashmq-ts bundle ' || node scripts/bundle.js dist/ts >/dev/null
    mkdir -p "$pkg/dist/ts"
    cp dist/ts/index.js "$pkg/dist/ts/index.js"

    # No path of this machine in a RUNPATH.
    for so in "$pkg/libdbus-flashmq-ts.so" "$pkg"/lib/*.so*; do
        runpath="$("$triplet-readelf" -d "$so" | sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p')"
        case "$runpath" in '$ORIGIN'|'$ORIGIN/lib') ;; *) echo "package.sh: $so has RUNPATH '$runpath'" >&2; exit 1 ;; esac
    done
}

# The device scripts, the link, rc/, the modes, MANIFEST, rc/'s .info, and the archive, from the payload in $pkg.
make_archive() {
    install -m 0755 scripts/venus/install.sh scripts/venus/uninstall.sh scripts/venus/watchdog.sh "$pkg/"
    install -m 0644 scripts/venus/lib.sh "$pkg/"
    echo "$arch" > "$pkg/ARCH"
    echo "$version" > "$pkg/VERSION"
    ln -sfn dbus-flashmq-ts/nodejs "$stage/dfmq-nodejs"
    mkdir -p "$stage/rc"
    install -m 0755 scripts/venus/pre-hook.sh scripts/venus/post-hook.sh scripts/venus/uninstall.sh "$stage/rc/"
    install -m 0644 scripts/venus/lib.sh "$stage/rc/"

    # Modes: explicit, so that neither the umask nor the payload's own modes matter.
    find "$stage" -type d -exec chmod 0755 {} +
    find "$stage" -type f -exec chmod 0644 {} +
    find "$stage" -type f \( -name '*.sh' ! -name lib.sh -o -name '*.so' -o -name '*.so.*' \) -exec chmod 0755 {} +

    # No path of this machine in any file.
    if grep -r -l -a -e "$here" -e "$HOME/" "$stage" >/dev/null; then
        echo "package.sh: files name a path of this machine: $(grep -r -l -a -e "$here" -e "$HOME/" "$stage" | tr '\n' ' ')" >&2
        exit 1
    fi
    rm -f "$pkg/MANIFEST"
    # ./VERSION's line last: a MANIFEST cut short does not end with it (lib.sh's dfmq_verify).
    (cd "$pkg" && { find . -type f ! -path ./VERSION -print0 | LC_ALL=C sort -z | xargs -0 sha256sum && sha256sum ./VERSION; } > "$stage/MANIFEST.part")
    mv "$stage/MANIFEST.part" "$pkg/MANIFEST"
    chmod 0644 "$pkg/MANIFEST"

    # The space the unpacked files take on /data, counted in 4 KiB blocks (ext4's), a block per directory; the
    # link is kept in its inode.
    local kib
    kib="$(cd "$stage" && find dbus-flashmq-ts dfmq-nodejs \( -type f -printf '%s\n' \) -o \( -type d -printf '4096\n' \) |
        awk '{ kib += int(($1 + 4095) / 4096) * 4 } END { print kib }')"
    {
        echo "version=$version"
        echo "arch=$arch"
        echo "unpacked_kib=$kib"
        echo "manifest_sha256=$(sha256sum < "$pkg/MANIFEST" | cut -d ' ' -f 1)"
    } > "$stage/rc/dbus-flashmq-ts.info"
    chmod 0644 "$stage/rc/dbus-flashmq-ts.info"

    # rc/ first (Venus extracts it alone, first), MANIFEST last (see the top of this file); no "./" member, which
    # would give /data itself the stage's mode.
    mkdir -p "$out"
    archive="$out/venus-data-dbus-flashmq-ts-$version-$arch.tar.gz"
    (cd "$stage" && {
        find rc | LC_ALL=C sort
        find dbus-flashmq-ts dfmq-nodejs ! -path dbus-flashmq-ts/MANIFEST | LC_ALL=C sort
        echo dbus-flashmq-ts/MANIFEST
    } > "$stage.list")
    tar --format=ustar --owner=0 --group=0 --numeric-owner --no-recursion -C "$stage" -T "$stage.list" -czf "$archive.part"
    rm -f "$stage.list"
    chmod 0644 "$archive.part"
    mv "$archive.part" "$archive"
    say "$archive ($(du -h "$archive" | cut -f1); unpacked $((kib / 1024)) MB)"
}

# The SDK prefix: what the Venus SDK lacks to build the plugin (it has no Node, libnode or libuv): libnode's and
# libuv's headers, and the package's libraries to link against (cmake -DLIBNODE_PREFIX=<this>, see the README).
make_sdk_prefix() {
    local sdk="$here/build-package/sdk-prefix-$arch"
    rm -rf "$sdk"
    mkdir -p "$sdk/include" "$sdk/lib"
    cp -r "$sysroot/usr/include/node" "$sdk/include/node"
    cp -r "$sysroot/usr/include/uv.h" "$sysroot/usr/include/uv" "$sdk/include/"
    cp -a "$pkg"/lib/*.so* "$sdk/lib/"
    ln -sfn libnode.so.108 "$sdk/lib/libnode.so"
    ln -sfn libuv.so.1 "$sdk/lib/libuv.so"
    mkdir -p "$out"
    tar --owner=0 --group=0 --numeric-owner --sort=name -C "$here/build-package" -czf "$out/dbus-flashmq-ts-sdk-prefix-$version-$arch.tar.gz" "sdk-prefix-$arch"
}

if [ -n "$payload" ]; then
    scratch="$(mktemp -d)"
    trap 'rm -rf "$scratch"' EXIT
    stage="$scratch/$arch"
    pkg="$stage/dbus-flashmq-ts"
    mkdir -p "$stage"
    cp -r "$payload" "$pkg"
    make_archive
else
    stage="$here/build-package/$arch"
    pkg="$stage/dbus-flashmq-ts"
    rm -rf "$stage"
    mkdir -p "$pkg"
    collect_payload
    make_archive
    make_sdk_prefix
fi
