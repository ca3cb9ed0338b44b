#!/usr/bin/env bash
# trace: the statements of ../shared/reference/pg15-locks.md run on a scratch database; the analyzer's
# predicted locks and rewrites must agree with pg_locks and relfilenode, statement by statement.
source "$(dirname "$0")/lib.sh"
new_db e2e_trace_target
target_url=$DATABASE_URL
new_db e2e_trace_scratch
scratch_url=$DATABASE_URL
q "CREATE TABLE u (id int PRIMARY KEY);
   CREATE TABLE t (id int PRIMARY KEY, c int, s varchar(10), ts timestamp, u_id int);
   CREATE INDEX t_c_idx ON t (c); CREATE UNIQUE INDEX t_c_uidx ON t (id, c);
   INSERT INTO u VALUES (1); INSERT INTO t SELECT g, g, 's', now(), 1 FROM generate_series(1, 100) g;
   CREATE FUNCTION t_noop() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
   CREATE TRIGGER t_existing BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION t_noop();
   CREATE MATERIALIZED VIEW mv AS SELECT id FROM u;
   CREATE TABLE p (id int, at date) PARTITION BY RANGE (at);
   CREATE TABLE p1 PARTITION OF p FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')"
export DATABASE_URL=$target_url
new_project
step() { printf '[[%s.steps]]\nname = "%s"\nsql = "%s"\nirreversible = true\n\n' "$1" "$2" "$3"; }
{
  step expand "add column" "ALTER TABLE t ADD COLUMN x int"
  step expand "add column default 0" "ALTER TABLE t ADD COLUMN x0 int NOT NULL DEFAULT 0"
  step expand "volatile default" "ALTER TABLE t ADD COLUMN r float8 DEFAULT random()"
  step expand "identity" "ALTER TABLE t ADD COLUMN n bigint GENERATED ALWAYS AS IDENTITY"
  step expand "type bigint" "ALTER TABLE t ALTER COLUMN c TYPE bigint"
  step expand "widen varchar" "ALTER TABLE t ALTER COLUMN s TYPE varchar(20)"
  step expand "shrink varchar" "ALTER TABLE t ALTER COLUMN s TYPE varchar(5)"
  step expand "set not null" "ALTER TABLE t ALTER COLUMN c SET NOT NULL"
  step expand "drop not null" "ALTER TABLE t ALTER COLUMN c DROP NOT NULL"
  step expand "set default" "ALTER TABLE t ALTER COLUMN x SET DEFAULT 5"
  step expand "fk not valid" "ALTER TABLE t ADD CONSTRAINT t_u_fk FOREIGN KEY (u_id) REFERENCES u (id) NOT VALID"
  step expand "validate fk" "ALTER TABLE t VALIDATE CONSTRAINT t_u_fk"
  step expand "check not valid" "ALTER TABLE t ADD CONSTRAINT t_c_ck CHECK (c > 0) NOT VALID"
  step expand "validate check" "ALTER TABLE t VALIDATE CONSTRAINT t_c_ck"
  step expand "add unique" "ALTER TABLE t ADD CONSTRAINT t_x0_key UNIQUE (id, x0)"
  step expand "create index" "CREATE INDEX t_x_idx ON t (x)"
  step expand "create index concurrently" "CREATE INDEX CONCURRENTLY t_x2_idx ON t (x)"
  step expand "statistics" "ALTER TABLE t ALTER COLUMN c SET STATISTICS 500"
  step expand "fillfactor" "ALTER TABLE t SET (fillfactor = 90)"
  step expand "add column references" "ALTER TABLE t ADD COLUMN u2 int REFERENCES u (id)"
  step expand "create trigger" "CREATE TRIGGER t_new BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION t_noop()"
  step expand "disable trigger" "ALTER TABLE t DISABLE TRIGGER t_existing"
  step expand "drop trigger" "DROP TRIGGER t_existing ON t"
  step expand "lock table share" "LOCK TABLE u IN SHARE MODE"
  step expand "refresh matview" "REFRESH MATERIALIZED VIEW mv"
  step expand "detach partition" "ALTER TABLE p DETACH PARTITION p1"
  step expand "rename column" "ALTER TABLE t RENAME COLUMN x TO x_renamed"
  step expand "cluster" "CLUSTER t USING t_pkey"
  step expand "set unlogged" "ALTER TABLE t SET UNLOGGED"
  step expand "set logged" "ALTER TABLE t SET LOGGED"
  step expand "drop column" "ALTER TABLE t DROP COLUMN x0"
  step expand "truncate" "TRUNCATE t"
} | plan 0001-locks

# Refuses the target itself.
expect 2 pg trace 0001-locks --scratch-url "$target_url"
contains "refuses the target" "$ERR" "refusing to trace on the target database itself"

expect 0 pg trace 0001-locks --scratch-url "$scratch_url"
contains "all agree" "$OUT" "32 statements traced, 0 disagreements"
contains "rewrite observed for the volatile default" "$OUT" "rewrote t"
contains "concurrently is reported as not observable" "$OUT" "not observable"

# JSON: every statement has observed locks; the FK takes SHARE ROW EXCLUSIVE on both tables.
new_db e2e_trace_scratch
q "CREATE TABLE u (id int PRIMARY KEY); CREATE TABLE t (id int PRIMARY KEY, c int, s varchar(10), ts timestamp, u_id int)"
export DATABASE_URL=$target_url
{ step expand "fk" "ALTER TABLE t ADD CONSTRAINT t_u_fk FOREIGN KEY (u_id) REFERENCES u (id) NOT VALID"; } | plan 0001-locks
expect 0 pg trace 0001-locks --scratch-url "$scratch_url" --json
check "observed fk locks" "$(echo "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["statements"][0]["observed"]["locks"])')" "{'t': 'SHARE ROW EXCLUSIVE', 'u': 'SHARE ROW EXCLUSIVE'}"
finish
