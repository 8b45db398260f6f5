#!/usr/bin/env bash
# npm run test:gx: the GX device under full-system qemu, all of it (test/emulation/gx-vm.test.ts with DFMQ_GX_FULL=1:
# install, bct, reboot, firmware update, uninstall, then 50,000 items; test/emulation/gx-fallback.test.ts: every
# fault the watchdog brings the device back from), for each target of DFMQ_GX_ARCHS (default armhf,arm64). Builds what is missing first (each step idempotent): libxcrypt, FlashMQ 1.23.2, the package, the
# boot images (scripts/gx-vm.sh; v3.70 and the v3.71 "update"). DFMQ_GX_FLASHMQ=1.26.2 (or 1.21.1) boots the devices
# with that FlashMQ instead of 1.23.2 (test/helpers/gx-vm.ts reads it too).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
[ -f dist/test/emulation/gx-vm.test.js ] && [ -f dist/test/emulation/gx-fallback.test.js ] || npm run build:ts >/dev/null
IFS=, read -r -a archs <<< "${DFMQ_GX_ARCHS:-armhf,arm64}"
for arch in "${archs[@]}"; do
    bash scripts/xcrypt.sh --arch "$arch"
    bash scripts/flashmq.sh --arch "$arch" --version "${DFMQ_GX_FLASHMQ:-1.23.2}"
    bash scripts/package.sh --arch "$arch"
    bash scripts/gx-vm.sh --arch "$arch" --flashmq "${DFMQ_GX_FLASHMQ:-1.23.2}" >/dev/null
    bash scripts/gx-vm.sh --arch "$arch" --flashmq "${DFMQ_GX_FLASHMQ:-1.23.2}" --venus v3.71 >/dev/null
done
DFMQ_GX_FULL=1 exec npx mocha dist/test/emulation/gx-vm.test.js dist/test/emulation/gx-fallback.test.js
