# Helpers for the CI example tests (tests/e2e/test_ci_*.sh): a project per scenario (exit 0, 75, 5, lint
# errors) against the test PostgreSQL, a real HTTP receiver for pages, the YAML reader (ci_examples.py, on
# Debian's python3-yaml) and validators installed from npm at test time.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CI_DIR="$REPO_ROOT/examples/ci"
# Debian's python3 with python3-yaml (scripts/deps.sh), or a python3 on PATH that has yaml.
PY=python3
/usr/bin/python3 -c 'import yaml' 2>/dev/null && PY=/usr/bin/python3
"$PY" -c 'import yaml' || { echo "FAIL: no python3 with yaml (apt-get install python3-yaml)"; exit 1; }
cx() { "$PY" "$REPO_ROOT/tests/e2e/ci_examples.py" "$@"; }
export PATH="$(dirname "$PHASEGATE_BIN"):$PATH"   # the CI scripts call `phasegate`

# scenario NAME: a fresh database and $WORK/project whose `phasegate run` exits
#   ok 0 (a column added) | blocked 75 (its window never opens) | human 5 (a failed check, on_failure = "pause")
#   | lint-error 3 from lint (an index built without CONCURRENTLY)
scenario() {
  new_db "ci_${1//-/_}"
  rm -rf "$WORK/project"
  mkdir -p "$WORK/project/plans"
  q "CREATE TABLE books (id bigint PRIMARY KEY, title text)"
  cat >"$WORK/project/phasegate.toml" <<'TOML'
[project]
name = "ci"
[guards]
lock_timeout = "1s"
[windows.never]
timezone = "UTC"
allow = [ { days = "mon-sun" } ]
deny = [ { from = "2000-01-01", to = "2099-12-31" } ]
TOML
  case $1 in
    ok) printf '[expand]\n[[expand.steps]]\nname = "add note"\nsql = "ALTER TABLE books ADD COLUMN note text"\ndown = "ALTER TABLE books DROP COLUMN note"\n' >"$WORK/project/plans/0001-note.toml" ;;
    blocked) printf '[guards]\nwindows = ["never"]\n[expand]\n[[expand.steps]]\nname = "add note"\nsql = "ALTER TABLE books ADD COLUMN note text"\ndown = "ALTER TABLE books DROP COLUMN note"\n' >"$WORK/project/plans/0001-note.toml" ;;
    human) printf '[rollback]\non_failure = "pause"\n' >>"$WORK/project/phasegate.toml"
           printf '[expand]\n[[expand.steps]]\nname = "add note"\nsql = "ALTER TABLE books ADD COLUMN note text"\ndown = "ALTER TABLE books DROP COLUMN note"\n[[expand.steps]]\nname = "guarded"\ncheck = "SELECT false"\nsql = "ALTER TABLE books ADD COLUMN isbn text"\ndown = "ALTER TABLE books DROP COLUMN isbn"\n' >"$WORK/project/plans/0001-note.toml" ;;
    lint-error) printf '[expand]\n[[expand.steps]]\nname = "index title"\nsql = "CREATE INDEX books_title_idx ON books (title)"\ndown = "DROP INDEX IF EXISTS books_title_idx"\n' >"$WORK/project/plans/0001-index.toml" ;;
  esac
  printf '#!/bin/sh\necho deployed >deployed\n' >"$WORK/project/deploy.sh"
  chmod +x "$WORK/project/deploy.sh"
}
deployed() { [[ -e "$WORK/project/deployed" ]] && echo yes || echo no; }
note_column() { col_exists books note; }

# receiver_start: the real webhook receiver of lib.sh (tests/e2e/tools/receiver.py); $RECEIVER is its URL, the
# pager's in the CI scripts. pages: how many POSTs it got; page_text: their bodies.
receiver_start() {
  receiver ok
  RECEIVER=$HOOK_URL
}
pages() { rx 'len(r)'; }
page_text() { rx '" ".join(e["body"] for e in r)'; }

# npm_tools PKG...: installs npm packages once into a cache shared by test runs ($PHASEGATE_NPM_TOOLS); their
# binaries in $NPM_TOOLS/node_modules. Returns 1 (the caller says what it skipped) when npm cannot install them.
NPM_TOOLS="${PHASEGATE_NPM_TOOLS:-/tmp/phasegate-npm-tools}"
npm_tools() {
  local stamp="$NPM_TOOLS/.installed-$(echo "$*" | tr ' /@' '__-')"
  [[ -e $stamp ]] && return 0
  command -v npm >/dev/null || { echo "npm is not installed"; return 1; }
  mkdir -p "$NPM_TOOLS"
  if (cd "$NPM_TOOLS" && timeout 150 npm install --silent --no-audit --no-fund "$@" >"$NPM_TOOLS/install.log" 2>&1); then
    touch "$stamp"
  else
    echo "npm install $* failed: $(tail -3 "$NPM_TOOLS/install.log")"; return 1
  fi
}
