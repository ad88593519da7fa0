#!/usr/bin/env bash
# Bounded fuzzing of the archive reader and the RECORD parser with proptest
# (cargo-fuzz needs a nightly toolchain; proptest runs on stable and in CI).
# PROPTEST_CASES (default 20000) sets how many cases each property runs.
# Usage: bench/afps-fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PROPTEST_CASES=${PROPTEST_CASES:-20000} cargo test -p appstrate-afps --test proptest_parsers -- --test-threads=2
