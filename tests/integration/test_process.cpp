// The Boost.Process runner with real processes: argv without a shell, cwd, env, stdin, bounded capture,
// timeouts that reach the whole process group, and a daemon left behind not holding us up.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "phasegate/adapters.hpp"

using namespace phasegate;

namespace {
ProcessSpec argv(std::vector<std::string> a, std::string cwd = "") {
  ProcessSpec s;
  s.argv = std::move(a);
  s.cwd = std::move(cwd);
  return s;
}
}  // namespace

TEST_SUITE("adapters::process") {
  TEST_CASE("interrupt stops a running program and its children (abort reaches a command step)") {
    BoostProcessRunner runner;
    auto dir = std::filesystem::temp_directory_path() / ("phasegate-it-interrupt-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    // A shell that starts a child sleeper and writes "finished" only if it is allowed to end.
    ProcessSpec spec = argv({"sh", "-c", "sleep 60 & echo $! > child.pid; wait; echo finished > done"}, dir.string());
    spec.timeout = Millis(120'000);
    spec.grace = Millis(2000);
    spec.interrupt_poll = Millis(50);
    int asked = 0;
    spec.interrupt = [&] { return ++asked >= 3; };  // "abort" on the third question
    auto r = runner.run(spec);
    REQUIRE(r);
    CHECK(r->interrupted);
    CHECK_FALSE(r->timed_out);
    CHECK_FALSE(r->ok());
    CHECK(asked == 3);
    CHECK(r->elapsed < Millis(60'000));
    CHECK_FALSE(std::filesystem::exists(dir / "done"));
    std::ifstream pidf(dir / "child.pid");
    int child = 0;
    pidf >> child;
    REQUIRE(child > 0);
    // The sleeper was in the group: it is gone (or a zombie reaped by init) once SIGKILL followed.
    bool gone = false;
    for (int i = 0; i < 100 && !gone; ++i) {
      std::ifstream stat("/proc/" + std::to_string(child) + "/stat");
      std::string pid, comm, state;
      gone = !(stat >> pid >> comm >> state) || state == "Z";
      if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CHECK(gone);
    std::filesystem::remove_all(dir);
  }

  TEST_CASE("a program that never asks to be interrupted runs to its end") {
    BoostProcessRunner runner;
    ProcessSpec spec = argv({"sh", "-c", "echo ok"});
    spec.interrupt = [] { return false; };
    spec.interrupt_poll = Millis(1);
    auto r = runner.run(spec);
    REQUIRE(r);
    CHECK(r->ok());
    CHECK_FALSE(r->interrupted);
  }

  TEST_CASE("unset_env removes a variable phasegate has (the database URL a hook must not see)") {
    ::setenv("PHASEGATE_IT_SECRET", "postgres://u:pw@db/app", 1);
    BoostProcessRunner runner;
    ProcessSpec spec = argv({"sh", "-c", "echo \"${PHASEGATE_IT_SECRET:-unset}\""});
    auto seen = runner.run(spec);
    REQUIRE(seen);
    CHECK(seen->out == "postgres://u:pw@db/app\n");
    spec.unset_env = {"PHASEGATE_IT_SECRET"};
    auto hidden = runner.run(spec);
    REQUIRE(hidden);
    CHECK(hidden->out == "unset\n");
    ::unsetenv("PHASEGATE_IT_SECRET");
  }

  TEST_CASE("argv, cwd, env and stdin reach the program; stdout and stderr are captured") {
    BoostProcessRunner runner;
    ProcessSpec spec;
    spec.argv = {"sh", "-c", "pwd; echo \"$PHASEGATE_STEP\"; cat; echo oops >&2; exit 3", "ignored-arg0"};
    spec.cwd = "/tmp";
    spec.env = {{"PHASEGATE_STEP", "add column"}};
    spec.stdin_data = "from stdin\n";
    auto r = runner.run(spec);
    REQUIRE(r);
    CHECK(r->exit_code == 3);
    CHECK(r->out == "/tmp\nadd column\nfrom stdin\n");
    CHECK(r->err == "oops\n");
    CHECK(!r->ok());
  }
  TEST_CASE("arguments are not interpreted by a shell") {
    BoostProcessRunner runner;
    auto r = runner.run(argv({"echo", "$HOME", "a;b", "*"}));
    REQUIRE(r);
    CHECK(r->out == "$HOME a;b *\n");
  }
  TEST_CASE("a missing program is an error, not a result") {
    BoostProcessRunner runner;
    CHECK(!runner.run(argv({"phasegate-no-such-program"})));
    CHECK(!runner.run(argv({"./no/such/hook.sh"}, "/tmp")));
  }
  TEST_CASE("a timeout sends SIGTERM to the whole group, then SIGKILL") {
    BoostProcessRunner runner;
    auto pidfile = std::filesystem::temp_directory_path() / "phasegate-test-grandchild.pid";
    std::filesystem::remove(pidfile);
    ProcessSpec spec;
    // The child ignores SIGTERM; its grandchild (sleep) would outlive a kill of the child alone.
    spec.argv = {"sh", "-c", "trap '' TERM; sleep 60 & echo $! > " + pidfile.string() + "; wait"};
    spec.timeout = Millis(500);
    spec.grace = Millis(300);
    auto start = std::chrono::steady_clock::now();
    auto r = runner.run(spec);
    auto took = std::chrono::steady_clock::now() - start;
    REQUIRE(r);
    CHECK(r->timed_out);
    CHECK(r->signal == SIGKILL);
    CHECK(took < std::chrono::seconds(5));
    std::ifstream in(pidfile);
    int grandchild = 0;
    in >> grandchild;
    REQUIRE(grandchild > 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::ifstream stat("/proc/" + std::to_string(grandchild) + "/stat");
    std::string pid_s, comm, state;
    stat >> pid_s >> comm >> state;
    CHECK_MESSAGE((state.empty() || state == "Z"), "grandchild state " << state);  // gone (or a zombie awaiting its reaper)
  }
  TEST_CASE("output beyond capture_limit is dropped and flagged") {
    BoostProcessRunner runner;
    ProcessSpec spec;
    spec.argv = {"sh", "-c", "head -c 100000 /dev/zero | tr '\\\\0' x"};
    spec.capture_limit = 1000;
    auto r = runner.run(spec);
    REQUIRE(r);
    CHECK(r->out.size() == 1000);
    CHECK(r->truncated);
    CHECK(r->ok());
  }
  TEST_CASE("a daemon started by a hook does not hold the runner until it exits") {
    BoostProcessRunner runner;
    ProcessSpec spec;
    spec.argv = {"sh", "-c", "sleep 30 & echo started $!"};
    auto start = std::chrono::steady_clock::now();
    auto r = runner.run(spec);
    REQUIRE(r);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(3));
    CHECK(r->out.rfind("started ", 0) == 0);
    int pid = std::stoi(r->out.substr(8));
    CHECK(::kill(pid, 0) == 0);  // still running: a restart hook's server must survive the hook
    ::kill(pid, SIGKILL);
  }
}
