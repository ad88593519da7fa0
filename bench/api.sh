#!/usr/bin/env bash
# `appstrate api` against the system curl, same local server, same headers:
#   1. a small GET (hyperfine wall time);
#   2. a 100 MB download to /dev/null through each (hyperfine), with peak RSS
#      from /usr/bin/time -v at 10 MB and 100 MB (memory must stay flat).
# Usage: bench/api.sh        Needs: hyperfine, curl, a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p appstrate
cargo build --release -q -p appstrate-testkit --bin recorder-server
BIN=$PWD/target/release/appstrate
SERVER=$PWD/target/release/recorder-server

work=$(mktemp -d)
exec 3> >("$SERVER" > "$work/url")   # the server lives until fd 3 closes
trap 'exec 3>&-; rm -rf "$work"' EXIT
for _ in $(seq 100); do [ -s "$work/url" ] && break; sleep 0.05; done
URL=$(cat "$work/url")

# A signed-in profile in a private HOME (file credential store, token valid 1 h).
export HOME=$work XDG_CONFIG_HOME=$work/config XDG_CACHE_HOME=$work/cache APPSTRATE_NO_DUAL_INSTALL_CHECK=1
unset DBUS_SESSION_BUS_ADDRESS
mkdir -p -m 700 "$work/config/appstrate"
TOKEN="bench-access-token"
now_ms=$(( $(date +%s) * 1000 ))
printf 'defaultProfile = "default"\n\n[profile]\n[profile.default]\ninstance = "%s"\nuserId = "u1"\nemail = "a@b.c"\norgId = "org_1"\napplicationId = "app_1"\n' "$URL" \
  > "$work/config/appstrate/config.toml"
printf '{\n  "default": {"accessToken": "%s", "expiresAt": %d, "refreshToken": "r", "refreshExpiresAt": %d}\n}' \
  "$TOKEN" $((now_ms + 3600000)) $((now_ms + 86400000)) > "$work/config/appstrate/credentials.json"
chmod 600 "$work/config/appstrate/"*

CURL_HEADERS=(-H "User-Agent: appstrate-cli/bench" -H "Authorization: Bearer $TOKEN" -H "X-Org-Id: org_1" -H "X-Application-Id: app_1")
curl_cmd="curl -sS ${CURL_HEADERS[*]@Q} $URL/api/x"

echo "== small request: appstrate api GET /api/x vs curl (same headers)"
hyperfine -N --warmup 20 --runs 300 --export-json "$work/small.json" \
  "$BIN api -sS GET /api/x" "$curl_cmd"

echo "== 100 MB download to /dev/null"
N=$((100 * 1024 * 1024))
hyperfine -N --warmup 1 --runs 10 --export-json "$work/large.json" \
  "$BIN api -sS -o /dev/null /bytes?n=$N" \
  "curl -sS ${CURL_HEADERS[*]@Q} -o /dev/null $URL/bytes?n=$N"

echo "== peak RSS (KB)"
for size_mb in 10 100; do
  n=$((size_mb * 1024 * 1024))
  ours=$(/usr/bin/time -v "$BIN" api -sS -o /dev/null "/bytes?n=$n" 2>&1 >/dev/null | awk '/Maximum resident/ {print $6}')
  theirs=$(/usr/bin/time -v curl -sS "${CURL_HEADERS[@]}" -o /dev/null "$URL/bytes?n=$n" 2>&1 >/dev/null | awk '/Maximum resident/ {print $6}')
  echo "  ${size_mb} MB: appstrate api ${ours} KB, curl ${theirs} KB"
done
ours_stdout=$(/usr/bin/time -v "$BIN" api -sS "/bytes?n=$N" 2>&1 >/dev/null | awk '/Maximum resident/ {print $6}')
echo "  100 MB to a stdout pipe: appstrate api ${ours_stdout} KB"

python3 - "$work/small.json" "$work/large.json" <<'PY'
import json, sys
for path, label in zip(sys.argv[1:], ["small request", "100 MB download"]):
    r = json.load(open(path))["results"]
    ours, curl = r[0]["mean"], r[1]["mean"]
    print(f"{label}: appstrate api {ours*1000:.2f} ms, curl {curl*1000:.2f} ms, ratio {ours/curl:.2f}x")
PY
