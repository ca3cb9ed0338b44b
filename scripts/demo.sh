#!/usr/bin/env bash
# The first command: installs what is missing, builds, starts a throwaway PostgreSQL, loads the demo
# app's tables and drives examples/bookbot through expand -> migrate -> contract, then stops the server.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/deps.sh"
build=$("$root/scripts/build.sh")
pg() { "$build/phasegate" -C "$root/examples/bookbot" "$@"; }
eval "$("$root/scripts/pg.sh" start)"
trap '"$root/scripts/pg.sh" stop "$PHASEGATE_PG_DIR"' EXIT
psql_bin="$PHASEGATE_PG_BIN/psql"
"$psql_bin" "$PHASEGATE_TEST_URL" -qc "CREATE DATABASE bookbot"
export DATABASE_URL="$PHASEGATE_TEST_URL dbname=bookbot"
"$psql_bin" "$DATABASE_URL" -q -v ON_ERROR_STOP=1 -f "$root/examples/bookbot/schema.sql"
step() { printf '\n\033[1m$ phasegate %s\033[0m\n' "$*"; }
step validate;                 pg validate
step status;                   pg status || true
step "status --check";         pg status --check && echo "(exit 0)" || echo "(exit $? : expand/migrate pending, as CI would see)"
step run;                      pg run --as release-engineer@example.com
step status;                   pg status
step "run 0001-reading-level --phase contract"; pg run 0001-reading-level --phase contract --as release-engineer@example.com
step "status --check";         pg status --check && echo "(exit 0)"
step log;                      pg log
echo
echo "books columns now: $("$psql_bin" "$DATABASE_URL" -Atc "SELECT string_agg(column_name, ', ' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = 'books'")"
echo "demo done; the throwaway server is being stopped."
