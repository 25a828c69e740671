#!/usr/bin/env bash
# Where a hop's time goes at one request in flight: the byte relay (floor_relay), nginx, HAProxy
# (configured as in bench/compare.sh) and hir serve (one target, no batching) each run with
# libhop_timeline.so preloaded (bench/hop_timeline.cc), behind the same hir-worker, while
# hop_latency sends the same request to the worker directly and to each proxy in turn. Prints hop_latency's added latency per hop, then each proxy's
# request split into its parts (request, send up, wait (and the part of it before the proxy sleeps), answer, send down, after): the difference
# between a proxy and the relay is what the proxy's own work adds to a hop.
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
# Each proxy with the library preloaded; a %p in the file's name is the writer's pid (nginx's
# worker, not its master, makes the calls).
HIR_TIMELINE_OUT=$tmp/floor.%p.parts LD_PRELOAD=$lib "$B/floor_relay" --backend "$wport" --port 0 \
  --port-file "$tmp/f.port" &
pids+=($!)
HIR_TIMELINE_OUT=$tmp/hir.%p.parts LD_PRELOAD=$lib "$B/hir" serve --config "$tmp/hir.yaml" --port 0 \
  --port-file "$tmp/h.port" --log-level info 2>"$tmp/hir.log" >/dev/null &
pids+=($!)
targets=(direct="$wport" floor="$(wait_file "$tmp/f.port")")
names=(floor)
if command -v nginx >/dev/null && command -v haproxy >/dev/null; then
  nport=$(free_port)
  HIR_TIMELINE_OUT=$tmp/nginx.%p.parts LD_PRELOAD=$lib start_nginx "$nport" "$wport"
  nginx_pid=$started
  hport=$(free_port)
  HIR_TIMELINE_OUT=$tmp/haproxy.%p.parts LD_PRELOAD=$lib start_haproxy "$hport" "$wport"
  haproxy_pid=$started
  targets+=(nginx="$nport" haproxy="$hport")
  names+=(nginx haproxy)
else
  echo "hop_timeline: nginx or haproxy is missing (scripts/install-deps.sh --bench): without them" >&2
fi
targets+=(hir="$(wait_file "$tmp/h.port")")
names+=(hir)
if [ "$BODY" = json ]; then
  body=(--body "$tmp/infer.json")
else
  body=(--body "$tmp/infer.bin" --header-len "$(cat "$tmp/infer.bin.hlen")")
fi
echo "hop_timeline: $BODY body, $ROUNDS rounds, $(nproc) CPUs"
"$B/hop_latency" "${body[@]}" --rounds "$ROUNDS" "${targets[@]}"
# Each writes its parts when it exits cleanly: nginx's graceful stop is SIGQUIT, HAProxy's SIGUSR1,
# the others' SIGTERM.
[ -z "${nginx_pid:-}" ] || kill -QUIT "$nginx_pid"
[ -z "${haproxy_pid:-}" ] || kill -USR1 "$haproxy_pid"
for p in "${pids[@]}"; do [ "$p" = "${nginx_pid:-}" ] || [ "$p" = "${haproxy_pid:-}" ] || kill "$p" 2>/dev/null || true; done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
pids=()
for n in "${names[@]}"; do
  # The file of the process that served the requests (nginx's master writes none).
  f=$(for x in "$tmp/$n".*.parts; do [ -e "$x" ] && echo "$(awk 'NR == 1 {print $5}' "$x") $x"; done |
    sort -n | tail -1 | cut -d' ' -f2)
  [ -n "$f" ] || { echo "hop_timeline: $n wrote no timeline" >&2; exit 1; }
  echo "$n:"
  sed 's/^/  /' "$f"
done
