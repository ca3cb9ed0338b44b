#pragma once
// The CLI definition as plain data, read from the CLI11 app main.cpp builds (generate.cpp), so the man page and the
// shell completions are generated from the same definition the parser uses and cannot go stale. Generators take
// this, not CLI::App, to keep CLI11 out of their translation units.
#include <string>
#include <vector>

namespace phasegate::cli {

struct OptionDoc {
  std::vector<std::string> names;    // "-y", "--yes"; a positional: its one name, e.g. "PLAN"
  std::string description;
  std::vector<std::string> choices;  // IsMember values, e.g. expand migrate contract all
  std::string value;                 // what the value is called: "" for a flag, else e.g. "expand|migrate" or "VALUE"
  bool positional = false;
  bool required = false;
  bool repeatable = false;           // takes several values (PLAN...)
  bool optional_value = false;       // --wait[=DUR]
  char delimiter = '\0';             // --enable RULE[,RULE]
  bool flag() const { return !positional && value.empty(); }
};

struct CommandDoc {
  std::string name, description;  // a nested command's name is its path: "notify test"
  std::vector<OptionDoc> options;  // in definition order; positionals included; -h/--help left out
  std::vector<std::string> subcommands;  // the names of its own commands ("test"), each listed after it
};

struct CliDoc {
  std::string name, description, version;
  std::vector<OptionDoc> global;      // the top-level options, -h/--help and --version included
  std::vector<CommandDoc> commands;   // the visible subcommands, nested ones after their parent (hidden ones, such
                                      // as _generate, left out); the completions go two levels deep
};

// "[--phase expand|migrate|contract|all]", "PLAN", "[PLAN...]": how an option is written in a synopsis.
std::string synopsis_item(const OptionDoc& o);

// manpage.cpp: phasegate(1) in roff (man(7) macros); FILES names the docs and hooks under the install prefix.
std::string man_page(const CliDoc& cli, const std::string& prefix);
std::string bash_completion(const CliDoc& cli);  // completion.cpp
std::string zsh_completion(const CliDoc& cli);   // completion.cpp

}  // namespace phasegate::cli
