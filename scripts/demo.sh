#!/usr/bin/env bash
# The first command: installs what is missing, builds, starts a throwaway PostgreSQL, loads the demo
# app's tables and drives examples/bookbot through expand -> migrate -> contract, then stops the server.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/deps.sh"
build=$("$root/scripts/build.sh")
# A copy of the example, with two operators (keys made now) who must approve before anything runs.
work=$(mktemp -d /tmp/phasegate-demo.XXXXXX)
cp -r "$root/examples/bookbot" "$work/bookbot"
rm "$work/bookbot/hooks" && cp -r "$root/hooks" "$work/bookbot/hooks"   # the example links to the repo's hooks/
# The api listens on a free port; the copy's config follows it.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -i "s|127.0.0.1:8080|127.0.0.1:$port|g" "$work/bookbot/phasegate.toml"
export BOOKBOT_PORT=$port
mkdir -p "$work/keys" "$work/bookbot/ops"
for who in alice bob; do ssh-keygen -q -t ed25519 -N '' -C "$who@example.com" -f "$work/keys/$who"; done
for who in alice bob; do echo "$who@example.com $(cat "$work/keys/$who.pub")"; done >"$work/bookbot/ops/allowed_signers"
sed -i 's/^approvals = 0$/approvals = 2/' "$work/bookbot/phasegate.toml"
printf '\n[approvals]\nallowed_signers = "ops/allowed_signers"\nvalid_for = "2h"\n' >>"$work/bookbot/phasegate.toml"
pg() { "$build/phasegate" -C "$work/bookbot" "$@"; }
eval "$("$root/scripts/pg.sh" start)"
stop_api() { [[ -s "$work/bookbot/run/api.pid" ]] && kill "$(cat "$work/bookbot/run/api.pid")" 2>/dev/null || true; }
trap 'stop_api; "$root/scripts/pg.sh" stop "$PHASEGATE_PG_DIR"; rm -rf "$work"' EXIT
psql_bin="$PHASEGATE_PG_BIN/psql"
"$psql_bin" "$PHASEGATE_TEST_URL" -qc "CREATE DATABASE bookbot"
export DATABASE_URL="$PHASEGATE_TEST_URL dbname=bookbot"
"$psql_bin" "$DATABASE_URL" -q -v ON_ERROR_STOP=1 -f "$root/examples/bookbot/schema.sql"
export PSQL="$psql_bin"
step() { printf '\n\033[1m$ phasegate %s\033[0m\n' "$*"; }
# The app: release 1 of the api is running; release 2 (which writes reading_level) is deployed but only runs
# once phasegate restarts the api after the expand phase, and the smoke check saves a book with it.
(cd "$work/bookbot" && echo 1 >app/RELEASE && hooks/restart-by-pidfile.sh run/api.pid -- python3 app/api.py)
echo 2 >"$work/bookbot/app/RELEASE"
step validate;                 pg validate
step status;                   pg status || true
step "status --check";         pg status --check && echo "(exit 0)" || echo "(exit $? : expand/migrate pending, as CI would see)"
step "plan 0001-reading-level"; pg plan 0001-reading-level
step run;                      pg run --as release-engineer@example.com || echo "(exit $?: two operators must approve first)"
step "approve 0001-reading-level --key alice"; pg approve 0001-reading-level --key "$work/keys/alice"
step "approve 0001-reading-level --key bob";   pg approve 0001-reading-level --key "$work/keys/bob" --comment "looked at the lock levels"
step "approvals 0001-reading-level"; pg approvals 0001-reading-level
step run;                      pg run --as release-engineer@example.com
step status;                   pg status
step "run 0001-reading-level --phase contract"; pg run 0001-reading-level --phase contract --as release-engineer@example.com
step "status --check";         pg status --check && echo "(exit 0)"
step log;                      pg log
echo
echo "books columns now: $("$psql_bin" "$DATABASE_URL" -Atc "SELECT string_agg(column_name, ', ' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = 'books'")"
echo "api: $(curl -s "http://127.0.0.1:$port/health")  (restarted by phasegate after expand)"
echo "books saved by the smoke check: $("$psql_bin" "$DATABASE_URL" -Atc "SELECT string_agg(title || ' (reading_level ' || reading_level || ')', '; ') FROM books WHERE title LIKE 'phasegate smoke%'")"
echo "demo done; the api and the throwaway server are being stopped."
