#!/usr/bin/env bash
# Builds the plugin (.so) with cmake-js into build-plugin/. Extra arguments go to cmake-js
# (for example --CDLIBNODE_PREFIX=/usr or --debug).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
. "$here/scripts/node-headers.sh"
exec npx cmake-js compile --out build-plugin --parallel "$(nproc)" "$@"
