#!/usr/bin/env bash
# bench/rollback baseline: the best case of a human with a script ready, no phasegate. The same deploy as the
# phasegate plan done naively (the expand SQL with psql, the api restarted on the new release, the migrate SQL
# with psql), and the moment the migrate psql fails the undo runs at once, with no thinking time:
#   1. database: the two downs (newest first) in one psql -v ON_ERROR_STOP=1 call
#   2. master:   git fetch + checkout of the fetched tip + git revert --no-edit -m 1 RELEASE + git push, in a clone
#   3. services: the same restart hook phasegate runs, then GET HEALTH_URL every 0.1 s until it answers 200
# Times are measured from the failed psql's exit (bash's $EPOCHREALTIME, no fork) and are cumulative, like the
# rollback.completed payload of phasegate. Prints one line on stdout:
#   deploy_ms=N database_ms=N master_ms=N services_ms=N total_ms=N
# (deploy_ms: the naive deploy up to the failure). Exits 1 when the migration did not fail or an undo step failed.
#
# Usage: baseline.sh SQL_DIR PROJECT_DIR CLONE RELEASE_SHA HEALTH_URL
#   SQL_DIR      expand.sql, migrate.sql, downs.sql (the same statements as the phasegate plan)
#   PROJECT_DIR  holds hooks/restart-by-pidfile.sh, app/api.py and run/api.pid (the running api)
#   CLONE        a git clone of the origin whose main holds the release merge; remote "origin", branch main
#   env: DATABASE_URL, PSQL (psql binary), and what the api needs (BOOKBOT_PORT)
set -euo pipefail
[[ $# -eq 5 ]] || { sed -n '/^# Usage/,/^#   env/p' "$0" >&2; exit 2; }
sql=$1 project=$2 clone=$3 release=$4 health=$5
: "${DATABASE_URL:?}" "${PSQL:?}"
psql_() { "$PSQL" "$DATABASE_URL" -qX -v ON_ERROR_STOP=1 "$@"; }
restart() { (cd "$project" && hooks/restart-by-pidfile.sh run/api.pid -- python3 app/api.py >/dev/null); }
us() { echo "${EPOCHREALTIME/./}"; }
ms_since() { echo $(( ($(us) - $1) / 1000 )); }

# --- the naive deploy ---
t0=$(us)
psql_ -f "$sql/expand.sql"
echo 2 >"$project/app/RELEASE"
restart
if psql_ -f "$sql/migrate.sql" 2>"$sql/migrate.err"; then
  echo "baseline: the migration did not fail" >&2; exit 1
fi
failed=$(us)   # the failure is seen here; everything below is the undo
deploy_ms=$(( (failed - t0) / 1000 ))

# --- 1. database ---
psql_ -f "$sql/downs.sql"
database_ms=$(ms_since "$failed")

# --- 2. master ---
git -C "$clone" fetch -q origin main
git -C "$clone" checkout -q -B main FETCH_HEAD
git -C "$clone" revert --no-edit -m 1 "$release" >/dev/null
git -C "$clone" push -q origin main
master_ms=$(ms_since "$failed")

# --- 3. services ---
restart
deadline=$((SECONDS + 60))
until [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$health" || true) == 200 ]]; do
  (( SECONDS < deadline )) || { echo "baseline: $health not 200 within 60 s" >&2; exit 1; }
  sleep 0.1
done
services_ms=$(ms_since "$failed")

echo "deploy_ms=$deploy_ms database_ms=$database_ms master_ms=$master_ms services_ms=$services_ms total_ms=$(ms_since "$failed")"
