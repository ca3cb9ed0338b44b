#include "cli/usage.hpp"

#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/output.hpp"
#include "phasegate/text.hpp"

namespace phasegate::cli {

namespace {

struct ExitCodeDoc {
  const char* code;
  const char* meaning;
};
// docs/exit-codes.md in one line each; tests/e2e/test_cli_conventions.sh checks both list the same codes.
constexpr ExitCodeDoc kExitCodes[] = {
    {"0", "done, or nothing to do"},
    {"1", "the run failed and was rolled back cleanly"},
    {"2", "invalid usage, config or plan (or drift); nothing was touched"},
    {"3", "lint found error-level findings"},
    {"4", "status --check: pending or drifted plans"},
    {"5", "a human must act: rollback incomplete, on_failure = \"pause\", point of no return, tampered event log"},
    {"6", "aborted by an operator"},
    {"7", "trace: the analyzer and PostgreSQL disagree about a lock or a rewrite"},
    {"8", "plan --detailed-exitcode: steps to apply, and the guards would let run start them now"},
    {"69", "cannot reach or write the target database when the command starts; nothing was changed"},
    {"70", "internal error (a bug)"},
    {"75", "blocked by a guard (window, approvals, load, lock); nothing failed, retry later"},
    {"128+N", "interrupted by signal N (130 SIGINT, 143 SIGTERM, 129 SIGHUP); the run resumes next time"},
};

bool is_help_or_version(const CLI::Option* o) {
  return o->check_lname("help") || o->check_lname("version");
}

std::string global_options_text(const CLI::App& root) {
  CLI::Formatter f;
  std::string out = "Global options (before or after the command):\n";
  for (const CLI::Option* o : root.get_options())
    if (o->nonpositional() && !is_help_or_version(o)) out += f.make_option(o, false);
  return out + "Environment: NO_COLOR (non-empty: no colour), DATABASE_URL (or [database] url_env)\n";
}

// The commands help lists: a hidden one (group "", like `_generate`) is neither listed nor suggested.
std::vector<const CLI::App*> visible_commands(const CLI::App& app) {
  return app.get_subcommands([](const CLI::App* s) { return !s->get_group().empty(); });
}

std::vector<std::string> command_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : visible_commands(app)) names.push_back(sub->get_name());
  return names;
}

const CLI::App* find_command(const CLI::App& app, const std::string& name) {
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
    if (sub->get_name() == name) return sub;
  return nullptr;
}

// "--name" / "-n" for every option of `app` that has a name.
void option_names(const CLI::App& app, std::vector<std::string>& out) {
  for (const CLI::Option* o : app.get_options()) {
    for (const auto& l : o->get_lnames()) out.push_back("--" + l);
    for (const auto& s : o->get_snames()) out.push_back("-" + s);
  }
}

bool knows_option(const CLI::App& app, const std::string& name) {
  for (const CLI::Option* o : app.get_options())
    if (o->nonpositional() && o->check_name(name)) return true;
  return false;
}

// The option named by `name` in `app`, when it takes a value from the next argument.
bool takes_next_value(const CLI::App& app, const std::string& name) {
  for (const CLI::Option* o : app.get_options())
    if (o->nonpositional() && o->check_name(name)) return o->get_items_expected_min() > 0;
  return false;
}

// "phasegate notify test": the command's name with its parents'.
std::string path_of(const CLI::App& command) {
  std::string path = command.get_name();
  for (const CLI::App* p = command.get_parent(); p; p = p->get_parent()) path = p->get_name() + " " + path;
  return path;
}

std::string hint(const std::string& word, const std::vector<std::string>& candidates) {
  auto h = did_you_mean(word, candidates);
  return h.empty() ? std::string() : " (did you mean \"" + h + "\"?)";
}

std::string explain(const CLI::App& app, const CLI::ParseError& e, const std::vector<std::string>& args) {
  const CLI::App* command = nullptr;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") break;
    if (a.starts_with("-")) {
      if (a.find('=') == std::string::npos && takes_next_value(app, a)) ++i;
      continue;
    }
    const CLI::App* parent = command ? command : &app;
    if (command && command_names(*command).empty()) break;  // a command without subcommands: the rest are its arguments
    command = find_command(*parent, a);
    if (!command) return "unknown command \"" + a + "\"" + hint(a, command_names(*parent));
  }
  if (!command) {
    for (const std::string& a : args) {  // `phasegate --jsn`: the option is the mistake, not the missing command
      if (a == "--") break;
      std::string name = a.substr(0, a.find('='));
      if (!a.starts_with("-") || knows_option(app, name)) continue;
      std::vector<std::string> names;
      option_names(app, names);
      return "unknown option \"" + name + "\"" + hint(name, names);
    }
    return "a command is required: " + join(command_names(app), ", ") + " (phasegate help COMMAND shows one)";
  }
  if (auto names = command_names(*command); !names.empty())  // `phasegate notify`: its own commands
    return path_of(*command) + " needs a command: " + join(names, ", ");
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") break;
    if (!a.starts_with("-") || a == "-") continue;
    std::string name = a.substr(0, a.find('='));
    if (knows_option(*command, name) || knows_option(app, name)) {
      if (a.find('=') == std::string::npos && (takes_next_value(*command, name) || takes_next_value(app, name))) ++i;  // its value
      continue;
    }
    std::vector<std::string> names;
    option_names(*command, names);
    option_names(app, names);
    return "unknown option \"" + name + "\" for " + path_of(*command) + hint(name, names);
  }
  return e.what();
}

}  // namespace

std::string exit_codes_text() {
  std::string out = "Exit codes (docs/exit-codes.md):\n";
  for (const auto& c : kExitCodes) {
    std::string code = c.code;
    code.resize(std::max<size_t>(code.size(), 7), ' ');
    out += "  " + code + c.meaning + "\n";
  }
  return out;
}

namespace {
void document_commands(CLI::App& parent, const CLI::App* root) {
  for (CLI::App* sub : parent.get_subcommands([](const CLI::App*) { return true; })) {
    sub->footer([root] { return global_options_text(*root) + "\n" + exit_codes_text(); });
    document_commands(*sub, root);
  }
}
}  // namespace

void document(CLI::App& app) {
  app.footer([] { return exit_codes_text(); });
  document_commands(app, &app);
}

namespace {
// help --json: the commands (or one) with their options, the global options and the exit codes — for scripts
// and completions. docs/schemas/help.schema.json.
nlohmann::json options_json(const CLI::App& app, bool skip_help) {
  nlohmann::json list = nlohmann::json::array();
  for (const CLI::Option* o : app.get_options()) {
    if (skip_help && is_help_or_version(o)) continue;
    nlohmann::json names = nlohmann::json::array();
    for (const auto& s : o->get_snames()) names.push_back("-" + s);
    for (const auto& l : o->get_lnames()) names.push_back("--" + l);
    list.push_back({{"names", names}, {"positional", !o->nonpositional()}, {"name", o->get_name()},
                    {"required", o->get_required()}, {"takes_value", o->get_items_expected_max() > 0},
                    {"description", o->get_description()}});
  }
  return list;
}

nlohmann::json command_json(const CLI::App& command) {
  nlohmann::json j = {{"name", command.get_name()}, {"description", command.get_description()}, {"options", options_json(command, true)}};
  for (const CLI::App* sub : visible_commands(command)) j["commands"].push_back(command_json(*sub));
  return j;
}

void print_help_json(const CLI::App& app, const CLI::App* only) {
  nlohmann::json commands = nlohmann::json::array();
  if (only) commands.push_back(command_json(*only));
  else
    for (const CLI::App* sub : visible_commands(app)) commands.push_back(command_json(*sub));
  nlohmann::json codes = nlohmann::json::array();
  for (const auto& c : kExitCodes) codes.push_back({{"code", c.code}, {"meaning", c.meaning}});
  print_json({{"commands", commands}, {"global_options", options_json(app, true)}, {"exit_codes", codes}});
}
}  // namespace

int help_command(const CLI::App& app, const Global& g, const std::vector<std::string>& command) {
  const CLI::App* sub = nullptr;
  for (const std::string& name : command) {
    const CLI::App& parent = sub ? *sub : app;
    sub = find_command(parent, name);
    if (!sub) return usage_error(g, "help: unknown command \"" + name + "\"" + hint(name, command_names(parent)));
  }
  if (g.json) print_help_json(app, sub);
  // Formatted directly: App::help() would delegate to the selected command — `help` itself.
  else if (sub) std::cout << sub->get_formatter()->make_help(sub, path_of(*sub), CLI::AppFormatMode::Normal);
  else std::cout << app.get_formatter()->make_help(&app, app.get_name(), CLI::AppFormatMode::Normal);
  return 0;
}

int parse_failure(const CLI::App& app, const CLI::ParseError& e, const std::vector<std::string>& args, const Global& g) {
  return usage_error(g, explain(app, e, args));
}

}  // namespace phasegate::cli
