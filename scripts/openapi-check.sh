#!/usr/bin/env bash
# Checks the OpenAPI document against a live `cairn serve --demo`: openapi-spec-validator says it
# is a valid OpenAPI 3.1 document, then schemathesis sends a bounded number of generated requests
# with an API token (no 5xx, every answer's status, content type, headers and body as the
# document says). Both come from PyPI into a virtual environment under the target directory; when
# that cannot be made (no python3 venv, no PyPI), the check says why and is skipped.
# Usage: scripts/openapi-check.sh [PATH/TO/cairn]   (built by `cargo build -p cairn` first)
set -euo pipefail
cd "$(dirname "$0")/.."

target="${CARGO_TARGET_DIR:-target}"
cairn="${1:-$target/debug/cairn}"
venv="$target/openapi-venv"
examples="${OPENAPI_CHECK_EXAMPLES:-15}"

skip() {
  echo "openapi check skipped: $*" >&2
  exit 0
}

if [ ! -x "$venv/bin/schemathesis" ] || [ ! -x "$venv/bin/openapi-spec-validator" ]; then
  python3 -m venv "$venv" >/dev/null 2>&1 || skip "cannot make a Python virtual environment (python3 -m venv)"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    'openapi-spec-validator>=0.7,<1' 'schemathesis>=4.1,<5' >&2 ||
    skip "cannot install openapi-spec-validator and schemathesis from PyPI"
fi
[ -x "$cairn" ] || { echo "openapi check: no binary at $cairn (cargo build -p cairn first)" >&2; exit 1; }

data="$(mktemp -d)"
server=""
cleanup() {
  status=$?
  if [ "$status" -ne 0 ] && [ -f "$data/server.log" ]; then
    echo "openapi check failed; the server's warnings and errors:" >&2
    grep -E 'WARN|ERROR|panicked' "$data/server.log" | tail -40 >&2 || true
  fi
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$data"
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
"$cairn" --data-dir "$data/node" serve --demo --listen "127.0.0.1:$port" >"$data/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do
  curl -sf "$base/healthz" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$data/server.log" >&2; echo "openapi check: the server did not start" >&2; exit 1; }
  sleep 0.2
done
curl -sf "$base/api/v1/openapi.json" -o "$data/openapi.json"

echo "openapi check: validating the document" >&2
"$venv/bin/openapi-spec-validator" "$data/openapi.json"

token="$("$cairn" --data-dir "$data/node" token create --workspace acme --email admin@acme.example 2>/dev/null)"

# `positive_data_acceptance` is left out: a schema cannot say that a member id must exist or that
# a manifest must be dbt's, so schema-valid input is rightly refused with 400 or 422.
# It runs in the temporary directory, where it may leave its own files.
venv="$(cd "$venv" && pwd)"
run() {
  (cd "$data" && timeout 300 "$venv/bin/schemathesis" run "$base/api/v1/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks all --exclude-checks positive_data_acceptance \
    --max-examples "$examples" --workers 1 --request-timeout 30 --generation-database none --no-color \
    --suppress-health-check all "$@")
}
# Operations that can end the caller's own token or membership run last, on their own, so they
# cannot turn the rest of the run into 401s.
own='^(DELETE /api/v1/tokens/\{id\}|DELETE /api/v1/users/\{id\}|PATCH /api/v1/users/\{id\}|DELETE /api/v1/session)$'
echo "openapi check: schemathesis against $base ($examples cases per operation)" >&2
run --exclude-name-regex "$own"
run --include-name-regex "$own"
if grep -q -E 'panicked|ERROR' "$data/server.log"; then
  grep -E 'panicked|ERROR' "$data/server.log" >&2
  echo "openapi check: the server logged errors while schemathesis ran" >&2
  exit 1
fi
echo "openapi check: passed" >&2
