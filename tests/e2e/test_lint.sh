#!/usr/bin/env bash
# lint on plain .sql files and plans; run refuses error-level findings in pending steps (exit 3, nothing touched).
source "$(dirname "$0")/lib.sh"
cat >"$WORK/bad.sql" <<'SQL'
SET lock_timeout = '2s';
-- seed 002: a column added to the biggest table
ALTER TABLE accounts ADD COLUMN token uuid DEFAULT gen_random_uuid();
CREATE INDEX accounts_token_idx ON accounts (token);
-- phasegate:ignore rename nothing reads it yet
ALTER TABLE accounts RENAME COLUMN legacy TO legacy_old;
SQL
expect 3 "$PHASEGATE_BIN" lint "$WORK/bad.sql"
contains "rewrite flagged at its line" "$OUT" "bad.sql:3:1: error[add-column-volatile-default]"
contains "index without CONCURRENTLY" "$OUT" "bad.sql:4:1: error[require-concurrent-index]"
contains "lock and what it blocks" "$OUT" "lock: SHARE (blocks writes)"
contains "no statement_timeout before the rewrite" "$OUT" "bad.sql:3:1: warning[missing-statement-timeout]"
contains "once per stretch without statement_timeout" "$OUT" "and 1 statement like it after this one, before any statement_timeout is set"
contains "summary" "$OUT" "2 errors, 1 warnings in 4 statements (1 file)"
expect 3 "$PHASEGATE_BIN" lint "$WORK/bad.sql" --format json
check "json summary" "$(echo "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["summary"]["errors"], sorted({f["rule"] for f in d["findings"]}))')" "2 ['add-column-volatile-default', 'missing-statement-timeout', 'require-concurrent-index']"
expect 3 "$PHASEGATE_BIN" lint "$WORK/bad.sql" --format github
contains "github annotations" "$OUT" "::error file=$WORK/bad.sql,line=4,col=1,title=require-concurrent-index::"
printf 'SET lock_timeout = %s;\nCREATE INDEX CONCURRENTLY i ON accounts (token);\n' "'2s'" >"$WORK/good.sql"
expect 0 "$PHASEGATE_BIN" lint "$WORK/good.sql"
printf 'ALTER TABLE accounts\n  ADD COLUM x int int;\n' >"$WORK/broken.sql"
expect 2 "$PHASEGATE_BIN" lint "$WORK/broken.sql"
contains "syntax error at file:line:col" "$OUT" "broken.sql:2:15: error[syntax-error]"

# Opt-in schema advice (issue #13): off by default, --enable for plain files; unknown ids refused with a did-you-mean.
cat >"$WORK/advice.sql" <<'SQL'
CREATE TABLE IF NOT EXISTS orders (id int PRIMARY KEY, note varchar(40), doc json);
SQL
expect 0 "$PHASEGATE_BIN" lint "$WORK/advice.sql"
check "advice is off by default" "$(grep -c 'prefer-' <<<"$OUT")" "0"
expect 0 "$PHASEGATE_BIN" lint "$WORK/advice.sql" --enable prefer-text,prefer-bigint --enable prefer-jsonb
contains "prefer-text at the statement" "$OUT" "advice.sql:1:1: warning[prefer-text]: column \"orders.note\" is varchar(40)"
contains "prefer-bigint" "$OUT" "warning[prefer-bigint]: primary key \"orders.id\" is integer"
contains "prefer-jsonb is info" "$OUT" "info[prefer-jsonb]"
contains "summary counts infos" "$OUT" "0 errors, 2 warnings, 1 infos in 1 statements (1 file)"
expect 2 "$PHASEGATE_BIN" lint "$WORK/advice.sql" --enable prefer-txt
contains "--enable did-you-mean" "$ERR" 'unknown rule "prefer-txt" (did you mean "prefer-text"?)'
expect 2 "$PHASEGATE_BIN" lint "$WORK/advice.sql" --enable rename
contains "--enable refuses an always-on rule" "$ERR" 'rule "rename" is always on'

new_db e2e_lint
q "CREATE TABLE accounts (id int PRIMARY KEY)"
new_project
plan 0001-token <<'TOML'
[[expand.steps]]
name = "token index"
sql = "CREATE INDEX accounts_id_idx ON accounts (id)"
down = "DROP INDEX accounts_id_idx"
TOML
expect 3 pg lint
contains "plan findings point into the TOML string" "$OUT" "0001-token.toml:3:8: error[require-concurrent-index]"
expect 3 pg run
contains "run refuses with the finding" "$ERR" "require-concurrent-index"
check "nothing touched" "$(q "SELECT to_regnamespace('phasegate') IS NULL OR NOT EXISTS (SELECT 1 FROM phasegate.runs)")" "t"
check "no index" "$(q "SELECT count(*) FROM pg_class WHERE relname = 'accounts_id_idx'")" "0"
plan 0001-token <<'TOML'
[[expand.steps]]
name = "token index"
sql = """
-- phasegate:ignore require-concurrent-index accounts is tiny and write-idle
CREATE INDEX accounts_id_idx ON accounts (id)
"""
down = "DROP INDEX accounts_id_idx"
TOML
expect 0 pg lint
expect 0 pg run
check "applied once ignored" "$(q "SELECT count(*) FROM pg_class WHERE relname = 'accounts_id_idx'")" "1"

# --db: sizes from the catalog of the target database.
q "CREATE TABLE events (id bigint PRIMARY KEY, n int); INSERT INTO events SELECT g, g FROM generate_series(1, 150000) g; ANALYZE events"
plan 0001-token <<'TOML'
[[expand.steps]]
name = "widen n"
sql = "ALTER TABLE events ALTER COLUMN n TYPE bigint"
down = "ALTER TABLE events ALTER COLUMN n TYPE int"
TOML
expect 3 pg lint --db
contains "big-table with rows" "$OUT" "error[big-table]: this rewrites \"events\" (150000 rows"
q "CREATE FUNCTION next_code() RETURNS text VOLATILE LANGUAGE sql AS \$\$ SELECT md5(random()::text) \$\$"
plan 0002-code <<'TOML'
[[expand.steps]]
name = "code"
sql = "ALTER TABLE events ADD COLUMN code text DEFAULT next_code()"
down = "ALTER TABLE events DROP COLUMN code"
TOML
expect 3 pg lint 0002-code --db
contains "pg_proc volatility" "$OUT" "volatile default (next_code())"
expect 3 pg lint 0002-code
contains "without --db an unknown function is assumed volatile" "$OUT" "next_code(), which phasegate does not know and assumes volatile"
# An immutable function of ours: --db knows it is no rewrite.
q "CREATE FUNCTION fixed_code() RETURNS text IMMUTABLE LANGUAGE sql AS \$\$ SELECT 'x' \$\$"
plan 0003-fixed <<'TOML'
[[expand.steps]]
name = "fixed code"
sql = "ALTER TABLE events ADD COLUMN fixed text DEFAULT fixed_code()"
down = "ALTER TABLE events DROP COLUMN fixed"
TOML
expect 0 pg lint 0003-fixed --db
expect 3 pg lint 0003-fixed
# unbatched-dml: EXPLAIN's estimate of the rows an UPDATE changes (it runs nothing).
plan 0004-fill <<'TOML'
[[migrate.steps]]
name = "fill all"
sql = "UPDATE events SET n = n + 1 WHERE n > 0"
down = "UPDATE events SET n = n - 1 WHERE n > 1"
[[migrate.steps]]
name = "fix one"
sql = "UPDATE events SET n = 0 WHERE id = 7"
down = "UPDATE events SET n = 7 WHERE id = 7"
TOML
expect 3 pg lint 0004-fill --db
contains "unbatched-dml names the estimate" "$OUT" "error[unbatched-dml]: this UPDATE is estimated (EXPLAIN) to change 1"
check "only the unbatched step" "$(grep -c 'unbatched-dml' <<<"$OUT")" "1"
check "EXPLAIN ran nothing" "$(q "SELECT count(*) FROM events WHERE n <> id")" "0"
expect 0 pg lint 0004-fill
# foreign-key-without-index: the referencing columns of a new foreign key, against the catalog's indexes.
q "CREATE TABLE owners (id bigint PRIMARY KEY); ALTER TABLE events ADD COLUMN owner_id bigint"
plan 0005-fk <<'TOML'
[[expand.steps]]
name = "fk"
sql = "ALTER TABLE events ADD CONSTRAINT events_owner_fk FOREIGN KEY (owner_id) REFERENCES owners (id) NOT VALID"
down = "ALTER TABLE events DROP CONSTRAINT events_owner_fk"
TOML
expect 0 pg lint 0005-fk --db
contains "foreign-key-without-index" "$OUT" "warning[foreign-key-without-index]: no index of \"events\" starts with the foreign key's columns (owner_id)"
q "CREATE INDEX events_owner_idx ON events (owner_id)"
expect 0 pg lint 0005-fk --db
check "with the index: no warning" "$(grep -c 'foreign-key-without-index' <<<"$OUT")" "0"
# Issue #13 §2: what the transaction rules say PostgreSQL does, checked on the server, then linted.
q "CREATE TYPE mood AS ENUM ('sad'); CREATE TABLE people (id int, mood mood); CREATE TABLE vac (id int); INSERT INTO vac VALUES (1)"
printf "BEGIN;\nALTER TYPE mood ADD VALUE 'meh';\nINSERT INTO people VALUES (1, 'meh');\nCOMMIT;\n" >"$WORK/enum.sql"
out=$("$PSQL" "$DATABASE_URL" -qAtX -v ON_ERROR_STOP=1 -f "$WORK/enum.sql" 2>&1 || true)
contains "the server refuses a new enum value in its own transaction" "$out" 'unsafe use of new value "meh"'
expect 3 "$PHASEGATE_BIN" lint "$WORK/enum.sql"
contains "lint flags the use" "$OUT" "enum.sql:3:1: error[enum-value-used-in-transaction]"
printf "BEGIN;\nBEGIN;\nCREATE TABLE nest_a (id int);\nCOMMIT;\n" >"$WORK/nest.sql"
out=$("$PSQL" "$DATABASE_URL" -qAtX -f "$WORK/nest.sql" 2>&1)
contains "PostgreSQL ignores the inner BEGIN" "$out" "there is already a transaction in progress"
expect 0 "$PHASEGATE_BIN" lint "$WORK/nest.sql"
contains "lint warns about the nesting" "$OUT" "nest.sql:2:1: warning[transaction-nesting]"
printf "BEGIN;\nCREATE TABLE never_committed (id int);\n" >"$WORK/open.sql"
"$PSQL" "$DATABASE_URL" -qAtX -v ON_ERROR_STOP=1 -f "$WORK/open.sql"
check "the end of the session rolled the open block back" "$(q "SELECT to_regclass('never_committed') IS NULL")" "t"
expect 3 "$PHASEGATE_BIN" lint "$WORK/open.sql"
contains "lint flags the open BEGIN" "$OUT" "open.sql:1:1: error[uncommitted-transaction]"
check "SET LOCAL outside a block sets nothing" "$("$PSQL" "$DATABASE_URL" -qAtX -c "SET LOCAL lock_timeout = '1s'" -c "SHOW lock_timeout" 2>/dev/null)" "0"
out=$("$PSQL" "$DATABASE_URL" -qAtX -c "BEGIN" -c "REINDEX SCHEMA public" 2>&1 || true)
contains "REINDEX SCHEMA cannot run in a block" "$out" "REINDEX SCHEMA cannot run inside a transaction block"
out=$("$PSQL" "$DATABASE_URL" -qAtX -c "REINDEX (CONCURRENTLY) SYSTEM e2e_lint" 2>&1 || true)
contains "REINDEX SYSTEM cannot be CONCURRENTLY" "$out" "cannot reindex system catalogs concurrently"
printf "REINDEX (CONCURRENTLY) SYSTEM e2e_lint;\n" >"$WORK/sys.sql"
expect 3 "$PHASEGATE_BIN" lint "$WORK/sys.sql"
contains "lint says it fails" "$OUT" "cannot reindex system catalogs concurrently"
rel() { q "SELECT relfilenode FROM pg_class WHERE relname = 'vac'"; }
before=$(rel); q "VACUUM (FULL false) vac"
check "VACUUM (FULL false) does not rewrite" "$(rel)" "$before"
q "VACUUM (FULL true) vac"
[[ "$(rel)" != "$before" ]] && echo "ok: VACUUM (FULL true) rewrites" || { echo "FAIL: VACUUM (FULL true) kept relfilenode $before"; FAILS=$((FAILS + 1)); }
printf "SET lock_timeout = '2s';\nSET statement_timeout = '1min';\nVACUUM (FULL false) vac;\n" >"$WORK/vac.sql"
expect 0 "$PHASEGATE_BIN" lint "$WORK/vac.sql"
check "VACUUM (FULL false) is not a rewrite for lint" "$(grep -c table-rewrite <<<"$OUT")" "0"
printf "SET lock_timeout = '2s';\nSET statement_timeout = '1min';\nVACUUM (FULL true) vac;\n" >"$WORK/vac.sql"
expect 3 "$PHASEGATE_BIN" lint "$WORK/vac.sql"
contains "VACUUM (FULL true) is" "$OUT" "error[table-rewrite]"
rm "$WORK/project/plans/0002-code.toml" "$WORK/project/plans/0003-fixed.toml" "$WORK/project/plans/0004-fill.toml" "$WORK/project/plans/0005-fk.toml"
expect 3 pg lint
check "without --db no big-table" "$(grep -c big-table <<<"$OUT")" "0"
# [lint] enable in phasegate.toml: lint and validate apply it; a misspelt id is refused at its position.
plan 0006-advice <<'TOML'
[[expand.steps]]
name = "codes"
sql = "ALTER TABLE events ADD COLUMN code varchar(8)"
down = "ALTER TABLE events DROP COLUMN code"
TOML
expect 0 pg lint 0006-advice
check "not enabled: no advice" "$(grep -c 'prefer-text' <<<"$OUT")" "0"
cp "$WORK/project/phasegate.toml" "$WORK/phasegate.toml.orig"
printf '[lint]\nenable = ["prefer-text"]\n' >>"$WORK/project/phasegate.toml"
expect 0 pg lint 0006-advice
contains "enabled in phasegate.toml" "$OUT" "0006-advice.toml:3:8: warning[prefer-text]: column \"events.code\" is varchar(8)"
expect 0 pg validate 0006-advice
contains "validate accepts [lint] and counts the advice" "$OUT" "lint: 0 errors, 1 warnings"
cp "$WORK/phasegate.toml.orig" "$WORK/project/phasegate.toml"
printf '[lint]\nenable = ["prefer-txt"]\n' >>"$WORK/project/phasegate.toml"
expect 2 pg validate
check "positioned did-you-mean" "$(grep -c 'phasegate.toml:[0-9]*:11: error: lint.enable: unknown rule "prefer-txt" (did you mean "prefer-text"?)' <<<"$ERR$OUT")" "1"
cp "$WORK/phasegate.toml.orig" "$WORK/project/phasegate.toml"
finish
