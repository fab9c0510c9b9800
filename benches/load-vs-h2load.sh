#!/usr/bin/env bash
# Is the load generator the bottleneck? Serves the emulator on loopback and drives
# GenerateRandom(32) first with h2load (nghttp2-client), then with `grep11-harness load`
# in closed loop at the same connections and calls in flight. Prints both rates, their
# ratio, and CPU seconds per 1,000 calls of each client (user+sys of the client process).
#
#   benches/load-vs-h2load.sh [CONNECTIONS] [IN_FLIGHT] [SECONDS]
# Needs: cargo, h2load (apt-get install -y nghttp2-client), python3, GNU time not required.
set -euo pipefail
cd "$(dirname "$0")/.."
CONNS=${1:-4}
INFLIGHT=${2:-64}
SECS=${3:-10}
PORT=${PORT:-19876}
command -v h2load >/dev/null || { echo "h2load not found: apt-get install -y nghttp2-client" >&2; exit 2; }
cargo build --release --quiet
BIN=target/release/grep11-harness
TMP=$(mktemp -d)
$BIN serve --listen 127.0.0.1:$PORT 2>"$TMP/serve.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 50); do grep -q serving "$TMP/serve.log" && break; sleep 0.1; done

# The gRPC frame: no compression (0), length 2, then GenerateRandomRequest{len: 32}
# (field 1, varint: 0x08 0x20).
printf '\x00\x00\x00\x00\x02\x08\x20' > "$TMP/body"

# CPU seconds (user+sys) a finished child used, from /proc via bash's `times` would
# include the server; measure the client alone with python's resource accounting.
cpu_run() {
  python3 - "$@" <<'PY'
import resource, subprocess, sys
p = subprocess.run(sys.argv[1:], capture_output=True, text=True)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
sys.stdout.write(p.stdout)
sys.stderr.write(p.stderr)
print(f"CPU_SECONDS {r.ru_utime + r.ru_stime:.3f}")
PY
}

# h2load: -m is the streams in flight per connection.
PER_CONN=$(( INFLIGHT / CONNS ))
H2=$(cpu_run h2load -c "$CONNS" -m "$PER_CONN" -D "$SECS" --warm-up-time=1 \
  -d "$TMP/body" -H 'content-type: application/grpc' -H 'te: trailers' \
  "http://127.0.0.1:$PORT/grep11.Crypto/GenerateRandom")
H2_REQS=$(echo "$H2" | awk '/^requests:/ {print $8}')
H2_RATE=$(echo "$H2" | awk '/^finished in/ {gsub(",","",$4); print $4}')
H2_CPU=$(echo "$H2" | awk '/^CPU_SECONDS/ {print $2}')

HL=$(cpu_run $BIN load --endpoint "http://127.0.0.1:$PORT" --workload random-32 \
  --connections "$CONNS" --concurrency "$INFLIGHT" --duration "${SECS}s" --warmup 1s --json "$TMP/load.json")
HL_RATE=$(python3 -c "import json;r=json.load(open('$TMP/load.json'))['overall'][0];print(f\"{r['rate']:.0f}\")")
HL_REQS=$(python3 -c "import json;r=json.load(open('$TMP/load.json'))['overall'][0];print(r['count']+r['errors'])")
HL_CPU=$(echo "$HL" | awk '/^CPU_SECONDS/ {print $2}')

python3 - "$H2_RATE" "$H2_REQS" "$H2_CPU" "$HL_RATE" "$HL_REQS" "$HL_CPU" "$CONNS" "$INFLIGHT" <<'PY'
import sys
h2_rate, h2_reqs, h2_cpu, hl_rate, hl_reqs, hl_cpu = map(float, sys.argv[1:7])
print(f"GenerateRandom(32), {sys.argv[7]} connections, {sys.argv[8]} in flight")
print(f"h2load          {h2_rate:10.0f} calls/s   {1000*h2_cpu/max(h2_reqs,1):.4f} CPU s per 1,000 calls")
print(f"grep11-harness  {hl_rate:10.0f} calls/s   {1000*hl_cpu/max(hl_reqs,1):.4f} CPU s per 1,000 calls")
print(f"ratio           {hl_rate/h2_rate:.2f}x h2load")
PY
