#!/usr/bin/env bash
# Every command's --json document validates against its JSON Schema in docs/schemas/ (draft 2020-12), in success
# and in failure, and its "exit" is the process's exit code ("ok" exactly when it is 0). Every command that
# `help --json` lists has a schema and is exercised here.
source "$(dirname "$0")/lib.sh"
SCHEMAS="$PHASEGATE_SRC/docs/schemas"
# Debian's python3-jsonschema (scripts/deps.sh) is /usr/bin/python3's; another python3 on PATH may have its own.
JS_PY=""
for py in /usr/bin/python3 python3; do
  if "$py" -c 'import jsonschema' 2>/dev/null; then JS_PY=$py; break; fi
done
[[ -n $JS_PY ]] || { echo "FAIL: no python3 with jsonschema: scripts/deps.sh installs python3-jsonschema"; exit 1; }
VALIDATED=" "

# why_invalid NAME WANT FILE: what is wrong with FILE as the --json document of NAME that exited WANT; empty: valid.
why_invalid() {
  "$JS_PY" - "$SCHEMAS" "$1" "$2" "$3" <<'PY'
import json, pathlib, sys, warnings
warnings.simplefilter("ignore")  # RefResolver is deprecated in newer jsonschema, and still the one both have
import jsonschema
d, name, want, out = pathlib.Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
text = open(out, encoding="utf-8").read()
try:
    doc = json.loads(text)
except ValueError as e:
    sys.exit(print(f"stdout is not one JSON document ({e}): {text[:300]!r}"))
path = (d / f"{name}.schema.json").resolve()
if not path.exists():
    sys.exit(print(f"no schema {path}"))
store = {p.resolve().as_uri(): json.loads(p.read_text()) for p in d.glob("*.schema.json")}
schema = store[path.as_uri()]
cls = jsonschema.validators.validator_for(schema)
cls.check_schema(schema)
v = cls(schema, resolver=jsonschema.RefResolver(base_uri=path.as_uri(), referrer=schema, store=store))
errors = list(v.iter_errors(doc))
for e in errors:
    print(f"{'/'.join(map(str, e.absolute_path)) or '(document)'}: {e.message[:300]}")
    for sub in sorted(e.context, key=lambda s: len(s.absolute_path), reverse=True)[:4]:
        print(f"  branch {list(sub.schema_path)[:1]}: {'/'.join(map(str, sub.absolute_path)) or '(document)'}: {sub.message[:200]}")
if doc.get("exit") != want or doc.get("ok") is not (want == 0):
    print(f"exit/ok: the document says exit={doc.get('exit')!r} ok={doc.get('ok')!r}; the process exited {want}")
PY
}
# js NAME WANT CMD...: runs CMD (expect WANT), then validates stdout against docs/schemas/NAME.schema.json.
js() {
  local name=$1 want=$2; shift 2
  expect "$want" "$@"
  local why
  why=$(why_invalid "$name" "$want" "$WORK/out" 2>&1)
  if [[ -n $why ]]; then
    echo "FAIL: $name: '$*' (exit $want): the --json document does not validate:"; echo "$why"; echo "stdout: ${OUT:0:600}"
    FAILS=$((FAILS + 1))
  else
    echo "ok: $name --json (exit $want) validates"
  fi
  VALIDATED+="$name "
}

# The validator catches what breaks a schema (else every check below would pass whatever the output).
for bad in '{"ok": true, "exit": 0}' '{"ok": true, "exit": 0, "plans": [], "event_log": {"ok": true, "problems": []}, "extra": 1}' \
           '{"ok": true, "exit": 4, "plans": [], "event_log": {"ok": true, "problems": []}}' '{"ok": false, "exit": 2}'; do
  echo "$bad" >"$WORK/bad.json"
  [[ -n $(why_invalid status "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["exit"])' "$bad")" "$WORK/bad.json" 2>&1) ]] \
    && echo "ok: the status schema refuses $bad" || { echo "FAIL: the status schema accepts $bad"; FAILS=$((FAILS + 1)); }
done

new_db e2e_schemas
SCRATCH_URL="$PHASEGATE_TEST_URL dbname=e2e_schemas_scratch"
"$PSQL" "$PHASEGATE_TEST_URL" -qc "DROP DATABASE IF EXISTS e2e_schemas_scratch WITH (FORCE)" -c "CREATE DATABASE e2e_schemas_scratch" >/dev/null
new_project
P="$WORK/project"
mkdir -p "$P/ops" "$WORK/keys"
ssh-keygen -q -t ed25519 -N '' -C alice -f "$WORK/keys/alice"
echo "alice@example.com $(cat "$WORK/keys/alice.pub")" >"$P/ops/allowed_signers"
cat >>"$P/phasegate.toml" <<'TOML'
approvals = 1
[approvals]
allowed_signers = "ops/allowed_signers"
[notify.pager]
command = ["sh", "-c", "cat >/dev/null"]
events = ["run.failed"]
[windows.always]
timezone = "UTC"
allow = [ { days = "mon-sun" } ]
[windows.never]
timezone = "UTC"
allow = [ { days = "mon-sun" } ]
deny = [ { from = "2000-01-01", to = "2099-12-31" } ]
TOML
export PHASEGATE_PRINCIPAL=carol@example.com
plan 0001-books <<'TOML'
[[expand.steps]]
name = "create"
sql = "CREATE TABLE books (id bigint PRIMARY KEY, title text)"
down = "DROP TABLE books"
[contract]
start = "manual"
[[contract.steps]]
name = "comment"
sql = "COMMENT ON TABLE books IS 'done'"
down = "COMMENT ON TABLE books IS NULL"
TOML

js help 0 pg --json help
js help 0 pg --json help status
js help 2 pg --json help statsu
js help 0 pg --json help notify test
js notify 0 pg --json notify test
js notify 2 pg --json notify test pagr
mkdir -p "$WORK/fresh"
js init 0 "$PHASEGATE_BIN" -C "$WORK/fresh" --json init --name fresh
js init 2 "$PHASEGATE_BIN" -C "$WORK/fresh" --json init --name fresh
js new 0 "$PHASEGATE_BIN" -C "$WORK/fresh" --json new add-email
js validate 0 pg --json validate
cp -r "$PHASEGATE_SRC/tests/data/loader/bad" "$WORK/bad"
js validate 2 "$PHASEGATE_BIN" -C "$WORK/bad" --json validate
js lint 0 pg --json lint 0001-books
printf 'ALTER TABLE books ADD COLUMN n int NOT NULL;\n' >"$WORK/bad.sql"
js lint 3 pg --json lint "$WORK/bad.sql"
js lint 3 pg lint --format json "$WORK/bad.sql"
printf 'ALTER TABLE books ADD COLUM n int;\n' >"$WORK/broken.sql"
js lint 2 pg --json lint "$WORK/broken.sql"
js window 0 pg --json window always
js window 75 pg --json window never --at 2030-01-01T00:00:00Z --next
js window 75 pg --json window
js plan 0 pg --json plan 0001-books
js plan 75 pg --json plan 0001-books --detailed-exitcode   # approvals missing: run would wait
js approvals 0 pg --json approvals 0001-books
js approve 0 pg --json approve 0001-books --key "$WORK/keys/alice"
js plan 8 pg --json plan 0001-books --detailed-exitcode
js run 0 pg --json run
RUN=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["plans"][0]["run"])' <<<"$OUT")
js status 0 pg --json status
js status 0 pg --json status --check   # the contract waits for its manual start: reported, not failed
js runs 0 pg --json runs
js log 0 pg --json log
js log 2 pg --json log notanumber
js report 0 pg --json report "$RUN"   # its own schema (docs/report.md): the success document only
js trace 0 pg --json trace 0001-books --scratch-url "$SCRATCH_URL"
js abort 2 pg --json abort 999
js abort 0 pg --json abort "$RUN"   # nobody drives it: aborted and rolled back here
js status 4 pg --json status --check
js mark 2 pg --json mark 0001-books create --applied   # without --yes
js run 0 pg --json run
q "DROP TABLE books"   # a human undoes the step, then records it
js mark 0 pg --json --yes mark 0001-books create --pending --reason "schema test"
js run 0 pg --json run
js rollback 0 pg --json rollback 0001-books
js revoke 0 pg --json revoke 0001-books --key "$WORK/keys/alice"
js run 75 pg --json run   # approvals revoked
js status 2 pg --json status --chek   # a usage error is the failure document
js run 2 pg --json run 0009-nope
plan 0002-fails <<'TOML'
[[expand.steps]]
name = "fails"
sql = "ALTER TABLE no_such_table ADD COLUMN x int"
down = "SELECT 1"
TOML
sed -i 's/^approvals = 1$/approvals = 0/' "$P/phasegate.toml"
js run 1 pg --json run
js plan 0 pg --json plan 0002-fails
js announce 0 pg --json announce --level maintenance --message "schemas test" --until 10m
js announce 2 pg --json announce --level mantenance --message x
js announce 0 pg --json announce --level ok
unset DATABASE_URL
js status 2 pg --json status

# Every command has a schema, and every one was validated above — except those listed here, which print no
# JSON document at all (say why next to each name).
NO_DOCUMENT=" serve "   # serve: a server; its documents are /status and /metrics (tests/e2e/test_serve.sh checks them)
expect 0 pg --json help
for cmd in $(python3 -c 'import json,sys; print(" ".join(c["name"] for c in json.load(sys.stdin)["commands"]))' <<<"$OUT"); do
  [[ "$NO_DOCUMENT" == *" $cmd "* ]] && continue
  [[ -f "$SCHEMAS/$cmd.schema.json" ]] || { echo "FAIL: command $cmd has no docs/schemas/$cmd.schema.json"; FAILS=$((FAILS + 1)); }
  [[ "$VALIDATED" == *" $cmd "* ]] || { echo "FAIL: command $cmd's --json output is not validated by this test"; FAILS=$((FAILS + 1)); }
done
finish
