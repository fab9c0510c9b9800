#!/usr/bin/env bash
# Soak: does `serve` hold its memory under minutes of mixed load? Builds release, serves
# the emulator on loopback, samples the server's RSS (VmRSS from /proc/PID/status) every
# few seconds while one bounded `grep11-harness load --mix` run of DURATION drives it, and
# reports RSS at start (idle), after warm-up, at the end and at its peak, with the ratio of
# end to after-warm-up. Target: flat within 10% after warm-up. Not a CI test.
#
#   benches/soak.sh [DURATION] [WARMUP] [CONCURRENCY] [CONNECTIONS]
#   defaults:        3m         30s      16            4
# Samples go to $SOAK_CSV (default: a temporary file, printed at the end).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-3m}
WARMUP=${2:-30s}
CONCURRENCY=${3:-16}
CONNECTIONS=${4:-4}
SAMPLE_EVERY=5

seconds() { # 3m, 90s, 1h -> seconds
  case "$1" in
    *h) echo $(( ${1%h} * 3600 )) ;;
    *m) echo $(( ${1%m} * 60 )) ;;
    *s) echo "${1%s}" ;;
    *) echo "$1" ;;
  esac
}
DURATION_S=$(seconds "$DURATION")
WARMUP_S=$(seconds "$WARMUP")
(( WARMUP_S < DURATION_S )) || { echo "WARMUP must be shorter than DURATION" >&2; exit 2; }

cargo build --release --quiet
BIN=target/release/grep11-harness
TMP=$(mktemp -d)
CSV=${SOAK_CSV:-$TMP/rss.csv}
SERVER=
LOAD=
cleanup() {
  [[ -n $LOAD ]] && kill "$LOAD" 2>/dev/null || true
  if [[ -n $SERVER ]]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
  [[ -z ${SOAK_CSV:-} ]] && rm -rf "$TMP"
  return 0
}
trap cleanup EXIT INT TERM

"$BIN" serve --listen 127.0.0.1:0 2>"$TMP/serve.log" &
SERVER=$!
URL=
for _ in $(seq 100); do
  URL=$(grep -o 'http://[0-9.:]*' "$TMP/serve.log" | head -1 || true)
  [[ -n $URL ]] && break
  sleep 0.1
done
[[ -n $URL ]] || { echo "serve did not start:" >&2; cat "$TMP/serve.log" >&2; exit 1; }

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$SERVER/status"; }

# Every default workload but the 64 KiB ones, weighted towards the cheap calls so that
# key generation, signing, wrapping, derivation and multi-part states all recur.
MIX=random-32=10,digest-sha256-1k=10,encrypt-aes256-cbc-pad-1k=10,decrypt-aes256-cbc-pad-1k=10
MIX=$MIX,encrypt-multipart-aes256-cbc-pad-4k=10,sign-ecdsa-p256=5,verify-ecdsa-p256=5,hmac-sha256=10
MIX=$MIX,generate-aes256=10,generate-ec-p256=5,wrap-aes256-cbc-pad=10,derive-ecdh-p256=5
MIX=$MIX,sign-rsa2048-pkcs=2,verify-rsa2048-pkcs=3

START_KIB=$(rss_kib)
echo "elapsed_s,rss_kib" > "$CSV"
echo "0,$START_KIB" >> "$CSV"
echo "soak: $URL, $DURATION of load ($CONCURRENCY in flight over $CONNECTIONS connections), RSS idle $START_KIB KiB"

"$BIN" load --endpoint "$URL" --mix "$MIX" --concurrency "$CONCURRENCY" --connections "$CONNECTIONS" \
  --duration "${DURATION_S}s" --warmup 0s --json "$TMP/load.json" >"$TMP/load.out" 2>&1 &
LOAD=$!
BEGIN=$(date +%s)
WARM_KIB=
PEAK_KIB=$START_KIB
while kill -0 "$LOAD" 2>/dev/null; do
  sleep "$SAMPLE_EVERY"
  NOW=$(( $(date +%s) - BEGIN ))
  RSS=$(rss_kib)
  echo "$NOW,$RSS" >> "$CSV"
  (( RSS > PEAK_KIB )) && PEAK_KIB=$RSS
  [[ -z $WARM_KIB ]] && (( NOW >= WARMUP_S )) && WARM_KIB=$RSS
done
wait "$LOAD" || { echo "the load run failed:" >&2; cat "$TMP/load.out" >&2; exit 1; }
LOAD=
END_KIB=$(rss_kib)
echo "$(( $(date +%s) - BEGIN )),$END_KIB" >> "$CSV"
[[ -n $WARM_KIB ]] || WARM_KIB=$END_KIB

python3 - "$START_KIB" "$WARM_KIB" "$END_KIB" "$PEAK_KIB" "$TMP/load.json" "$WARMUP_S" <<'PY'
import json, sys
start, warm, end, peak = (int(v) for v in sys.argv[1:5])
overall = json.load(open(sys.argv[5]))["overall"]
calls = sum(r["count"] for r in overall)
errors = sum(r["errors"] for r in overall)
ratio = end / warm
print(f"calls {calls:,} ({errors:,} errors)")
print(f"RSS start (idle)          {start/1024:8.1f} MiB")
print(f"RSS after {sys.argv[6]:>3} s warm-up   {warm/1024:8.1f} MiB")
print(f"RSS end                   {end/1024:8.1f} MiB")
print(f"RSS peak                  {peak/1024:8.1f} MiB")
print(f"end / after warm-up       {ratio:8.3f}  ({'flat within 10%' if abs(ratio - 1) <= 0.10 else 'NOT flat within 10%'})")
PY
echo "samples: $CSV"
if [[ -z ${SOAK_CSV:-} ]]; then tr '\n' ' ' < "$CSV"; echo; fi
