#!/usr/bin/env bash
# Issue #12: everything `run` would refuse, `validate` refuses first. For a representative subset of refusals, both
# `validate` and `run` exit 2 naming file:line:col, and the database is untouched afterwards: no state schema, no
# table from the plan's first step (which `run` would otherwise apply before reaching the bad part).
source "$(dirname "$0")/lib.sh"

# fresh: a new database and project per case, so one failure cannot leak into the next case's checks.
fresh() {
  new_db e2e_refusals
  new_project
}

# A plan whose expand step changes the database; the refusal is somewhere else.
good_expand() {
  cat <<'TOML'
[[expand.steps]]
name = "create a"
sql = "CREATE TABLE a (id int PRIMARY KEY, lvl int)"
down = "DROP TABLE a"
TOML
}

# untouched LABEL: nothing of phasegate's or the plan's is in the database.
untouched() {
  check "$1: no state schema" "$(q "SELECT count(*) FROM pg_namespace WHERE nspname = 'phasegate'")" "0"
  check "$1: the expand step did not run" "$(q "SELECT to_regclass('public.a') IS NULL")" "t"
  check "$1: no phasegate tables in public" "$(q "SELECT to_regclass('public.runs') IS NULL AND to_regclass('public.schema_version') IS NULL")" "t"
}

# refused LABEL NEEDLE: validate and run both exit 2 with NEEDLE (file:line:col: message) on stderr.
refused() {
  expect 2 pg validate
  contains "$1: validate names it" "$ERR" "$2"
  expect 2 pg run
  contains "$1: run refuses it the same way" "$ERR" "$2"
  contains "$1: run says nothing was touched" "$ERR" "nothing was touched"
  untouched "$1"
}

# 1. time zones
fresh
cat >>"$WORK/project/phasegate.toml" <<'TOML'
windows = ["w"]
[windows.w]
timezone = "Mars/Olympus"
allow = [ { days = "mon-sun" } ]
TOML
good_expand | plan 0001-a
refused "unknown time zone" 'phasegate.toml:9:12: error: unknown time zone "Mars/Olympus"'
sed -i 's|Mars/Olympus|UTC+10|' "$WORK/project/phasegate.toml"
refused "fixed offset" 'phasegate.toml:9:12: error: timezone "UTC+10" is a fixed UTC offset'

# 2. deny dates, 3. cron
sed -i 's|UTC+10|UTC|' "$WORK/project/phasegate.toml"
echo 'deny = [ { from = "2026-02-30" } ]' >>"$WORK/project/phasegate.toml"
refused "impossible deny date" 'phasegate.toml:11:19: error: invalid date "2026-02-30": February 2026 has 28 days'
sed -i 's|{ from = "2026-02-30" }|{ cron = "0 9 * * 8", duration = "2h" }|' "$WORK/project/phasegate.toml"
refused "cron day-of-week 8" 'phasegate.toml:11:19: error: cron "0 9 * * 8": day-of-week field "8": 8 is out of range 0-7'

# 4. a comment in a backfill's set: before, run applied the expand phase and failed in migrate.
fresh
{
  good_expand
  cat <<'TOML'
[[migrate.steps]]
name = "fill lvl"
backfill = { table = "a", set = "lvl = 1 -- every row", where = "lvl IS NULL" }
TOML
} | plan 0001-a
refused "comment in backfill set" 'plans/0001-a.toml:7:42: error: backfill.set of step "fill lvl": remove the comment'

# 5. state_schema
fresh
sed -i 's|^name = "e2e"|name = "e2e"\nstate_schema = "public"|' "$WORK/project/phasegate.toml"
good_expand | plan 0001-a
refused "state_schema public" "phasegate.toml:3:16: error: state_schema \"public\" is the application's schema"

# 6. lock_timeout = "0s"; "none" is accepted and shown by plan
fresh
sed -i 's|^lock_timeout = "1s"|lock_timeout = "0s"|' "$WORK/project/phasegate.toml"
good_expand | plan 0001-a
refused "lock_timeout 0s" 'phasegate.toml:4:16: error: lock_timeout = "0s" would disable the lock timeout'
contains "lock_timeout 0s: the message says how to mean it" "$ERR" 'Write lock_timeout = "none" if you really want no timeout'
sed -i 's|^lock_timeout = "0s"|lock_timeout = "none"|' "$WORK/project/phasegate.toml"
expect 0 pg validate
expect 0 pg --json plan 0001-a
check "plan --json shows lock_timeout none" "$(echo "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["guards"]["lock_timeout"]["lock_timeout"], d["steps"][0]["lock_timeout"])')" "none none"
expect 0 pg plan 0001-a
contains "plan text shows lock_timeout none" "$OUT" "lock timeout: none per attempt"
untouched "plan with lock_timeout none"

# 7. an empty step name, 8. a NUL byte in SQL
fresh
good_expand | sed 's|name = "create a"|name = ""|' | plan 0001-a
refused "empty step name" 'plans/0001-a.toml:2:8: error: step name must not be empty'
fresh
good_expand | sed 's|lvl int)"|lvl int)\\u0000; DROP TABLE b"|' | plan 0001-a
refused "NUL in sql" 'plans/0001-a.toml:3:7: error: "expand.steps.sql" contains a NUL byte'

# 9. a FIFO among the plans: refused by its type, never opened (opening would wait for a writer forever;
# `timeout` only turns such a hang into a failure here instead of the ctest timeout).
fresh
good_expand | plan 0001-a
mkfifo "$WORK/project/plans/0002-pipe.toml"
expect 2 timeout 120 "$PHASEGATE_BIN" -C "$WORK/project" validate
contains "FIFO: validate names it" "$ERR" "plans/0002-pipe.toml: error: is a FIFO (named pipe), not a file"
expect 2 timeout 120 "$PHASEGATE_BIN" -C "$WORK/project" run
contains "FIFO: run refuses it" "$ERR" "0002-pipe.toml: error: is a FIFO"
untouched "FIFO"
rm "$WORK/project/plans/0002-pipe.toml"
ln -s nowhere.toml "$WORK/project/plans/0002-gone.toml"
refused "dangling symlink" "0002-gone.toml: error: is a dangling symlink"

# 10. usage errors under --json: the same error document as every other error, on stdout
expect 2 pg --json run --phase
check "usage error --json: one JSON document" "$(echo "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["ok"], d["exit"], bool(d["error"]))')" "False 2 True"
expect 2 pg --json validate --no-such-option
contains "usage error --json: names the option" "$(echo "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["error"])')" "--no-such-option"
expect 2 pg validate --no-such-option
check "usage error without --json: nothing on stdout" "$OUT" ""
untouched "usage errors"
finish
