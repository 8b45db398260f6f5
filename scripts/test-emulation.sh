#!/usr/bin/env bash
# The Venus packages under emulation: builds what is missing (FlashMQ and the package for each target, each step
# idempotent), then runs test/emulation. CI runs it after the README's test command.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
[ -f dist/test/emulation/venus-package.test.js ] || npm run build:ts >/dev/null
for arch in armhf arm64; do
    bash scripts/flashmq.sh --arch "$arch"
    bash scripts/package.sh --arch "$arch"
done
exec npx mocha 'dist/test/emulation/**/*.test.js'
