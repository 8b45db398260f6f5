#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks to build and test the plugin. Idempotent: a second run only checks.
#   - Debian packages: build tools, libuv, dbus, mosquitto clients, and the files libnode loads at run time;
#   - Debian's libnode108 + libnode-dev, fetched with `apt-get download` and unpacked into .deps/libnode
#     (apt refuses to install them next to nodesource's nodejs, which also owns /usr/include/node);
#   - the npm packages (npm ci);
#   - FlashMQ built from its release sources (scripts/flashmq.sh): 1.26.2 when no flashmq is on PATH, and 1.23.2 and
#     1.21.1 (what Venus OS v3.7x and v3.6x ship), which the API suites also run against (npm run test:flashmq);
#   - the unprivileged user `flashmq` the tests run the broker as, as Venus OS v3.70 and later do.
# Options: --no-npm (skip npm ci).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"

run_npm=1
for arg in "$@"; do
    case "$arg" in
        --no-npm) run_npm=0 ;;
        *) echo "setup.sh: unknown option '$arg'" >&2; exit 2 ;;
    esac
done

say() { printf '[setup] %s\n' "$*"; }

apt_packages=(
    build-essential cmake pkg-config python3
    libuv1-dev libcrypt-dev libssl-dev ninja-build curl
    dbus dbus-daemon
    mosquitto-clients
    # read by libnode at run time (fetch, ESM/CJS interop, acorn):
    node-undici node-cjs-module-lexer node-acorn
    # libnode108's shared library dependencies:
    libc-ares2 libnghttp2-14 libbrotli1 libicu72 zlib1g libssl3
)

missing=()
for p in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "setup.sh: need root to run: $*" >&2; exit 1; fi
}

if [ "${#missing[@]}" -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! as_root apt-get install -y --no-install-recommends "${missing[@]}"; then
        as_root apt-get update
        as_root apt-get install -y --no-install-recommends "${missing[@]}"
    fi
fi

# libnode: the one Debian build of Node 18 as a shared library.
prefix="$here/.deps/libnode"
if [ ! -f "$prefix/usr/include/node/node.h" ] || ! ls "$prefix"/usr/lib/*/libnode.so.108 >/dev/null 2>&1; then
    say "fetching libnode108 and libnode-dev into $prefix"
    dl="$here/.deps/debs"
    rm -rf "$dl" "$prefix"
    mkdir -p "$dl" "$prefix"
    chmod 777 "$dl" # apt-get download drops privileges to _apt when it can
    if ! (cd "$dl" && apt-get download libnode108 libnode-dev); then
        as_root apt-get update
        (cd "$dl" && apt-get download libnode108 libnode-dev)
    fi
    for deb in "$dl"/*.deb; do dpkg -x "$deb" "$prefix"; done
fi
say "libnode: $(ls "$prefix"/usr/lib/*/libnode.so.108)"

if [ "$run_npm" -eq 1 ]; then
    if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
        say "installing npm packages"
        npm ci --no-audit --no-fund
    fi
fi

# FlashMQ: the one on PATH (or FLASHMQ_BIN), else built from its 1.26.2 release source into .deps/flashmq/host.
if [ -n "${FLASHMQ_BIN:-}" ] && [ -x "$FLASHMQ_BIN" ]; then
    say "flashmq: $FLASHMQ_BIN ($("$FLASHMQ_BIN" --version | head -1))"
elif command -v flashmq >/dev/null 2>&1; then
    say "flashmq: $(command -v flashmq) ($(flashmq --version | head -1))"
else
    bash "$here/scripts/flashmq.sh" --arch host
fi
for version in 1.23.2 1.21.1; do
    bash "$here/scripts/flashmq.sh" --arch host --version "$version"
done

# The broker's user on Venus OS v3.70+ (start-flashmq: setuidgid flashmq): no home, no shell.
if ! id flashmq >/dev/null 2>&1; then
    say "adding the system user flashmq (the tests run the broker as it)"
    as_root useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin flashmq
fi
