#!/usr/bin/env bash
# window: open/closed at an instant in the window's zone, next open/close, JSON shape, exit 0/75/2.
source "$(dirname "$0")/lib.sh"
proj="$PHASEGATE_SRC/tests/data/loader/good"
expect 0 "$PHASEGATE_BIN" -C "$proj" window offpeak --at 2026-11-23T11:00:00Z --json   # Mon 21:00 AEST
check "json shape" "$(echo "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(sorted(d), d["open"], d["next_close"])')" \
  "['at', 'exit', 'next_close', 'next_open', 'ok', 'open', 'reason', 'timezone', 'window'] True 2026-11-23T20:00:00Z"  # SPEC §3.1's fields + ok/exit
expect 75 "$PHASEGATE_BIN" -C "$proj" window offpeak --at 2026-12-25T01:00:00Z --next   # Christmas deny
contains "deny reason" "$OUT" "closed, inside a deny range"
contains "local and UTC" "$OUT" "opens  2026-12-28T10:00:00Z (2026-12-28 20:00:00 AEST)"
expect 2 "$PHASEGATE_BIN" -C "$proj" window offpek
contains "did you mean" "$ERR" 'did you mean "offpeak"'
expect 2 "$PHASEGATE_BIN" -C "$proj" window offpeak --at tomorrow

# run consults the plan's windows: closed -> exit 75 at once with nothing created; --wait=DUR gives up at DUR.
new_db e2e_window_run
new_project
yesterday=$(date -u -d yesterday +%F); tomorrow=$(date -u -d tomorrow +%F)
cat >>"$WORK/project/phasegate.toml" <<TOML
windows = ["quiet"]
[windows.quiet]
timezone = "UTC"
allow = [ { days = "mon-sun" } ]
deny = [ { from = "$yesterday", to = "$tomorrow" } ]
TOML
plan 0001-w <<'TOML'
[plan]
description = "w"
[[expand.steps]]
name = "create"
sql = "CREATE TABLE w (id int)"
down = "DROP TABLE w"
TOML
expect 75 pg run
contains "closed window: exit 75 with the next opening" "$ERR" "window quiet is closed"
contains "suggests --wait" "$ERR" "add --wait"
check "closed window: no run" "$(q "SELECT count(*) FROM phasegate.runs")" "0"
check "closed window: guard.wait recorded" "$(q "SELECT payload->>'guard' FROM phasegate.events WHERE kind = 'guard.wait'")" "window"
start=$(date +%s%N)
expect 75 pg run --wait=2s
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
contains "--wait=2s gives up" "$ERR" "Gave up after waiting 2s"
check "--wait=2s waited about 2 s" "$(( elapsed >= 1900 && elapsed < 15000 ))" "1"
expect 2 pg run --wait=soon
contains "--wait needs a duration" "$ERR" "--wait: not a duration"
expect 0 pg plan 0001-w
contains "plan shows the window verdict" "$OUT" "windows: closed, opens"
sed -i "s/^deny = .*/deny = []/" "$WORK/project/phasegate.toml"
expect 0 pg plan 0001-w
contains "plan: open window" "$OUT" "windows: open until"
expect 0 pg run
check "open window: applied" "$(q "SELECT to_regclass('w') IS NOT NULL")" "t"
finish
