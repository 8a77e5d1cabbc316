#!/usr/bin/env bash
# Runs Cairn on this machine: embedded SQLite, the demo workspace and the built-in offline
# assistant, at http://127.0.0.1:8080. Sign-in details are printed once and kept in
# ./cairn-data/demo-credentials.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! ls /usr/lib/llvm-*/lib/libclang.so >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libclang-dev >/dev/null
  else
    echo "the build needs libclang-dev: sudo apt-get install -y libclang-dev" >&2
    exit 1
  fi
fi
exec cargo run --release --locked -p cairn -- serve --demo "$@"
