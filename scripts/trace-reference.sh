#!/usr/bin/env bash
# Regenerates docs/trace-reference.md: trace's reference suite (tests/data/trace/reference.toml on the schema of
# tests/data/trace/setup.sql) on a throwaway database of the server scripts/pg.sh started.
#   eval "$(scripts/pg.sh start)"; scripts/trace-reference.sh [BIN]   (BIN defaults to build/phasegate)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-${PHASEGATE_BIN:-$root/build/phasegate}}
: "${PHASEGATE_TEST_URL:?start a server: eval \"\$(scripts/pg.sh start)\"}"
psql="${PHASEGATE_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)}/psql"
work=$(mktemp -d /tmp/phasegate-trace-ref.XXXXXX)
trap 'rm -rf "$work"' EXIT
PGOPTIONS="-c client_min_messages=warning" "$psql" "$PHASEGATE_TEST_URL" -qc "DROP DATABASE IF EXISTS trace_reference WITH (FORCE)" -c "CREATE DATABASE trace_reference" >/dev/null
url="$PHASEGATE_TEST_URL dbname=trace_reference"
"$psql" "$url" -qX -v ON_ERROR_STOP=1 -f "$root/tests/data/trace/setup.sql" >/dev/null
mkdir -p "$work/plans"
printf '[project]\nname = "trace-reference"\n' >"$work/phasegate.toml"
cp "$root/tests/data/trace/reference.toml" "$work/plans/0001-reference.toml"
set +e
DATABASE_URL= "$bin" -C "$work" --json trace 0001-reference --scratch-url "$url" >"$work/trace.json"
rc=$?
set -e
[[ $rc -eq 0 || $rc -eq 7 ]] || { echo "trace-reference: trace exited $rc" >&2; cat "$work/trace.json" >&2; exit 1; }
python3 "$root/scripts/trace-reference.py" <"$work/trace.json" >"$root/docs/trace-reference.md"
"$psql" "$PHASEGATE_TEST_URL" -qc "DROP DATABASE trace_reference WITH (FORCE)" >/dev/null
echo "docs/trace-reference.md: $(grep -c '^| `' "$root/docs/trace-reference.md") statements, trace exit $rc"
