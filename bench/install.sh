#!/usr/bin/env bash
# Wall time of a Tier 3 install with the fake docker (everything but the
# containers: Docker checks, compose file, .env secrets, project.json,
# `compose up`, health poll against a loopback responder, report).
# Usage: bench/install.sh     Needs: hyperfine, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p appstrate
cargo build -q -p appstrate-testkit --bin fake-docker-write
BIN=$PWD/target/release/appstrate
work=$(mktemp -d)
trap '[ -f "$work/state/pids" ] && xargs -r kill < "$work/state/pids" 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$work/state"
target/debug/fake-docker-write "$work/bin"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("0.0.0.0",0)); print(s.getsockname()[1])')
export HOME=$work/home APPSTRATE_NO_DUAL_INSTALL_CHECK=1 APPSTRATE_CLI_NO_OPEN=1 NO_COLOR=1
export PATH="$work/bin:$(dirname "$(command -v python3)"):$PATH"
export FAKE_DOCKER_LOG=$work/calls.log FAKE_DOCKER_STATE=$work/state FAKE_DOCKER_SERVE_PORT=$port
# Each run is a fresh install into a new directory; the responder of the
# previous run is stopped first so the port preflight passes.
hyperfine -N --warmup 2 --runs 20 \
  --prepare "sh -c '[ -f $work/state/pids ] && xargs -r kill < $work/state/pids; rm -f $work/state/pids; rm -rf $work/home/s; sleep 0.2'" \
  "$BIN install --yes --tier 3 --dir $work/home/s --port $port"
