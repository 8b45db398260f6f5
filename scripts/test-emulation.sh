#!/usr/bin/env bash
# The Venus packages under emulation: builds what is missing (for each target libxcrypt as Venus has it, FlashMQ and
# the package; each step idempotent), then runs test/emulation: the packages under qemu-user on a Venus-like root, and
# their libraries, symbol versions and symbols resolved on that root. CI runs it after the README's test command.
# test/emulation/gx-vm.test.ts is the short check of a GX device under full-system qemu, gx-fallback.test.ts the short
# check of the way back (the watchdog) on one (npm run test:gx: all of both).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
for test in venus-package venus-closure gx-vm gx-fallback; do
    [ -f "dist/test/emulation/$test.test.js" ] || { npm run build:ts >/dev/null; break; }
done
for arch in armhf arm64; do
    bash scripts/xcrypt.sh --arch "$arch"
    bash scripts/flashmq.sh --arch "$arch" --version 1.23.2   # Venus OS v3.7x's (test/helpers/emulated.ts)
    bash scripts/package.sh --arch "$arch"
    bash scripts/gx-vm.sh --arch "$arch" >/dev/null   # the GX device under full-system qemu (test/emulation/gx-vm.test.ts)
done
exec npx mocha 'dist/test/emulation/**/*.test.js'
