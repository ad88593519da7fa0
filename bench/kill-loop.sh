#!/usr/bin/env bash
# SIGKILL `appstrate` at random moments in a loop of logins, org/app
# switches, refreshes and logouts against the fake instance, and check
# after every kill that config.toml and credentials.json parse, modes stay
# 0600/0700, no temp file survives the next write and the next command
# works. The normal test suite runs 60 kills; this runs more.
# Usage: bench/kill-loop.sh [kills, default 500]
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
APPSTRATE_KILL_LOOP="${1:-500}" cargo nextest run -p appstrate --test it kill_loop:: \
  --no-capture >"$log" 2>&1 || status=$?
grep -E "kill loop:|panicked|PASS|FAIL" "$log" || tail -20 "$log"
exit "$status"
