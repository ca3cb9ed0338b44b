#!/usr/bin/env bash
# window: open/closed at an instant in the window's zone, next open/close, JSON shape, exit 0/75/2.
source "$(dirname "$0")/lib.sh"
proj="$PHASEGATE_SRC/tests/data/loader/good"
expect 0 "$PHASEGATE_BIN" -C "$proj" window offpeak --at 2026-11-23T11:00:00Z --json   # Mon 21:00 AEST
check "json shape" "$(echo "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(sorted(d), d["open"], d["next_close"])')" \
  "['at', 'next_close', 'next_open', 'open', 'reason', 'timezone', 'window'] True 2026-11-23T20:00:00Z"
expect 75 "$PHASEGATE_BIN" -C "$proj" window offpeak --at 2026-12-25T01:00:00Z --next   # Christmas deny
contains "deny reason" "$OUT" "closed, inside a deny range"
contains "local and UTC" "$OUT" "opens  2026-12-28T10:00:00Z (2026-12-28 20:00:00 AEST)"
expect 2 "$PHASEGATE_BIN" -C "$proj" window offpek
contains "did you mean" "$ERR" 'did you mean "offpeak"'
expect 2 "$PHASEGATE_BIN" -C "$proj" window offpeak --at tomorrow
finish
