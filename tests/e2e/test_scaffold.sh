#!/usr/bin/env bash
# init and new: the project named after its real directory (also for `init` in "."), a second `new NAME`
# refused naming the existing plan, and `new --recipe` refusing what it cannot fill, touching nothing.
source "$(dirname "$0")/lib.sh"
name_of() { python3 -c 'import sys,tomllib; print(tomllib.load(open(sys.argv[1],"rb"))["project"]["name"])' "$1"; }

mkdir -p "$WORK/bookbot-app" "$WORK/odd \"name\""
(cd "$WORK/bookbot-app" && expect 0 "$PHASEGATE_BIN" init && echo "$FAILS" >"$WORK/fails")
FAILS=$(cat "$WORK/fails")
check "init in . names the project after the directory" "$(name_of "$WORK/bookbot-app/phasegate.toml")" "bookbot-app"
expect 0 "$PHASEGATE_BIN" -C "$WORK/odd \"name\"/" init
check "a name with quotes is escaped for TOML" "$(name_of "$WORK/odd \"name\"/phasegate.toml")" 'odd "name"'
expect 0 "$PHASEGATE_BIN" -C "$WORK/odd \"name\"" validate

P="$WORK/bookbot-app"
expect 0 "$PHASEGATE_BIN" -C "$P" new add-note
check "the plan" "$(ls "$P/plans")" "$(printf '0001-example.toml\n0002-add-note.toml')"
expect 2 "$PHASEGATE_BIN" -C "$P" new add-note
contains "a second plan of the name is refused, naming the first" "$ERR" "plans/0002-add-note.toml is already a plan named \"add-note\"; nothing was changed"
check "nothing was written" "$(ls "$P/plans" | wc -l)" "2"

expect 2 "$PHASEGATE_BIN" -C "$P" new x --set table=t
contains "--set needs --recipe" "$ERR" "--set needs --recipe"
expect 2 "$PHASEGATE_BIN" -C "$P" new x --recipe add-colum-default
contains "an unknown recipe: did you mean" "$ERR" 'unknown recipe "add-colum-default" (did you mean "add-column-default"?)'
expect 2 "$PHASEGATE_BIN" -C "$P" new x --recipe add-column-default --set tabel=t column=c type=int default=0
contains "an unknown key: did you mean" "$ERR" 'no variable "tabel" (did you mean "table"?)'
expect 2 "$PHASEGATE_BIN" -C "$P" new x --recipe add-column-default --set table=t column=c
contains "missing keys are named with their help" "$ERR" "needs --set for: type (its type"
expect 2 "$PHASEGATE_BIN" -C "$P" new x --recipe change-column-type --set table=t column=c "type=numeric(12"
contains "a value making bad SQL: the would-be file:line:col" "$ERR" "plans/0003-x.toml:"
expect 2 "$PHASEGATE_BIN" -C "$P" new x --recipe add-column-default --set table=t column=c type=int default=0 column=d
contains "a key given twice" "$ERR" "--set column is given twice"
check "nothing was written by the refusals" "$(ls "$P/plans" | wc -l)" "2"
expect 0 "$PHASEGATE_BIN" -C "$P" --json new col --recipe add-column-default --set "table=Order Items" column=c type=int default=0
contains "--json names the file and the recipe" "$OUT" '"recipe": "add-column-default"'
contains "the identifier is quoted" "$(cat "$P/plans/0003-col.toml")" 'ALTER TABLE public.\"Order Items\" ADD COLUMN IF NOT EXISTS c int DEFAULT 0'

# Recipes of one's own: PHASEGATE_RECIPES_DIR.
mkdir -p "$WORK/my-recipes"
printf '[recipe]\nsummary = "an index"\n[recipe.vars]\ntable = { help = "t" }\n[plan]\n[expand]\n[[expand.steps]]\nname = "idx"\nsql = "CREATE INDEX CONCURRENTLY IF NOT EXISTS ${table}_i ON ${table} (id)"\ndown = "DROP INDEX CONCURRENTLY IF EXISTS ${table}_i"\n' >"$WORK/my-recipes/index.toml"
PHASEGATE_RECIPES_DIR="$WORK/my-recipes" expect 2 "$PHASEGATE_BIN" -C "$P" new y --recipe add-column-default
contains "only the override's recipes" "$ERR" "recipes: index"
PHASEGATE_RECIPES_DIR="$WORK/my-recipes" expect 0 "$PHASEGATE_BIN" -C "$P" new y --recipe index --set table=t
contains "a recipe of one's own" "$(cat "$P/plans/0004-y.toml")" 'CREATE INDEX CONCURRENTLY IF NOT EXISTS t_i ON t (id)'
PHASEGATE_RECIPES_DIR="$WORK/my-recipes" expect 2 "$PHASEGATE_BIN" -C "$P" new z --recipe index --set "table=Order Items"
contains "a recipe making bad SQL for a value is refused at the would-be file's line:col" "$ERR" "0005-z.toml:9:"
PHASEGATE_RECIPES_DIR="$WORK/nowhere" expect 2 "$PHASEGATE_BIN" -C "$P" new y --recipe index
contains "a missing override is said" "$ERR" "PHASEGATE_RECIPES_DIR=$WORK/nowhere holds no recipes"
finish
