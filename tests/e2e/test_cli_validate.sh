#!/usr/bin/env bash
# init / new / validate and bad input: exit 2 with every problem at file:line:col; nothing touched.
source "$(dirname "$0")/lib.sh"
cd "$WORK"
expect 0 "$PHASEGATE_BIN" init --name demo
contains "init lists files" "$OUT" "phasegate.toml"
expect 2 "$PHASEGATE_BIN" init
contains "init refuses to overwrite" "$ERR" "already exists"
expect 0 "$PHASEGATE_BIN" new add-email
contains "new numbers plans" "$OUT" "plans/0002-add-email.toml"
expect 0 "$PHASEGATE_BIN" validate
contains "validate counts" "$OUT" "2 plans"
mkdir -p sub && cd sub
expect 0 "$PHASEGATE_BIN" validate   # finds phasegate.toml in a parent
cd "$WORK"
cp -r "$PHASEGATE_SRC/tests/data/loader/bad" "$WORK/bad"
chmod -x "$WORK/bad/hooks/not-executable.sh"
expect 2 "$PHASEGATE_BIN" -C "$WORK/bad" validate
contains "unknown key with did-you-mean" "$ERR" 'unknown key "lock_timout" in [guards] (did you mean "lock_timeout"?)'
contains "password refused" "$ERR" "database.url contains a password"
contains "SQL error inside the TOML string" "$ERR" '0001-broken.toml:10:38: error: sql of step "typo in sql": syntax error at or near "int"'
contains "[lint] enable: unknown rule at its position" "$ERR" 'phasegate.toml:20:11: error: lint.enable: unknown rule "prefer-txt" (did you mean "prefer-text"?)'
contains "every problem listed" "$ERR" "15 problems; nothing was touched"
expect 2 "$PHASEGATE_BIN" -C "$WORK/bad" validate --json
check "json problems" "$(echo "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["exit"], len(d["problems"]))')" "2 15"
expect 2 "$PHASEGATE_BIN" -C "$WORK/bad" run
contains "run refuses invalid projects" "$ERR" "nothing was touched"
expect 2 "$PHASEGATE_BIN" validate 0002-add-emial
contains "unknown plan with did-you-mean" "$ERR" 'did you mean "0002-add-email"'
expect 2 "$PHASEGATE_BIN" run --phase sideways
expect 2 "$PHASEGATE_BIN" frobnicate
unset DATABASE_URL
expect 2 "$PHASEGATE_BIN" run
contains "missing database url" "$ERR" "set DATABASE_URL"
expect 0 "$PHASEGATE_BIN" --version
finish
