#!/usr/bin/env bash
# The router's instructions on a -c1 request's path, part by part: hir serve (one target, no
# batching) under callgrind with a profile dumped before every epoll_wait and sendmsg, driven by
# hop_latency one request at a time. Each profile then holds one stretch of the router's work:
#   request  from the client's request read to the upstream send (the routing decision is in it)
#   answer   from the upstream answer's read to the client send (the answer's edit is in it)
#   other    the work after a send and before the next sleep: off a -c1 request's path
#            (docs/perf/proxy.md, "Nineteenth pass")
# and the script prints the median and mean of each part's instructions. Counts do not drift
# with the machine's speed as times do, so two builds compare in separate runs.
#
#   bench/hop_parts.sh [BUILD]          # BUILD holds hir, hir-worker and hop_latency (build-rel)
#   BODY=json ROUNDS=300 bench/hop_parts.sh
#   KEEP_TMP=1 ...                      # keep the profiles (cg.*) for callgrind_annotate
#   PROXY=nginx bench/hop_parts.sh      # the same for nginx as bench/compare.sh starts it, run as
#                                       # one process (master_process off); its parts are told by
#                                       # its request phases and its upstream status line
#   LINES=1 bench/hop_parts.sh          # also each part's code lines: the distinct 64-byte lines
#                                       # of machine code it ran instructions in (median). At -c1
#                                       # a proxy runs after other processes, so its code comes
#                                       # from farther caches: how much of it a request runs
#                                       # through counts beside how many instructions
#                                       # (docs/perf/proxy.md, "Twenty-fifth pass")
#
# Not part of `make test` or `make bench`.
set -euo pipefail
cd "$(dirname "$0")/.."
NAME=hop_parts
. bench/lib.sh

B=${1:-build-rel}
BODY=${BODY:-binary}
ROUNDS=${ROUNDS:-300}
for tool in valgrind callgrind_annotate; do
  # valgrind is Debian's `valgrind` package, which scripts/install-deps.sh leaves out.
  command -v "$tool" >/dev/null || { echo "$NAME: $tool is missing (apt-get install valgrind)" >&2; exit 2; }
done
for f in hir hir-worker hop_latency; do
  [ -x "$B/$f" ] || { echo "$NAME: $B/$f is missing (ninja -C $B hir hir-worker hop_latency)" >&2; exit 2; }
done

bench_setup
bench/wrk/make-bodies.pl examples/fmnist-request.json "$tmp" >/dev/null
bench_one_target "$B/hir-worker" "$tmp/hir.yaml"
mkdir -p "$tmp/cg"
PROXY=${PROXY:-hir}
cg=(valgrind --tool=callgrind --dump-before=epoll_wait --dump-before=sendmsg --callgrind-out-file="$tmp/cg/cg.%p")
LINES=${LINES:-0}
# Costs by instruction address, each written in full (no relative or shared positions).
[ "$LINES" = 0 ] || cg+=(--dump-instr=yes --compress-pos=no --compress-strings=no)
if [ "$PROXY" = nginx ]; then
  # start_nginx's nginx, under callgrind and without a master process, so that one process does
  # all the work (exec: start_nginx's pid is valgrind's, which the cleanup stops); nginx writes
  # with writev (and may send), so profiles end before those too.
  nginx() {
    local a=()
    while [ $# -gt 0 ]; do
      if [ "$1" = -g ]; then a+=(-g "master_process off; $2"); shift 2; else a+=("$1"); shift; fi
    done
    exec "${cg[@]}" --dump-before=writev --dump-before=send --dump-before=sendto "$(type -P nginx)" "${a[@]}"
  }
  pport=$(free_port)
  start_nginx "$pport" "$wport"
  request_mark=ngx_http_core_access_phase answer_mark=ngx_http_parse_status_line
else
  "${cg[@]}" "$B/hir" serve --config "$tmp/hir.yaml" --port 0 --port-file "$tmp/h.port" --log-level info \
    2>"$tmp/hir.log" >/dev/null &
  pids+=($!)
  pport=$(wait_file "$tmp/h.port")
  request_mark='CoreRouting::decide' answer_mark=splice_response_header
fi
if [ "$BODY" = json ]; then b=(--body "$tmp/infer.json"); else b=(--body "$tmp/infer.bin" --header-len "$(cat "$tmp/infer.bin.hlen")"); fi
"$B/hop_latency" "${b[@]}" --rounds "$ROUNDS" --warmup 50 direct="$wport" "$PROXY=$pport" >/dev/null
kill "${pids[-1]}"
wait "${pids[-1]}" 2>/dev/null || true

# Each profile's total and its part, named by the functions it ran; the first ones (start-up,
# the first requests) fall in with the rest, which the medians ignore.
for f in "$tmp"/cg/cg.*.*; do
  total=$(grep -m1 -E '^(summary|totals):' "$f" | awk '{print $2}')
  [ -n "$total" ] || continue
  if grep -q "$answer_mark" "$f"; then part=answer
  elif grep -q "$request_mark" "$f"; then part=request
  else part=other; fi
  lines=0
  # A cost line starts with its instruction's address; the line after calls= is the call's
  # inclusive cost, at the call's address, and is skipped. Addresses are told apart by object.
  # (awk numbers are doubles: exact for addresses below 2^53.)
  [ "$LINES" = 0 ] || lines=$(awk '
    function hex(s,   i, x) { x = 0; for (i = 3; i <= length(s); ++i) x = x * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1; return x }
    skip { skip = 0; next }
    /^calls=/ { skip = 1; next }
    /^ob=/ { ob = substr($0, 4); next }
    /^0x[0-9a-f]+ / { key = ob SUBSEP int(hex($1) / 64); if (!(key in seen)) { seen[key] = 1; ++n } }
    END { print n + 0 }' "$f")
  echo "$part $total $lines"
done | sort -k1,1 -k2,2n | awk -v proxy="$PROXY" -v body="$BODY" -v rounds="$ROUNDS" -v with_lines="$LINES" '
  function median(a, p, c,   i, t, k, j) {  # of a[p, 1..c], sorted here
    for (i = 1; i <= c; ++i) t[i] = a[p, i]
    for (i = 2; i <= c; ++i) { k = t[i]; for (j = i - 1; j >= 1 && t[j] > k; --j) t[j + 1] = t[j]; t[j + 1] = k }
    return (c % 2) ? t[(c + 1) / 2] : (t[c / 2] + t[c / 2 + 1]) / 2
  }
  { ++n[$1]; v[$1, n[$1]] = $2; l[$1, n[$1]] = $3; sum[$1] += $2 }
  END {
    printf "hop_parts: %s, %s body, %d rounds; instructions per part (median, mean, profiles)%s\n", proxy, body, rounds,
           with_lines != "0" ? "; code lines (median)" : ""
    split("request answer other", order, " ")
    for (i = 1; i <= 3; ++i) {
      p = order[i]; c = n[p]
      if (c == 0) continue
      printf "  %-8s %8.0f %8.0f %6d", p, median(v, p, c), sum[p] / c, c
      if (with_lines != "0") printf " %6.0f", median(l, p, c)
      printf "\n"
    }
  }'
