#!/usr/bin/env bash
# npm run install:prefix -- <prefix>: builds what is needed and installs the plugin, its compiled TypeScript, the
# production npm packages and an example FlashMQ config into <prefix>/lib/dbus-flashmq-ts (see CMakeLists.txt).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
if [ $# -ne 1 ]; then
    echo "usage: npm run install:prefix -- <prefix>   (e.g. /opt/dbus-flashmq-ts or /usr/local)" >&2
    exit 2
fi
prefix="$(realpath -m "$1")"
npm run --silent build:ts
npm run --silent build:native >/dev/null
cmake --install build-plugin --prefix "$prefix"
echo "installed into $prefix/lib/dbus-flashmq-ts; FlashMQ config example: $prefix/lib/dbus-flashmq-ts/flashmq.conf.example"
