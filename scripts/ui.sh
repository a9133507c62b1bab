#!/usr/bin/env bash
# Install the UI's packages and build ui/dist (which the console embeds at
# compile time), each only when its inputs changed, so an unchanged UI does
# not force the console to recompile.
#
#   scripts/ui.sh [--check]   --check also type-checks and runs the UI unit tests
set -euo pipefail
cd "$(dirname "$0")/../ui"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
if [ "${1:-}" = --check ]; then
  npm run --silent check
  npm test --silent
fi
if [ ! -f dist/index.html ] || [ -n "$(find src index.html package-lock.json vite.config.ts svelte.config.js -newer dist/index.html -print -quit)" ]; then
  npm run --silent build
fi
