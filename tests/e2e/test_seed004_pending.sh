#!/usr/bin/env bash
# Seed 004: a forgotten migration sat pending. status --check fails CI / app start-up until it runs;
# a contract phase waiting for its manual start is reported, not failed.
source "$(dirname "$0")/lib.sh"
new_db e2e_pending
q "CREATE TABLE posts (id int PRIMARY KEY, body text, legacy text)"
new_project
plan 0001-posts <<'TOML'
[plan]
description = "posts.summary"
[expand]
[[expand.steps]]
name = "add summary"
sql = "ALTER TABLE posts ADD COLUMN summary text"
down = "ALTER TABLE posts DROP COLUMN summary"
[migrate]
[[migrate.steps]]
name = "fill summary"
sql = "UPDATE posts SET summary = left(body, 80)"
[contract]
[[contract.steps]]
name = "drop legacy"
sql = "ALTER TABLE posts DROP COLUMN legacy"
irreversible = true
TOML
expect 4 pg status --check
contains "pending is visible" "$OUT" "pending"
expect 0 pg plan 0001-posts
contains "plan shows the lock and what it blocks" "$OUT" "lock: ACCESS EXCLUSIVE on posts (blocks reads and writes)"
contains "plan shows the contract gate" "$OUT" "contract (start: manual)"
contains "plan says nothing changed" "$OUT" "nothing was changed"
expect 0 pg plan 0001-posts --json
check "plan --json step statuses" "$(echo "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print([s["status"] for s in d["steps"]])')" "['pending', 'pending', 'pending']"
check "plan touched nothing" "$(q "SELECT to_regnamespace('phasegate') IS NULL")" "t"
check "status creates no state" "$(q "SELECT to_regnamespace('phasegate') IS NULL")" "t"
expect 0 pg run --phase expand
expect 0 pg plan 0001-posts --json
check "plan shows the applied step" "$(echo "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print([s["status"] for s in d["steps"]])')" "['completed', 'pending', 'pending']"
expect 4 pg status --check
contains "migrate still pending" "$(pg status --json 2>/dev/null || true)" '"fill summary"'
expect 0 pg run
contains "contract waits for a manual start" "$OUT" "waits for a manual start"
expect 0 pg status --check
contains "status reports the waiting contract" "$OUT" "contract waits"
check "legacy column still there" "$(q "SELECT count(*) FROM information_schema.columns WHERE table_name='posts' AND column_name='legacy'")" "1"
expect 0 pg run 0001-posts --phase contract
check "legacy column dropped" "$(q "SELECT count(*) FROM information_schema.columns WHERE table_name='posts' AND column_name='legacy'")" "0"
expect 0 pg status --check --json
check "applied" "$(echo "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["plans"][0]["state"])')" "applied"
expect 0 pg run
contains "nothing left to do" "$OUT" "already applied"
expect 0 pg log --json
check "log chain verifies" "$(echo "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["chain_ok"], d["events"][-1]["kind"])')" "True run.completed"
check "every step recorded once with attempts 1" "$(q "SELECT string_agg(status || ':' || attempts, ',' ORDER BY ordinal) FROM phasegate.steps")" "completed:1,completed:1,completed:1"
# The story's postmortem draft (issue #14): one run over three invocations, every step, the waits by design.
expect 0 pg report --format json
printf '%s\n' "$OUT" >"$WORK/report.json"
check "report: one run, completed" "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["run"]["id"], d["run"]["state"])' "$WORK/report.json")" "1 completed"
check "report: the three steps, each completed once" \
  "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(",".join("%s=%s/%d" % (s["name"], s["outcome"], s["attempts"]) for s in d["steps"]))' "$WORK/report.json")" \
  "add summary=completed/1,fill summary=completed/1,drop legacy=completed/1"
check "report: the waits between invocations were by design, not interruptions" \
  "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["interruptions"], d["open_items"], d["failure"])' "$WORK/report.json")" "[] [] None"
expect 0 pg report
contains "report md: the contract's manual start is in the timeline" "$OUT" "run waits: the contract phase waits for a manual start"
contains "report md: the sections for people" "$OUT" "## What we will change"
finish
