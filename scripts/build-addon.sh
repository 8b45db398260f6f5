#!/usr/bin/env bash
# Builds the Node addon the tests use (binding.gyp) with node-gyp, against the running Node's own headers when it
# has them (scripts/node-headers.sh). npm runs it on install; `npm run build:addon` too. Arguments go to node-gyp.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
. "$here/scripts/node-headers.sh"
exec "$here/node_modules/.bin/node-gyp" rebuild "$@"
