#!/usr/bin/env bash
# Cross-builds the plugin for 32-bit ARM (armhf, as on most GX devices) into build-armhf/ and checks it: kept for CI
# and the README, the work is scripts/cross.sh's (which also does arm64).
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/cross.sh" --arch armhf "$@"
