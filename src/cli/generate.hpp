#pragma once
// The hidden `phasegate _generate man|bash|zsh|commands`: prints the man page, a completion script or the command
// list (for the docs cross-check, tests/e2e/test_package.sh) from the CLI11 definition itself. The build runs it
// to make the installed man page and completions (cmake/Install.cmake).
namespace CLI {
class App;
}

namespace phasegate::cli {

CLI::App* add_generate_command(CLI::App& app);  // registers the hidden subcommand
int cmd_generate(const CLI::App& app);          // prints what the subcommand asked for; exit code

}  // namespace phasegate::cli
