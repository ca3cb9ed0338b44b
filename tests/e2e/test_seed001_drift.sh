#!/usr/bin/env bash
# Seed 001: a migration edited after it ran was silently skipped while /health said 200.
source "$(dirname "$0")/lib.sh"
new_db e2e_drift
new_project
plan 0001-users <<'TOML'
[[expand.steps]]
name = "users"
sql = "CREATE TABLE users (id int PRIMARY KEY, email text)"
TOML
expect 0 pg run
check "table created" "$(q "SELECT to_regclass('users') IS NOT NULL")" "t"

# Reformatting and comments are not drift.
plan 0001-users <<'TOML'
[[expand.steps]]
name = "users"
sql = """
-- the users table
create table USERS (
  id    int primary key,
  email text
);
"""
TOML
expect 0 pg run
expect 0 pg status --check

# A change of meaning is.
plan 0001-users <<'TOML'
[[expand.steps]]
name = "users"
sql = "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL)"
TOML
expect 2 pg run
contains "run names the drifted step" "$ERR" 'step "users" was edited after it was applied'
contains "run names who applied it" "$ERR" "by "
contains "run shows both checksums" "$ERR" "file checksum"
expect 4 pg status --check
contains "status shows drift" "$OUT" "drift"
expect 4 pg status --check --json
check "status --json says drifted" "$(echo "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["plans"][0]["state"])')" "drifted"
check "the table was not touched" "$(q "SELECT data_type FROM information_schema.columns WHERE table_name='users' AND column_name='id'")" "integer"
finish
