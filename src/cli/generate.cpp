// Reads the CLI11 definition into CliDoc and prints what `_generate` asks for. The only generator file that sees
// CLI11; manpage.cpp and completion.cpp work on the plain description.
#include "cli/generate.hpp"

#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/cli_doc.hpp"
#include "cli/version.hpp"
#include "phasegate/error.hpp"

namespace phasegate::cli {
namespace {

constexpr const char* kGenerate = "_generate";

// CLI11 writes an IsMember check into the type name: "TEXT:{expand,migrate,contract,all}".
std::vector<std::string> choices_of(const CLI::Option& o) {
  std::string type = o.get_type_name();
  auto open = type.find(":{"), close = type.rfind('}');
  if (open == std::string::npos || close == std::string::npos || close < open) return {};
  std::vector<std::string> out;
  std::string item;
  for (char c : type.substr(open + 2, close - open - 2)) {
    if (c == ',') out.push_back(std::move(item)), item.clear();
    else item += c;
  }
  if (!item.empty()) out.push_back(std::move(item));
  return out;
}

OptionDoc describe(const CLI::Option& o) {
  OptionDoc d;
  d.description = o.get_description();
  d.positional = !o.nonpositional();
  d.required = o.get_required();
  if (d.positional) {
    d.names.push_back(o.get_name(true));
  } else {
    for (const auto& s : o.get_snames()) d.names.push_back("-" + s);
    for (const auto& l : o.get_lnames()) d.names.push_back("--" + l);
  }
  d.choices = choices_of(o);
  d.delimiter = o.get_delimiter();
  bool flag = !d.positional && o.get_expected_max() == 0;  // add_flag: expected(0)
  if (!flag) {
    if (!o.get_option_text().empty()) d.value = o.get_option_text();
    else if (!d.choices.empty()) {
      for (const auto& c : d.choices) d.value += (d.value.empty() ? "" : "|") + c;
    } else d.value = d.positional ? d.names.front() : "VALUE";
    d.optional_value = !d.positional && o.get_expected_min() == 0;
    d.repeatable = o.get_items_expected_max() > 1;
  }
  return d;
}

std::vector<const CLI::App*> visible_subcommands(const CLI::App& app) {
  return app.get_subcommands([](const CLI::App* s) { return !s->get_group().empty(); });
}

// The visible subcommands of `app`, each followed by its own, named by their path ("notify test").
void describe_commands(const CLI::App& app, const std::string& prefix, std::vector<CommandDoc>& out) {
  for (const auto* sub : visible_subcommands(app)) {
    CommandDoc c{prefix + sub->get_name(), sub->get_description(), {}, {}};
    for (const auto* o : sub->get_options([&](const CLI::Option* x) { return x != sub->get_help_ptr(); }))
      c.options.push_back(describe(*o));
    for (const auto* child : visible_subcommands(*sub)) c.subcommands.push_back(child->get_name());
    out.push_back(std::move(c));
    describe_commands(*sub, out.back().name + " ", out);
  }
}

CliDoc describe(const CLI::App& app) {
  CliDoc cli;
  cli.name = app.get_name();
  cli.description = app.get_description();
  cli.version = std::string(version());
  for (const auto* o : app.get_options()) cli.global.push_back(describe(*o));
  describe_commands(app, "", cli.commands);
  return cli;
}

// One line per command: its name, then its option names (for tests that cross-check the docs).
std::string command_list(const CliDoc& cli) {
  std::string out;
  for (const auto& c : cli.commands) {
    out += c.name;
    for (const auto& o : c.options)
      if (!o.positional)
        for (const auto& n : o.names) out.append("\t").append(n);
    out += '\n';
  }
  return out;
}

}  // namespace

std::string synopsis_item(const OptionDoc& o) {
  std::string s = o.positional ? o.value : o.names.back();
  if (!o.positional && !o.value.empty()) s += (o.optional_value ? "[=" : " ") + o.value + (o.optional_value ? "]" : "");
  if (o.delimiter != '\0' && !o.positional) s += std::string("[") + o.delimiter + o.value + "...]";
  else if (o.repeatable) s += "...";
  return o.required ? s : "[" + s + "]";
}

CLI::App* add_generate_command(CLI::App& app) {
  auto* sub = app.add_subcommand(kGenerate, "print the man page, a completion script or the command list");
  sub->group("");  // hidden: not in --help, the man page or the completions
  sub->add_option("WHAT", "man | bash | zsh | commands")->required()->check(CLI::IsMember({"man", "bash", "zsh", "commands"}));
  sub->add_option("--prefix", "man: the install prefix the page's FILES section names")->default_val("/usr");
  return sub;
}

int cmd_generate(const CLI::App& app) {
  const CLI::App* sub = app.get_subcommand(kGenerate);
  auto what = sub->get_option("WHAT")->as<std::string>();
  CliDoc cli = describe(app);
  if (what == "man") std::cout << man_page(cli, sub->get_option("--prefix")->as<std::string>());
  else if (what == "bash") std::cout << bash_completion(cli);
  else if (what == "zsh") std::cout << zsh_completion(cli);
  else std::cout << command_list(cli);
  std::cout.flush();
  return static_cast<int>(std::cout ? Exit::ok : Exit::internal);
}

}  // namespace phasegate::cli
