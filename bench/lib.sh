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
# CPU time of processes and their children (nginx's worker), all threads, in clock ticks
# (getconf CLK_TCK a second) from /proc/PID/stat: `cpu_split` prints user and system time,
# `cpu_ticks` their sum.
cpu_split() {
  local user=0 sys=0 p t u s
  for p in "$@"; do
    for t in $p $(cat "/proc/$p/task/$p/children" 2>/dev/null); do
      read -r u s < <(awk '{print $14, $15}' "/proc/$t/stat" 2>/dev/null || echo 0 0)
      user=$((user + u)) sys=$((sys + s))
    done
  done
  echo "$user $sys"
}
cpu_ticks() {
  local u s
  read -r u s < <(cpu_split "$@")
  echo $((u + s))
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

# A port nobody listens on now. Others could take it before we bind; then the start fails loudly.
free_port() {
  local p
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  echo "$NAME: no free port found" >&2; exit 1
}
wait_listen() {  # PORT LOG PID
  for _ in $(seq 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return
    kill -0 "$3" 2>/dev/null || break
    sleep 0.1
  done
  echo "$NAME: nothing listens on $1: $(tail -3 "$2")" >&2; exit 1
}

# nginx as a keep-alive reverse proxy to the backend on BACKEND_PORT: one worker, access log off.
# Its pid in $started (and in `pids`); its files under $tmp/nginx.
start_nginx() {  # PORT BACKEND_PORT
  mkdir -p "$tmp/nginx/logs"
  local nginx_user=""
  [ "$(id -u)" = 0 ] && nginx_user="user root;"  # as root, workers would otherwise become nobody
  cat > "$tmp/nginx/nginx.conf" <<EOF
$nginx_user
worker_processes 1;
events { worker_connections 20000; }
http {
  access_log off;
  client_body_temp_path $tmp/nginx/body;
  proxy_temp_path $tmp/nginx/proxy;
  fastcgi_temp_path $tmp/nginx/fastcgi;
  uwsgi_temp_path $tmp/nginx/uwsgi;
  scgi_temp_path $tmp/nginx/scgi;
  keepalive_requests 1000000;
  client_max_body_size 64m;
  client_body_buffer_size 64k;
  upstream backend {
    server 127.0.0.1:$2;
    keepalive 512;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:$1;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
EOF
  nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" \
    -g "daemon off; pid $tmp/nginx/nginx.pid; error_log $tmp/nginx/logs/error.log warn;" \
    2>"$tmp/nginx/stderr.log" &
  started=$!
  pids+=($started)
  wait_listen "$1" "$tmp/nginx/stderr.log" "$started"
}

# HAProxy likewise: one thread, connections to the backend reused. Its configuration in
# $tmp/haproxy.cfg, its pid in $started (and in `pids`).
start_haproxy() {  # PORT BACKEND_PORT
  cat > "$tmp/haproxy.cfg" <<EOF
global
  nbthread 1
  maxconn 4096
defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend fe
  bind 127.0.0.1:$1
  default_backend be
backend be
  server w1 127.0.0.1:$2
EOF
  haproxy -db -f "$tmp/haproxy.cfg" >"$tmp/haproxy.log" 2>&1 &
  started=$!
  pids+=($started)
  wait_listen "$1" "$tmp/haproxy.log" "$started"
}
