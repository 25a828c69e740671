#!/usr/bin/env bash
# The -c1 hop with the virtual CPUs' idle polling as found and on. On a KVM guest whose cpuidle
# driver is haltpoll, guest_halt_poll_ns is how long an idle virtual CPU polls before it halts;
# at 0 every wake-up of an idle CPU goes through the hypervisor, which is most of a -c1 hop
# on such a machine (docs/perf/proxy.md, "Nineteenth pass"). This script starts the backend,
# the byte relay, nginx, HAProxy and hir serve (one target, no batching) as bench/compare.sh
# does, then runs hop_latency across them three times per body: with the setting as found, at
# POLL, and as found again. The setting is the machine's: it is put back on any exit. Beside each
# run's hops it prints each proxy's CPU time per request it served, user and system apart
# (/proc/PID/stat, all threads and children; clock ticks, so a run of 8,000 rounds resolves
# about 1 µs): where a proxy's own work shows, as against the kernel's.
#
#   bench/idle_poll.sh [BUILD]                       BUILD defaults to build-rel; as root
#   ROUNDS=8000 POLL=200000 bench/idle_poll.sh build-rel
#   HIR_BASE=/tmp/old/hir bench/idle_poll.sh build-rel   another hir build beside this one
#                                                        (named hir_base), on the same backend
#
# Writes bench/results/idle-poll-<UTC time>.json. Not part of `make test` or `make bench`.
set -euo pipefail
cd "$(dirname "$0")/.."
NAME=idle_poll
. bench/lib.sh

B=${1:-build-rel}
ROUNDS=${ROUNDS:-8000}
WARMUP=1000
hz=$(getconf CLK_TCK)
POLL=${POLL:-200000}
knob=/sys/module/haltpoll/parameters/guest_halt_poll_ns
for f in hir hir-worker floor_relay hop_latency; do
  [ -x "$B/$f" ] || { echo "idle_poll: $B/$f is missing (ninja -C $B hir hir-worker floor_relay hop_latency)" >&2; exit 2; }
done
[ -w "$knob" ] || { echo "idle_poll: $knob is not there or not writable (a KVM guest with the haltpoll cpuidle driver, as root)" >&2; exit 2; }
command -v nginx >/dev/null && command -v haproxy >/dev/null ||
  { echo "idle_poll: nginx and haproxy are needed (scripts/install-deps.sh --bench)" >&2; exit 2; }
[[ "$POLL" =~ ^[0-9]+$ ]] || { echo "idle_poll: POLL is a number of nanoseconds" >&2; exit 2; }

found=$(cat "$knob")
bench_setup
trap 'echo "$found" > "$knob"; bench_cleanup' EXIT
bench/wrk/make-bodies.pl examples/fmnist-request.json "$tmp" >/dev/null
bench_one_target "$B/hir-worker" "$tmp/hir.yaml"
declare -A proc  # each proxy's process, for its CPU time
"$B/floor_relay" --backend "$wport" --port 0 --port-file "$tmp/f.port" &
pids+=($!) proc[floor]=$!
"$B/hir" serve --config "$tmp/hir.yaml" --port 0 --port-file "$tmp/h.port" --log-level info 2>"$tmp/hir.log" >/dev/null &
pids+=($!) proc[hir]=$!
nport=$(free_port)
start_nginx "$nport" "$wport"
proc[nginx]=$started
hport=$(free_port)
start_haproxy "$hport" "$wport"
proc[haproxy]=$started
targets=(direct="$wport" floor="$(wait_file "$tmp/f.port")" nginx="$nport" haproxy="$hport" hir="$(wait_file "$tmp/h.port")")
if [ -n "${HIR_BASE:-}" ]; then
  [ -x "$HIR_BASE" ] || { echo "idle_poll: HIR_BASE $HIR_BASE is not an executable" >&2; exit 2; }
  "$HIR_BASE" serve --config "$tmp/hir.yaml" --port 0 --port-file "$tmp/hb.port" --log-level info 2>"$tmp/hir-base.log" >/dev/null &
  pids+=($!) proc[hir_base]=$!
  targets+=(hir_base="$(wait_file "$tmp/hb.port")")
fi

stamp=$(date -u +%Y%m%dT%H%M%SZ)
out="bench/results/idle-poll-$stamp.json"
echo "idle_poll: $(nproc) CPUs, cpuidle $(cat /sys/devices/system/cpu/cpuidle/current_driver), guest_halt_poll_ns $found as found; $ROUNDS rounds"
runs=""
for body in binary json; do
  if [ "$body" = json ]; then b=(--body "$tmp/infer.json"); else b=(--body "$tmp/infer.bin" --header-len "$(cat "$tmp/infer.bin.hlen")"); fi
  for ns in "$found" "$POLL" "$found"; do
    echo "$ns" > "$knob"
    echo "== $body body, guest_halt_poll_ns $ns"
    declare -A before=()
    for x in "${!proc[@]}"; do before[$x]=$(cpu_split "${proc[$x]}"); done
    "$B/hop_latency" "${b[@]}" --rounds "$ROUNDS" --warmup "$WARMUP" --json "$tmp/run.json" "${targets[@]}"
    # Each proxy's CPU time over the run (warm-up included: every request it served), per request.
    cpu="" line=""
    for x in $(printf '%s\n' "${!proc[@]}" | sort); do
      read -r u0 s0 <<<"${before[$x]}"
      read -r u1 s1 < <(cpu_split "${proc[$x]}")
      us=$(awk -v t=$((u1 - u0)) -v n=$((ROUNDS + WARMUP)) -v hz="$hz" 'BEGIN {printf "%.1f", t / hz * 1e6 / n}')
      sy=$(awk -v t=$((s1 - s0)) -v n=$((ROUNDS + WARMUP)) -v hz="$hz" 'BEGIN {printf "%.1f", t / hz * 1e6 / n}')
      cpu="$cpu${cpu:+, }\"$x\": {\"user_us\": $us, \"system_us\": $sy}"
      line="$line $x $us + $sy,"
    done
    echo "idle_poll: CPU per request, user + system µs:${line%,}"
    runs="$runs${runs:+,
    }{\"body\": \"$body\", \"guest_halt_poll_ns\": $ns, \"hop_latency\": $(cat "$tmp/run.json"), \"cpu_per_request\": {$cpu}}"
  done
done
cat > "$out" <<JSON
{
  "benchmark": "bench/idle_poll.sh",
  "date": "$stamp",
  "machine": {"nproc": $(nproc), "kernel": "$(uname -r)", "guest_halt_poll_ns_found": $found},
  "hir_base": "${HIR_BASE:-}",
  "rounds": $ROUNDS,
  "runs": [
    $runs
  ]
}
JSON
echo "idle_poll: wrote $out"
