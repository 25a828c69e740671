#!/usr/bin/env bash
# 10,000 concurrent requests held against hir serve (issue 6, item 2).
#
# hir serve (1 I/O thread, routing, metrics and logs at their defaults) routes among WORKERS
# hir-worker processes serving fmnist-tiny that hold every answer for RTT_MS on a timer
# (--emulate-rtt-ms: a far-away endpoint; no inference thread is held), so the requests stay in
# flight. wrk -t2 -c$CONNS keeps CONNS connections each with one request outstanding for
# DURATION seconds. Meanwhile the router's VmRSS, VmHWM, open descriptors and
# hir_http_connections are sampled every second.
#
#   bench/c10k.sh [BUILD_DIR]
#   CONNS=10000 DURATION=30 RTT_MS=1000 WORKERS=3 BODY=binary bench/c10k.sh build
#
# With BATCH=N (N >= 2; default off) hir merges the requests that wait for a busy worker, up to
# N per call (`batching: {max_requests: N}`, docs/batching.md), and each worker is declared with
# CONCURRENCY calls at once (default 4096, at which nothing ever waits; with batching, e.g.
# BATCH=32 CONCURRENCY=64, most requests wait and go merged).
#
# Needs a hard descriptor limit of about 2 × CONNS + 1024 per process (each request in flight
# holds a client and an upstream socket in the router): the script raises the soft limit, and the
# hard one when it may (root with CAP_SYS_RESOURCE); otherwise it warns and runs with what it has. Writes bench/results/c10k-<UTC time>.json. Exits 1
# when any request failed or the router's RSS reached 200 MB (the issue's goals).
set -euo pipefail

B=${1:-build}
CONNS=${CONNS:-10000}
DURATION=${DURATION:-30}
RTT_MS=${RTT_MS:-1000}
WORKERS=${WORKERS:-3}
BODY=${BODY:-binary}
BATCH=${BATCH:-0}
CONCURRENCY=${CONCURRENCY:-4096}

cd "$(dirname "$0")/.."
command -v wrk >/dev/null 2>&1 || { echo "c10k: wrk is missing: run scripts/install-deps.sh --bench" >&2; exit 1; }
for bin in hir hir-worker; do
  [ -x "$B/$bin" ] || { echo "c10k: $B/$bin is missing: build it first (make build)" >&2; exit 1; }
done

# The router holds two descriptors per request in flight (the client's socket and one upstream
# connection: HTTP/1.1 carries one request at a time), so it needs 2 × CONNS and some; every
# process started here inherits the limit.
need=$((CONNS * 2 + 1024))
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
  if ulimit -Hn "$need" 2>/dev/null; then hard=$need; else
    echo "c10k: WARNING: the hard descriptor limit is $hard and cannot be raised here (no CAP_SYS_RESOURCE);" \
         "the router needs about $need for $CONNS requests in flight: running with $hard" >&2
    need=$hard
  fi
fi
ulimit -n "$need"

NAME=c10k
. bench/lib.sh  # the working directory is the repository root (above)
bench_setup

bench/wrk/make-bodies.pl examples/fmnist-request.json "$tmp"

wports=()
for i in $(seq "$WORKERS"); do
  "$B/hir-worker" --model-repository models --models fmnist-tiny --concurrency 1 --threads 1 \
    --queue-depth 65536 --emulate-rtt-ms "$RTT_MS" --port 0 --port-file "$tmp/w$i.port" \
    --log-level warn 2>"$tmp/worker$i.log" &
  pids+=($!)
done
for i in $(seq "$WORKERS"); do wports+=("$(wait_file "$tmp/w$i.port")"); done

# The workers answer after RTT_MS whatever their load (a timer, not a thread), so each is declared
# with the concurrency it really has: thousands at once. Deadlines are raised above the time a
# request waits here in a closed loop (CONNS / throughput); everything else is hir's default.
{
  echo "server: {host: 127.0.0.1, port: 0, threads: 1, default_latency_budget_ms: 60000}"
  if [ "$BATCH" -ge 2 ]; then echo "batching: {max_requests: $BATCH, max_waiting: 65536}"; fi
  echo "targets:"
  for i in $(seq "$WORKERS"); do
    echo "  - {name: w$i, url: \"http://127.0.0.1:${wports[$((i - 1))]}\", class: cloud, concurrency: $CONCURRENCY, queue_capacity: 65536, timeout_ms: 60000, expected_rtt_ms: $RTT_MS}"
  done
  echo "models:"
  echo "  - name: fmnist-tiny"
  echo "    max_batch_size: 256"
  echo "    inputs: [{name: input, datatype: FP32, shape: [784]}]"
  echo "    outputs: [{name: probabilities, datatype: FP32, shape: [10]}]"
  echo "    variants: [{name: fmnist-tiny, targets: [$(seq -s, -f 'w%g' "$WORKERS" | sed 's/,/, /g')], accuracy: 0.8586}]"
} > "$tmp/hir.yaml"
"$B/hir" serve --config "$tmp/hir.yaml" --port 0 --port-file "$tmp/hir.port" 2>"$tmp/hir.log" &
pids+=($!); hir_pid=$!
rport=$(wait_file "$tmp/hir.port")
for i in $(seq "$WORKERS"); do
  for _ in $(seq 300); do curl -sf "http://127.0.0.1:${wports[$((i - 1))]}/v2/health/ready" >/dev/null 2>&1 && break; sleep 0.1; done
done
code=$(curl -s -o "$tmp/check.out" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  --data-binary @"$tmp/infer.json" "http://127.0.0.1:$rport/v2/models/fmnist-tiny/infer" || true)
[ "$code" = 200 ] || { echo "c10k: hir answered $code: $(head -c 300 "$tmp/check.out")" >&2; exit 1; }

if [ "$BODY" = binary ]; then file=$tmp/infer.bin; hl=$(cat "$tmp/infer.bin.hlen"); else file=$tmp/infer.json; hl=""; fi
batch_note=""; [ "$BATCH" -ge 2 ] && batch_note=", batching up to $BATCH per call"
echo "c10k: $(nproc) cores, Linux $(uname -r), descriptors $(ulimit -n); wrk -t2 -c$CONNS -d${DURATION}s ($BODY body) -> hir :$rport -> $WORKERS workers (concurrency $CONCURRENCY$batch_note), emulated RTT $RTT_MS ms"
WRK_BODY=$file WRK_HEADER_LEN=$hl WRK_MODEL=fmnist-tiny \
  wrk -t2 -c"$CONNS" -d"${DURATION}s" --timeout 60s -s bench/wrk/infer.lua "http://127.0.0.1:$rport" \
  >"$tmp/wrk.out" 2>&1 &
wrk_pid=$!; pids+=("$wrk_pid")

# Sample the router once a second while wrk runs.
: > "$tmp/samples.tsv"
while kill -0 "$wrk_pid" 2>/dev/null; do
  if [ -r "/proc/$hir_pid/status" ]; then
    rss=$(awk '/^VmRSS/{print $2}' "/proc/$hir_pid/status"); hwm=$(awk '/^VmHWM/{print $2}' "/proc/$hir_pid/status")
    fds=$( (ls "/proc/$hir_pid/fd" 2>/dev/null || true) | wc -l)
    # /metrics may be slow to answer under this load: a miss is recorded as NA.
    curl -s -m 2 -o "$tmp/metrics.txt" "http://127.0.0.1:$rport/metrics" 2>/dev/null || : > "$tmp/metrics.txt"
    conns=$(awk '/^hir_http_connections /{print $2}' "$tmp/metrics.txt")
    inflight=$(awk '/^hir_requests_in_flight /{print $2}' "$tmp/metrics.txt")
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(date +%s)" "$rss" "$hwm" "$fds" "${conns:-NA}" "${inflight:-NA}" >> "$tmp/samples.tsv"
    printf 'c10k: router VmRSS %6d kB  VmHWM %6d kB  fds %5d  connections %s  in flight %s\n' "$rss" "$hwm" "$fds" "${conns:-?}" "${inflight:-?}"
  else
    echo "c10k: the router is gone (see its log below)"; break
  fi
  sleep 1
done
wait "$wrk_pid" || true
# The router's own count of what it answered (refusals are not in its request log).
curl -s -m 10 -o "$tmp/metrics-end.txt" "http://127.0.0.1:$rport/metrics" 2>/dev/null || : > "$tmp/metrics-end.txt"
counters=$(grep -E '^hir_(requests_total|shed_total|attempt_failures_total|fallbacks_total|batch_calls_total|batched_requests_total)' "$tmp/metrics-end.txt" |
  awk '{gsub(/"/, "\\\"", $1); printf "%s\"%s\":%s", (NR>1?",":""), $1, $2}' || true)
echo "c10k: router counters at the end:"; grep -E '^hir_(requests_total|shed_total|attempt_failures_total)' "$tmp/metrics-end.txt" || true
alive=true; kill -0 "$hir_pid" 2>/dev/null || alive=false
hwm_end=$(awk '/^VmHWM/{print $2}' "/proc/$hir_pid/status" 2>/dev/null || echo 0)
cat "$tmp/wrk.out"
res=$(grep '^WRKRESULT' "$tmp/wrk.out" || true)
[ -n "$res" ] || { echo "c10k: wrk gave no result"; exit 1; }
kv() { sed -E "s/.*[ ]$1=([^ ]+).*/\1/" <<<" $2"; }

# What the router logged besides successful requests, by event (first line of each kept).
grep -v '"event":"request".*"status":200' "$tmp/hir.log" | sed -E 's/.*"event":"([^"]*)".*/\1/' | sort | uniq -c | sort -rn > "$tmp/events.txt" || true
echo "c10k: router log events other than 200 answers:"; cat "$tmp/events.txt"
for ev in $(awk '{print $2}' "$tmp/events.txt"); do grep -m1 "\"event\":\"$ev\"" "$tmp/hir.log" | cut -c1-400; done

mkdir -p bench/results
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out="bench/results/c10k-$stamp.json"
max_rss=$(awk -F'\t' 'BEGIN{m=0}{if($2>m)m=$2}END{print m}' "$tmp/samples.tsv")
max_hwm=$(awk -F'\t' -v e="$hwm_end" 'BEGIN{m=e+0}{if($3>m)m=$3}END{print m}' "$tmp/samples.tsv")
max_fds=$(awk -F'\t' 'BEGIN{m=0}{if($4>m)m=$4}END{print m}' "$tmp/samples.tsv")
max_conns=$(awk -F'\t' 'BEGIN{m=0}{if($5!="NA" && $5+0>m)m=$5+0}END{print m}' "$tmp/samples.tsv")
max_inflight=$(awk -F'\t' 'BEGIN{m=0}{if($6!="NA" && $6+0>m)m=$6+0}END{print m}' "$tmp/samples.tsv")
sock=$(( $(kv connect "$res") + $(kv read "$res") + $(kv write "$res") + $(kv timeout "$res") ))
non2xx=$(kv status "$res")
events=$(awk '{printf "%s\"%s\":%d", (NR>1?",":""), $2, $1}' "$tmp/events.txt")
samples=$(awk -F'\t' '{printf "%s[%s,%s,%s,%s,%s,%s]", (NR>1?",":""), $1, $2, $3, $4, ($5=="NA"?"null":$5), ($6=="NA"?"null":$6)}' "$tmp/samples.tsv")
cat > "$out" <<EOF
{
  "benchmark": "bench/c10k.sh",
  "date": "$stamp",
  "machine": {"nproc": $(nproc), "cpu_model": "$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)", "kernel": "$(uname -r)"},
  "load": {"tool": "wrk -t2 -c$CONNS -d${DURATION}s --timeout 60s -s bench/wrk/infer.lua", "body": "$BODY", "conns": $CONNS, "duration_s": $DURATION, "fd_limit": $(ulimit -n)},
  "backends": {"workers": $WORKERS, "emulate_rtt_ms": $RTT_MS, "flags": "--models fmnist-tiny --concurrency 1 --threads 1 --queue-depth 65536", "declared_concurrency": $CONCURRENCY},
  "batching": {"max_requests": $([ "$BATCH" -ge 2 ] && echo "$BATCH" || echo 1)},
  "result": {"requests": $(kv requests "$res"), "rps": $(kv rps "$res"), "p50_ms": $(awk -v x="$(kv p50_us "$res")" 'BEGIN{print x/1000}'), "p99_ms": $(awk -v x="$(kv p99_us "$res")" 'BEGIN{print x/1000}'), "max_ms": $(awk -v x="$(kv max_us "$res")" 'BEGIN{print x/1000}'),
             "socket_errors": {"connect": $(kv connect "$res"), "read": $(kv read "$res"), "write": $(kv write "$res"), "timeout": $(kv timeout "$res")}, "non2xx": $non2xx},
  "router": {"alive_at_end": $alive, "max_vmrss_kb": $max_rss, "vmhwm_kb": $max_hwm, "max_open_fds": $max_fds, "max_http_connections": $max_conns, "max_requests_in_flight": $max_inflight,
             "log_events_besides_200": {$events}, "counters_at_end": {$counters}},
  "samples_columns": ["unix_time", "vmrss_kb", "vmhwm_kb", "open_fds", "hir_http_connections", "hir_requests_in_flight"],
  "samples": [$samples],
  "goals": {"zero_errors": $([ $((sock + non2xx)) = 0 ] && echo true || echo false), "rss_under_200mb": $([ "$max_hwm" -lt 204800 ] && echo true || echo false)}
}
EOF
echo "c10k: requests $(kv requests "$res"), $(kv rps "$res") req/s, p50 $(kv p50_us "$res") µs, p99 $(kv p99_us "$res") µs; socket errors $sock, non-2xx $non2xx"
echo "c10k: router VmHWM $max_hwm kB, max VmRSS $max_rss kB, max fds $max_fds, max connections $max_conns, max in flight $max_inflight; alive $alive"
echo "c10k: wrote $out"
[ $((sock + non2xx)) = 0 ] && [ "$max_hwm" -lt 204800 ] && $alive
