#pragma once
// The CLI's conventions around parsing (main.cpp parses): every command's help shows its options, the global
// options and the exit codes; `phasegate help [COMMAND]`; a mistyped command or option says what was meant.
#include <string>
#include <vector>

#include "cli/commands.hpp"

namespace CLI {
class App;
class ParseError;
}  // namespace CLI

namespace phasegate::cli {

// Adds the global options and the exit codes to the help of `app` and of each of its commands (nested ones too).
// Call it once every command is added.
void document(CLI::App& app);
// phasegate help [COMMAND [SUBCOMMAND]]: the help of COMMAND (or of phasegate) on stdout, exit 0; an unknown
// COMMAND is a usage error (exit 2) with a did-you-mean.
int help_command(const CLI::App& app, const Global& g, const std::vector<std::string>& command);
// A parse error of argv, said as a sentence: an unknown command or option with a did-you-mean, a missing
// command with the list of them, else CLI11's message. Prints it (and the --json error document); returns 2.
int parse_failure(const CLI::App& app, const CLI::ParseError& e, const std::vector<std::string>& args, const Global& g);
// The exit codes of SPEC §2.1 (docs/exit-codes.md) as help prints them.
std::string exit_codes_text();

}  // namespace phasegate::cli
