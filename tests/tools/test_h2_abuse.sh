#!/bin/bash
# ctest test_h2_abuse: runs every h2_abuse.py scenario against hbone-test-server and asserts
# each is ok, that the server survived them, and that its RSS stayed bounded.
#   test_h2_abuse.sh SERVER_BINARY H2_ABUSE_PY
set -uo pipefail
server_bin=$1
script=$2
rss_limit_kb=${H2_ABUSE_RSS_LIMIT_KB:-65536}
local_ip=10.0.0.2

tmp=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

"$server_bin" --local-ip "$local_ip" --cert-dir "$tmp" --max-seconds 140 \
  >"$tmp/stdout" 2>"$tmp/server.log" &
server_pid=$!
port=
for _ in $(seq 100); do
  port=$(sed -n 's/^port \([0-9]*\)$/\1/p' "$tmp/stdout")
  [ -n "$port" ] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$port" ]; then
  echo "FAIL: hbone-test-server did not start"; cat "$tmp/server.log"; exit 1
fi

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$server_pid/status"; }
rss_before=$(rss)
/usr/bin/python3 "$script" --host 127.0.0.1 --port "$port" --cert "$tmp/client.crt" \
  --key "$tmp/client.key" --ca "$tmp/ca.crt" --local-ip "$local_ip" \
  --server-id "$(cat "$tmp/server.id")" --expect-echo --timeout 5 | tee "$tmp/results"
rc=${PIPESTATUS[0]}

fail=0
if [ "$rc" -ne 0 ]; then echo "FAIL: h2_abuse.py exited $rc"; fail=1; fi
# Every scenario the tool runs by default, each answered as expected (an empty or cut-short
# output must not pass as "all of none ok").
all=$(/usr/bin/python3 "$script" --list | wc -l)
scenarios=$(grep -c '"ok": true' "$tmp/results")
if [ "$all" -lt 11 ] || [ "$scenarios" -ne "$all" ]; then
  echo "FAIL: $scenarios of $all scenarios ok"; fail=1
fi
if ! kill -0 "$server_pid" 2>/dev/null; then
  echo "FAIL: hbone-test-server died"; tail -20 "$tmp/server.log"; exit 1
fi
rss_after=$(rss)
echo "server RSS: ${rss_before} kB before, ${rss_after} kB after (limit ${rss_limit_kb} kB)"
if [ "$rss_after" -gt "$rss_limit_kb" ]; then echo "FAIL: RSS above the limit"; fail=1; fi
# The server must still serve after every abuse.
if ! /usr/bin/python3 "$script" --host 127.0.0.1 --port "$port" --cert "$tmp/client.crt" \
    --key "$tmp/client.key" --ca "$tmp/ca.crt" --local-ip "$local_ip" --expect-echo \
    --scenario data-before-200 >/dev/null; then
  echo "FAIL: the server no longer serves a CONNECT"; fail=1
fi
[ "$fail" -eq 0 ] && echo "PASS: test_h2_abuse"
exit "$fail"
