#!/usr/bin/env bash
# docs/api/ is generated from worker-runtime's TSDoc (typedoc.json): regenerate it aside and fail on any
# difference, so a doc comment and its page never disagree. `npm run docs:api` rewrites docs/api/.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
npx typedoc --out "$out" --logLevel Warn
if ! diff -r docs/api "$out" >/dev/null; then
  diff -r docs/api "$out" | head -40 || true
  echo "docs/api/ is out of date with the TSDoc in worker-runtime/src: run npm run docs:api and commit it" >&2
  exit 1
fi
