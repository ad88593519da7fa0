#!/usr/bin/env bash
# `appstrate api --paginate` against curl in a shell loop, same fake instance,
# same pages: 10 000 end-users (~1 KB each), 100 per page, 100 requests each way.
#   1. wall time (hyperfine): --paginate into one envelope; --paginate --jq
#      printing the ids; curl + jq following startingAfter, printing the ids;
#   2. peak RSS (/usr/bin/time -v; for the loop, its largest process).
# The ids printed by both ways are compared first.
# Usage: bench/paginate.sh        Needs: hyperfine, curl, jq, a release build.
#   ITEMS=<n> changes the list's length; PROFILE=dev measures the debug build.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${PROFILE:-release}
# One build for both binaries (one feature resolution, no second build).
cargo build --profile "$PROFILE" -q -p appstrate -p appstrate-testkit --bin appstrate --bin fake-instance-serve
dir=$PROFILE; [ "$PROFILE" = dev ] && dir=debug
BIN=$PWD/target/$dir/appstrate
SERVER=$PWD/target/$dir/fake-instance-serve
ITEMS=${ITEMS:-10000}

work=$(mktemp -d)
export HOME=$work XDG_CONFIG_HOME=$work/config XDG_CACHE_HOME=$work/cache APPSTRATE_NO_DUAL_INSTALL_CHECK=1
unset DBUS_SESSION_BUS_ADDRESS
mkdir -p -m 700 "$work/config/appstrate"
# The server lives until fd 3 closes; it seeds the list and a signed-in profile.
exec 3> >(FAKE_INSTANCE_END_USERS=$ITEMS FAKE_INSTANCE_END_USER_BYTES=800 "$SERVER" "$work" > "$work/url")
trap 'exec 3>&-; rm -rf "$work"' EXIT
for _ in $(seq 600); do [ -s "$work/url" ] && break; sleep 0.05; done
URL=$(cat "$work/url")

cfg=$work/config/appstrate
TOKEN=$(jq -r .default.accessToken "$cfg/credentials.json")
ORG=$(sed -n 's/^orgId = "\(.*\)"/\1/p' "$cfg/config.toml")
APP=$(sed -n 's/^applicationId = "\(.*\)"/\1/p' "$cfg/config.toml")

# What a script does without --paginate: one curl per page, jq for the cursor.
cat > "$work/loop.sh" <<'SH'
#!/usr/bin/env bash
set -euo pipefail
base="$1/api/end-users?limit=100"; after=""
while :; do
  page=$(curl -sS -H "Authorization: Bearer $TOKEN" -H "X-Org-Id: $ORG" -H "X-Application-Id: $APP" \
    "$base${after:+&startingAfter=$after}")
  jq -r '.data[].id' <<<"$page"
  read -r more after < <(jq -r '"\(.hasMore) \(.data[-1].id)"' <<<"$page")
  [ "$more" = true ] || break
done
SH
export TOKEN ORG APP

PAGES="/api/end-users?limit=100"
"$BIN" api -sS --paginate --jq '.data[].id' "$PAGES" > "$work/ours.ids"
bash "$work/loop.sh" "$URL" > "$work/loop.ids"
cmp "$work/ours.ids" "$work/loop.ids"
echo "== $(wc -l < "$work/ours.ids") ids, the same both ways"

echo "== wall time"
hyperfine -N --warmup 1 --runs 10 --export-json "$work/time.json" \
  "$BIN api -sS --paginate -o $work/all.json $PAGES" \
  "$BIN api -sS --paginate --jq .data[].id -o $work/ids.txt $PAGES" \
  "bash $work/loop.sh $URL"

rss() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk '/Maximum resident/ {print $6}'; }
ours_envelope=$(rss "$BIN" api -sS --paginate -o /dev/null "$PAGES")
ours_jq=$(rss "$BIN" api -sS --paginate --jq '.data[].id' "$PAGES")
ours_one_page=$(rss "$BIN" api -sS --paginate --max-pages 1 -o /dev/null "$PAGES")
loop=$(rss bash "$work/loop.sh" "$URL")

python3 - "$work/time.json" "$ours_envelope" "$ours_jq" "$ours_one_page" "$loop" "$(stat -c %s "$work/all.json")" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
envelope, jq, one_page, loop, size = sys.argv[2:7]
rows = [
    ("appstrate api --paginate (one envelope)", r[0]["mean"], envelope),
    ("appstrate api --paginate --jq .data[].id", r[1]["mean"], jq),
    ("curl + jq shell loop", r[2]["mean"], loop),
]
print(f"== {int(size) / 1e6:.1f} MB of JSON in 100 pages")
print(f"{'':44} {'time':>10} {'peak RSS':>12}")
for label, mean, kb in rows:
    print(f"{label:44} {mean * 1000:8.0f} ms {int(kb) / 1024:9.1f} MB")
print(f"{'appstrate api --paginate --max-pages 1':44} {'':>10} {int(one_page) / 1024:9.1f} MB")
print(f"loop / --paginate: {r[2]['mean'] / r[0]['mean']:.2f}x the time")
PY
