#!/usr/bin/env bash
# The router's instructions per request under load: hir serve under callgrind (valgrind), one
# hir-worker behind it, wrk at -c64. Instruction counts do not drift with the machine's speed as
# times do, so two builds compare in separate runs (docs/perf/proxy.md). Counts every thread of the
# router (the log writer's too), from a warm-up's end to the load's end, divided by the requests
# the router counted in between (hir_requests_total).
#
#   bench/instructions.sh [BUILD]              # BUILD holds hir and hir-worker (default build-rel)
#   BODY=json BATCH=32 bench/instructions.sh   # JSON bodies; both routers merge (as hirb)
#   KEEP_TMP=1 ...                             # keep the profile (callgrind.out.*) for
#                                              # callgrind_annotate --inclusive=yes
#
# Under valgrind the router runs ~50x slower: merged calls carry other numbers of requests than
# without it, so batched counts are comparable between builds, not with the timings. Not part of
# `make test` or `make bench`.
set -euo pipefail
cd "$(dirname "$0")/.."
NAME=instructions
. bench/lib.sh

build=${1:-build-rel}
BODY=${BODY:-binary}
BATCH=${BATCH:-0}
WARMUP=${WARMUP:-3}
DURATION=${DURATION:-5}
for tool in valgrind callgrind_control wrk curl; do
  # valgrind is Debian's `valgrind` package, which scripts/install-deps.sh leaves out: no test or
  # `make bench` needs it.
  command -v "$tool" >/dev/null || { echo "$NAME: $tool is missing (apt-get install valgrind wrk curl)" >&2; exit 2; }
done
for f in "$build/hir" "$build/hir-worker"; do [ -x "$f" ] || { echo "$NAME: $f is not an executable" >&2; exit 2; }; done

bench_setup
bench/wrk/make-bodies.pl examples/fmnist-request.json "$tmp" >/dev/null
bench_one_target "$build/hir-worker" "$tmp/hir.yaml"
[ "$BATCH" != 0 ] && sed -i "s/^models:/batching: {max_requests: $BATCH}\nmodels:/" "$tmp/hir.yaml"
valgrind --tool=callgrind --callgrind-out-file="$tmp/callgrind.out.%p" \
  "$build/hir" serve --config "$tmp/hir.yaml" --port 0 --port-file "$tmp/h.port" 2>"$tmp/hir.log" >/dev/null &
router=$!
pids+=($router)
port=$(wait_file "$tmp/h.port")
if [ "$BODY" = json ]; then
  export WRK_BODY="$tmp/infer.json"
else
  export WRK_BODY="$tmp/infer.bin" WRK_HEADER_LEN="$(cat "$tmp/infer.bin.hlen")"
fi
requests() { curl -s "http://127.0.0.1:$port/metrics" | awk '/^hir_requests_total/ {s += $2} END {print s + 0}'; }
wrk -t1 -c64 -d"${WARMUP}s" -s bench/wrk/infer.lua "http://127.0.0.1:$port" >/dev/null
n0=$(requests)
callgrind_control -z "$router" >/dev/null
wrk -t1 -c64 -d"${DURATION}s" -s bench/wrk/infer.lua "http://127.0.0.1:$port" >"$tmp/wrk.txt"
callgrind_control -d "$router" >/dev/null
n1=$(requests)
grep -q "Non-2xx" "$tmp/wrk.txt" && { echo "$NAME: errors under load: $(grep Non-2xx "$tmp/wrk.txt")" >&2; exit 1; }
profile=$(ls -t "$tmp"/callgrind.out.* | head -1)
ir=$(awk '/^summary:/ {print $2; exit}' "$profile")
echo "$NAME: $build/hir, $BODY bodies, batching ${BATCH}: $((n1 - n0)) requests, $ir instructions, $((ir / (n1 - n0))) per request"
