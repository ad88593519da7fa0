#!/usr/bin/env bash
# Time and peak memory of `appstrate afps verify`:
#   1. on a ~50 MB bundle of 5 000 incompressible files (built with `afps bundle`);
#   2. refusing a zip bomb (1 GiB of zeros deflated to ~1 MB).
# Needs /usr/bin/time (Debian `time`) and python3; uses hyperfine when present.
# Usage: bench/afps-verify.sh            (builds target/release/appstrate)
#        APPSTRATE_BIN=path bench/afps-verify.sh
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${APPSTRATE_BIN:-target/release/appstrate}
if [ -z "${APPSTRATE_BIN:-}" ]; then
  cargo build --release -p appstrate >&2
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

python3 - "$WORK" <<'PY'
import os, struct, sys, zlib
work = sys.argv[1]
src = os.path.join(work, "src")
os.makedirs(src)
with open(os.path.join(src, "manifest.json"), "w") as f:
    f.write('{"name":"@bench/big","version":"1.0.0","type":"agent"}')
with open(os.path.join(src, "prompt.md"), "w") as f:
    f.write("Benchmark agent.\n")
rng = os.urandom
for i in range(4998):  # + manifest.json + prompt.md = 5 000 files
    d = os.path.join(src, "data", f"{i % 50:02d}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i}.bin"), "wb") as f:
        f.write(rng(10_000))

# The bomb: one fully flushed 1 MiB segment of zeros, repeated 1 024 times.
c = zlib.compressobj(9, zlib.DEFLATED, -15)
seg = c.compress(b"\0" * (1 << 20)) + c.flush(zlib.Z_FULL_FLUSH)
data = seg * 1024 + b"\x03\x00"
crc = 0
chunk = b"\0" * (1 << 20)
for _ in range(1024):
    crc = zlib.crc32(chunk, crc)
entries = [("manifest.json", b'{"name":"@bench/bomb","version":"1.0.0","type":"agent"}', 0, None),
           ("prompt.md", b"boom", 0, None),
           ("bomb.bin", data, 8, (crc, 1 << 30))]
out, central = bytearray(), bytearray()
for name, payload, method, meta in entries:
    c32, size = meta if meta else (zlib.crc32(payload), len(payload))
    off = len(out)
    hdr = struct.pack("<HHHHHIIIHH", 20, 0, method, 0, 0x22, c32, len(payload), size, len(name), 0)
    out += b"PK\x03\x04" + hdr + name.encode() + payload
    central += b"PK\x01\x02" + struct.pack("<H", 20) + hdr + struct.pack("<HHHII", 0, 0, 0, 0, off) + name.encode()
cd = len(out)
out += central + b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, len(entries), len(entries), len(central), cd, 0)
open(os.path.join(work, "bomb.afps"), "wb").write(out)
PY

"$BIN" afps bundle "$WORK/src" -o "$WORK/big.afps-bundle" >/dev/null
echo "bundle: $(stat -c %s "$WORK/big.afps-bundle") bytes, $(python3 -c 'import sys,zipfile; print(len(zipfile.ZipFile(sys.argv[1]).namelist()))' "$WORK/big.afps-bundle") entries (5 000 files + RECORD + bundle.json)"
echo "bomb:   $(stat -c %s "$WORK/bomb.afps") bytes, declares 1 GiB"

measure() { # label, expected exit code, command...
  local label=$1 want=$2; shift 2
  local log="$WORK/time.log" code=0
  /usr/bin/time -v "$@" >/dev/null 2>"$log" || code=$?
  if [ "$code" != "$want" ]; then echo "$label: exit $code, expected $want" >&2; cat "$log" >&2; exit 1; fi
  local wall rss
  wall=$(grep "Elapsed (wall clock)" "$log" | awk '{print $NF}')
  rss=$(grep "Maximum resident set size" "$log" | awk '{print $NF}')
  awk -v l="$label" -v w="$wall" -v r="$rss" 'BEGIN { printf "%-30s wall %s  peak RSS %d KiB (%.1f MiB)\n", l, w, r, r / 1024 }'
}

measure "verify 50 MB / 5 000 files" 0 "$BIN" afps verify "$WORK/big.afps-bundle"
measure "refuse 1 GiB zip bomb" 1 "$BIN" afps verify "$WORK/bomb.afps"

if command -v hyperfine >/dev/null 2>&1; then
  hyperfine --warmup 1 --runs "${RUNS:-10}" -N \
    "$BIN afps verify $WORK/big.afps-bundle" 2>/dev/null || true
  hyperfine --warmup 1 --runs "${RUNS:-10}" -N -i \
    "$BIN afps verify $WORK/bomb.afps" 2>/dev/null || true
fi
