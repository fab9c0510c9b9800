#!/usr/bin/env bash
# Does open loop send on time? Serves the emulator on loopback and runs
# `grep11-harness load --rate R` for GenerateRandom(32) at each rate, with the event loop
# woken ahead of each send (--pacing-lead, default 200us) and without (0). Three rounds,
# the order of the two alternating; then the medians of `sent late` (how long after its
# intended time each call started) at p50, p90 and p99, and the generator's CPU seconds
# per 1,000 calls (user+sys from rusage, warm-up included). Every call must succeed and
# every run must reach its rate.
#
#   benches/open-loop-pacing.sh [SECONDS] [RATE...]
# Needs a prebuilt binary (cargo build --release; BIN= to use another) and python3.
# Run it on an otherwise idle machine: other work shows as lateness.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-5}
if (( $# > 1 )); then RATES=("${@:2}"); else RATES=(200 2000 10000); fi
PORT=${PORT:-19877}
BIN=${BIN:-target/release/grep11-harness}
LEADS=(200us 0)
command -v python3 >/dev/null || { echo "python3 not found" >&2; exit 2; }
[[ -x $BIN ]] || { echo "$BIN not built: cargo build --release (or BIN=path)" >&2; exit 2; }
TMP=$(mktemp -d)
$BIN serve --listen 127.0.0.1:$PORT 2>"$TMP/serve.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 50); do grep -q serving "$TMP/serve.log" && break; sleep 0.1; done

# Prints "P50 P90 P99 CPU_PER_1000" (microseconds, seconds) for one run.
run_one() {
  local rate=$1 lead=$2
  python3 - "$BIN" "$PORT" "$rate" "$lead" "$SECS" "$TMP/load.json" <<'PY'
import json, resource, subprocess, sys
bin, port, rate, lead, secs, out = sys.argv[1:]
p = subprocess.run([bin, "load", "--endpoint", f"http://127.0.0.1:{port}", "--workload", "random-32",
                    "--rate", rate, "--pacing-lead", lead, "--duration", f"{secs}s", "--warmup", "1s",
                    "--json", out], capture_output=True, text=True)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
if p.returncode != 0:
    sys.exit(f"load --rate {rate} --pacing-lead {lead} exited {p.returncode}:\n{p.stderr}")
o = json.load(open(out))["overall"][0]
if o["errors"] or o["wrong"]:
    sys.exit(f"load --rate {rate}: {o['errors']} errors, {o['wrong']} wrong answers")
if o["rate"] < 0.98 * float(rate):
    sys.exit(f"load --rate {rate} reached only {o['rate']:.0f}/s")
late = o["sent_late_ms"]
cpu = r.ru_utime + r.ru_stime
calls = float(rate) * (float(secs) + 1)
print(f"{late['p50'] * 1000:.1f} {late['p90'] * 1000:.1f} {late['p99'] * 1000:.1f} {1000 * cpu / calls:.4f}")
PY
}

: > "$TMP/rounds"
for round in 1 2 3; do
  for rate in "${RATES[@]}"; do
    if (( round % 2 )); then order=("${LEADS[@]}"); else order=("${LEADS[1]}" "${LEADS[0]}"); fi
    for lead in "${order[@]}"; do
      echo "$round $rate $lead $(run_one "$rate" "$lead")" | tee -a "$TMP/rounds"
    done
  done
done

python3 - "$TMP/rounds" "$SECS" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
print(f"\nGenerateRandom(32), open loop, {sys.argv[2]} s after 1 s of warm-up, 3 rounds (order alternating), medians")
print(f"{'rate/s':>8} {'lead':>6}  sent late p50 / p90 / p99 (us)   CPU s per 1,000 calls")
keys = sorted({(float(r[1]), r[2]) for r in rows}, key=lambda k: (k[0], k[1] == "0"))
for rate, lead in keys:
    mine = [r for r in rows if float(r[1]) == rate and r[2] == lead]
    med = [statistics.median(float(r[i]) for r in mine) for i in (3, 4, 5, 6)]
    print(f"{rate:8.0f} {lead:>6}  {med[0]:8.0f} / {med[1]:4.0f} / {med[2]:4.0f}            {med[3]:.4f}")
PY
