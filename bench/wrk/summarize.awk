# Summarizes bench/compare.sh's runs (tab-separated, one wrk run a line) into the figures of
# issue 6, per body and concurrency: each repetition's ratio or difference against the direct
# run of the same repetition (throughput from 2xx answers only), then the median and min–max
# over the repetitions. Prints a table and writes the JSON file `out`. awk (not Python) so that
# it runs on a bare Debian.
#
# Columns: rep body conns target rps p50_us p99_us requests socket_errors non2xx proxy_ticks
#          backend_ticks
# Variables: clk (clock ticks per second), out, reps, dur, nproc, cpumodel, kernel, cpuidle, stamp, nginxv,
#            haproxyv, wrkv, hirv, conns, bodies.
function jstr(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return "\"" s "\"" }
function num(x) { return sprintf("%.6g", x) }
# stats over v[1..n]: sets S["min"], S["med"], S["max"]
function stats(v, n,    i, j, t, a) {
  for (i = 1; i <= n; i++) a[i] = v[i]
  for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
  S["min"] = a[1]; S["max"] = a[n]
  S["med"] = (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function fig(name, v, n, digits) {
  stats(v, n)
  F[key, name] = sprintf("{\"median\":%s,\"min\":%s,\"max\":%s}", num(S["med"]), num(S["min"]), num(S["max"]))
  T[key, name] = sprintf("%." digits "f [%." digits "f–%." digits "f]", S["med"], S["min"], S["max"])
  names[key, ++nnames[key]] = name
}
{
  rep = $1; body = $2; c = $3; t = $4
  k = body SUBSEP c SUBSEP rep SUBSEP t
  # Throughput counts answers with a 2xx status only: a fast refusal is not a served request.
  rps[k] = ($8 > 0) ? $5 * ($8 - $10) / $8 : 0; p50[k] = $6; p99[k] = $7; req[k] = $8
  cpu[k] = ($8 > 0) ? $11 * 1e6 / clk / $8 : 0
  bcpu[k] = ($8 > 0) ? $12 * 1e6 / clk / $8 : 0
  errors += $9 + $10
  line = sprintf("{\"rep\":%d,\"body\":%s,\"conns\":%d,\"target\":%s,\"rps\":%s,\"ok_rps\":%s,\"p50_ms\":%s,\"p99_ms\":%s,\"requests\":%d,\"socket_errors\":%d,\"non2xx\":%d,\"proxy_cpu_us_per_request\":%s,\"backend_cpu_us_per_request\":%s}",
                 rep, jstr(body), c, jstr(t), num($5), num(rps[k]), num($6 / 1000), num($7 / 1000), $8, $9, $10,
                 (t == "direct" || t == "directp") ? "null" : num(cpu[k]), num(bcpu[k]))
  runs = runs (nruns++ ? ",\n    " : "") line
}
END {
  nb = split(bodies, BODY, " "); nc = split(conns, CONN, " ")
  summary = ""
  for (bi = 1; bi <= nb; bi++) for (ci = 1; ci <= nc; ci++) {
    body = BODY[bi]; c = CONN[ci]; key = body SUBSEP c
    # Busy polling (hirp, haproxyp) runs at -c1 only, against directp: direct timed while a
    # core is kept busy, as theirs is (compare.sh).
    polled = c == 1 && (body SUBSEP c SUBSEP 1 SUBSEP "hirp") in rps && (body SUBSEP c SUBSEP 1 SUBSEP "directp") in rps
    np = split(polled ? "floor nginx haproxy hir hirb hir3 hirp haproxyp" : "floor nginx haproxy hir hirb hir3", P, " ")
    for (pi = 1; pi <= np; pi++) {
      p = P[pi]; n = 0
      for (rep = 1; rep <= reps; rep++) {
        d = body SUBSEP c SUBSEP rep SUBSEP (p == "hirp" || p == "haproxyp" ? "directp" : "direct"); x = body SUBSEP c SUBSEP rep SUBSEP p
        n++
        vt[n] = rps[x] / rps[d]; va[n] = (p50[x] - p50[d]) / 1000; vb[n] = (p99[x] - p99[d]) / 1000
        vc[n] = cpu[x]; vbc[n] = bcpu[x]
      }
      fig(p "_throughput_vs_direct", vt, n, 3)
      fig(p "_added_p50_ms", va, n, 3)
      fig(p "_added_p99_ms", vb, n, 3)
      fig(p "_cpu_us_per_request", vc, n, 1)
      fig(p "_backend_cpu_us_per_request", vbc, n, 1)
    }
    n = 0
    for (rep = 1; rep <= reps; rep++) {
      pre = body SUBSEP c SUBSEP rep SUBSEP
      best = rps[pre "nginx"] > rps[pre "haproxy"] ? rps[pre "nginx"] : rps[pre "haproxy"]
      bestc = cpu[pre "nginx"] < cpu[pre "haproxy"] ? cpu[pre "nginx"] : cpu[pre "haproxy"]
      n++
      vh[n] = rps[pre "hir"] / best; vh3[n] = rps[pre "hir3"] / best; vr[n] = rps[pre "direct"]
      vhb[n] = rps[pre "hirb"] / best; vhbc[n] = cpu[pre "hirb"] / bestc
      vhc[n] = cpu[pre "hir"] / bestc; vbk[n] = bcpu[pre "direct"]
    }
    fig("hir_throughput_vs_best_of_nginx_haproxy", vh, n, 3)
    fig("hir3_throughput_vs_best_of_nginx_haproxy", vh3, n, 3)
    fig("hir_cpu_vs_best_of_nginx_haproxy", vhc, n, 2)
    fig("hirb_throughput_vs_best_of_nginx_haproxy", vhb, n, 3)
    fig("hirb_cpu_vs_best_of_nginx_haproxy", vhbc, n, 2)
    fig("direct_rps", vr, n, 0)
    if (polled) {
      for (rep = 1; rep <= reps; rep++) vdp[rep] = rps[body SUBSEP c SUBSEP rep SUBSEP "directp"]
      fig("directp_rps", vdp, reps, 0)
    }
    fig("backend_cpu_us_per_request_direct", vbk, n, 1)

    figs = ""
    for (i = 1; i <= nnames[key]; i++) figs = figs (i > 1 ? "," : "") "\"" names[key, i] "\":" F[key, names[key, i]]
    summary = summary (summary == "" ? "" : ",\n    ") sprintf("{\"body\":%s,\"conns\":%d,\"figures\":{%s}}", jstr(body), c, figs)

    printf "\n%s body, wrk -t1 -c%s, %s s x %d repetitions: median [min–max]\n", body, c, dur, reps
    printf "  direct: %s req/s; backend CPU %s µs/request\n", T[key, "direct_rps"], T[key, "backend_cpu_us_per_request_direct"]
    if (polled) printf "  directp (direct with a core kept busy; the baseline of hirp and haproxyp): %s req/s\n", T[key, "directp_rps"]
    printf "  %-10s %-26s %-26s %-26s %-26s %-26s\n", "proxy", "throughput vs direct", "added p50 ms", "added p99 ms", "CPU µs/request",
           "backend CPU µs/request"
    for (pi = 1; pi <= np; pi++) {
      p = P[pi]
      printf "  %-10s %-26s %-26s %-26s %-26s %-26s\n", p, T[key, p "_throughput_vs_direct"], T[key, p "_added_p50_ms"],
             T[key, p "_added_p99_ms"], T[key, p "_cpu_us_per_request"], T[key, p "_backend_cpu_us_per_request"]
    }
    printf "  hir throughput vs the better of nginx and HAProxy: %s (hir3: %s); hir CPU/request vs the lower of theirs: %s\n",
           T[key, "hir_throughput_vs_best_of_nginx_haproxy"], T[key, "hir3_throughput_vs_best_of_nginx_haproxy"],
           T[key, "hir_cpu_vs_best_of_nginx_haproxy"]
    printf "  with batching (hirb): throughput vs the better of nginx and HAProxy %s; CPU/request vs the lower of theirs %s\n",
           T[key, "hirb_throughput_vs_best_of_nginx_haproxy"], T[key, "hirb_cpu_vs_best_of_nginx_haproxy"]
  }
  printf "\nerrors (socket errors + non-2xx) over all runs: %d\n", errors
  printf "{\n  \"benchmark\": \"bench/compare.sh\",\n  \"date\": %s,\n", jstr(stamp) > out
  printf "  \"machine\": {\"nproc\": %d, \"cpu_model\": %s, \"kernel\": %s, \"cpuidle\": %s},\n", nproc, jstr(cpumodel),
         jstr(kernel), jstr(cpuidle) > out
  printf "  \"tools\": {\"wrk\": %s, \"nginx\": %s, \"haproxy\": %s, \"hir\": %s},\n", jstr(wrkv), jstr(nginxv), jstr(haproxyv), jstr(hirv) > out
  printf "  \"load\": {\"tool\": \"wrk -t1 --timeout 10s -s bench/wrk/infer.lua\", \"duration_s\": %s, \"repetitions\": %d, \"conns\": [%s], \"bodies\": [%s]},\n",
         dur, reps, conns_json(), bodies_json() > out
  printf "  \"backend\": \"hir-worker --models fmnist-tiny --concurrency 1 --threads 1 --queue-depth 4096\",\n" > out
  printf "  \"errors_total\": %d,\n", errors > out
  printf "  \"summary\": [\n    %s\n  ],\n", summary > out
  printf "  \"runs\": [\n    %s\n  ]\n}\n", runs > out
}
function conns_json(    s, i, n, a) { n = split(conns, a, " "); for (i = 1; i <= n; i++) s = s (i > 1 ? "," : "") a[i]; return s }
function bodies_json(    s, i, n, a) { n = split(bodies, a, " "); for (i = 1; i <= n; i++) s = s (i > 1 ? "," : "") jstr(a[i]); return s }
