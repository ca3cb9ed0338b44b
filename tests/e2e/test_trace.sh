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
first_run=$(echo "$OUT" | sed 's/  [0-9.]* ms$//')
# The statements ran on a copy: the scratch database is as it was, the copy is gone, and a second run agrees.
check "scratch unchanged" "$(DATABASE_URL=$scratch_url q "SELECT count(*) FROM information_schema.columns WHERE table_name = 't' AND column_name = 'x'")" "0"
check "the copy was dropped" "$(q "SELECT count(*) FROM pg_database WHERE datname LIKE 'e2e_trace_scratch_trace_%'")" "0"
expect 0 pg trace 0001-locks --scratch-url "$scratch_url"
check "a second run gives the same result" "$(echo "$OUT" | sed 's/  [0-9.]* ms$//')" "$first_run"

# JSON: every statement has observed locks; the FK takes SHARE ROW EXCLUSIVE on both tables.
new_db e2e_trace_scratch
q "CREATE TABLE u (id int PRIMARY KEY); CREATE TABLE t (id int PRIMARY KEY, c int, s varchar(10), ts timestamp, u_id int)"
export DATABASE_URL=$target_url
{ step expand "fk" "ALTER TABLE t ADD CONSTRAINT t_u_fk FOREIGN KEY (u_id) REFERENCES u (id) NOT VALID"; } | plan 0001-locks
expect 0 pg trace 0001-locks --scratch-url "$scratch_url" --json
check "observed fk locks" "$(echo "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["statements"][0]["observed"]["locks"])')" "{'t': 'SHARE ROW EXCLUSIVE', 'u': 'SHARE ROW EXCLUSIVE'}"

# Type changes (sql::type_change, issue #13 §2): lint --db, reading each column's old type from the catalog of a
# copy, must say error exactly where the server rewrites the table and nothing where it does not (relfilenode,
# seen by trace on another copy), row by row. timestamp -> timestamptz depends on the TimeZone: a warning either way.
types_ddl="CREATE TABLE ty (id int PRIMARY KEY, v10 varchar(10), v10b varchar(10), v20 varchar(20), tx text, tx2 text,
  n102 numeric(10,2), n102b numeric(10,2), n102c numeric(10,2), ts3 timestamp(3), ts6 timestamp(6), tsz timestamp,
  tz3 timestamptz(3), tm2 time(2), iv3 interval(3), iv6 interval(6), ci cidr, ine inet, i8 bigint, i4 int);
  INSERT INTO ty SELECT g, 's', 's', 's', 's', 's', 1, 1, 1, now(), now(), now(), now(), now(), '1 s', '1 s',
    '10.0.0.0/8', '10.0.0.1', g, g FROM generate_series(1, 10) g"
citext=$(q "SELECT count(*) FROM pg_available_extensions WHERE name = 'citext'")
new_db e2e_trace_types_scratch
types_scratch=$DATABASE_URL
q "$types_ddl"
[[ $citext == 1 ]] && q "CREATE EXTENSION citext; CREATE TABLE tc (id int, e text, f text); CREATE INDEX tc_e_idx ON tc (e)"
new_db e2e_trace_types_lint
q "$types_ddl"
[[ $citext == 1 ]] && q "CREATE EXTENSION citext; CREATE TABLE tc (id int, e text, f text); CREATE INDEX tc_e_idx ON tc (e)"
{
  step expand "varchar to text" "ALTER TABLE ty ALTER COLUMN v10 TYPE text"
  step expand "varchar widen" "ALTER TABLE ty ALTER COLUMN v10b TYPE varchar(20)"
  step expand "varchar shrink" "ALTER TABLE ty ALTER COLUMN v20 TYPE varchar(5)"
  step expand "text to varchar(n)" "ALTER TABLE ty ALTER COLUMN tx TYPE varchar(10)"
  step expand "text to varchar" "ALTER TABLE ty ALTER COLUMN tx2 TYPE varchar"
  step expand "numeric precision up" "ALTER TABLE ty ALTER COLUMN n102 TYPE numeric(12,2)"
  step expand "numeric unconstrained" "ALTER TABLE ty ALTER COLUMN n102b TYPE numeric"
  step expand "numeric scale" "ALTER TABLE ty ALTER COLUMN n102c TYPE numeric(12,3)"
  step expand "timestamp precision up" "ALTER TABLE ty ALTER COLUMN ts3 TYPE timestamp(6)"
  step expand "timestamp precision down" "ALTER TABLE ty ALTER COLUMN ts6 TYPE timestamp(0)"
  step expand "timestamp to timestamptz" "ALTER TABLE ty ALTER COLUMN tsz TYPE timestamptz"
  step expand "timestamptz unconstrained" "ALTER TABLE ty ALTER COLUMN tz3 TYPE timestamptz"
  step expand "time precision up" "ALTER TABLE ty ALTER COLUMN tm2 TYPE time(4)"
  step expand "interval precision up" "ALTER TABLE ty ALTER COLUMN iv3 TYPE interval(5)"
  step expand "interval precision down" "ALTER TABLE ty ALTER COLUMN iv6 TYPE interval(2)"
  step expand "cidr to inet" "ALTER TABLE ty ALTER COLUMN ci TYPE inet"
  step expand "inet to cidr" "ALTER TABLE ty ALTER COLUMN ine TYPE cidr"
  step expand "int8 to int4" "ALTER TABLE ty ALTER COLUMN i8 TYPE int"
  step expand "int4 to int8" "ALTER TABLE ty ALTER COLUMN i4 TYPE bigint"
  step expand "insert" "INSERT INTO ty (id) VALUES (11)"
  if [[ $citext == 1 ]]; then
    step expand "text to citext, indexed" "ALTER TABLE tc ALTER COLUMN e TYPE citext"
    step expand "text to citext" "ALTER TABLE tc ALTER COLUMN f TYPE citext"
  fi
} | plan 0002-types
rows=$((20 + 2 * citext))
expect 3 pg lint 0002-types --db --json
lint_json=$OUT
export DATABASE_URL=$types_scratch
export DATABASE_URL=$target_url
expect 0 pg trace 0002-types --scratch-url "$types_scratch" --json
trace_json=$OUT
check "type rows traced" "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(len(d["statements"]), d["disagreements"])' "$trace_json")" "$rows 0"
verdicts=$(python3 - "$lint_json" "$trace_json" <<'PY'
import json, sys
lint, trace = json.loads(sys.argv[1]), json.loads(sys.argv[2])
level = {f["statement"]: f["level"] for f in lint["findings"] if f["rule"] == "change-column-type"}
for s in trace["statements"]:
    st = s["statement"]
    if " TYPE " not in st:
        continue
    table = st.split()[2]
    rewrote = table in s["observed"]["rewritten"]
    got = level.get(st, "none")
    if "timestamptz" in st and "tsz" in st:
        ok = got == "warning"
    elif "citext" in st:  # no rewrite; the indexed column's index is rebuilt (checked below): a warning there only
        ok = not rewrote and got == ("warning" if "COLUMN e " in st else "none")
        # the index is rebuilt: a new relfilenode, or (trace on a copy) a new index of the same name
        rebuilt = "tc_e_idx" in s["observed"]["rewritten"] or "tc_e_idx (new)" in s["observed"].get("created", [])
        ok = ok and (rebuilt == ("COLUMN e " in st))
    else:
        ok = got == ("error" if rewrote else "none")
    print(("ok" if ok else "MISMATCH") + ": " + st + " -> lint " + got + ", server " + ("rewrote" if rewrote else "no rewrite"))
PY
)
echo "$verdicts"
check "lint --db's type verdicts match the server" "$(grep -c MISMATCH <<<"$verdicts" || true)" "0"
check "every type row compared" "$(grep -c '^ok: ' <<<"$verdicts" || true)" "$((19 + 2 * citext))"
# timestamp <-> timestamptz: no rewrite only when the session TimeZone is UTC (why lint keeps it a warning).
new_db e2e_trace_tz
tz_scratch=$DATABASE_URL
q "CREATE TABLE tz (id int, at timestamp); INSERT INTO tz VALUES (1, now())"
export DATABASE_URL=$target_url
{
  step expand "to timestamptz" "ALTER TABLE tz ALTER COLUMN at TYPE timestamptz"
  step expand "back to timestamp" "ALTER TABLE tz ALTER COLUMN at TYPE timestamp"
} | plan 0003-tz
rewrites() { python3 -c 'import json,sys; print(sum(len(s["observed"]["rewritten"]) for s in json.loads(sys.argv[1])["statements"]))' "$OUT"; }
expect 0 env PGTZ=UTC "$PHASEGATE_BIN" -C "$WORK/project" --json trace 0003-tz --scratch-url "$tz_scratch"
check "TimeZone UTC: no rewrite either way" "$(rewrites)" "0"
expect 0 env PGTZ=America/New_York "$PHASEGATE_BIN" -C "$WORK/project" --json trace 0003-tz --scratch-url "$tz_scratch"
check "another TimeZone: both rewrite" "$(rewrites)" "2"

# ---- every relation is compared (issue #13 §3) ----
# A lock the analyzer cannot see (taken inside a function) is a disagreement, as a sentence, exit 7.
DATABASE_URL=$scratch_url q "CREATE FUNCTION lock_u() RETURNS void LANGUAGE plpgsql AS 'BEGIN LOCK TABLE u IN EXCLUSIVE MODE; END'"
export DATABASE_URL=$target_url
{ step expand "hidden lock" "SELECT lock_u()"; } | plan 0001-locks
expect 7 pg trace 0001-locks --scratch-url "$scratch_url"
contains "an unpredicted lock is a disagreement" "$OUT" "DISAGREE: PostgreSQL took EXCLUSIVE on table u, which the analyzer did not predict."
contains "counted" "$OUT" "1 statements traced, 1 disagreements"
expect 7 pg trace 0001-locks --scratch-url "$scratch_url" --json
check "json exit" "$(echo "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["exit"], d["disagreements"])')" "7 1"

# Indexes too: REINDEX takes SHARE on the table and ACCESS EXCLUSIVE on each index; a rewrite every index.
{ step expand "reindex" "REINDEX TABLE t"; step expand "rewrite" "ALTER TABLE t ADD COLUMN r float8 DEFAULT random()"; } | plan 0001-locks
expect 0 pg trace 0001-locks --scratch-url "$scratch_url" --json
check "reindex locks" "$(echo "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["statements"][0]["observed"]["locks"])')" "{'t': 'SHARE', 't_pkey': 'ACCESS EXCLUSIVE'}"
check "rewrite locks every index" "$(echo "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); l=d["statements"][1]["observed"]["locks"]; print(l.get("t"), l.get("t_pkey"))')" "ACCESS EXCLUSIVE ACCESS EXCLUSIVE"

# ---- the reference suite: every ALTER TABLE subcommand and DDL kind, 0 disagreements, twice ----
# (tests/data/trace/reference.toml on setup.sql; docs/trace-reference.md is rendered from the same run)
new_db e2e_trace_reference
ref_url=$DATABASE_URL
"$PSQL" "$ref_url" -qX -v ON_ERROR_STOP=1 -f "$REPO_ROOT/tests/data/trace/setup.sql" >/dev/null
export DATABASE_URL=$target_url
cp "$REPO_ROOT/tests/data/trace/reference.toml" "$WORK/project/plans/0002-reference.toml"
rm -f "$WORK/project/plans/0001-locks.toml" "$WORK/project/plans/0002-types.toml" "$WORK/project/plans/0003-tz.toml"
expect 0 pg --json trace 0002-reference --scratch-url "$ref_url"
ref1=$(echo "$OUT" | python3 "$REPO_ROOT/scripts/trace-reference.py")
echo "$OUT" | python3 -c 'import json,sys
for s in json.load(sys.stdin)["statements"]:
    for d in s["disagreements"]: print("  ", s["step"], "->", d)'
check "reference suite: 0 disagreements" "$(echo "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["disagreements"])')" "0"
expect 0 pg --json trace 0002-reference --scratch-url "$ref_url"
check "reference suite: the second run on the same scratch database is the same" "$(echo "$OUT" | python3 "$REPO_ROOT/scripts/trace-reference.py")" "$ref1"
check "docs/trace-reference.md is up to date (scripts/trace-reference.sh)" "$ref1" "$(cat "$REPO_ROOT/docs/trace-reference.md")"
finish
