#!/usr/bin/env bash
# Throughput: iperf3 over loopback directly, then through warren-tcp-relay on io_uring and on
# epoll, each with the copy engine and with splice (--engine splice), interleaved ROUNDS times
# (the machine is shared: compare medians, not single runs). MODES (env) picks a subset, e.g.
# MODES="direct uring uring-splice".
#   common/relay/bench_iperf.sh [BUILD_DIR] [SECONDS] [ROUNDS] [WORKERS]
set -euo pipefail
build=${1:-build}; secs=${2:-5}; rounds=${3:-3}; workers=${4:-1}
relay_bin=$build/bin/warren-tcp-relay
[ -x "$relay_bin" ] || { echo "no $relay_bin (build first)" >&2; exit 1; }
command -v iperf3 >/dev/null || { echo "iperf3 not installed" >&2; exit 1; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

modes=${MODES:-direct uring epoll uring-splice epoll-splice}

run_one() {  # mode (direct | BACKEND | BACKEND-splice) -> Gbit/s
  local mode=$1 sport cport out
  sport=$(free_port)
  iperf3 -s -1 -p "$sport" >/dev/null 2>&1 & local spid=$!; pids+=("$spid")
  cport=$sport
  local rpid=""
  if [ "$mode" != direct ]; then
    out=$(mktemp)
    "$relay_bin" --listen 127.0.0.1:0 --upstream "127.0.0.1:$sport" --workers "$workers" \
      --backend "${mode%-splice}" --engine "$([ "${mode%-splice}" = "$mode" ] && echo copy || echo splice)" \
      --log-level warn >"$out" 2>&1 & rpid=$!; pids+=("$rpid")
    for _ in $(seq 100); do grep -q 'listening on' "$out" && break; sleep 0.05; done
    cport=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$out")
  else
    sleep 0.2
  fi
  iperf3 -c 127.0.0.1 -p "$cport" -t "$secs" -J 2>/dev/null |
    /usr/bin/python3 -c 'import json,sys;print(round(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9,2))'
  [ -n "$rpid" ] && kill "$rpid" && wait "$rpid" 2>/dev/null || true
  wait "$spid" 2>/dev/null || true
}

declare -A results
for r in $(seq "$rounds"); do
  for mode in $modes; do
    g=$(run_one "$mode")
    results[$mode]="${results[$mode]:-} $g"
    echo "round $r $mode $g Gbit/s"
  done
done
for mode in $modes; do
  med=$(printf '%s\n' ${results[$mode]} | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
  echo "median $mode $med Gbit/s"
done
