# Shared by the scripts in bench/ (sourced, not run). The caller sets NAME (its
# name in messages) and appends the pid of every process it starts to the array `pids`.

# A fresh temporary folder in $tmp, removed at exit (kept with KEEP_TMP=1), and every process in
# `pids` stopped and reaped first, on any exit, Ctrl-C included.
bench_setup() {
  tmp=$(mktemp -d "/tmp/hir-$NAME-XXXXXX")
  pids=()
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}
bench_cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "${KEEP_TMP:-0}" = 1 ]; then echo "$NAME: logs kept in $tmp" >&2; else rm -rf "$tmp"; fi
}
# Prints the contents of FILE once a process has written it (a --port-file), or gives up.
wait_file() {
  for _ in $(seq 300); do [ -s "$1" ] && { cat "$1"; return; }; sleep 0.1; done
  echo "$NAME: $1 never appeared" >&2; exit 1
}
# WORKER (a hir-worker executable) serving fmnist-tiny with one thread, one request at a time, its
# port in $wport; then FILE, a router configuration with it as the one target. What bench/ab.sh
# and bench/hop_timeline.sh put behind the routers they compare.
bench_one_target() {  # WORKER FILE
  "$1" --model-repository models --models fmnist-tiny --concurrency 1 --threads 1 --queue-depth 4096 \
    --port 0 --port-file "$tmp/w.port" --log-level warn 2>"$tmp/worker.log" &
  pids+=($!)
  wport=$(wait_file "$tmp/w.port")
  cat >"$2" <<YAML
server: {host: 127.0.0.1, port: 0, threads: 1}
targets:
  - {name: w1, url: "http://127.0.0.1:$wport", class: edge-cpu, concurrency: 1, queue_capacity: 4096}
models:
  - name: fmnist-tiny
    max_batch_size: 256
    inputs: [{name: input, datatype: FP32, shape: [784]}]
    outputs: [{name: probabilities, datatype: FP32, shape: [10]}]
    variants: [{name: fmnist-tiny, targets: [w1], accuracy: 0.8586}]
YAML
}
