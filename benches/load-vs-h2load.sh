#!/usr/bin/env bash
# Is the load generator the bottleneck? Serves the emulator on loopback and drives
# GenerateRandom(32) with h2load (nghttp2-client) and with `grep11-harness load` in closed
# loop at the same connections and streams in flight per connection. First it checks that
# the request h2load will repeat is answered with grpc-status 0 and the right response
# bytes (h2load itself counts any HTTP 200 as a success, whatever the grpc-status). Then
# three rounds, the order alternating (h2load first, then ours first, then h2load first),
# and the medians: rates, their ratio, and CPU seconds per 1,000 successful calls of each
# client process (user+sys, from rusage).
#
#   benches/load-vs-h2load.sh [CONNECTIONS] [IN_FLIGHT_PER_CONNECTION] [SECONDS]
# Needs a prebuilt binary (cargo build --release; BIN= to use another), h2load and nghttp
# (apt-get install -y nghttp2-client), python3.
set -euo pipefail
cd "$(dirname "$0")/.."
CONNS=${1:-4}
PER_CONN=${2:-32}
SECS=${3:-8}
PORT=${PORT:-19876}
BIN=${BIN:-target/release/grep11-harness}
for tool in h2load nghttp python3; do
  command -v $tool >/dev/null || { echo "$tool not found (apt-get install -y nghttp2-client python3)" >&2; exit 2; }
done
[[ -x $BIN ]] || { echo "$BIN not built: cargo build --release (or BIN=path)" >&2; exit 2; }
INFLIGHT=$(( CONNS * PER_CONN ))
TMP=$(mktemp -d)
$BIN serve --listen 127.0.0.1:$PORT 2>"$TMP/serve.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 50); do grep -q serving "$TMP/serve.log" && break; sleep 0.1; done
URL="http://127.0.0.1:$PORT/grep11.Crypto/GenerateRandom"

# The gRPC frame: no compression (0), length 2, then GenerateRandomRequest{len: 32}
# (field 1, varint: 0x08 0x20).
printf '\x00\x00\x00\x00\x02\x08\x20' > "$TMP/body"

# Preflight: one call through nghttp, verbose, so the trailers and DATA frames show.
# The answer must be grpc-status 0 and 39 bytes of DATA: the 5-byte gRPC prefix and
# GenerateRandomResponse{rnd: 32 bytes} (tag, length, 32 bytes).
nghttp -nv -d "$TMP/body" -H ':method: POST' -H 'content-type: application/grpc' -H 'te: trailers' \
  "$URL" > "$TMP/preflight" 2>&1 || true
STATUS=$(grep -o 'grpc-status: [0-9]*' "$TMP/preflight" | awk '{print $2}' | head -1)
BYTES=$(awk '/recv DATA frame/ {for (i=1;i<=NF;i++) if ($i ~ /^<length=/) {gsub("[^0-9]","",$i); s+=$i}} END {print s+0}' "$TMP/preflight")
if [[ $STATUS != 0 || $BYTES != 39 ]]; then
  echo "preflight failed: grpc-status '${STATUS:-none}', $BYTES response bytes (want 0 and 39)" >&2
  cat "$TMP/preflight" >&2
  exit 1
fi
echo "preflight: grpc-status 0, 39 response bytes"

# A command's own CPU seconds (user+sys), from the rusage of the finished child.
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

# Each prints "RATE OK_CALLS CPU_SECONDS".
run_h2load() {
  local out
  out=$(cpu_run h2load -c "$CONNS" -m "$PER_CONN" -D "$SECS" --warm-up-time=1 \
    -d "$TMP/body" -H 'content-type: application/grpc' -H 'te: trailers' "$URL")
  # Every response must be a 2xx (the preflight showed what a 200 carries).
  local ok failed
  ok=$(awk '/^status codes:/ {print $3}' <<<"$out")
  failed=$(awk '/^requests:/ {print $10}' <<<"$out")
  [[ $failed == 0 ]] || { echo "h2load: $failed requests failed" >&2; echo "$out" >&2; exit 1; }
  echo "$(awk '/^finished in/ {gsub(",","",$4); print $4}' <<<"$out") $ok $(awk '/^CPU_SECONDS/ {print $2}' <<<"$out")"
}
run_ours() {
  local out
  out=$(cpu_run "$BIN" load --endpoint "http://127.0.0.1:$PORT" --workload random-32 \
    --connections "$CONNS" --concurrency "$INFLIGHT" --duration "${SECS}s" --warmup 1s \
    --json "$TMP/load.json" 2>/dev/null)
  python3 - "$TMP/load.json" "$(awk '/^CPU_SECONDS/ {print $2}' <<<"$out")" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["overall"][0]
if r["errors"] or r["wrong"]:
    sys.exit(f"grep11-harness: {r['errors']} errors, {r['wrong']} wrong answers")
print(r["rate"], r["count"], sys.argv[2])
PY
}

: > "$TMP/rounds"
for round in 1 2 3; do
  if (( round % 2 )); then order="h2load ours"; else order="ours h2load"; fi
  for who in $order; do
    echo "$round $who $(run_$who)" >> "$TMP/rounds"
  done
done

python3 - "$TMP/rounds" "$CONNS" "$PER_CONN" "$SECS" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
print(f"GenerateRandom(32), {sys.argv[2]} connections x {sys.argv[3]} in flight, {sys.argv[4]} s, 3 rounds (order alternating)")
print("round  client          calls/s   CPU s per 1,000 calls")
per = {"h2load": [], "ours": []}
for rnd, who, rate, count, cpu in rows:
    rate, count, cpu = float(rate), float(count), float(cpu)
    per[who].append((rate, 1000 * cpu / max(count, 1)))
    print(f"{rnd:>5}  {'h2load' if who == 'h2load' else 'grep11-harness':<14} {rate:9.0f}   {1000 * cpu / max(count, 1):.4f}")
med = {k: (statistics.median(r for r, _ in v), statistics.median(c for _, c in v)) for k, v in per.items()}
print(f"median h2load          {med['h2load'][0]:9.0f}   {med['h2load'][1]:.4f}")
print(f"median grep11-harness  {med['ours'][0]:9.0f}   {med['ours'][1]:.4f}")
print(f"rate ratio {med['ours'][0] / med['h2load'][0]:.2f}x h2load (target >= 0.9); "
      f"CPU per call {med['ours'][1] / med['h2load'][1]:.2f}x h2load's (target <= 1.2)")
PY
