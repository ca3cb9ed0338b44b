#!/usr/bin/env bash
# A packager's build (issue #15): a plain Release build (here in developer mode, so any warning at -O3 fails it),
# `cpack -G DEB`, the .deb's control fields and files, the package unpacked (dpkg -x) and used: --version with
# the commit, `man -l`, bash completion of `phasegate st<TAB>`, zsh loading the completion. A tarball's configure
# is checked too: no developer mode, no -Werror, commit "unknown" or PHASEGATE_COMMIT.
# The real `apt-get install ./phasegate_*.deb` into this machine (then removed again) runs only with CI=true or
# PHASEGATE_TEST_INSTALL=1, as root. The Release tree is kept between runs in PHASEGATE_PKG_BUILD (default:
# package-release next to the binary under test) so a second run only rebuilds what changed; ccache helps the first.
source "$(dirname "$0")/lib.sh"
SRC=${PHASEGATE_SRC:?set by ctest}
BUILD=${PHASEGATE_PKG_BUILD:-$(dirname "$PHASEGATE_BIN")/package-release}
for tool in cmake cpack dpkg-deb dpkg-shlibdeps man groff gzip readelf zsh; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed (scripts/deps.sh installs what this test needs)"; exit 1; }
done
gen=(); command -v ninja >/dev/null && gen=(-G Ninja)

# ---- the Release build, warnings as errors ----
cmake -S "$SRC" -B "$BUILD" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DPHASEGATE_DEV_MODE=ON -DPHASEGATE_BUILD_TESTS=OFF \
  >"$WORK/configure.log" 2>&1 || { echo "FAIL: configure of the Release tree:"; cat "$WORK/configure.log"; exit 1; }
if ! cmake --build "$BUILD" -j "${PHASEGATE_JOBS:-2}" >"$WORK/build.log" 2>&1; then
  echo "FAIL: the Release build (-O3, -Werror) failed:"; grep -E -B2 -A12 'error|warning' "$WORK/build.log" | head -80; exit 1
fi
echo "ok: Release build with -Werror"
flags=$(grep -o '"command": "[^"]*src/cli/main.cpp[^"]*"' "$BUILD/compile_commands.json" || true)
contains "Release compiles with -O3" "$flags" "-O3"
contains "developer mode compiles with -Werror" "$flags" "-Werror"
cmake --build "$BUILD" -j "${PHASEGATE_JOBS:-2}" >"$WORK/rebuild.log" 2>&1
check "a rebuild with nothing changed compiles nothing (the version TU is rewritten only on a new commit)" \
  "$(grep -c 'Building CXX' "$WORK/rebuild.log" || true)" "0"

# ---- cpack -G DEB ----
rm -rf "$WORK/pkg"
(cd "$BUILD" && cpack -G DEB -B "$WORK/pkg") >"$WORK/cpack.log" 2>&1 || { echo "FAIL: cpack -G DEB:"; cat "$WORK/cpack.log"; exit 1; }
deb=$(ls "$WORK"/pkg/phasegate_*.deb)
echo "ok: built ${deb##*/}"
info=$(dpkg-deb -I "$deb")
field() { dpkg-deb -f "$deb" "$1"; }
check "Package" "$(field Package)" "phasegate"
check "Version" "$(field Version)" "$(sed -nE 's/^project\(phasegate VERSION ([0-9.]+).*/\1/p' "$SRC/CMakeLists.txt")"
check "Architecture" "$(field Architecture)" "$(dpkg --print-architecture)"
check "Section" "$(field Section)" "database"
contains "Maintainer" "$(field Maintainer)" "<"
contains "Description has a summary" "$(field Description)" "phased PostgreSQL schema changes"
contains "Description has a long text" "$info" " phasegate runs a schema change plan"
depends=$(field Depends)
for p in openssh-client tzdata; do
  contains "Depends names $p (not visible to dpkg-shlibdeps)" "$depends" "$p"
done
# Every shared library the binary loads comes from a package the .deb depends on (dpkg-shlibdeps did its job).
mkdir -p "$WORK/root"
dpkg-deb -x "$deb" "$WORK/root"
ldconfig -p >"$WORK/ldconfig"
while read -r lib; do
  path=$(awk -v l="$lib" '$1 == l && /x86-64|x86_64|64bit/ { print $NF; exit }' "$WORK/ldconfig")
  [[ -n $path ]] || path=$(awk -v l="$lib" '$1 == l { print $NF; exit }' "$WORK/ldconfig")
  owner=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | sed -n '1s/:.*//p') || true
  [[ -n $owner ]] || owner=$(dpkg -S "$path" 2>/dev/null | sed -n '1s/:.*//p') || true
  if [[ -z $owner ]]; then echo "FAIL: no package owns $lib ($path)"; FAILS=$((FAILS + 1)); continue; fi
  if [[ ", $depends," != *", $owner "* && ", $depends," != *", $owner,"* && ", $depends," != *", $owner:"* ]]; then
    echo "FAIL: the binary needs $lib from $owner, but Depends is: $depends"; FAILS=$((FAILS + 1))
  fi
done < <(readelf -d "$WORK/root/usr/bin/phasegate" | sed -nE 's/.*\(NEEDED\).*\[(.*)\]/\1/p')
echo "ok: Depends: $depends"
contains "Recommends git (master rollback) and curl (the hooks)" "$(field Recommends)" "git, curl"
check "no spdlog/fmt linked (spdlog was dropped)" "$(readelf -d "$WORK/root/usr/bin/phasegate" | grep -cE 'spdlog|libfmt' || true)" "0"

files=$(dpkg-deb -c "$deb" | awk '{ print $1, $NF }')
want=(./usr/bin/phasegate ./usr/share/man/man1/phasegate.1.gz ./usr/share/bash-completion/completions/phasegate
  ./usr/share/zsh/vendor-completions/_phasegate ./usr/share/doc/phasegate/README.md
  ./usr/share/doc/phasegate/commands.md ./usr/share/doc/phasegate/rules/ ./usr/share/doc/phasegate/guards/)
for h in "$SRC"/hooks/*; do want+=("./usr/share/phasegate/hooks/${h##*/}"); done
for r in "$SRC"/plans/*.toml; do want+=("./usr/share/phasegate/recipes/${r##*/}"); done
for f in "${want[@]}"; do contains "the package holds $f" "$files" " $f"; done
check "hooks are executable" "$(awk '$2 ~ /hooks\/./ && $1 !~ /^-rwxr-xr-x/' <<<"$files")" ""
check "the binary is executable" "$(awk '$2 == "./usr/bin/phasegate" && $1 !~ /^-rwxr-xr-x/' <<<"$files")" ""
check "nothing outside /usr, nothing in /usr/local" "$(awk '$2 !~ /^\.\/(usr\/)?$/ && ($2 !~ /^\.\/usr\// || $2 ~ /^\.\/usr\/local/)' <<<"$files")" ""
check "the binary is stripped (no .symtab)" "$(readelf -S "$WORK/root/usr/bin/phasegate" | grep -c '\.symtab' || true)" "0"

# ---- the unpacked package works ----
ver=$("$WORK/root/usr/bin/phasegate" --version)
if head=$(git -C "$SRC" rev-parse --short=12 HEAD 2>/dev/null); then
  contains "the packaged --version names the commit" "$ver" "(commit $head"
else
  contains "the packaged --version names a commit" "$ver" "(commit "
fi
# The packaged binary finds the packaged recipes (<bin>/../share/phasegate/recipes), not the source tree's.
mkdir -p "$WORK/recipe-project"
(cd "$WORK/recipe-project" && env -u PHASEGATE_RECIPES_DIR "$WORK/root/usr/bin/phasegate" init >/dev/null 2>&1)
expect 0 env -u PHASEGATE_RECIPES_DIR "$WORK/root/usr/bin/phasegate" -C "$WORK/recipe-project" new add-flag --recipe add-column-default \
  --set table=books --set column=flag --set type=boolean --set default=false
contains "a packaged recipe instantiates" "$(cat "$WORK"/recipe-project/plans/*add-flag*.toml 2>/dev/null)" "ADD COLUMN"
page=$(MANWIDTH=120 man -l -P cat "$WORK/root/usr/share/man/man1/phasegate.1.gz" 2>&1 | col -b)
contains "man -l renders the packaged page" "$page" "phasegate status [PLAN] [--check]"
contains "its FILES name /usr (the package's prefix, not the build's)" "$page" "/usr/share/phasegate/hooks"
# bash_complete DATA_DIRS WORDS...: bash-completion's own loader finds phasegate's completion under
# DATA_DIRS/bash-completion/completions (as it does in /usr/share once installed); prints what it offers.
bash_complete() {
  XDG_DATA_DIRS=$1 bash --norc -c 'source /usr/share/bash-completion/bash_completion; __load_completion phasegate || exit 1
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _phasegate; echo "${COMPREPLY[@]}"' _ "${@:2}"
}
if [[ ! -r /usr/share/bash-completion/bash_completion ]]; then
  echo "FAIL: bash-completion is not installed (scripts/deps.sh installs it)"; FAILS=$((FAILS + 1))
else
  check "packaged bash completion, loaded by bash-completion: phasegate st<TAB>" \
    "$(bash_complete "$WORK/root/usr/share" phasegate st)" "status"
fi
expect 0 zsh -n "$WORK/root/usr/share/zsh/vendor-completions/_phasegate"
check "packaged zsh completion: phasegate st<TAB>" \
  "$(zsh -f "$SRC/tests/e2e/complete.zsh" "$WORK/root/usr/share/zsh/vendor-completions" "$WORK/zsh.out" 'phasegate st' || true)" \
  "<phasegate status >"

# ---- a tarball's build: no developer mode, commit from PHASEGATE_COMMIT or unknown ----
mkdir -p "$WORK/tarball"
tar -C "$SRC" --exclude=./.git --exclude='./build*' -cf - . | tar -C "$WORK/tarball" -xf -
tarball_configure() {  # tarball_configure ARGS...: configures $WORK/tarball-build; prints the generated version.cpp
  env -u CI cmake -S "$WORK/tarball" -B "$WORK/tarball-build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DPHASEGATE_BUILD_TESTS=OFF "$@" \
    >"$WORK/tarball.log" 2>&1 || { echo "FAIL: configure of the tarball:"; cat "$WORK/tarball.log"; return 1; }
  cmake --build "$WORK/tarball-build" --target phasegate_version >>"$WORK/tarball.log" 2>&1
  cat "$WORK/tarball-build/generated/version.cpp"
}
v=$(tarball_configure)
check "a tarball's build is not in developer mode" "$(grep -c '^PHASEGATE_DEV_MODE:BOOL=OFF' "$WORK/tarball-build/CMakeCache.txt")" "1"
check "a tarball's build has no -Werror" "$(grep -c -- '-Werror' "$WORK/tarball-build/compile_commands.json" || true)" "0"
contains "a tarball's commit is unknown" "$v" 'commit() { return "unknown"; }'
v=$(tarball_configure -DPHASEGATE_COMMIT=0123456789ab)
contains "PHASEGATE_COMMIT names a tarball's commit" "$v" 'commit() { return "0123456789ab"; }'
# The same tree as a git checkout of its own: the commit follows HEAD, and only when it changes is the file rewritten.
git -C "$WORK/tarball" init -q && git -C "$WORK/tarball" add -A
git -C "$WORK/tarball" -c user.name=t -c user.email=t@t commit -qm one
v=$(tarball_configure -DPHASEGATE_COMMIT= -DPHASEGATE_DEV_MODE=OFF)
contains "a git checkout's commit is HEAD" "$v" "commit() { return \"$(git -C "$WORK/tarball" rev-parse --short=12 HEAD)\"; }"
touch -d 2001-02-03T12:00:00Z "$WORK/tarball-build/generated/version.cpp"  # a rewrite would move the mtime
cmake --build "$WORK/tarball-build" --target phasegate_version >>"$WORK/tarball.log" 2>&1
check "an unchanged commit leaves version.cpp alone" "$(date -u -r "$WORK/tarball-build/generated/version.cpp" +%F)" "2001-02-03"
echo change >>"$WORK/tarball/README.md"
cmake --build "$WORK/tarball-build" --target phasegate_version >>"$WORK/tarball.log" 2>&1
contains "uncommitted changes are -dirty" "$(cat "$WORK/tarball-build/generated/version.cpp")" "-dirty\"; }"

# ---- the real install (CI, or PHASEGATE_TEST_INSTALL=1) ----
if [[ ${CI:-} == true || ${PHASEGATE_TEST_INSTALL:-0} == 1 ]]; then
  if [[ $(id -u) -ne 0 ]]; then echo "FAIL: the real install needs root"; FAILS=$((FAILS + 1)); finish; fi
  was_installed=$(dpkg-query -W -f='${Status}' phasegate 2>/dev/null | grep -c 'install ok installed' || true)
  [[ $was_installed == 0 ]] && trap 'dpkg -r phasegate >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
  cp "$deb" "$WORK/phasegate.deb"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends "$WORK/phasegate.deb" \
    >"$WORK/apt.log" 2>&1 || { echo "FAIL: apt-get install ./x.deb:"; cat "$WORK/apt.log"; exit 1; }
  echo "ok: apt-get install of the .deb"
  check "phasegate is on PATH in /usr/bin" "$(command -v phasegate)" "/usr/bin/phasegate"
  contains "/usr/bin/phasegate --version" "$(/usr/bin/phasegate --version)" "phasegate "
  check "man -w phasegate finds the page" "$(man -w phasegate)" "/usr/share/man/man1/phasegate.1.gz"
  contains "man phasegate renders" "$(MANWIDTH=120 man -P cat phasegate 2>&1 | col -b)" "phasegate run [PLAN]"
  check "installed bash completion, loaded by bash-completion: phasegate st<TAB>" \
    "$(bash_complete /usr/share phasegate st)" "status"
  check "zsh finds the installed completion in its default fpath" \
    "$(zsh -f -c 'autoload -Uz compinit; compinit -u -d "$1"; print -r -- $_comps[phasegate]' _ "$WORK/zcompdump")" "_phasegate"
else
  echo "skip: the real apt-get install (set PHASEGATE_TEST_INSTALL=1, or CI=true, as root)"
fi
finish
