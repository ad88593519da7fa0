#!/usr/bin/env bash
# Runs every fuzz target of fuzz/ for a bounded time (default 60 s each),
# one after the other, at low priority. Needs the nightly toolchain and
# cargo-fuzz (`cargo install cargo-fuzz --locked`).
#
#   bench/fuzz.sh [SECONDS] [TARGET...]
#
# Each target starts from a scratch copy of its committed seeds
# (fuzz/seeds/<target>), so the repository's corpus stays small; crashes
# land in fuzz/artifacts/<target>/. Prints one line per target and exits
# non-zero when any target crashed.
set -euo pipefail

seconds="${1:-60}"
shift || true
cd "$(dirname "$0")/.."

# Arguments libFuzzer gets: bounded time, memory and input size.
max_len="${FUZZ_MAX_LEN:-4096}"
rss_mb="${FUZZ_RSS_MB:-2048}"
timeout_s="${FUZZ_TIMEOUT:-10}"
# The code under test is safe Rust: panics, overflow checks (debug
# assertions are on) and the RSS cap find its bugs; AddressSanitizer would
# halve the executions. FUZZ_SANITIZER=address turns it back on.
sanitizer="${FUZZ_SANITIZER:-none}"

targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list --fuzz-dir fuzz)
fi

nice -n 19 cargo +nightly fuzz build --fuzz-dir fuzz -s "$sanitizer"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

failed=0
for target in "${targets[@]}"; do
  corpus="$scratch/$target"
  mkdir -p "$corpus" "fuzz/artifacts/$target"
  if [ -d "fuzz/seeds/$target" ]; then
    cp -R "fuzz/seeds/$target/." "$corpus/"
  fi
  log="$scratch/$target.log"
  status=0
  nice -n 19 cargo +nightly fuzz run --fuzz-dir fuzz -s "$sanitizer" "$target" "$corpus" -- \
    -max_total_time="$seconds" -rss_limit_mb="$rss_mb" -max_len="$max_len" \
    -timeout="$timeout_s" -print_final_stats=1 \
    -artifact_prefix="fuzz/artifacts/$target/" >"$log" 2>&1 || status=$?
  runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
  crashes="$(find "fuzz/artifacts/$target" -type f -newer "$corpus" | wc -l)"
  if [ "$status" -ne 0 ]; then
    failed=1
    echo "$target: FAILED (exit $status) runs=${runs:-?} new_artifacts=$crashes"
    grep -m 5 -E 'panicked|ERROR: libFuzzer|SUMMARY' "$log" | sed 's/^/    /' || true
  else
    echo "$target: ok runs=${runs:-?} seconds=$seconds crashes=0"
  fi
done
exit "$failed"
