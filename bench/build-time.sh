#!/usr/bin/env bash
# What `cargo install` costs, from a cold target directory, for the two
# profiles side by side (README "Install"):
#   release  what `cargo install --locked --path crates/appstrate` builds
#            (thin local LTO, 16 codegen units);
#   dist     what `scripts/release` builds (fat LTO, one codegen unit).
# Prints wall time, CPU time (user+sys), peak RSS of the build and the size
# of the installed binary. Run it on an otherwise idle machine: a build
# uses every core, so anything else running inflates the figures.
# Usage: bench/build-time.sh [release|dist]...   (default: both)
# Needs: GNU time (/usr/bin/time).
set -euo pipefail
cd "$(dirname "$0")/.."
profiles=("$@")
[ ${#profiles[@]} -gt 0 ] || profiles=(release dist)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Fetch once up front so the timings hold no download.
cargo fetch --locked -q

printf '%-8s %10s %10s %10s %12s\n' profile wall cpu rss_MB binary_MB
for profile in "${profiles[@]}"; do
  CARGO_TARGET_DIR="$work/target-$profile" /usr/bin/time -f '%e %U %S %M' -o "$work/time-$profile" \
    cargo install --locked --offline --quiet --profile "$profile" \
      --path crates/appstrate --root "$work/root-$profile" 2> "$work/log-$profile" || {
      cat "$work/log-$profile" >&2
      exit 1
    }
  read -r wall user sys rss < "$work/time-$profile"
  bytes=$(stat -c %s "$work/root-$profile/bin/appstrate")
  awk -v p="$profile" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" -v b="$bytes" 'BEGIN {
    printf "%-8s %7dm%02ds %9.0fs %10.0f %12.1f\n", p, int(w / 60), w % 60, u + s, r / 1024, b / 1e6
  }'
  rm -rf "$work/target-$profile"
done
