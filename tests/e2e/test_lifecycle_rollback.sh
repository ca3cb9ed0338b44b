#!/usr/bin/env bash
# SPEC §5.1 (lifecycle): rollback and the point of no return.
#  1. `rollback PLAN` after its contract phase ran is refused (exit 5, naming the contract step); nothing is undone.
#  2. a contract step failing after an earlier contract step applied: exit 5, nothing of expand is rolled back.
#  3. a rolled-back plan runs again from the start (a VALIDATE CONSTRAINT needs no undo; an idempotent
#     irreversible step runs again), and the README's backfill `down` of a column an earlier `down` drops
#     makes a clean rollback (by hand and after a failure).
source "$(dirname "$0")/lib.sh"


# ---------------------------------------------------------------------------------------------------------
# 1. rollback after the contract phase ran: the point of no return
# ---------------------------------------------------------------------------------------------------------
new_db e2e_lc_rb_contract
new_project
q "CREATE TABLE books (id int PRIMARY KEY, old_level int, extra text, title text);
   INSERT INTO books (id, old_level) SELECT g, g FROM generate_series(1, 500) g"
plan 0001-level <<'TOML'
[plan]
description = "books.new_level replaces old_level"
[[expand.steps]]
name = "add new_level"
sql = "ALTER TABLE books ADD COLUMN new_level int"
down = "ALTER TABLE books DROP COLUMN new_level"
[[migrate.steps]]
name = "fill new_level"
backfill = { table = "books", set = "new_level = old_level * 10", where = "new_level IS NULL", batch_rows = 200 }
down = "UPDATE books SET new_level = NULL"
[contract]
start = "manual"
[[contract.steps]]
name = "drop old_level"
sql = "ALTER TABLE books DROP COLUMN old_level"
irreversible = true
TOML
expect 0 pg run
expect 0 pg run 0001-level --phase contract
check "contract ran: old_level is gone" "$(col_exists books old_level)" "0"
check "contract ran: status applied" "$(pj 'p["state"]' 0001-level)" "applied"
expect 5 pg rollback 0001-level --yes
contains "rollback after the contract is refused, naming the contract step" "$OUT$ERR" "drop old_level"
check "refused rollback: new_level still exists" "$(col_exists books new_level)" "1"
check "refused rollback: new_level keeps its data (the backfill's down did not run)" \
  "$(q "SELECT count(*) FILTER (WHERE new_level = id * 10) || '|' || count(*) FROM books" 2>&1)" "500|500"
check "refused rollback: the plan is still applied" "$(pj 'p["state"] + " " + str(p["steps_done"])' 0001-level)" "applied 3"
expect 0 pg status --check

# ---------------------------------------------------------------------------------------------------------
# 2. a contract step fails after an earlier contract step applied: exit 5, nothing of expand rolled back
# ---------------------------------------------------------------------------------------------------------
plan 0002-cleanup <<'TOML'
[plan]
description = "drops extra, then fails"
[[expand.steps]]
name = "add shelf"
sql = "ALTER TABLE books ADD COLUMN shelf int"
down = "ALTER TABLE books DROP COLUMN shelf"
[contract]
start = "manual"
[[contract.steps]]
name = "drop extra"
sql = "ALTER TABLE books DROP COLUMN extra"
irreversible = true
[[contract.steps]]
name = "broken cleanup"
sql = "SELECT 1/0"
irreversible = true
TOML
expect 0 pg run 0002-cleanup
check "0002 expand applied: shelf exists" "$(col_exists books shelf)" "1"
expect 5 pg run 0002-cleanup --phase contract
contains "failed contract: the error is the failing step's" "$OUT$ERR" "division by zero"
contains "failed contract: exit 5 names the contract step that applied" "$OUT$ERR" "drop extra"
check "failed contract: the expand step is NOT rolled back (shelf still exists)" "$(col_exists books shelf)" "1"
check "failed contract: the applied contract step stays applied (extra is gone)" "$(col_exists books extra)" "0"
check "failed contract: no down ran" "$(q "SELECT count(*) FROM phasegate.events WHERE plan_id = '0002-cleanup' AND kind = 'rollback.step' AND payload->>'action' = 'down'")" "0"
check "failed contract: status does not call it applied, pending or rolled back" \
  "$(pj 'p["state"] not in ("applied", "pending", "rolled_back", "running")' 0002-cleanup)" "true"
expect 5 pg rollback 0002-cleanup --yes
contains "rollback of the half-contracted plan is refused, naming the contract step" "$OUT$ERR" "drop extra"
check "refused rollback: shelf still exists" "$(col_exists books shelf)" "1"

# ---------------------------------------------------------------------------------------------------------
# 3. a rolled-back plan runs again
# ---------------------------------------------------------------------------------------------------------
new_db e2e_lc_rb_rerun
new_project
q "CREATE TABLE authors (id int PRIMARY KEY); CREATE TABLE books (id int PRIMARY KEY, author_id int, lexile int);
   INSERT INTO authors VALUES (1), (2); INSERT INTO books SELECT g, g % 2 + 1, g * 10 FROM generate_series(1, 400) g"
plan 0001-fk <<'TOML'
[plan]
description = "author fk, validated"
[[expand.steps]]
name = "author fk"
sql = "ALTER TABLE books ADD CONSTRAINT books_author_fk FOREIGN KEY (author_id) REFERENCES authors (id) NOT VALID"
down = "ALTER TABLE books DROP CONSTRAINT IF EXISTS books_author_fk"
[[expand.steps]]
name = "reporting schema"
sql = "CREATE SCHEMA IF NOT EXISTS reporting"
irreversible = true
[[migrate.steps]]
name = "validate author fk"
sql = "ALTER TABLE books VALIDATE CONSTRAINT books_author_fk"
TOML
fk() { q "SELECT coalesce((SELECT 'exists validated=' || convalidated FROM pg_constraint WHERE conname = 'books_author_fk'), 'absent')"; }
expect 0 pg run
check "fk plan applied" "$(pj 'p["state"]' 0001-fk) $(fk)" "applied exists validated=true"
expect 0 pg rollback 0001-fk --yes
check "rollback of the fk plan is clean: the constraint is gone" "$(fk)" "absent"
check "rolled back: status --json state" "$(pj 'p["state"]' 0001-fk)" "rolled_back"
check "rolled back: every step pending again" \
  "$(pj 'str(p["steps_done"]) + " " + json.dumps(p["pending"])' 0001-fk)" '0 ["author fk", "reporting schema", "validate author fk"]'
expect 4 pg status --check
expect 0 pg run
check "the rolled-back plan ran again: the constraint exists and is validated" "$(fk)" "exists validated=true"
check "ran again: status applied, nothing pending" "$(pj 'p["state"] + " " + str(p["steps_done"]) + " " + json.dumps(p["pending"])' 0001-fk)" "applied 3 []"
expect 0 pg status --check

# The README pattern: a backfill with `down = "UPDATE books SET col = NULL"` whose column an earlier down drops.
readme_plan() {
  plan "$1" <<'TOML'
[plan]
description = "the README's reading_level"
[[expand.steps]]
name = "add reading_level"
sql = "ALTER TABLE books ADD COLUMN reading_level int"
down = "ALTER TABLE books DROP COLUMN reading_level"
[[migrate.steps]]
name = "fill reading_level"
backfill = { table = "books", set = "reading_level = lexile / 150", where = "reading_level IS NULL", batch_rows = 100 }
down = "UPDATE books SET reading_level = NULL"
TOML
}
readme_plan 0002-reading-level
expect 0 pg run 0002-reading-level
check "README plan applied: every row filled" "$(q "SELECT count(*) FROM books WHERE reading_level IS DISTINCT FROM lexile / 150")" "0"
expect 0 pg rollback 0002-reading-level --yes
check "README plan rolled back by hand: the column is gone" "$(col_exists books reading_level)" "0"
check "README plan rolled back: status --json state, nothing done" "$(pj 'p["state"] + " " + str(p["steps_done"])' 0002-reading-level)" "rolled_back 0"
expect 0 pg run 0002-reading-level
check "README plan ran again: every row filled" "$(q "SELECT count(*) FROM books WHERE reading_level IS DISTINCT FROM lexile / 150")" "0"
check "README plan ran again: applied" "$(pj 'p["state"]' 0002-reading-level)" "applied"

# ... and rolled back after a failure later in the run (exit 1: everything undone), then run again once fixed.
new_db e2e_lc_rb_readme_fail
new_project
q "CREATE TABLE books (id int PRIMARY KEY, lexile int); INSERT INTO books SELECT g, g * 10 FROM generate_series(1, 400) g"
readme_plan 0001-reading-level
cat >>"$WORK/project/plans/0001-reading-level.toml" <<'TOML'
[[migrate.steps]]
name = "check levels"
sql = "SELECT 1 / (SELECT count(*) - count(*) FROM books)"
TOML
expect 1 pg run
contains "the failing step's error" "$ERR" "division by zero"
check "failed run rolled back: the column is gone" "$(col_exists books reading_level)" "0"
check "failed run rolled back: status --json: rolled back, every step pending" \
  "$(pj 'p["state"] + " " + str(p["steps_done"]) + " " + json.dumps(p["pending"])' 0001-reading-level)" \
  'rolled_back 0 ["add reading_level", "fill reading_level", "check levels"]'
sed -i 's|^sql = "SELECT 1 / (SELECT count(\*) - count(\*) FROM books)"$|sql = "SELECT 1 / (SELECT count(*) FROM books)"|' \
  "$WORK/project/plans/0001-reading-level.toml"
expect 0 pg run
check "fixed and run again: every row filled" "$(q "SELECT count(*) FROM books WHERE reading_level IS DISTINCT FROM lexile / 150")" "0"
check "fixed and run again: applied" "$(pj 'p["state"] + " " + str(p["steps_done"])' 0001-reading-level)" "applied 3"
expect 0 pg status --check
finish
