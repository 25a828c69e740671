#!/usr/bin/env bash
# hir serve side by side with nginx and HAProxy, in one run on this machine (issue 6, item 1).
#
# One backend, hir-worker serving fmnist-tiny (1 I/O thread, 1 inference thread), is measured
# with wrk and the same v2 request (bench/wrk/infer.lua; a JSON body and a binary-extension body
# of one real Fashion-MNIST test image) through:
#   direct   the backend itself
#   floor    bench/floor_relay.cc: each connection relayed byte for byte to one of its own to the
#            backend, one read and one write per direction, nothing parsed. No proxy can do less,
#            so what it adds is the machine's floor under every proxy's figures (its wake-ups
#            and loopback TCP), not a competitor
#   nginx    nginx as a keep-alive reverse proxy (1 worker, upstream keepalive, access_log off)
#   haproxy  HAProxy (nbthread 1, http-reuse always, no logging)
#   hir      hir serve routing to it (1 I/O thread; routing, metrics and JSON request logs at
#            their default level, all on)
#   hirb     hir serve as `hir`, with batching on (`batching: {max_requests: 32}`,
#            docs/batching.md): requests that wait for the busy backend go to it merged into one
#            call
#   hir3     hir serve routing among 3 replicas (3 hir-worker processes, the first being the
#            backend above)
#   hirp     hir serve as `hir`, with busy polling (`server: {busy_poll_us: 200}`,
#            docs/configuration.md): at -c1 only, since it is a setting for latency at low load
#            that spends a core while it polls; left out of the interleaved probe below, where its
#            polling would take a core from the targets timed right after it
#   haproxyp HAProxy as above with its `busy-polling` option, at -c1 only; it polls for as long
#            as it runs, so it is started for its own run and stopped after it
#   directp  the backend itself while a shell loop keeps one core busy, at -c1 only: the baseline
#            of hirp and haproxyp. On a virtual machine a polling process keeps its virtual CPU
#            from sleeping, and every process on the machine is woken faster for it (direct -c1
#            throughput doubled here, docs/perf/proxy.md "Busy polling"), so their hop is what
#            they add to a path that has that core busy too
# at -c1, -c64 and -c256 (wrk -t1), REPS repetitions with the targets' order rotated each
# repetition, so that the machine's noise hits them alike. Every figure is a ratio or a
# difference against the direct run of the same repetition, or a proxy's own CPU time per
# request (utime+stime from /proc/PID/stat), so figures carry over between runs better than
# requests per second do.
#
#   bench/compare.sh [BUILD_DIR]
#   DURATION=10 REPS=3 CONNS="1 64 256" BODIES="json binary" HOP_ROUNDS=20000 bench/compare.sh build
#
# Then, one request in flight, interleaved: bench/hop_latency.cc (built as hop_latency) sends the
# same request to every target in turn, HOP_ROUNDS rounds per body (0: skip), and writes
# bench/results/hop-<UTC time>.json with each target's added latency per hop against direct.
#
# Prints a summary table (median and min–max over the repetitions) and writes
# bench/results/compare-<UTC time>.json with the machine, every run and the summary.
# Needs wrk, nginx and haproxy (scripts/install-deps.sh --bench). Only 127.0.0.1 is used.
set -euo pipefail

B=${1:-build}
DURATION=${DURATION:-10}
REPS=${REPS:-3}
CONNS=${CONNS:-"1 64 256"}
BODIES=${BODIES:-"json binary"}
TARGETS=(direct floor nginx haproxy hir hirb hir3 hirp)
BUSY_POLL_US=${BUSY_POLL_US:-200}

cd "$(dirname "$0")/.."
root=$PWD
for tool in wrk nginx haproxy; do
  command -v "$tool" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
  command -v "$tool" >/dev/null 2>&1 || { echo "compare: $tool is missing: run scripts/install-deps.sh --bench" >&2; exit 1; }
done
for bin in hir hir-worker floor_relay; do
  [ -x "$B/$bin" ] || { echo "compare: $B/$bin is missing: build it first (make build)" >&2; exit 1; }
done
B=$(cd "$B" && pwd)

NAME=compare
. bench/lib.sh  # the working directory is the repository root (above)
bench_setup

# --- bodies ------------------------------------------------------------------------------------
bench/wrk/make-bodies.pl examples/fmnist-request.json "$tmp"
hlen=$(cat "$tmp/infer.bin.hlen")

# --- backends: three hir-workers, the first is "the backend" -----------------------------------
wports=(); wpids=()
for i in 1 2 3; do
  "$B/hir-worker" --model-repository models --models fmnist-tiny --concurrency 1 --threads 1 \
    --queue-depth 4096 --port 0 --port-file "$tmp/w$i.port" --log-level warn 2>"$tmp/worker$i.log" &
  pids+=($!); wpids+=($!)
done
for i in 1 2 3; do wports+=("$(wait_file "$tmp/w$i.port")"); done
for i in 0 1 2; do
  for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:${wports[$i]}/v2/health/ready" >/dev/null 2>&1 && break; sleep 0.1
  done
done
wport=${wports[0]}

# --- nginx: 1 worker, keep-alive upstream -------------------------------------------------------
nport=$(free_port)
start_nginx "$nport" "$wport"; nginx_pid=$started

# --- HAProxy: 1 thread, connection reuse ---------------------------------------------------------
hport=$(free_port)
start_haproxy "$hport" "$wport"; haproxy_pid=$started

# HAProxy with busy polling, for its own -c1 runs only (it polls as long as it runs).
hpport=$(free_port)
sed "s/^  nbthread 1$/  nbthread 1\n  busy-polling/; s/bind 127.0.0.1:$hport/bind 127.0.0.1:$hpport/" \
  "$tmp/haproxy.cfg" > "$tmp/haproxyp.cfg"
grep -q busy-polling "$tmp/haproxyp.cfg" || { echo "compare: could not write haproxyp.cfg" >&2; exit 1; }

# --- the floor: a byte relay, one backend connection per client connection ----------------------
"$B/floor_relay" --backend "$wport" --port-file "$tmp/floor.port" 2>"$tmp/floor.log" &
pids+=($!); floor_pid=$!
fport=$(wait_file "$tmp/floor.port")

# --- hir serve: single target, and 3 replicas ----------------------------------------------------
write_router_yaml() {  # FILE [--batching | --busy-poll] PORT...
  local file=$1; shift
  local names=() i=0 p batching="" poll=""
  if [ "$1" = --batching ]; then batching=1; shift; fi
  if [ "$1" = --busy-poll ]; then poll=", busy_poll_us: $BUSY_POLL_US"; shift; fi
  {
    echo "server: {host: 127.0.0.1, port: 0, threads: 1$poll}"
    [ -z "$batching" ] || echo "batching: {max_requests: 32}"
    echo "targets:"
    for p in "$@"; do
      i=$((i + 1)); names+=("w$i")
      echo "  - {name: w$i, url: \"http://127.0.0.1:$p\", class: edge-cpu, concurrency: 1, queue_capacity: 4096}"
    done
    echo "models:"
    echo "  - name: fmnist-tiny"
    echo "    max_batch_size: 256"
    echo "    inputs: [{name: input, datatype: FP32, shape: [784]}]"
    echo "    outputs: [{name: probabilities, datatype: FP32, shape: [10]}]"
    echo "    variants: [{name: fmnist-tiny, targets: [$(IFS=,; echo "${names[*]}" | sed 's/,/, /g')], accuracy: 0.8586}]"
  } > "$file"
}
write_router_yaml "$tmp/hir.yaml" "$wport"
write_router_yaml "$tmp/hirb.yaml" --batching "$wport"
write_router_yaml "$tmp/hir3.yaml" "${wports[@]}"
write_router_yaml "$tmp/hirp.yaml" --busy-poll "$wport"
"$B/hir" serve --config "$tmp/hir.yaml" --port 0 --port-file "$tmp/hir.port" 2>"$tmp/hir.log" &
pids+=($!); hir_pid=$!
"$B/hir" serve --config "$tmp/hirb.yaml" --port 0 --port-file "$tmp/hirb.port" 2>"$tmp/hirb.log" &
pids+=($!); hirb_pid=$!
"$B/hir" serve --config "$tmp/hir3.yaml" --port 0 --port-file "$tmp/hir3.port" 2>"$tmp/hir3.log" &
pids+=($!); hir3_pid=$!
"$B/hir" serve --config "$tmp/hirp.yaml" --port 0 --port-file "$tmp/hirp.port" 2>"$tmp/hirp.log" &
pids+=($!); hirp_pid=$!
rport=$(wait_file "$tmp/hir.port"); rbport=$(wait_file "$tmp/hirb.port"); r3port=$(wait_file "$tmp/hir3.port")
rpport=$(wait_file "$tmp/hirp.port")

declare -A url pid
url[direct]=http://127.0.0.1:$wport;   pid[direct]=""
url[floor]=http://127.0.0.1:$fport;    pid[floor]=$floor_pid
url[nginx]=http://127.0.0.1:$nport;    pid[nginx]=$nginx_pid
url[haproxy]=http://127.0.0.1:$hport;  pid[haproxy]=$haproxy_pid
url[hir]=http://127.0.0.1:$rport;      pid[hir]=$hir_pid
url[hirb]=http://127.0.0.1:$rbport;    pid[hirb]=$hirb_pid
url[hir3]=http://127.0.0.1:$r3port;    pid[hir3]=$hir3_pid
url[hirp]=http://127.0.0.1:$rpport;    pid[hirp]=$hirp_pid
url[haproxyp]=http://127.0.0.1:$hpport; pid[haproxyp]=""  # set while it runs
url[directp]=${url[direct]};           pid[directp]=""

# Every path must answer 200 before anything is timed.
for t in "${TARGETS[@]}"; do
  code=$(curl -s -o "$tmp/check-$t.out" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    --data-binary @"$tmp/infer.json" "${url[$t]}/v2/models/fmnist-tiny/infer" || true)
  [ "$code" = 200 ] || { echo "compare: $t answered $code: $(head -c 300 "$tmp/check-$t.out")" >&2; exit 1; }
done

# run_wrk TARGET BODY CONNS SECONDS -> "WRKRESULT ..." plus the CPU ticks of proxy and backends.
run_wrk() {
  local t=$1 body=$2 c=$3 secs=$4 file hl="" p0 p1 b0 b1 out
  if [ "$body" = binary ]; then file=$tmp/infer.bin; hl=$hlen; else file=$tmp/infer.json; fi
  p0=$( [ -n "${pid[$t]}" ] && cpu_ticks "${pid[$t]}" || echo 0)
  b0=$(cpu_ticks "${wpids[@]}")
  out=$(WRK_BODY=$file WRK_HEADER_LEN=$hl WRK_MODEL=fmnist-tiny \
        wrk -t1 -c"$c" -d"${secs}s" --timeout 10s -s bench/wrk/infer.lua "${url[$t]}" | grep '^WRKRESULT' || true)
  p1=$( [ -n "${pid[$t]}" ] && cpu_ticks "${pid[$t]}" || echo 0)
  b1=$(cpu_ticks "${wpids[@]}")
  [ -n "$out" ] || { echo "compare: wrk gave no result for $t" >&2; exit 1; }
  echo "$out proxy_ticks=$((p1 - p0)) backend_ticks=$((b1 - b0))"
}
# run_target TARGET BODY CONNS SECONDS: sets R to run_wrk's result, with haproxyp started for
# the run and directp timed while a shell loop keeps a core busy. Called in this shell, not in a
# command substitution, so that a failure stops the script (set -e) and the exit trap stops
# whatever it started (both are in `pids` while they run).
run_target() {
  local t=$1 helper=""
  case $t in
    directp) (while :; do :; done) & helper=$! ;;
    haproxyp) haproxy -db -f "$tmp/haproxyp.cfg" >>"$tmp/haproxyp.log" 2>&1 & helper=$!; pid[haproxyp]=$helper ;;
  esac
  [ -z "$helper" ] || pids+=("$helper")
  [ "$t" != haproxyp ] || wait_listen "$hpport" "$tmp/haproxyp.log" "$helper"
  R=$(run_wrk "$@")
  if [ -n "$helper" ]; then
    kill "$helper"; wait "$helper" 2>/dev/null || true
    local keep=() p
    for p in "${pids[@]}"; do [ "$p" = "$helper" ] || keep+=("$p"); done
    pids=("${keep[@]}")
  fi
}
kv() { sed -E "s/.*[ ]$1=([^ ]+).*/\1/" <<<" $2"; }

clk=$(getconf CLK_TCK)
cpu_model=$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)
# How an idle CPU sleeps moves every -c1 figure (docs/perf/proxy.md, "Nineteenth pass"): on a
# virtual machine with the haltpoll driver and guest_halt_poll_ns 0, each wake-up of an idle
# virtual CPU goes through the hypervisor. Recorded with the run, not changed by it.
cpuidle=$(cat /sys/devices/system/cpu/cpuidle/current_driver 2>/dev/null || echo unknown)
[ -r /sys/module/haltpoll/parameters/guest_halt_poll_ns ] &&
  cpuidle="$cpuidle, guest_halt_poll_ns $(cat /sys/module/haltpoll/parameters/guest_halt_poll_ns)"
echo "compare: $(nproc) cores ($cpu_model), Linux $(uname -r), cpuidle $cpuidle; wrk -t1 -d${DURATION}s at -c{${CONNS// /,}}, bodies {${BODIES// /,}}, $REPS repetitions"
echo "compare: backend hir-worker fmnist-tiny on :$wport (+2 replicas :${wports[1]} :${wports[2]}); floor :$fport, nginx :$nport, haproxy :$hport, hir :$rport, hirb :$rbport, hir3 :$r3port, hirp :$rpport"

# Warm-up: connection pools, the router's estimators, caches of the kernel.
for t in "${TARGETS[@]}"; do for body in $BODIES; do run_wrk "$t" "$body" 64 1 >/dev/null; done; done

runs="$tmp/runs.tsv"
: > "$runs"
for rep in $(seq "$REPS"); do
  order=()
  for i in "${!TARGETS[@]}"; do order+=("${TARGETS[$(((i + rep - 1) % ${#TARGETS[@]}))]}"); done
  for body in $BODIES; do
    for c in $CONNS; do
      extra=()
      [ "$c" != 1 ] || { [ $((rep % 2)) = 1 ] && extra=(directp haproxyp) || extra=(haproxyp directp); }
      for t in "${order[@]}" "${extra[@]}"; do
        [ "$t" != hirp ] || [ "$c" = 1 ] || continue  # busy polling: at -c1 only (above)
        run_target "$t" "$body" "$c" "$DURATION"
        r=$R
        n=$(kv requests "$r")
        sock=$(( $(kv connect "$r") + $(kv read "$r") + $(kv write "$r") + $(kv timeout "$r") ))
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$body" "$c" "$t" \
          "$(kv rps "$r")" "$(kv p50_us "$r")" "$(kv p99_us "$r")" "$n" "$sock" "$(kv status "$r")" \
          "$(kv proxy_ticks "$r")" "$(kv backend_ticks "$r")" >> "$runs"
        printf 'compare: rep %s %-6s -c%-3s %-7s %9.0f req/s  p50 %7.3f ms  p99 %7.3f ms  errors %s/%s\n' \
          "$rep" "$body" "$c" "$t" "$(kv rps "$r")" "$(awk -v x="$(kv p50_us "$r")" 'BEGIN{print x/1000}')" \
          "$(awk -v x="$(kv p99_us "$r")" 'BEGIN{print x/1000}')" "$sock" "$(kv status "$r")"
      done
    done
  done
done

# --- one request in flight, interleaved --------------------------------------------------------
# wrk -c1 times each target for DURATION seconds in turn, and the machine's floor drifts between
# those runs by as much as a hop costs. bench/hop_latency.cc sends the same request to every
# target in turn, round after round (in an order shuffled every round: a proxy that runs right
# after another proxy reads a few µs more than after itself, so no target may keep one
# predecessor), and reports each one's added latency as the median of its per-round difference
# from direct, also by the target that ran just before it ("after" in the JSON).
mkdir -p bench/results
stamp=$(date -u +%Y%m%dT%H%M%SZ)
HOP_ROUNDS=${HOP_ROUNDS:-20000}
if [ "$HOP_ROUNDS" -gt 0 ] && [ -x "$B/hop_latency" ]; then
  hop_args=()
  for t in "${TARGETS[@]}"; do [ "$t" = hirp ] || hop_args+=("$t=${url[$t]##*:}"); done
  hop_out="bench/results/hop-$stamp.json"
  printf '{"rounds":%s,"bodies":{' "$HOP_ROUNDS" > "$hop_out"
  sep=""
  for body in $BODIES; do
    if [ "$body" = binary ]; then f=$tmp/infer.bin; hl=(--header-len "$hlen"); else f=$tmp/infer.json; hl=(); fi
    echo "compare: -c1 interleaved, $body body, $HOP_ROUNDS rounds"
    "$B/hop_latency" --body "$f" "${hl[@]}" --rounds "$HOP_ROUNDS" --json "$tmp/hop-$body.json" "${hop_args[@]}"
    printf '%s"%s":%s' "$sep" "$body" "$(cat "$tmp/hop-$body.json")" >> "$hop_out"
    sep=","
  done
  echo "}}" >> "$hop_out"
  echo "compare: wrote $hop_out"
fi

# --- summary and JSON -----------------------------------------------------------------------------
out="bench/results/compare-$stamp.json"
hir_version=$("$B/hir" --version 2>/dev/null | head -1 || echo unknown)
awk -F'\t' -v clk="$clk" -v out="$out" -v reps="$REPS" -v dur="$DURATION" \
    -v nproc="$(nproc)" -v cpumodel="$cpu_model" -v kernel="$(uname -r)" -v cpuidle="$cpuidle" -v stamp="$stamp" \
    -v nginxv="$(nginx -v 2>&1 | sed 's/.*: //')" -v haproxyv="$(haproxy -v | awk 'NR==1{print $3}')" \
    -v wrkv="$(wrk -v 2>&1 | awk 'NR==1{print $2}')" -v hirv="$hir_version" \
    -v conns="$CONNS" -v bodies="$BODIES" -f bench/wrk/summarize.awk "$runs"
echo "compare: wrote $out"
if grep -q '"errors_total":[1-9]' "$out"; then
  echo "compare: some requests failed (see errors in $out; KEEP_TMP=1 keeps the logs)" >&2
fi
