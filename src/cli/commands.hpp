#pragma once
// One function per command; main.cpp parses arguments (CLI11) and calls these.
#include <optional>
#include <string>
#include <vector>

namespace phasegate::cli {

struct Global {
  std::string dir;  // -C
  bool json = false;
  bool yes = false;
  bool color = false;
};

struct RunArgs {
  std::string plan;
  std::string phase = "all";
  std::string principal;
  std::string release_commit;
  std::optional<std::string> wait;  // --wait (empty string: no limit) / --wait=DUR
};

struct AnnounceArgs {
  std::string level, message, until;
};

struct ServeArgs {
  std::string listen;           // HOST:PORT ([::1]:PORT for IPv6; port 0: a free one, printed on stderr)
  std::string interval = "2s";  // how often the state schema is read (and continuous smoke checks looked at)
};

struct ApproveArgs {
  std::string plan, key, principal, valid_for, comment;
};

// From here on stdout and stderr pass through secrets::redact line by line (docs/secrets.md): no command can
// echo a credential, whatever message carries it. Also remembers $PGPASSWORD and $DATABASE_URL's password.
void redact_console();

// A usage error (an unknown option, a missing argument: CLI11's parse errors): the message on stderr and, under
// --json, the same error document every other error prints on stdout. Returns 2.
int usage_error(const Global& g, const std::string& message);

int cmd_init(const Global& g, const std::string& name);
// new NAME [--recipe R --set KEY=VALUE...]: a plan from the template or from a recipe (docs/recipes.md).
int cmd_new(const Global& g, const std::string& name, const std::string& recipe, const std::vector<std::string>& sets);
int cmd_validate(const Global& g, const std::vector<std::string>& plans);
int cmd_run(const Global& g, const RunArgs& args);
int cmd_status(const Global& g, const std::string& plan, bool check);
int cmd_log(const Global& g, const std::string& run);
int cmd_report(const Global& g, const std::string& run, const std::string& format);
int cmd_window(const Global& g, const std::string& name, const std::string& at, bool next);
// detailed_exitcode: 0 nothing to do, 8 steps run would apply now, 75 a guard says wait (docs/exit-codes.md).
int cmd_plan(const Global& g, const std::string& plan, bool detailed_exitcode = false);
int cmd_trace(const Global& g, const std::string& plan, const std::string& scratch_url);
int cmd_approve(const Global& g, const ApproveArgs& args);
int cmd_approvals(const Global& g, const std::string& plan, const std::string& initiator);
int cmd_revoke(const Global& g, const std::string& plan, const std::string& key);
int cmd_abort(const Global& g, const std::string& run);
int cmd_rollback(const Global& g, const std::string& plan);
int cmd_runs(const Global& g, const std::string& plan);
int cmd_mark(const Global& g, const std::string& plan, const std::string& step, bool applied, bool pending,
             const std::string& reason);
int cmd_announce(const Global& g, const AnnounceArgs& args);
int cmd_serve(const Global& g, const ServeArgs& args);
int cmd_notify_test(const Global& g, const std::string& name);
int cmd_lint(const Global& g, const std::vector<std::string>& targets, const std::string& format, bool with_db,
             const std::vector<std::string>& enable = {});

}  // namespace phasegate::cli
