#!/usr/bin/env bash
# The emulator's signatures against the best implementation on the same machine, side by
# side in one run: `openssl speed` for RSA-2048 and ECDSA P-256 signing (its calls checked
# to have succeeded), then the criterion group "embedded wire, 1 in flight" of
# benches/emulator.rs (GenerateRandom(32), SignSingle ECDSA P-256 and RSA-2048 through the
# embedded emulator's real HTTP/2). Prints, per signature, the emulator's mean time per
# call over (OpenSSL's time per signature + the emulator's GenerateRandom(32) call): the
# target is at most 1.5.
#
#   benches/vs-openssl.sh [SECONDS]     (SECONDS per measurement, default 3; keep it short
#                                        on a shared machine)
# Needs: cargo, openssl, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-3}
command -v openssl >/dev/null || { echo "openssl not found" >&2; exit 2; }

OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
# -mr: machine-readable lines (+F2:<n>:<bits>:<signs/s>:<verifies/s> for RSA, +F4 for ECDSA).
if ! openssl speed -mr -seconds "$SECS" rsa2048 ecdsap256 >"$OUT" 2>&1; then
    echo "openssl speed failed:" >&2; cat "$OUT" >&2; exit 1
fi
RSA=$(awk -F: '/^\+F2:/ && $3 == 2048 {print $4}' "$OUT")
ECDSA=$(awk -F: '/^\+F4:/ && $3 == 256 {print $4}' "$OUT")
[ -n "$RSA" ] && [ -n "$ECDSA" ] || { echo "openssl speed printed no signing times:" >&2; cat "$OUT" >&2; exit 1; }

cargo bench --quiet --bench emulator -- --warm-up-time 1 --measurement-time "$SECS" "embedded wire" >/dev/null
python3 - "$RSA" "$ECDSA" "${CARGO_TARGET_DIR:-target}" <<'EOF'
import json, sys
rsa_s, ecdsa_s, target = 1 / float(sys.argv[1]), 1 / float(sys.argv[2]), sys.argv[3]
def mean_s(name):
    with open(f"{target}/criterion/embedded wire, 1 in flight/{name}/new/estimates.json") as f:
        return json.load(f)["mean"]["point_estimate"] / 1e9
rnd = mean_s("random-32")
print(f"GenerateRandom(32) through the embedded wire: {rnd * 1e6:.1f} us")
for label, name, ossl in [("RSA-2048 sign", "sign-rsa2048-pkcs", rsa_s), ("ECDSA P-256 sign", "sign-ecdsa-p256", ecdsa_s)]:
    emu = mean_s(name)
    print(f"{label}: emulator {emu * 1e6:.1f} us, openssl {ossl * 1e6:.1f} us, "
          f"ratio {emu / (ossl + rnd):.2f} (target <= 1.5)")
EOF
