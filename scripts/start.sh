#!/usr/bin/env bash
# npm start: the demo. Sets up and builds what is missing or out of date, then runs a simulated GX device served by
# the real flashmq with the plugin (dist/ts/demo/cli.js; arguments go to it, see --help).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"

say() { printf '[demo] %s\n' "$*"; }

if [ ! -d node_modules ] || [ ! -f .deps/libnode/usr/include/node/node.h ]; then
    say "first run: installing what the project needs (scripts/setup.sh)"
    bash scripts/setup.sh
fi

stale() { # stale <output> <inputs...>: the output is missing or older than one of the inputs
    local out="$1"; shift
    [ ! -e "$out" ] && return 0
    [ -n "$(find "$@" -newer "$out" -type f -print -quit 2>/dev/null)" ]
}

if stale dist/ts/demo/cli.js ts tsconfig.json; then
    say "compiling the TypeScript"
    npm run --silent build:ts
fi
if stale build-plugin/Release/libdbus-flashmq-ts.so native CMakeLists.txt; then
    say "building the plugin"
    npm run --silent build:native >/dev/null
fi

exec node dist/ts/demo/cli.js "$@"
