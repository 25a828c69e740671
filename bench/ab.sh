#!/usr/bin/env bash
# Two builds of the router, side by side on one backend: the way to tell whether a change to hir
# made it faster on a machine whose speed drifts from minute to minute. Both routers run at once
# (the idle one costs nothing) against the same hir-worker; wrk loads them in turn, REPS times,
# so both see the same drift. Prints each run's throughput and the router's CPU time per request
# (utime + stime from /proc), then the medians.
#
#   bench/ab.sh HIR_A HIR_B [WORKER]
#   CONNS=64 DURATION=5 REPS=4 BODY=binary|json|json-hints bench/ab.sh /tmp/old/hir build-rel/hir
#   BATCH=32 ...: both routers merge requests (batching: {max_requests: 32}), as hirb in compare.sh
#
# WORKER defaults to hir-worker beside HIR_B. Not part of `make test` or `make bench`.
set -euo pipefail
cd "$(dirname "$0")/.."
NAME=ab
. bench/lib.sh

hir_a=${1:?usage: bench/ab.sh HIR_A HIR_B [WORKER]}
hir_b=${2:?usage: bench/ab.sh HIR_A HIR_B [WORKER]}
worker=${3:-$(dirname "$hir_b")/hir-worker}
CONNS=${CONNS:-64}
DURATION=${DURATION:-5}
REPS=${REPS:-4}
BODY=${BODY:-binary}
BATCH=${BATCH:-0}
for f in "$hir_a" "$hir_b" "$worker"; do [ -x "$f" ] || { echo "ab: $f is not an executable" >&2; exit 2; }; done
command -v wrk >/dev/null || { echo "ab: wrk is missing (scripts/install-deps.sh)" >&2; exit 2; }

bench_setup
bench/wrk/make-bodies.pl examples/fmnist-request.json "$tmp" >/dev/null
bench_one_target "$worker" "$tmp/hir.yaml"
[ "$BATCH" -gt 0 ] && echo "batching: {max_requests: $BATCH}" >>"$tmp/hir.yaml"
declare -A pid port
for x in a b; do
  bin=$hir_a; [ $x = b ] && bin=$hir_b
  "$bin" serve --config "$tmp/hir.yaml" --port 0 --port-file "$tmp/$x.port" 2>"$tmp/$x.log" >/dev/null &
  pid[$x]=$!
  pids+=($!)
done
for x in a b; do port[$x]=$(wait_file "$tmp/$x.port"); done
if [ "$BODY" = json ]; then
  export WRK_BODY=$tmp/infer.json
elif [ "$BODY" = json-hints ]; then
  # The JSON body with routing hints in its parameters, the documented way to pass them: the
  # router reads them and cuts them out of the body it forwards.
  sed 's/^{"id":"bench-1",/{"id":"bench-1","parameters":{"latency_budget_ms":200,"priority":"standard"},/' \
    "$tmp/infer.json" >"$tmp/infer-hints.json"
  grep -q '"parameters":{"latency_budget_ms"' "$tmp/infer-hints.json" ||
    { echo "ab: could not add hints to $tmp/infer.json" >&2; exit 2; }
  export WRK_BODY=$tmp/infer-hints.json
else
  export WRK_BODY=$tmp/infer.bin WRK_HEADER_LEN=$(cat "$tmp/infer.bin.hlen")
fi
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
echo "ab: A=$hir_a B=$hir_b, $BODY body$([ "$BATCH" -gt 0 ] && echo ", batching $BATCH"), wrk -t1 -c$CONNS, ${DURATION} s x $REPS, alternating"
for r in $(seq "$REPS"); do
  for x in a b; do
    t0=$(ticks "${pid[$x]}")
    out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" -s bench/wrk/infer.lua "http://127.0.0.1:${port[$x]}")
    t1=$(ticks "${pid[$x]}")
    n=$(awk '/requests in/ {print $1}' <<<"$out")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    bad=$(awk '/Non-2xx|Socket errors/ {n++} END {print n + 0}' <<<"$out")
    cpu=$(awk -v t=$((t1 - t0)) -v n="$n" -v hz="$hz" 'BEGIN {printf "%.1f", t / hz * 1e6 / n}')
    echo "$x $r $rps $cpu $bad" >>"$tmp/runs"
    printf 'ab: rep %d %s %9.0f req/s  %5.1f us CPU/request  %s\n' "$r" "$x" "$rps" "$cpu" \
      "$([ "$bad" = 0 ] && echo ok || echo 'ERRORS')"
  done
done
median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
for x in a b; do
  rps=$(awk -v x=$x '$1 == x {print $3}' "$tmp/runs" | median)
  cpu=$(awk -v x=$x '$1 == x {print $4}' "$tmp/runs" | median)
  printf 'ab: %s median %9.0f req/s  %5.1f us CPU/request\n' "$x" "$rps" "$cpu"
done
