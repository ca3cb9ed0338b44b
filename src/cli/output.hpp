#pragma once
// Helpers shared by the commands: loading the project, picking plans, opening the database, printing.
#include <expected>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "phasegate/adapters.hpp"
#include "phasegate/config.hpp"
#include "phasegate/guards.hpp"
#include "phasegate/pg.hpp"

namespace phasegate {
class Executor;
struct PlanOutcome;
}

namespace phasegate::cli {

struct Loaded {
  Project project;
  std::vector<Plan> plans;
  std::string arg_dir;  // -C DIR: a relative PLAN path is looked for there first (git/make/tar -C), then here
};

// -C DIR/phasegate.toml, or the nearest phasegate.toml in the current directory or a parent.
std::optional<std::string> project_file(const Global& g);
// Loads phasegate.toml and every plan, validates them; on any problem prints all of them and returns 2.
std::expected<Loaded, int> load_all(const Global& g);
// A plan by id or file path; unknown -> Exit::invalid with a did-you-mean.
Result<const Plan*> select_plan(const Loaded& loaded, const std::string& arg);
// The plans named by `args` (ids or files), or every plan in order when `args` is empty.
Result<std::vector<const Plan*>> select_plans(const Loaded& loaded, const std::vector<std::string>& args);
Result<std::unique_ptr<PgDatabase>> open_database(const Project& project, const std::string& purpose);

// The approval quorum of `plan` now (SPEC §3.2), signatures verified with ssh-keygen (cmd_approve.cpp).
Result<guards::Quorum> approval_quorum(const Project& project, const Plan& plan, PgDatabase& db, const std::string& initiator);

// The real adapters an Executor drives (clock, processes, HTTP), and wiring them plus event printing.
struct Machinery {
  SystemClock clock;
  BoostProcessRunner runner;
  HttplibClient http;
};
void wire(const Global& g, phasegate::Executor& executor, Machinery& m);
// One progress line on stderr for an event (run, phase, step, guard, service, smoke, rollback).
void print_event(const Global& g, const Event& e);

// Plans the database knows whose file is gone (SPEC §5.1: drift): one message each, empty when none.
Result<std::vector<std::string>> vanished_plan_messages(const Loaded& loaded, PgDatabase& pg);
// The plan outcome as one line of JSON for --json output.
nlohmann::json outcome_json(const PlanOutcome& out);

// SIGINT/SIGTERM/SIGHUP handlers installed, and while it lives the first signal cancels db's statement in flight.
class CancelOnInterrupt {
 public:
  explicit CancelOnInterrupt(PgDatabase& db);
  ~CancelOnInterrupt();
  CancelOnInterrupt(const CancelOnInterrupt&) = delete;
  CancelOnInterrupt& operator=(const CancelOnInterrupt&) = delete;

 private:
  int id_;
};

// The command's one JSON document. It is held until the command returns; main then prints it with "ok" and
// "exit" set from the exit code it returns (finish_json), so every document carries the real exit, whoever
// built it. A later document replaces an earlier one (an error after a partial result).
void print_json(const nlohmann::json& j);
void print_json_text(std::string object);  // an already serialized JSON object (lint streams big ones)
void add_json_field(const std::string& key, const nlohmann::json& value);  // e.g. "target": added to the document
int finish_json(int exit);  // prints the held document (if any) with "ok" and "exit"; returns exit
// The one-line banner of the commands that talk to a database: which server, database and role, and the state
// schema ("target: db:5432/app as deploy (state schema phasegate)" on stderr; "target" in --json). No password.
void announce_target(const Global& g, PgDatabase& db, const Project& project);
void print_diagnostics(const Global& g, const Diagnostics& diags);
// Prints "phasegate: message" on stderr (and {"error":...} on stdout with --json); returns the exit code.
int report(const Global& g, const Error& e);
std::string paint(const Global& g, const char* ansi, const std::string& text);
void info(const std::string& line);  // progress/log lines on stderr (above a progress bar: cli/progress.hpp)
// NO_COLOR (no-color.org): only a non-empty value turns colour off.
bool no_color();

}  // namespace phasegate::cli
