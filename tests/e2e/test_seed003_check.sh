#!/usr/bin/env bash
# Seed 003: a foreign key failed at deploy time on orphaned rows. The check stops the step before its DDL and
# the run's earlier step (the index) is rolled back with its down.
source "$(dirname "$0")/lib.sh"
new_db e2e_check
q "CREATE TABLE authors (id int PRIMARY KEY); CREATE TABLE books (id int PRIMARY KEY, author_id int);
   INSERT INTO authors VALUES (1); INSERT INTO books VALUES (1, 1), (2, 99)"
new_project
plan 0001-fk <<'TOML'
[[expand.steps]]
name = "author index"
sql = "CREATE INDEX CONCURRENTLY books_author_idx ON books (author_id)"
down = "DROP INDEX CONCURRENTLY IF EXISTS books_author_idx"

[[expand.steps]]
name = "author fk"
check = "SELECT NOT EXISTS (SELECT 1 FROM books b LEFT JOIN authors a ON a.id = b.author_id WHERE b.author_id IS NOT NULL AND a.id IS NULL)"
sql = "ALTER TABLE books ADD CONSTRAINT books_author_fk FOREIGN KEY (author_id) REFERENCES authors (id) NOT VALID"
TOML
expect 1 pg run
contains "the failure names the check" "$ERR" "check returned false"
check "no constraint was added" "$(q "SELECT count(*) FROM pg_constraint WHERE conname = 'books_author_fk'")" "0"
check "the index before it was rolled back" "$(q "SELECT count(*) FROM pg_class WHERE relname = 'books_author_idx'")" "0"
check "the index step is pending again (rolled back)" "$(q "SELECT status FROM phasegate.steps WHERE step = 'author index'")" "pending"
contains "the message says it was rolled back" "$ERR" 'rolled back. Done: undid step "author index"' 
check "the failed step is pending again (it failed inside its transaction)" "$(q "SELECT status FROM phasegate.steps WHERE step = 'author fk'")" "pending"
check "run recorded as failed, then rolled back" "$(q "SELECT status || ' ' || cause FROM phasegate.runs ORDER BY run_id DESC LIMIT 1")" "rolled_back failed"
check "step.failed event with reason" "$(q "SELECT payload->>'reason' FROM phasegate.events WHERE kind = 'step.failed'")" "check"
expect 4 pg status --check

q "DELETE FROM books WHERE id = 2"
expect 0 pg run --json
check "run --json reports the plan" "$(echo "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["exit"], d["plans"][0]["status"])')" "0 completed"
check "constraint added after the data was fixed" "$(q "SELECT count(*) FROM pg_constraint WHERE conname = 'books_author_fk'")" "1"
check "index built once" "$(q "SELECT count(*) FROM pg_class WHERE relname LIKE 'books_author_idx%'")" "1"
finish
