# zsh -f tests/e2e/complete.zsh FPATH_DIR OUT WORDS: types WORDS and TAB into an interactive zsh in a pseudo
# terminal (zsh/zpty) with compinit and the completions in FPATH_DIR, then prints the edited command line as
# <BUFFER>. Polls for the answer for up to 60 s; exit 1 when none came.
zmodload zsh/zpty || exit 2
dir=$1 out=$2 line=$3
rm -f $out
zpty z zsh -f -i
zpty -w z "PS1=''; fpath=(${(q)dir} \$fpath); autoload -Uz compinit; compinit -u -d ${(q)out}.dump"
zpty -w z "dump-buffer() { print -r -- \"<\$BUFFER>\" >| ${(q)out}.tmp && mv ${(q)out}.tmp ${(q)out}; }; zle -N dump-buffer; bindkey '^X' dump-buffer"
zpty -w -n z "$line"$'\t'$'\x18'
for i in {1..600}; do
  [[ -s $out ]] && break
  zpty -r -t z junk 2>/dev/null  # drain the terminal so the shell never blocks writing to it
  sleep 0.1
done
zpty -d z
[[ -s $out ]] || { print -u2 "no completion answer within 60 s for: $line"; exit 1; }
cat $out
