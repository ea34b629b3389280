#!/usr/bin/env bash
# Installs the Debian packages Warren needs to build, test, demo and benchmark. Idempotent and
# quick when everything is already there (one dpkg-query, no apt call).
set -euo pipefail

packages=(
  # build
  build-essential cmake pkg-config clang llvm
  ninja-build lld  # the generator and linker of a fresh build (cmake/build_speed.cmake)
  libbpf-dev bpftool libelf-dev zlib1g-dev
  libssl-dev liburing-dev libprotobuf-dev protobuf-compiler libgrpc++-dev protobuf-compiler-grpc
  libnghttp2-dev libspdlog-dev libfmt-dev libyaml-cpp-dev nlohmann-json3-dev
  libcli11-dev libcurl4-openssl-dev libgtest-dev libgmock-dev libbenchmark-dev
  libre2-dev  # RE2: Gateway API RegularExpression matches and Istio path templates (waypoint/)
  # lab, tests, benchmarks
  iproute2 procps psmisc openssl curl jq containernetworking-plugins
  iperf3 wrk nghttp2-client stunnel4 haproxy nginx tcpdump
  linux-perf  # perf: profiling a benchmark figure that falls short (bench/README.md)
  python3 python3-h2  # /usr/bin/python3 + h2: the HTTP/2 peer in interop tests, mesh conformance runner
  nghttp2-server  # nghttpd: an independent HTTP/2 server for the engine's client interop test
  python3-grpcio  # an independent gRPC client (gRPC's C core) for warren-echo's GrpcEcho test
  prometheus  # promtool: checks our metrics exposition in tests
  # deploy/: images without a Docker daemon (make images), the lab's --runtime podman, and the
  # manifest checks (yamllint; lint.py runs on /usr/bin/python3 with python3-yaml)
  buildah podman runc yamllint python3-yaml
)
# kubectl (with kustomize) renders deploy/ in the checks. Machines of this kind come with one
# (google-cloud-cli); Debian's older kubernetes-client is the fallback where none is on PATH.
command -v kubectl >/dev/null 2>&1 || packages+=(kubernetes-client)
# Node.js runs the schema validators; machines of this kind come with it (nodesource).
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -q '^installed$' || missing+=("$p")
done

# The schema validators of deploy/checks (npm, pinned by package-lock.json).
npm_checks() {
  local dir
  dir="$(cd "$(dirname "$0")/.." && pwd)/deploy/checks"
  [ -d "$dir/node_modules/kubernetes-models" ] && return 0
  command -v npm >/dev/null 2>&1 || return 0  # installed below, then run again
  echo "deps: npm ci in deploy/checks"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
}

if [ ${#missing[@]} -eq 0 ]; then
  npm_checks
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing packages: ${missing[*]}" >&2
  echo "deps: run as root (or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# --force-unsafe-io: dpkg skips its fsync per unpacked file (what Debian's container images
# do); a fresh machine installs a couple of hundred packages here.
apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-unsafe-io \
  "${missing[@]}" >/dev/null
# Debian starts these daemons on install; the benchmarks run their own instances.
for svc in nginx haproxy stunnel4 prometheus; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" || true
  fi
done
npm_checks
echo "deps: done"
