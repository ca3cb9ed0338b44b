// phasegate(1) in roff (man(7) macros), generated from the CLI definition: NAME, SYNOPSIS, the global options,
// every command with its options, then the fixed sections (exit status, environment, files) that point at the
// user docs, which stay the full reference. `_generate man --prefix DIR` prints it; `cmake --install` (and so cpack)
// generates it with the prefix it installs into, so the paths under FILES are where the files are.
#include <string>
#include <string_view>

#include "cli/cli_doc.hpp"

namespace phasegate::cli {
namespace {

// Text for roff: backslashes escaped, hyphens as \- (so options render and search as ASCII '-'), a line that
// would start with a control character ('.' or '\'') protected by \&.
std::string roff(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') out.append("\\e");
    else if (c == '-') out.append("\\-");
    else out.push_back(c);
  }
  if (!out.empty() && (out.front() == '.' || out.front() == '\'')) out.insert(0, "\\&");
  return out;
}

std::string names(const OptionDoc& o) {
  std::string out;
  for (const auto& n : o.names) {
    if (!out.empty()) out.append(", ");
    out.append("\\fB").append(roff(n)).append("\\fR");
  }
  if (o.positional) return "\\fI" + roff(o.value) + "\\fR";
  if (!o.value.empty()) {
    out.append(o.optional_value ? "[=" : " ").append("\\fI").append(roff(o.value)).append("\\fR");
    if (o.optional_value) out.append("]");
  }
  return out;
}

std::string option_list(const std::vector<OptionDoc>& options) {
  std::string out;
  for (const auto& o : options) {
    out.append(".TP\n").append(names(o)).append("\n").append(roff(o.description)).append("\n");
  }
  return out;
}

std::string command_synopsis(const CliDoc& cli, const CommandDoc& c) {
  std::string s = cli.name;
  s.append(" ").append(c.name);
  for (const auto& o : c.options) s.append(" ").append(synopsis_item(o));
  if (!c.subcommands.empty()) s.append(" COMMAND");  // its commands follow, each with its own synopsis
  return s;
}

// Stable exit codes (SPEC §2.1, docs/exit-codes.md; tests/e2e/test_package.sh checks that every code there is here).
constexpr std::pair<const char*, const char*> kExitCodes[] = {
    {"0", "done, or nothing to do"},
    {"1", "the run failed and was rolled back cleanly"},
    {"2", "invalid usage, config or plan (or drift); nothing was touched"},
    {"3", "lint found error-level findings"},
    {"4", "status --check: pending or drifted plans"},
    {"5", "a human must act: the rollback is incomplete, on_failure = \"pause\", or past the point of no return"},
    {"6", "aborted by an operator"},
    {"7", "trace: the analyzer disagrees with what PostgreSQL did"},
    {"8", "plan --detailed-exitcode: steps to apply, and the guards would let run start them now"},
    {"69", "cannot reach or write the target database when the command starts; nothing was changed"},
    {"70", "internal error (a bug)"},
    {"75", "blocked by a guard (window, approvals, load, lock held) or the connection lost past reconnect_timeout; "
           "retry later"},
    {"130, 143, 129", "interrupted by SIGINT, SIGTERM or SIGHUP; the next run resumes"},
};

constexpr std::pair<const char*, const char*> kEnvironment[] = {
    {"DATABASE_URL", "libpq conninfo or URI of the target database (the variable [database] url_env names)"},
    {"PHASEGATE_PRINCIPAL", "the principal starting a run (run --as) or checking approvals (approvals --as)"},
    {"PHASEGATE_RELEASE_COMMIT", "the commit master rollback reverts (run --release-commit)"},
    {"NO_COLOR", "no colour even on a terminal"},
    {"PGPASSWORD", "and the other libpq variables: read by libpq; passwords are masked in every output"},
};

std::string fixed_sections(const CliDoc& cli, const std::string& prefix) {
  std::string docs = roff(prefix + "/share/doc/" + cli.name), hooks = roff(prefix + "/share/" + cli.name + "/hooks");
  std::string out = ".SH EXIT STATUS\nStable for every command; with \\fB\\-\\-json\\fR the document on stdout "
                    "carries the same number in \\fBexit\\fR.\n";
  for (const auto& [code, meaning] : kExitCodes) out.append(".TP\n.B ").append(code).append("\n").append(roff(meaning)).append("\n");
  out.append(".SH ENVIRONMENT\n");
  for (const auto& [name, meaning] : kEnvironment) out.append(".TP\n.B ").append(name).append("\n").append(roff(meaning)).append("\n");
  out.append(".SH FILES\n"
             ".TP\n.I phasegate.toml\nthe project config: database, guards, windows, approvals, services, smoke checks, "
             "rollback\n"
             ".TP\n.I plans/NNNN\\-name.toml\none plan per schema change, applied in file\\-name order\n"
             ".TP\n.I hooks/\nexecutable scripts the config refers to (restart, smoke, rollback, notify)\n"
             ".TP\n.I " + hooks + "\nready\\-made hooks to copy: restart by pidfile, HTTP smoke check, "
             "master revert through a CI API\n"
             ".TP\n.I " + docs + "\nthe user documentation: commands, plan format, lint rules, guards, "
             "backfills, rollback, state, secrets\n");
  out.append(".SH SEE ALSO\n.BR ssh\\-keygen (1),\n.BR git (1),\n.BR psql (1).\n"
             "The full reference is in\n.I " + docs + "/commands.md\nand the other pages there.\n");
  out.append(".SH VERSION\n").append(roff(cli.name + " " + cli.version)).append("\n");
  return out;
}

}  // namespace

std::string man_page(const CliDoc& cli, const std::string& prefix) {
  std::string summary = cli.description;
  if (auto colon = summary.find(": "); colon != std::string::npos) summary.erase(0, colon + 2);
  std::string out = ".\\\" Generated by `" + cli.name + " _generate man` from the CLI definition; do not edit.\n";
  out.append(".TH PHASEGATE 1 \"\" \"").append(roff(cli.name + " " + cli.version)).append("\" \"User Commands\"\n");
  out.append(".nh\n");  // no hyphenation: paths and option names stay whole (and greppable)
  out.append(".SH NAME\n").append(cli.name).append(" \\- ").append(roff(summary)).append("\n");
  out.append(".SH SYNOPSIS\n.B ").append(cli.name).append("\n[\\fIGLOBAL OPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]\n");
  out.append(".SH DESCRIPTION\n").append(roff(cli.name)).append(
      " runs a plan's expand, migrate and contract phases (TOML files in \\fIplans/\\fR) as a persisted state "
      "machine in the target PostgreSQL database. It refuses to move while a guard says no (off\\-peak window, "
      "signed approvals, lock timeout, load), restarts the application's services between phases, runs smoke "
      "checks, and on failure rolls the database steps back and reverts the application's release commit. Every "
      "decision is recorded in a hash\\-chained event log.\n.PP\nA \\fIPLAN\\fR argument is a plan id or the path "
      "of its file; a \\fIRUN\\fR argument is a run id. Nothing prompts when stdin is not a terminal.\n");
  out.append(".SH GLOBAL OPTIONS\nAccepted before or after the command.\n").append(option_list(cli.global));
  out.append(".SH COMMANDS\n");
  for (const auto& c : cli.commands) {
    out.append(".SS \"").append(roff(command_synopsis(cli, c))).append("\"\n").append(roff(c.description)).append("\n");
    out.append(option_list(c.options));
  }
  return out + fixed_sections(cli, prefix);
}

}  // namespace phasegate::cli
