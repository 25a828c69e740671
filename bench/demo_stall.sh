#!/bin/bash
# `hir demo` with stalls: while the demo sends, the edge box's worker and then both MCU
# emulators are stopped (SIGSTOP) for STALL_MS and resumed, ROUNDS times, one stall every
# EVERY_S seconds, starting FIRST_S seconds in — the pause a busy host, a collector or a slow
# disk gives a real device. Prints the demo's summary and its log folder.
#
#   bench/demo_stall.sh [BUILD_DIR] [hir demo options...]
#   STALL_MS=80 ROUNDS=3 EVERY_S=3 FIRST_S=6 bench/demo_stall.sh build
set -euo pipefail
BUILD=${1:-build}
shift || true
STALL_MS=${STALL_MS:-80}
ROUNDS=${ROUNDS:-3}
EVERY_S=${EVERY_S:-3}
FIRST_S=${FIRST_S:-6}
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT

stall() {  # pids...
  [ $# -gt 0 ] || return 0
  kill -STOP "$@" 2>/dev/null || true
  sleep "$(awk -v ms="$STALL_MS" 'BEGIN { printf "%.3f", ms / 1000 }')"
  kill -CONT "$@" 2>/dev/null || true
}

"$BUILD/hir" demo "$@" >"$OUT" 2>&1 &
demo=$!
sleep "$FIRST_S"
for _ in $(seq "$ROUNDS"); do
  # shellcheck disable=SC2046  # one pid per word
  stall $(pgrep -f "hir-worker.*--port 8101" || true)
  sleep "$EVERY_S"
  # shellcheck disable=SC2046
  stall $(pgrep -f "hir-mcu-emu" || true)
  sleep "$EVERY_S"
done
wait "$demo" || true
grep -E "logs in|requests  |target  |edge util|not every" "$OUT"
