#!/bin/bash
# `hir demo` with stalls: once the demo has started sending, the edge box's worker and then both
# MCU emulators are stopped (SIGSTOP) for STALL_MS and resumed, ROUNDS times, one stall every
# EVERY_S seconds, the first FIRST_S seconds in — the pause a busy host, a collector or a slow
# disk gives a real device. Only the demo's own children are stopped. Prints the demo's summary
# and its log folder (docs/demo.md, "Stalls").
#
#   bench/demo_stall.sh [BUILD_DIR] [hir demo options...]
#   STALL_MS=80 ROUNDS=3 EVERY_S=3 FIRST_S=3 bench/demo_stall.sh build
set -euo pipefail
BUILD=${1:-build}
shift || true
STALL_MS=${STALL_MS:-80}
ROUNDS=${ROUNDS:-3}
EVERY_S=${EVERY_S:-3}
FIRST_S=${FIRST_S:-3}
OUT=$(mktemp)
stopped=()
# Whatever happens, nothing is left stopped.
trap '[ ${#stopped[@]} -eq 0 ] || kill -CONT "${stopped[@]}" 2>/dev/null; rm -f "$OUT"' EXIT

stall() {  # pids...
  [ $# -gt 0 ] || { echo "demo_stall: nothing to stall" >&2; return 0; }
  stopped=("$@")
  kill -STOP "$@" 2>/dev/null || true
  sleep "$(awk -v ms="$STALL_MS" 'BEGIN { printf "%.3f", ms / 1000 }')"
  kill -CONT "$@" 2>/dev/null || true
  stopped=()
}

"$BUILD/hir" demo "$@" >"$OUT" 2>&1 &
demo=$!
# The demo's own output is buffered: the router's request count says when the sending began
# (the router of the embedded configuration listens on 127.0.0.1:8000).
ROUTER=${ROUTER:-http://127.0.0.1:8000}
for _ in $(seq 600); do  # the fleet's start and the wait for its reports: up to a minute
  n=$( (curl -s -m 1 "$ROUTER/metrics" 2>/dev/null || true) | awk '/^hir_requests_total/ {s += $2} END {print s + 0}')
  [ "${n:-0}" -gt 0 ] && break
  kill -0 "$demo" 2>/dev/null || break
  sleep 0.1
done
sleep "$FIRST_S"
for _ in $(seq "$ROUNDS"); do
  # shellcheck disable=SC2046  # one pid per word
  stall $(pgrep -P "$demo" -f "hir-worker.*--port 8101" || true)
  sleep "$EVERY_S"
  # shellcheck disable=SC2046
  stall $(pgrep -P "$demo" -f "hir-mcu-emu" || true)
  sleep "$EVERY_S"
done
rc=0
wait "$demo" || rc=$?  # 1 as well when some request failed: the summary says how many
if grep -q "requests  " "$OUT"; then
  grep -E "logs in|requests  |target  |edge util|not every" "$OUT"
else
  echo "demo_stall: hir demo exited with $rc before its summary; its last lines:" >&2
  tail -n 20 "$OUT" >&2
fi
exit "$rc"
