#!/usr/bin/env bash
# The CLI definition against what users read (issue #15): every command and option the parser knows is in
# docs/commands.md and in the generated man page, every exit code of docs/exit-codes.md is in the man page, the
# page renders without groff warnings, --version names the commit built, and the generated bash and zsh
# completions complete commands, options and their values.
source "$(dirname "$0")/lib.sh"
SRC=${PHASEGATE_SRC:?set by ctest}
DOCS="$SRC/docs/commands.md"

# ---- --version ----
expect 0 "$PHASEGATE_BIN" --version
if [[ ! $OUT =~ ^phasegate\ [0-9]+\.[0-9]+\.[0-9]+\ \(commit\ ([0-9a-f]{12}(-dirty)?|unknown)\)$ ]]; then
  echo "FAIL: --version: got '$OUT', want 'phasegate X.Y.Z (commit <12 hex>[-dirty])'"; FAILS=$((FAILS + 1))
else echo "ok: --version: $OUT"; fi
# In a git checkout the commit is one of its commits (HEAD when the binary was built; test_package.sh, which
# builds first, checks HEAD itself).
if git -C "$SRC" rev-parse --git-dir >/dev/null 2>&1 && [[ $OUT =~ \(commit\ ([0-9a-f]{12}) ]]; then
  check "--version names a commit of the checkout" "$(git -C "$SRC" cat-file -t "${BASH_REMATCH[1]}" 2>&1)" "commit"
fi

# ---- every command and option is documented ----
expect 0 "$PHASEGATE_BIN" _generate commands
COMMANDS=$OUT
check "the CLI has commands" "$([[ $(wc -l <<<"$COMMANDS") -ge 15 ]] && echo yes)" yes
expect 0 "$PHASEGATE_BIN" _generate man --prefix /usr
printf '%s\n' "$OUT" >"$WORK/phasegate.1"
groff_warnings=$(groff -man -Tutf8 -ww -z "$WORK/phasegate.1" 2>&1 || true)
check "groff renders the man page without warnings" "$groff_warnings" ""
MAN=$(MANWIDTH=200 MAN_KEEP_FORMATTING=0 man -l -P cat "$WORK/phasegate.1" 2>&1 | col -b)
contains "man -l renders the page" "$MAN" "EXIT STATUS"
contains "the man page names the installed docs" "$MAN" "/usr/share/doc/phasegate/commands.md"
missing_docs="" missing_man=""
while IFS=$'\t' read -r cmd opts; do
  [[ -n $cmd ]] || continue
  headings=$(grep -E "^## \`phasegate $cmd( |\`)" "$DOCS" || true)
  [[ -n $headings ]] || missing_docs+=" $cmd"
  # Its subsection: from the heading "   phasegate CMD ..." to the next command or section heading.
  section=$(awk -v c="phasegate $cmd" '/^[A-Z]/ { on = 0 }
    /^   phasegate [a-z]/ { on = substr($0, 4, length(c)) == c && (length($0) == length(c) + 3 || substr($0, length(c) + 4, 1) == " ") }
    on' <<<"$MAN")
  [[ -n $section ]] || missing_man+=" $cmd"
  for o in $opts; do
    [[ $headings == *"$o"* ]] || missing_docs+=" $cmd:$o"
    [[ $section == *"$o"* ]] || missing_man+=" $cmd:$o"
  done
done <<<"$COMMANDS"
check "every command and option is in a docs/commands.md heading" "$missing_docs" ""
check "every command and option is in the man page" "$missing_man" ""
missing_codes=""
while read -r code; do
  grep -qE "^ {7}$code( |$)" <<<"$MAN" || missing_codes+=" $code"
done < <(sed -nE 's/^\| ([0-9][0-9, ]*[0-9]|[0-9]) \|.*/\1/p' "$SRC/docs/exit-codes.md")
check "every exit code of docs/exit-codes.md is in the man page" "$missing_codes" ""
expect 0 "$PHASEGATE_BIN" --help
check "the hidden _generate is not in --help" "$([[ $OUT == *_generate* ]] && echo listed)" ""
check "the hidden _generate is not in the man page" "$([[ $MAN == *_generate\ * ]] && echo listed)" ""
expect 2 "$PHASEGATE_BIN" _generate nonsense
contains "_generate refuses an unknown kind" "$ERR" "nonsense"

# ---- bash completion ----
expect 0 "$PHASEGATE_BIN" _generate bash
printf '%s\n' "$OUT" >"$WORK/phasegate.bash"
mkdir -p "$WORK/proj/plans" && touch "$WORK/proj/plans/0001-first.toml" "$WORK/proj/plans/0002-second.toml"
# complete WORDS...: what bash completion offers for the last word (empty: "" as the last argument).
complete_bash() {
  bash --norc -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _phasegate; printf "%s\n" "${COMPREPLY[@]}" | sort | xargs' \
    _ "$WORK/phasegate.bash" "$@"
}
check "bash: phasegate st<TAB>" "$(complete_bash phasegate st)" "status"
check "bash: phasegate r<TAB>" "$(complete_bash phasegate r)" "report revoke rollback run runs"
check "bash: phasegate run --ph<TAB>" "$(complete_bash phasegate run --ph)" "--phase"
check "bash: phasegate run --phase <TAB>" "$(complete_bash phasegate run --phase '')" "all contract expand migrate"
check "bash: phasegate lint --format g<TAB>" "$(complete_bash phasegate lint --format g)" "github gitlab"
check "bash: phasegate -C DIR status <TAB> lists plan ids" "$(complete_bash phasegate -C "$WORK/proj" status '')" "0001-first 0002-second"
check "bash: phasegate notify t<TAB> (a command of a command)" "$(complete_bash phasegate notify t)" "test"
check "bash: phasegate notify test --js<TAB>" "$(complete_bash phasegate notify test --js)" "--json"
check "bash: phasegate --js<TAB>" "$(complete_bash phasegate --js)" "--json"
check "bash: phasegate status --json --ch<TAB> (global options before the command)" "$(complete_bash phasegate --json status --ch)" "--check"
check "bash: complete -F is registered" "$(bash --norc -c 'source "$1"; complete -p phasegate' _ "$WORK/phasegate.bash")" "complete -o default -F _phasegate phasegate"

# ---- zsh completion ----
expect 0 "$PHASEGATE_BIN" _generate zsh
mkdir -p "$WORK/zfunc" && printf '%s\n' "$OUT" >"$WORK/zfunc/_phasegate"
if ! command -v zsh >/dev/null; then
  echo "FAIL: zsh is not installed (scripts/deps.sh installs it)"; FAILS=$((FAILS + 1))
else
  expect 0 zsh -n "$WORK/zfunc/_phasegate"
  check "zsh: compinit registers _phasegate for phasegate" \
    "$(zsh -f -c 'fpath=("$1" $fpath); autoload -Uz compinit; compinit -u -d "$2"; print -r -- $_comps[phasegate]' _ "$WORK/zfunc" "$WORK/zcompdump")" "_phasegate"
  complete_zsh() { zsh -f "$SRC/tests/e2e/complete.zsh" "$WORK/zfunc" "$WORK/zsh.out" "$1" || true; }
  check "zsh: phasegate st<TAB>" "$(complete_zsh 'phasegate st')" "<phasegate status >"
  check "zsh: phasegate run --phase c<TAB>" "$(complete_zsh 'phasegate run --phase c')" "<phasegate run --phase contract >"
  check "zsh: phasegate lint --fo<TAB>" "$(complete_zsh 'phasegate lint --fo')" "<phasegate lint --format >"
  check "zsh: phasegate notify t<TAB> (a command of a command)" "$(complete_zsh 'phasegate notify t')" "<phasegate notify test >"
  check "zsh: phasegate status --ch<TAB>" "$(complete_zsh 'phasegate status --ch')" "<phasegate status --check >"
  check "zsh: phasegate -C DIR rollback 0002<TAB> completes the plan id" \
    "$(complete_zsh "phasegate -C $WORK/proj rollback 0002")" "<phasegate -C $WORK/proj rollback 0002-second >"
fi
finish
