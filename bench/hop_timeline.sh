#!/usr/bin/env bash
# Where a hop's time goes at one request in flight: the byte relay (floor_relay) and hir serve
# (one target, no batching) each run with libhop_timeline.so preloaded (bench/hop_timeline.cc),
# behind the same hir-worker, while hop_latency sends the same request to the worker directly,
# to the relay and to hir in turn. Prints hop_latency's added latency per hop, then each proxy's
# request split into its parts (request, send up, wait (and the part of it before the proxy sleeps), answer, send down, after): the difference
# between the two is what hir's own work adds to a hop.
#
#   bench/hop_timeline.sh [BUILD]          BUILD defaults to build-rel
#   BODY=json|binary ROUNDS=5000 bench/hop_timeline.sh build-rel
#
# Not part of `make test` or `make bench`.
set -euo pipefail
cd "$(dirname "$0")/.."
NAME=hop_timeline
. bench/lib.sh

B=${1:-build-rel}
BODY=${BODY:-binary}
ROUNDS=${ROUNDS:-5000}
for f in hir hir-worker floor_relay hop_latency libhop_timeline.so; do
  [ -e "$B/$f" ] || { echo "hop_timeline: $B/$f is missing (ninja -C $B hir hir-worker floor_relay hop_latency hop_timeline)" >&2; exit 2; }
done
case "$BODY" in json | binary) ;; *) echo "hop_timeline: BODY is json or binary" >&2; exit 2 ;; esac

bench_setup
bench/wrk/make-bodies.pl examples/fmnist-request.json "$tmp" >/dev/null
bench_one_target "$B/hir-worker" "$tmp/hir.yaml"
lib=$(realpath "$B/libhop_timeline.so")
HIR_TIMELINE_OUT=$tmp/floor.parts LD_PRELOAD=$lib "$B/floor_relay" --backend "$wport" --port 0 \
  --port-file "$tmp/f.port" &
floor=$!
pids+=($floor)
HIR_TIMELINE_OUT=$tmp/hir.parts LD_PRELOAD=$lib "$B/hir" serve --config "$tmp/hir.yaml" --port 0 \
  --port-file "$tmp/h.port" --log-level info 2>"$tmp/hir.log" >/dev/null &
hir=$!
pids+=($hir)
fport=$(wait_file "$tmp/f.port")
hport=$(wait_file "$tmp/h.port")
if [ "$BODY" = json ]; then
  body=(--body "$tmp/infer.json")
else
  body=(--body "$tmp/infer.bin" --header-len "$(cat "$tmp/infer.bin.hlen")")
fi
echo "hop_timeline: $BODY body, $ROUNDS rounds, $(nproc) CPUs"
"$B/hop_latency" "${body[@]}" --rounds "$ROUNDS" direct="$wport" floor="$fport" hir="$hport"
# Both write their parts when they exit, which a SIGTERM makes them do cleanly.
kill "$floor" "$hir"
wait "$floor" "$hir" 2>/dev/null || true
for p in floor hir; do
  [ -s "$tmp/$p.parts" ] || { echo "hop_timeline: $p wrote no timeline" >&2; exit 1; }
  echo "$p:"
  sed 's/^/  /' "$tmp/$p.parts"
done
