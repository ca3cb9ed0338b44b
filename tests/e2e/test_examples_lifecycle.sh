#!/usr/bin/env bash
# Every example plan we ship or document (README.md, docs/**/*.md, examples/*/plans) goes through the whole
# lifecycle on the bookbot schema: run killed mid-way -> abort (rolled back: schema and data as before, every
# step pending) -> run -> rollback (as before again) -> run -> contract -> rollback refused after the contract.
# Blocks that are not whole plans for this schema (fragments, deliberately bad lint examples) are listed as
# skipped; the README's and the examples' plans must never be skipped.
source "$(dirname "$0")/lib.sh"
examples="$WORK/examples"
mkdir -p "$examples"
python3 - "$REPO_ROOT" "$examples" <<'PY'
import glob, os, re, sys
root, out = sys.argv[1], sys.argv[2]
n = 0
def emit(src, text):
    global n
    n += 1
    name = re.sub(r'[^a-z0-9]+', '-', src.lower()).strip('-')
    open(os.path.join(out, f"{n:02d}-{name}.toml"), "w").write(text)
for md in [os.path.join(root, "README.md")] + sorted(glob.glob(os.path.join(root, "docs", "**", "*.md"), recursive=True)):
    for block in re.findall(r"```toml\n(.*?)```", open(md).read(), re.S):
        if "steps]]" in block and "[project]" not in block:
            emit(os.path.relpath(md, root), block)
for plan in sorted(glob.glob(os.path.join(root, "examples", "*", "plans", "*.toml"))):
    emit(os.path.relpath(plan, root), open(plan).read())
PY
snapshot() {  # the schema and the data the plans may touch
  echo "$(q "SELECT string_agg(table_name || '.' || column_name, ',' ORDER BY table_name, column_name) FROM information_schema.columns WHERE table_schema = 'public'")|$(q "SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'public'")|$(q "SELECT string_agg(conname, ',' ORDER BY conname) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE nspname = 'public'")|$(q "SELECT md5(string_agg(b::text, ',' ORDER BY id)) FROM books b")"
}
steps_pending() {  # every step of the plan pending, as status --json says
  pg status --json | python3 -c 'import json,sys; p=json.load(sys.stdin)["plans"][0]; print(p["steps_done"], p["state"])'
}
covered=0
for file in "$examples"/*.toml; do
  label=$(basename "$file" .toml)
  new_db e2e_examples
  "$PSQL" "$DATABASE_URL" -qX -v ON_ERROR_STOP=1 -f "$REPO_ROOT/examples/bookbot/schema.sql" >/dev/null
  new_project
  cat >>"$WORK/project/phasegate.toml" <<'TOML'
[services.api]
kind = "command"
restart = ["true"]
[smoke.save_book]
command = ["true"]
TOML
  id=$(python3 -c '
import sys, tomllib
try: print(tomllib.load(open(sys.argv[1], "rb")).get("plan", {}).get("id", "0001-example"))
except Exception: print("0001-example")' "$file")
  cp "$file" "$WORK/project/plans/$id.toml"
  : >"$WORK/v.out"; : >"$WORK/l.out"
  if ! grep -q "books" "$file"; then
    echo "skipped: $label (not about the bookbot tables)"
    continue
  fi
  if ! pg validate >"$WORK/v.out" 2>&1 || ! pg lint $id >"$WORK/l.out" 2>&1; then
    if [[ "$label" == *readme* || "$label" == *examples-* ]]; then
      echo "FAIL: $label must be a whole, valid plan:"; cat "$WORK/v.out" "$WORK/l.out"; FAILS=$((FAILS + 1))
    else
      echo "skipped: $label (not a whole plan for the bookbot schema: $(cat "$WORK/v.out" "$WORK/l.out" | tail -1 | cut -c1-120))"
    fi
    continue
  fi
  covered=$((covered + 1))
  pristine=$(snapshot)
  # The first step of the first phase that has one (a docs example may be a migrate-only plan).
  first=$(python3 -c 'import sys,tomllib; d=tomllib.load(open(sys.argv[1],"rb")); print(next(d[p]["steps"][0]["name"] for p in ("expand", "migrate", "contract") if d.get(p, {}).get("steps")))' "$file")
  has_contract=$(python3 -c 'import sys,tomllib; d=tomllib.load(open(sys.argv[1],"rb")); print(1 if d.get("contract",{}).get("steps") else 0)' "$file")
  PHASEGATE_CRASH_AT="after-step:$first" expect 137 pg run
  run_id=$(q "SELECT max(run_id) FROM phasegate.runs")
  expect 0 pg abort "$run_id"
  check "$label: abort mid-way rolled it back (schema and data as before)" "$(snapshot)" "$pristine"
  check "$label: after the abort every step is pending" "$(steps_pending)" "0 rolled_back"
  expect 4 pg status --check
  expect 0 pg run
  expect 0 pg status --check
  expect 0 pg rollback $id --yes
  check "$label: rollback by hand (schema and data as before)" "$(snapshot)" "$pristine"
  check "$label: after the rollback every step is pending" "$(steps_pending)" "0 rolled_back"
  expect 0 pg run
  expect 0 pg run $id --phase contract
  check "$label: applied in full" "$(pg status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["plans"][0]["state"])')" "applied"
  if [[ $has_contract == 1 ]]; then
    expect 5 pg rollback $id --yes
    contains "$label: rollback after the contract is refused, naming the step" "$ERR" "point of no return: contract step"
  fi
done
echo "example plans covered: $covered"
[[ $covered -ge 2 ]] || { echo "FAIL: fewer than 2 example plans covered"; FAILS=$((FAILS + 1)); }
finish
