#!/usr/bin/env bash
# Start-up and `whoami` cost of the release binary, with hyperfine and
# /usr/bin/time -v (peak RSS). Usage: bench/startup.sh
# Needs: hyperfine (apt-get install hyperfine), a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p appstrate
cargo build -q -p appstrate-testkit --bin fake-instance-serve
BIN=target/release/appstrate
echo "binary size: $(stat -c %s "$BIN") bytes"
work=$(mktemp -d); trap 'kill ${server_pid:-0} 2>/dev/null || true; rm -rf "$work"' EXIT
export HOME=$work XDG_CONFIG_HOME=$work/config XDG_CACHE_HOME=$work/cache APPSTRATE_NO_DUAL_INSTALL_CHECK=1
unset DBUS_SESSION_BUS_ADDRESS
hyperfine -N --warmup 20 --runs 200 "$BIN --version"
/usr/bin/time -v "$BIN" --version 2>&1 >/dev/null | grep -E "Maximum resident"

# whoami against the fake instance (seeded by the serve helper).
target/debug/fake-instance-serve "$work" > "$work/url" &
server_pid=$!
for _ in $(seq 100); do [ -s "$work/url" ] && break; sleep 0.05; done
hyperfine -N --warmup 5 --runs 100 "$BIN whoami"
# The same with the dual-install check on (a scan of $PATH for other
# `appstrate` binaries, as every user gets it by default).
APPSTRATE_NO_DUAL_INSTALL_CHECK= hyperfine -N --warmup 5 --runs 100 -n "whoami (dual-install check on)" "$BIN whoami"
/usr/bin/time -v "$BIN" whoami 2>&1 >/dev/null | grep -E "Maximum resident"
