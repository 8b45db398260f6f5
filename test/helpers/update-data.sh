#!/bin/sh
# A test stand-in, written by us, for what Venus OS's update-data.sh (v3.77) does with a venus-data*.tar.gz it finds
# on a USB stick or SD card at boot, as /work/shared/spec/venus-target.md describes it (not Victron's script):
#   1. extracts the archive's rc/ alone into a temporary directory;
#   2. when there is an rc/pre-hook.sh, runs it there; a non-zero exit cancels the unpack;
#   3. extracts everything but rc/ into the data directory (rc/ never lands there);
#   4. when there is an rc/post-hook.sh, runs it with `success` or `extraction-failed`.
#
#   sh test/helpers/update-data.sh <archive.tar.gz> <data directory>
#
# Each step says what it did on stdout ("update-data: ..."). Exit status: 0 unpacked, 3 cancelled by the pre-hook,
# 4 the extraction failed. The hooks' exit statuses are printed, not passed on. The hooks get this script's
# environment (DFMQ_ROOT and the like). For tests, two shell commands run around step 3, as another writer of the
# data directory could: DFMQ_TEST_BEFORE_EXTRACT (after the pre-hook) and DFMQ_TEST_AFTER_EXTRACT (before the
# post-hook).
set -u
archive="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
data="$2"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

if ! tar -xzf "$archive" -C "$tmp" rc 2>/dev/null; then
    echo "update-data: the archive has no rc/"
fi
if [ -f "$tmp/rc/pre-hook.sh" ]; then
    (cd "$tmp" && sh rc/pre-hook.sh)
    status=$?
    echo "update-data: pre-hook exit $status"
    if [ "$status" -ne 0 ]; then
        echo "update-data: cancelled by the pre-hook"
        exit 3
    fi
fi

[ -z "${DFMQ_TEST_BEFORE_EXTRACT:-}" ] || sh -c "$DFMQ_TEST_BEFORE_EXTRACT"
if tar -xzf "$archive" -C "$data" --anchored --exclude=rc --exclude='rc/*' 2>"$tmp/tar.err"; then
    result=success
else
    result=extraction-failed
    echo "update-data: extraction failed: $(head -n 1 "$tmp/tar.err")"
fi
[ -z "${DFMQ_TEST_AFTER_EXTRACT:-}" ] || sh -c "$DFMQ_TEST_AFTER_EXTRACT"

if [ -f "$tmp/rc/post-hook.sh" ]; then
    (cd "$tmp" && sh rc/post-hook.sh "$result")
    echo "update-data: post-hook $result exit $?"
fi
[ "$result" = success ] || exit 4
