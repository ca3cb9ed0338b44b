#!/usr/bin/env bash
# SPEC §5.1 (lifecycle) across plans and plan files.
#  1. an applied plan whose file was renamed or deleted is drift: `run` exits 2 naming it, nothing is touched,
#     `status --json` lists it as drifted with file_missing, `status --check` exits 4.
#  2. many plans: a plan waiting for its manual contract start does not hold back later plans' expand steps;
#     `run --phase expand` says nothing of the contract; contract phases run in plan order.
source "$(dirname "$0")/lib.sh"

idx() { q "SELECT coalesce((SELECT 'valid=' || i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'books_title_idx'), 'absent')"; }
says_gone() { grep -ciE 'gone|renamed|missing|deleted|no longer|vanished|not found' <<<"$1" || true; }

# ---------------------------------------------------------------------------------------------------------
# 1. the file of an applied plan is renamed, or deleted
# ---------------------------------------------------------------------------------------------------------
for how in renamed deleted; do
  new_db "e2e_lc_plans_$how"
  new_project
  q "CREATE TABLE books (id int PRIMARY KEY, title text); INSERT INTO books SELECT g, 'b' || g FROM generate_series(1, 200) g"
  plan 0001-idx <<'TOML'
[plan]
description = "an index on books.title"
[[expand.steps]]
name = "title idx"
sql = "CREATE INDEX CONCURRENTLY books_title_idx ON books (title)"
down = "DROP INDEX CONCURRENTLY IF EXISTS books_title_idx"
TOML
  expect 0 pg run
  check "$how: the index was built" "$(idx)" "valid=true"
  if [[ $how == renamed ]]; then
    mv "$WORK/project/plans/0001-idx.toml" "$WORK/project/plans/0002-idx.toml"
  else
    rm "$WORK/project/plans/0001-idx.toml"
  fi
  expect 2 pg run
  contains "$how: run names the applied plan whose file is gone" "$OUT$ERR" "0001-idx"
  check "$how: run says its file is gone/renamed ($(head -c 300 <<<"$OUT$ERR"))" "$(( $(says_gone "$OUT$ERR") > 0 ))" "1"
  check "$how: the index is untouched" "$(idx)" "valid=true"
  check "$how: no new run was created" "$(q "SELECT count(*) FROM phasegate.runs")" "1"
  if [[ $how == renamed ]]; then
    check "renamed: the new file's plan was not applied" "$(q "SELECT count(*) FROM phasegate.steps WHERE plan_id = '0002-idx' AND status <> 'pending'")" "0"
    expect 2 pg run 0002-idx
    contains "renamed: run 0002-idx is refused too, naming 0001-idx" "$OUT$ERR" "0001-idx"
    check "renamed: still no new run" "$(q "SELECT count(*) FROM phasegate.runs")" "1"
  fi
  check "$how: status --json lists 0001-idx as drifted, file missing" \
    "$(pj 'p.get("state") + " file_missing=" + json.dumps(p.get("file_missing"))' 0001-idx)" "drifted file_missing=true"
  expect 4 pg status --check
  contains "$how: status --check names the drifted plan" "$OUT$ERR" "0001-idx"
done

# ---------------------------------------------------------------------------------------------------------
# 2. many plans
# ---------------------------------------------------------------------------------------------------------
many_plans() {
  plan 0001-a <<'TOML'
[plan]
description = "a, with a manual contract"
[[expand.steps]]
name = "add a"
sql = "ALTER TABLE books ADD COLUMN a int"
down = "ALTER TABLE books DROP COLUMN a"
[contract]
start = "manual"
[[contract.steps]]
name = "comment a"
sql = "COMMENT ON COLUMN books.a IS 'contracted'"
irreversible = true
TOML
  plan 0002-b <<'TOML'
[plan]
description = "b, expand only"
[[expand.steps]]
name = "add b"
sql = "ALTER TABLE books ADD COLUMN b int"
down = "ALTER TABLE books DROP COLUMN b"
TOML
  plan 0003-c <<'TOML'
[plan]
description = "c, with a manual contract"
[[expand.steps]]
name = "add c"
sql = "ALTER TABLE books ADD COLUMN c int"
down = "ALTER TABLE books DROP COLUMN c"
[contract]
start = "manual"
[[contract.steps]]
name = "comment c"
sql = "COMMENT ON COLUMN books.c IS 'contracted'"
irreversible = true
TOML
}
comment() { q "SELECT coalesce(col_description('books'::regclass, (SELECT attnum FROM pg_attribute WHERE attrelid = 'books'::regclass AND attname = '$1')), 'none')"; }

new_db e2e_lc_plans_many
new_project
q "CREATE TABLE books (id int PRIMARY KEY)"
many_plans
expect 0 pg run
check "one run: every plan's expand step applied (a, b, c)" "$(col_exists books a)$(col_exists books b)$(col_exists books c)" "111"
check "one run: 0001 waits for its contract start" "$(pj 'p["state"]' 0001-a)" "waiting"
check "one run: 0002 (behind 0001's gate) is applied" "$(pj 'p["state"]' 0002-b)" "applied"
check "one run: 0003 waits for its contract start" "$(pj 'p["state"]' 0003-c)" "waiting"
check "one run: nothing but the contracts pending" "$(pj '[(e["plan"], e["pending"]) for e in d["plans"]]')" \
  '[["0001-a", []], ["0002-b", []], ["0003-c", []]]'
check "one run: no contract step ran" "$(comment a) $(comment c)" "none none"
expect 0 pg status --check
# Again with --phase expand: nothing to do, and nothing said about a contract phase (none ran).
expect 0 pg run --phase expand
check "again with --phase expand: its output never says 'phase contract'" "$(grep -ci 'phase contract' <<<"$OUT$ERR" || true)" "0"
[[ "$(grep -ci 'phase contract' <<<"$OUT$ERR" || true)" == 0 ]] || echo "output: $OUT$ERR"
check "again with --phase expand: no contract step ran" "$(comment a) $(comment c)" "none none"
# Contract phases run in plan order: 0003's contract while 0001's waits is refused (0003's own expand is done).
expect 0 pg run 0003-c
check "0003's expand is applied" "$(col_exists books c)" "1"
expect 2 pg run 0003-c --phase contract
contains "0003's contract before 0001's is refused, naming 0001" "$OUT$ERR" "0001-a"
check "refused: 0003's contract did not run" "$(comment c)" "none"
expect 0 pg run 0001-a --phase contract
check "0001's contract ran" "$(comment a)" "contracted"
expect 0 pg run 0003-c --phase contract
check "then 0003's contract runs" "$(comment c)" "contracted"
check "all three applied" "$(pj '[e["state"] for e in d["plans"]]')" '["applied", "applied", "applied"]'

# `run --phase expand` over many plans: only expand, and it says nothing about the contract phase.
new_db e2e_lc_plans_expand
new_project
q "CREATE TABLE books (id int PRIMARY KEY)"
many_plans
expect 0 pg run --phase expand
check "run --phase expand: every plan's expand step applied" "$(col_exists books a)$(col_exists books b)$(col_exists books c)" "111"
check "run --phase expand: its output never says 'phase contract'" "$(grep -ci 'phase contract' <<<"$OUT$ERR" || true)" "0"
[[ "$(grep -ci 'phase contract' <<<"$OUT$ERR" || true)" == 0 ]] || echo "output: $OUT$ERR"
check "run --phase expand: no contract step ran" "$(comment a) $(comment c)" "none none"
finish
