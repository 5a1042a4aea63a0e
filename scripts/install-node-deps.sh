#!/usr/bin/env bash
# Node tools the test suite uses (Stoplight Prism, the mock upstream API of the gateway tests),
# installed from package-lock.json into node_modules/. Re-runs only when the lock file changed.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=node_modules/.installed
if [ -f "$stamp" ] && [ "$stamp" -nt package-lock.json ] && [ -x node_modules/.bin/prism ]; then
  exit 0
fi
command -v npm >/dev/null 2>&1 || { echo "npm is missing: run scripts/install-system-deps.sh first" >&2; exit 1; }
npm ci --no-audit --no-fund --loglevel=error
touch "$stamp"
