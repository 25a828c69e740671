#!/usr/bin/env bash
# Installs what hir needs to build, test and run its demo on Debian 12, and nothing that is
# already there. Safe to run again and again.
#
#   scripts/install-deps.sh            build + test + demo dependencies
#   scripts/install-deps.sh --bench    also the side-by-side load tools (wrk, nginx, haproxy)
#   scripts/install-deps.sh --train    also the Python stack that retrains models/ (torch, onnx)
set -euo pipefail

want=(
  build-essential cmake ninja-build ccache pkg-config git curl ca-certificates
  libboost1.81-dev libssl-dev libsimdjson-dev libyaml-cpp-dev libspdlog-dev libfmt-dev
  libcli11-dev zlib1g-dev libgtest-dev libgmock-dev libbenchmark-dev
  libxxhash-dev libhiredis-dev libsqlite3-dev libpq-dev libgoogle-perftools-dev
  redis-server postgresql
  dataset-fashion-mnist
)
# OpenCV's dnn module runs the ONNX models; its recommends pull in ~600 MB we do not use.
norec=(libopencv-dnn-dev)

for arg in "$@"; do
  case "$arg" in
    --bench) want+=(wrk nginx-light haproxy hyperfine) ;;
    --train) want+=(python3-numpy python3-onnx python3-torch) ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "install-deps: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

missing() {
  local out=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || out+=("$p")
  done
  echo "${out[@]:-}"
}

need=$(missing "${want[@]}")
need_norec=$(missing "${norec[@]}")
if [ -z "$need" ] && [ -z "$need_norec" ]; then
  echo "install-deps: everything is installed"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
echo "install-deps: installing ${need} ${need_norec}"
$SUDO apt-get update -qq
[ -z "$need" ] || $SUDO apt-get install -y -qq $need
[ -z "$need_norec" ] || $SUDO apt-get install -y -qq --no-install-recommends $need_norec
echo "install-deps: done"
