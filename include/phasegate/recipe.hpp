#pragma once
// Recipes: ready plans with ${placeholders} (plans/*.toml in the source tree, share/phasegate/recipes when
// installed) that `phasegate new NAME --recipe R --set key=value` instantiates. docs/recipes.md.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "phasegate/error.hpp"

namespace phasegate::recipe {

// What a variable holds, which decides how ${var} is written into the plan:
//   ident   an SQL name (table, column, constraint): double-quoted when it needs it ("Order Items")
//   columns a comma-separated list of SQL names: each quoted when needed, joined with ", "
//   sql     an SQL fragment (a type, an expression, a default), written as given
//   integer digits only (batch sizes), written as given
enum class Kind { ident, columns, sql, integer };

struct Variable {
  std::string name;
  Kind kind = Kind::ident;
  std::string help;
  std::optional<std::string> default_value;  // may use ${other}; none = required
  int line = 0;                              // in the recipe file
};

struct Recipe {
  std::string name;         // the file stem: "add-column-default"
  std::string file;         // where it was read, for messages
  std::string summary;
  std::vector<Variable> vars;  // in file order
  std::string body;         // the plan template: the file from its `[plan]` line on
  int body_line = 1;        // the line of `[plan]` in the file
};

const char* kind_name(Kind k);

// Reads a recipe file's text: the [recipe] header (TOML, before the `[plan]` line) and the body. Every
// ${placeholder} of the body must name a variable and use a known form; problems are Exit::invalid naming
// file:line.
Result<Recipe> parse(const std::string& name, const std::string& file, const std::string& text);

// The plan text for `values` (from --set): unknown keys (with a did-you-mean) and missing required variables
// are Exit::invalid; so is a value its kind refuses (an empty name, a name over 63 bytes, a NUL byte).
// Placeholders: ${var} (as its kind says), ${var:text} (the value as plain text, for step names and
// descriptions), ${var:literal} (an SQL string literal, 'it''s'). Values are escaped for the TOML basic
// string they stand in. `command` is what the header comment says made the plan.
Result<std::string> instantiate(const Recipe& r, const std::map<std::string, std::string>& values, const std::string& command);

// PostgreSQL's quoting: bare when lowercase, not a keyword and made of [a-z0-9_] (not starting with a digit);
// otherwise in double quotes with " doubled.
std::string quote_ident(const std::string& name);
std::string quote_literal(const std::string& text);

// The recipe files (*.toml) in the first directory of `dirs` that exists, by name. Empty when none does.
std::map<std::string, std::string> find_all(const std::vector<std::string>& dirs);

}  // namespace phasegate::recipe

namespace phasegate {
struct Project;
// `phasegate new NAME --recipe R`: plans/NNNN-NAME.toml (the next free number) holding the recipe for `values`,
// loaded and validated as a plan before it is written; any problem is Exit::invalid and writes nothing. Refused
// like `new NAME`: a bad name, or a plan named NAME already there (named in the message).
Result<std::string> scaffold_recipe_plan(const Project& project, const std::string& name, const recipe::Recipe& r,
                                         const std::map<std::string, std::string>& values, const std::string& command);
}  // namespace phasegate
