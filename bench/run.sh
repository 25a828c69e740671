#!/usr/bin/env bash
# Router overhead, measured against its baseline in the same run: the same hir-worker called
# directly and through `hir serve`, three repetitions each, interleaved so that machine noise hits
# both alike. Prints each run and the ratios; writes bench/results/router-vs-direct-<time>.json.
#
#   bench/run.sh [BUILD_DIR] [REQUESTS] [CONCURRENCY]
set -euo pipefail
B=${1:-build}; N=${2:-5000}; C=${3:-16}
cd "$(dirname "$0")/.."
tmp=$(mktemp -d /tmp/hir-bench-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

wait_port() { for _ in $(seq 300); do [ -s "$1" ] && { cat "$1"; return; }; sleep 0.1; done; echo "no port in $1" >&2; exit 1; }

"$B/hir-worker" --models fmnist-small --port 0 --port-file "$tmp/w.port" --log-level warn 2>"$tmp/worker.log" &
pids+=($!)
wport=$(wait_port "$tmp/w.port")
cat > "$tmp/router.yaml" <<YAML
targets:
  - {name: edge-1, url: "http://127.0.0.1:$wport", class: edge-cpu, cost_per_request_usd: 0.000001}
models:
  - name: fmnist
    max_batch_size: 256
    inputs: [{name: input, datatype: FP32, shape: [784]}]
    outputs: [{name: probabilities, datatype: FP32, shape: [10]}]
    variants: [{name: fmnist-small, targets: [edge-1], accuracy: 0.88}]
YAML
"$B/hir" serve --config "$tmp/router.yaml" --port 0 --port-file "$tmp/r.port" --log-level warn 2>"$tmp/router.log" &
pids+=($!)
rport=$(wait_port "$tmp/r.port")
sleep 0.5

field() { sed -E "s/.*\"$2\":([0-9.]+).*/\1/" "$1"; }
echo "bench: $N requests, $C in flight, binary bodies; machine: $(nproc) cores, $(uname -r)"
rows=()
for rep in 1 2 3; do
  "$B/hir" bench --url "http://127.0.0.1:$wport" --model fmnist-small -n "$N" --concurrency "$C" --report "$tmp/d$rep.json" >/dev/null || echo "  (some direct requests failed; figures kept)"
  "$B/hir" bench --url "http://127.0.0.1:$rport" --model fmnist -n "$N" --concurrency "$C" --report "$tmp/r$rep.json" >/dev/null || echo "  (some routed requests failed; figures kept)"
  d_rps=$(field "$tmp/d$rep.json" rps); r_rps=$(field "$tmp/r$rep.json" rps)
  d_p50=$(field "$tmp/d$rep.json" p50_ms); r_p50=$(field "$tmp/r$rep.json" p50_ms)
  d_p99=$(field "$tmp/d$rep.json" p99_ms); r_p99=$(field "$tmp/r$rep.json" p99_ms)
  row=$(awk -v a="$d_rps" -v b="$r_rps" -v c="$d_p50" -v d="$r_p50" -v e="$d_p99" -v f="$r_p99" -v r="$rep" \
    'BEGIN{printf "{\"rep\":%d,\"direct_rps\":%s,\"router_rps\":%s,\"throughput_ratio\":%.3f,\"direct_p50_ms\":%s,\"router_p50_ms\":%s,\"added_p50_ms\":%.3f,\"direct_p99_ms\":%s,\"router_p99_ms\":%s,\"added_p99_ms\":%.3f}", r,a,b,b/a,c,d,d-c,e,f,f-e}')
  echo "  $row"
  rows+=("$row")
done
mkdir -p bench/results
out="bench/results/router-vs-direct-$(date -u +%Y%m%dT%H%M%SZ).json"
{ echo "{\"requests\":$N,\"concurrency\":$C,\"runs\":["; (IFS=,; echo "${rows[*]}"); echo "]}"; } > "$out"
echo "bench: wrote $out"

# Micro-benchmarks (Google Benchmark): routing decision time, simulator throughput, and the codec,
# cache and int8 kernel (codec_bench), when the build folder has them (see docs/PERFORMANCE.md
# for full runs with repetitions).
for mb in routing_bench sim_bench codec_bench; do
  if [ -x "$B/$mb" ]; then
    echo "bench: $mb"
    "$B/$mb" --benchmark_min_time=0.2
  fi
done
