# Shared by bench/compare.sh and bench/c10k.sh (sourced, not run). The caller sets NAME (its
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
