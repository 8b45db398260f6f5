#!/usr/bin/env bash
# The end-to-end API suites against the FlashMQ releases Venus OS ships: 1.23.2 (v3.7x) and 1.21.1 (v3.6x), built
# from their release sources by scripts/flashmq.sh (scripts/setup.sh does that). `npm test` runs every suite against
# 1.26.2; this runs the suites of the MQTT API, logins and access, message order, start-up, the shim's hooks, life
# cycle and healing, and greedy clients once per older release. CI runs it after the README's test command.
#
#   scripts/test-flashmq-versions.sh [version...]        (default: 1.23.2 1.21.1)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
versions=("$@")
[ "${#versions[@]}" -gt 0 ] || versions=(1.23.2 1.21.1)
suites=(venus security order startup hooks lifecycle healing greedy)
files=()
for s in "${suites[@]}"; do files+=("dist/test/e2e/$s.test.js"); done
for version in "${versions[@]}"; do
    bash scripts/flashmq.sh --arch host --version "$version" >/dev/null
    bin="$(bash scripts/flashmq.sh --arch host --version "$version" --print)"
    echo "=== the API suites against FlashMQ $version ($bin)"
    FLASHMQ_BIN="$bin" npx mocha "${files[@]}"
done
