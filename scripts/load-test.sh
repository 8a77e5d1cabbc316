#!/usr/bin/env bash
# Load test: `cairn serve` on loopback over a generated catalog (100k resources by default), driven
# by wrk with 64 connections for 10 s per scenario: search (`GET /api/v1/resources?q=…`, varying
# queries) and get-by-id (`GET /api/v1/resources/{id}`, random ids). Prints requests/s, p50, p99,
# the error count (non-2xx answers and socket errors) and the server's CPU time per request per
# scenario; fails on any error.
#
#   bash scripts/load-test.sh              # builds the release binary first
#   bash scripts/load-test.sh PATH/cairn   # uses that binary
#
# RESOURCES, CONNECTIONS, DURATION (wrk's, e.g. 10s), WARMUP (3s, run before each scenario and
# not counted) and THREADS (wrk's) override the defaults.
# Installs Debian's wrk when missing (needs root for that, once).
set -euo pipefail
cd "$(dirname "$0")/.."

resources=${RESOURCES:-100000}
connections=${CONNECTIONS:-64}
duration=${DURATION:-10s}
threads=${THREADS:-2}

if ! command -v wrk >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "wrk is missing: run as root once (or apt-get install -y wrk)" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi

if [ $# -ge 1 ]; then
  cairn=$1
else
  cargo build --release --locked -p cairn
  cairn="${CARGO_TARGET_DIR:-target}/release/cairn"
fi

work=$(mktemp -d)
server=""
cleanup() {
  if [ -n "$server" ]; then
    kill -TERM "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
data="$work/data"
unset CAIRN_DATABASE_URL CAIRN_DATA_DIR

echo "load test: generating $resources resources" >&2
seeded=$(RUST_LOG=warn "$cairn" --data-dir "$data" bench seed --resources "$resources" | grep '^seeded:')
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$seeded"; }
workspace=$(field workspace)
email=$(field email)
first_id=$(field first_id)
last_id=$(field last_id)
token=$(RUST_LOG=warn "$cairn" --data-dir "$data" token create --workspace "$workspace" --email "$email" 2>/dev/null)

RUST_LOG=warn "$cairn" --data-dir "$data" serve --listen 127.0.0.1:0 2>"$work/server.log" &
server=$!
base=""
for _ in $(seq 1 600); do
  base=$(sed -n 's/^cairn is listening on \(http:[^ ]*\).*/\1/p' "$work/server.log")
  [ -n "$base" ] && break
  kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$base" ] || { echo "cairn did not listen" >&2; exit 1; }

# The server indexes the generated catalog from the change feed; wait until search finds it.
echo "load test: waiting for the index" >&2
indexed=""
for _ in $(seq 1 600); do
  if curl -sf -H "Authorization: Bearer $token" "$base/api/v1/resources?q=order&limit=1" \
    | grep -q '"items":\[{'; then
    indexed=yes
    break
  fi
  sleep 0.5
done
[ -n "$indexed" ] || { echo "the index did not catch up within 300 s" >&2; exit 1; }

# Each scenario prints one line, `wrk-result: …`, from its done() hook.
cat >"$work/common.lua" <<'EOF'
wrk.headers["Authorization"] = "Bearer " .. os.getenv("CAIRN_TOKEN")
function done(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format("wrk-result: requests=%d rps=%.0f p50_ms=%.2f p99_ms=%.2f errors=%d\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, errors))
end
EOF
cat >"$work/search.lua" <<'EOF'
dofile(os.getenv("CAIRN_LUA_DIR") .. "/common.lua")
local words = { "order", "customer", "invoice", "payment", "refund", "product", "supplier",
  "inventory", "shipment", "account", "ledger", "employee", "salary", "department", "campaign",
  "lead", "opportunity", "contract", "subscription", "plan", "region", "store", "warehouse",
  "return", "discount", "coupon", "tax", "currency", "exchange", "budget", "forecast", "expense",
  "vendor", "ticket", "session", "event", "click", "visit", "device", "channel", "partner",
  "reseller", "license", "renewal", "churn", "cohort", "margin", "revenue", "cost", "price" }
local count = 0
function request()
  count = count + 1
  local first = words[(count % #words) + 1]
  local second = words[((count * 7) % #words) + 1]
  local path = "/api/v1/resources?limit=10&q=" .. first
  if count % 2 == 0 then path = path .. "%20" .. second end
  if count % 3 == 0 then path = path .. "&kind=table" end
  return wrk.format("GET", path)
end
EOF
cat >"$work/get.lua" <<'EOF'
dofile(os.getenv("CAIRN_LUA_DIR") .. "/common.lua")
local first = tonumber(os.getenv("CAIRN_FIRST_ID"))
local last = tonumber(os.getenv("CAIRN_LAST_ID"))
function request()
  return wrk.format("GET", "/api/v1/resources/" .. math.random(first, last))
end
EOF

# The server's CPU time (user and system), in clock ticks: per request, it is a figure that
# depends less on what else the machine runs than requests/s does.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }
ticks_per_s=$(getconf CLK_TCK)

failed=0
for scenario in search get; do
  # A warm-up, not counted: a server that has just started has read nothing yet (its caches
  # of ranking facts are empty); what is measured is the server at work.
  CAIRN_TOKEN="$token" CAIRN_LUA_DIR="$work" CAIRN_FIRST_ID="$first_id" CAIRN_LAST_ID="$last_id" \
    wrk -t"$threads" -c"$connections" -d"${WARMUP:-3s}" -s "$work/$scenario.lua" "$base" >/dev/null
  before=$(cpu_ticks)
  result=$(CAIRN_TOKEN="$token" CAIRN_LUA_DIR="$work" CAIRN_FIRST_ID="$first_id" \
    CAIRN_LAST_ID="$last_id" wrk -t"$threads" -c"$connections" -d"$duration" \
    -s "$work/$scenario.lua" "$base" | grep '^wrk-result:')
  requests=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$result")
  cpu_us=$(( ($(cpu_ticks) - before) * 1000000 / ticks_per_s / (requests > 0 ? requests : 1) ))
  echo "load-test: scenario=$scenario resources=$resources connections=$connections duration=$duration ${result#wrk-result: } server_cpu_us_per_request=$cpu_us"
  errors=$(sed -n 's/.*errors=\([0-9]*\).*/\1/p' <<<"$result")
  [ "$errors" = "0" ] || failed=1
done

kill -TERM "$server"
wait "$server" || { echo "cairn did not exit cleanly on SIGTERM" >&2; failed=1; }
server=""
if [ "$failed" -ne 0 ]; then
  echo "load test failed: some requests did not answer 2xx (server log: below)" >&2
  tail -n 20 "$work/server.log" >&2
  exit 1
fi
