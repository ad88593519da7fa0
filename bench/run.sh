#!/usr/bin/env bash
# Figures for `appstrate run` against the scripted model server (no network):
#   1. runtime overhead per turn: from the server's last byte of a response to
#      the next request, median over a 200-turn scripted run (`ls` tool calls);
#   2. peak memory (max RSS) of that 200-turn run;
#   3. start-up: process spawn to the first model request (median of 20), plus
#      hyperfine over a whole one-turn run.
# Usage: bench/run.sh            (release build; PROFILE=dev for a debug build)
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${PROFILE:-release}"
if [ "$profile" = release ]; then
  cargo build --release -p appstrate -p appstrate-testkit --bin appstrate --bin scripted-model-server >&2
  dir=target/release
else
  cargo build -p appstrate -p appstrate-testkit --bin appstrate --bin scripted-model-server >&2
  dir=target/debug
fi
bin="$PWD/$dir/appstrate"
server="$PWD/$dir/scripted-model-server"
pkg="$PWD/crates/appstrate/tests/fixtures/run/bundle-unsigned.afps"
command -v hyperfine >/dev/null || { echo "bench/run.sh: needs hyperfine (apt-get install hyperfine)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Starts the server on a script; sets $url; the server lives while fd 9 is open.
start_server() {
  local script="$1"; shift
  coproc SRV { env "$@" "$server" "$script"; }
  read -r url <&"${SRV[0]}"
  exec 9>&"${SRV[1]}"
}
stop_server() {
  exec 9>&-
  eval "exec ${SRV[1]}>&-" 2>/dev/null || true
  wait "$SRV_PID" 2>/dev/null || true
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) {print "n/a"} else if (NR%2) {print a[(NR+1)/2]} else {print (a[NR/2]+a[NR/2+1])/2}}'; }

run_env=(env -i PATH="$PATH" HOME="$work" TMPDIR="$work" NO_COLOR=1 ANTHROPIC_API_KEY=bench)

# 1 + 2: 199 tool turns and a final text turn.
cat > "$work/turns.json" <<'JSON'
{"repeat": {"kind": "turn", "calls": [{"id": "t", "name": "ls", "arguments": "{}"}]}, "times": 199,
 "then": [{"kind": "text_placeholder"}]}
JSON
sed -i 's/{"kind": "text_placeholder"}/{"kind": "turn", "text": "done"}/' "$work/turns.json"
start_server "$work/turns.json" GAPS_FILE="$work/gaps.txt"
/usr/bin/time -f "%M" -o "$work/rss.txt" "${run_env[@]}" APPSTRATE_LLM_BASE_URL="$url" \
  "$bin" run "$pkg" --json --max-turns 250 > "$work/events.jsonl"
stop_server
turns=$(grep -c '"Turn ' "$work/events.jsonl" || true)
echo "turns completed: $turns"
echo "per-turn overhead, median of $(wc -l < "$work/gaps.txt") gaps (ms): $(median < "$work/gaps.txt")"
echo "per-turn overhead, p90 (ms): $(sort -n "$work/gaps.txt" | awk '{a[NR]=$1} END {print a[int(NR*0.9)]}')"
echo "peak RSS of the 200-turn run (KiB): $(cat "$work/rss.txt")"

# 3: spawn → first request, 20 times.
echo '[{"kind": "turn", "text": "hi"}]' > "$work/one.json"
: > "$work/startup.txt"
for _ in $(seq 20); do
  start_server "$work/one.json" FIRST_REQUEST_FILE="$work/first.txt"
  t0=$(date +%s%N)
  "${run_env[@]}" APPSTRATE_LLM_BASE_URL="$url" "$bin" run "$pkg" --json > /dev/null
  stop_server
  t1=$(cat "$work/first.txt")
  awk -v d=$(( t1 - t0 )) 'BEGIN { printf "%.3f\n", d / 1000000 }' >> "$work/startup.txt"
done
echo "start-up to first model request, median of 20 (ms): $(median < "$work/startup.txt")"

# Whole one-turn run, for comparison with other commands.
printf '[%s]' "$(for i in $(seq 60); do [ "$i" -gt 1 ] && printf ','; printf '{"kind":"turn","text":"hi"}'; done)" > "$work/many.json"
start_server "$work/many.json"
hyperfine -N --warmup 3 --runs 50 \
  "env -i PATH=$PATH HOME=$work TMPDIR=$work NO_COLOR=1 ANTHROPIC_API_KEY=bench APPSTRATE_LLM_BASE_URL=$url $bin run $pkg --json"
stop_server
