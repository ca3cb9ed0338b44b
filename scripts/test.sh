#!/usr/bin/env bash
# The test command: installs what is missing, builds, starts a throwaway PostgreSQL, runs every test
# (unit, integration, e2e) with ctest, then all of them again with an ASan+UBSan build
# when CI=true or PHASEGATE_SANITIZE_TESTS=1.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/deps.sh"
build=$("$root/scripts/build.sh")
eval "$("$root/scripts/pg.sh" start)"
trap '"$root/scripts/pg.sh" stop "$PHASEGATE_PG_DIR"' EXIT
export PHASEGATE_TEST_URL PHASEGATE_PG_BIN
# Hooks and e2e tests run as the invoking user; PostgreSQL itself runs as postgres when we are root.
(cd "$build" && ctest --output-on-failure --timeout 600)
if [[ "${CI:-}" == "true" || "${PHASEGATE_SANITIZE_TESTS:-0}" == 1 ]]; then
  asan=$(PHASEGATE_SANITIZE=1 "$root/scripts/build.sh")
  (cd "$asan" && ctest --output-on-failure --timeout 600)
fi
