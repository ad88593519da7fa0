#!/usr/bin/env bash
# Per-turn cost of `appstrate run` outside the model call, side by side for
# one or more builds of the binary (e.g. main vs a branch):
#   - per-turn overhead: from the scripted model server's last byte of a
#     response to the arrival of the next request, median and p90 over all
#     the gaps of RUNS 200-turn runs (`ls` tool calls), the builds taking
#     turns so that a change in the machine's load hits them alike;
#   - peak RSS of a 200-turn run (the largest of the runs);
#   - with CALLGRIND=1: instructions per turn, counted by callgrind (not
#     disturbed by the load): (200-turn run − 1-turn run) / 199.
# Usage: bench/turn.sh [BINARY…]   (default: the release build of this tree)
#   RUNS=5 (runs per binary), SERVER=<scripted-model-server> (default: release)
# Needs: /usr/bin/time; valgrind for CALLGRIND=1.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -eq 0 ]; then
  cargo build --release -q -p appstrate -p appstrate-testkit --bin appstrate --bin scripted-model-server
  set -- "$PWD/target/release/appstrate"
fi
if [ -z "${SERVER:-}" ]; then
  cargo build --release -q -p appstrate-testkit --bin scripted-model-server
  SERVER="$PWD/target/release/scripted-model-server"
fi
runs="${RUNS:-5}"
pkg="$PWD/crates/appstrate/tests/fixtures/run/bundle-unsigned.afps"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cat > "$work/turns.json" <<'JSON'
{"repeat": {"kind": "turn", "calls": [{"id": "t", "name": "ls", "arguments": "{}"}]}, "times": 199,
 "then": [{"kind": "turn", "text": "done"}]}
JSON
echo '[{"kind": "turn", "text": "done"}]' > "$work/one.json"

# One run of binary $1 on script $2; gaps appended to $3, peak RSS (KiB) to
# $4; the rest of the arguments wrap the binary (e.g. valgrind).
one_run() {
  local bin="$1" script="$2" gaps="$3" rss="$4"; shift 4
  coproc SRV { env GAPS_FILE="$work/gaps.tmp" "$SERVER" "$script"; }
  local url; read -r url <&"${SRV[0]}"
  exec 9>&"${SRV[1]}"
  env -i PATH="$PATH" HOME="$work" TMPDIR="$work" NO_COLOR=1 ANTHROPIC_API_KEY=bench \
    APPSTRATE_LLM_BASE_URL="$url" /usr/bin/time -f "%M" -a -o "$rss" \
    "$@" "$bin" run "$pkg" --json --max-turns 250 > "$work/events.jsonl"
  exec 9>&-
  eval "exec ${SRV[1]}>&-" 2>/dev/null || true
  wait "$SRV_PID" 2>/dev/null || true
  cat "$work/gaps.tmp" >> "$gaps"
}

percentile() { sort -n "$1" | awk -v p="$2" '{a[NR]=$1} END {i=int(NR*p+0.5); if (i<1) i=1; print a[i]}'; }

for round in $(seq "$runs"); do
  for i in $(seq $#); do
    one_run "${!i}" "$work/turns.json" "$work/gaps.$i" "$work/rss.$i"
  done
done

instructions() {
  local bin="$1" script="$2" out="$work/cg.out"
  one_run "$bin" "$script" /dev/null /dev/null valgrind --tool=callgrind --callgrind-out-file="$out" 2>/dev/null
  awk '/^totals:|^summary:/ {print $2; exit}' "$out"
}

printf '%-50s %12s %12s %14s' "binary (load: $(cut -d' ' -f1-3 /proc/loadavg))" "median ms" "p90 ms" "peak RSS KiB"
[ "${CALLGRIND:-0}" = 1 ] && printf ' %14s' "instr/turn"
echo
for i in $(seq $#); do
  printf '%-50s %12s %12s %14s' "${!i}" "$(percentile "$work/gaps.$i" 0.5)" \
    "$(percentile "$work/gaps.$i" 0.9)" "$(sort -n "$work/rss.$i" | tail -1)"
  if [ "${CALLGRIND:-0}" = 1 ]; then
    long=$(instructions "${!i}" "$work/turns.json")
    short=$(instructions "${!i}" "$work/one.json")
    printf ' %14s' "$(( (long - short) / 199 ))"
  fi
  echo
done
