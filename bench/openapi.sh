#!/usr/bin/env bash
# `appstrate openapi` on the real platform schema (594 KB, 287 operations)
# from a warm cache, whole process, against the local fake instance (each
# run revalidates with If-None-Match and gets a 304):
#   1. `openapi list` and `openapi show <op> --json` (hyperfine wall time);
#   2. peak RSS of both (/usr/bin/time -v).
# Targets: cached `openapi list` < 10 ms wall, < 15 MB peak RSS.
# In-process costs (parse, filter, dereference the whole document):
#   cargo bench -p appstrate-openapi
# Usage: bench/openapi.sh        Needs: hyperfine, a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p appstrate
cargo build --release -q -p appstrate-testkit --bin fake-instance-serve
BIN=$PWD/target/release/appstrate
SERVER=$PWD/target/release/fake-instance-serve

work=$(mktemp -d)
"$SERVER" "$work" > "$work/url" &
server_pid=$!
trap 'kill $server_pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do [ -s "$work/url" ] && break; sleep 0.05; done

export HOME=$work XDG_CONFIG_HOME=$work/config XDG_CACHE_HOME=$work/cache APPSTRATE_NO_DUAL_INSTALL_CHECK=1
unset DBUS_SESSION_BUS_ADDRESS NO_COLOR FORCE_COLOR
export XDG_RUNTIME_DIR=$work/run
mkdir -p -m 700 "$XDG_RUNTIME_DIR"

OP="POST /api/agents/{scope}/{name}/run"
"$BIN" openapi list > /dev/null    # warm the cache
test -s "$work/cache/appstrate/openapi-default.etag"

echo "== warm cache: openapi list, openapi show \"$OP\" --json"
hyperfine -N --warmup 10 --runs 200 --export-json "$work/times.json" \
  "$BIN openapi list" \
  "$BIN openapi show '$OP' --json"

echo "== peak RSS (KB)"
list_kb=$(/usr/bin/time -v "$BIN" openapi list 2>&1 >/dev/null | awk '/Maximum resident/ {print $6}')
show_kb=$(/usr/bin/time -v "$BIN" openapi show "$OP" --json 2>&1 >/dev/null | awk '/Maximum resident/ {print $6}')
echo "  openapi list: ${list_kb} KB"
echo "  openapi show --json: ${show_kb} KB"

python3 - "$work/times.json" "$list_kb" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
for res, label in zip(r, ["openapi list", "openapi show --json"]):
    print(f"{label}: mean {res['mean']*1000:.2f} ms, median {res['median']*1000:.2f} ms, min {res['min']*1000:.2f} ms")
list_ms, list_mb = r[0]["median"] * 1000, int(sys.argv[2]) / 1024
print(f"target list < 10 ms: {'met' if list_ms < 10 else 'NOT met'} ({list_ms:.2f} ms median); "
      f"< 15 MB: {'met' if list_mb < 15 else 'NOT met'} ({list_mb:.1f} MB)")
PY
