// The Boost.Process runner with real processes: argv without a shell, cwd, env, stdin, bounded capture,
// timeouts that reach the whole process group, and a daemon left behind not holding us up.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "phasegate/adapters.hpp"
#include "phasegate/interrupt.hpp"

using namespace phasegate;

namespace {
ProcessSpec argv(std::vector<std::string> a, std::string cwd = "") {
  ProcessSpec s;
  s.argv = std::move(a);
  s.cwd = std::move(cwd);
  return s;
}
// Exists and is not a zombie.
bool running(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string p, comm, state;
  return (stat >> p >> comm >> state) && state != "Z";
}
// Gone (or a zombie) within 10 s.
bool gone_soon(int pid) {
  for (int i = 0; i < 200; ++i) {
    if (!running(pid)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
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
    CHECK(gone_soon(child));
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
  TEST_CASE("output beyond capture_limit keeps its end (where a program explains itself) and is flagged") {
    BoostProcessRunner runner;
    ProcessSpec spec;
    spec.argv = {"sh", "-c", "head -c 100000 /dev/zero | tr '\\000' x; echo; echo 'FATAL: the real reason'"};
    spec.capture_limit = 1000;
    auto r = runner.run(spec);
    REQUIRE(r);
    CHECK(r->out.size() == 1000);
    CHECK(r->out.ends_with("xxx\nFATAL: the real reason\n"));
    CHECK(r->truncated);
    CHECK(r->ok());
  }
  TEST_CASE("binary output (invalid UTF-8, NUL) comes back as valid text") {
    BoostProcessRunner runner;
    auto r = runner.run(argv({"sh", "-c", "printf 'ok \\377\\376 done \\000 caf\\303\\251\\n'"}));
    REQUIRE(r);
    CHECK(r->out == "ok \xEF\xBF\xBD\xEF\xBF\xBD done \xEF\xBF\xBD caf\xC3\xA9\n");
  }
  TEST_CASE("descriptors phasegate inherited without close-on-exec do not reach programs") {
    BoostProcessRunner runner;
    int fd = ::open("/dev/null", O_RDONLY);  // no O_CLOEXEC: like a CI runner's leaked descriptor
    REQUIRE(fd > 2);
    auto r = runner.run(argv({"sh", "-c", "ls /proc/$$/fd"}));
    ::close(fd);
    REQUIRE(r);
    std::string listed = " " + r->out;
    for (auto& c : listed)
      if (c == '\n') c = ' ';
    CHECK_MESSAGE(listed.find(" " + std::to_string(fd) + " ") == std::string::npos, "fd " << fd << " leaked: " << r->out);
  }
  TEST_CASE("a daemon started by a hook does not hold the runner, survives it, and keeps writing its output") {
    BoostProcessRunner runner;
    auto dir = std::filesystem::temp_directory_path() / ("phasegate-it-daemon-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    ProcessSpec spec = argv({"sh", "-c", "(while :; do echo tick >&2; date +%s%N > beat; sleep 0.1; done) & echo started $!"}, dir.string());
    auto start = std::chrono::steady_clock::now();
    auto r = runner.run(spec);
    REQUIRE(r);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
    REQUIRE(r->out.rfind("started ", 0) == 0);
    int pid = std::stoi(r->out.substr(8, r->out.find('\n') - 8));
    // The group's daemon is reported, and the file it still writes to is kept (like nohup.out).
    CHECK_MESSAGE(!r->background_output.empty(), "background processes not reported");
    // The daemon ticks on stderr (its stdout has only the leader's line, whatever the timing).
    std::string out_file = r->background_output.substr(r->background_output.find(" and ") + 5);
    // Alive (not a zombie) well after the runner returned, still beating, still writing its stdout.
    auto alive = [&] { return running(pid); };
    auto size_of = [&] { std::error_code ec; auto n = std::filesystem::file_size(out_file, ec); return ec ? 0 : n; };
    auto first = size_of();
    std::string beat1;
    std::ifstream(dir / "beat") >> beat1;
    bool moved = false;
    for (int i = 0; i < 200 && !moved; ++i) {  // up to 20 s on a loaded machine; usually 0.1 s
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      std::string beat2;
      std::ifstream(dir / "beat") >> beat2;
      moved = beat2 != beat1 && size_of() > first;
    }
    CHECK_MESSAGE(alive(), "the daemon was killed when the hook returned");
    CHECK_MESSAGE(moved, "the daemon stopped beating or writing to " << out_file);
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    std::filesystem::remove(out_file);
    std::filesystem::remove(r->background_output.substr(0, r->background_output.find(" and ")));
    std::filesystem::remove_all(dir);
  }
  TEST_CASE("a program that exits leaving nothing behind keeps no output file") {
    BoostProcessRunner runner;
    auto r = runner.run(argv({"sh", "-c", "echo hi"}));
    REQUIRE(r);
    CHECK(r->out == "hi\n");
    CHECK(r->background_output.empty());
  }
  TEST_CASE("a program path with '=' and spaces runs, with its environment set (no env(1) reading it as an assignment)") {
    BoostProcessRunner runner;
    auto dir = std::filesystem::temp_directory_path() / ("phasegate-it-label=linux " + std::to_string(::getpid()));
    std::filesystem::create_directories(dir / "hooks");
    auto hook = dir / "hooks" / "a=b.sh";
    std::ofstream(hook) << "#!/bin/sh\necho \"ran $MARK\" > ran\necho out\n";
    std::filesystem::permissions(hook, std::filesystem::perms::owner_all);
    ::setenv("PHASEGATE_IT_SECRET", "s3cr3t", 1);
    ProcessSpec spec = argv({"hooks/a=b.sh"}, dir.string());
    spec.env = {{"MARK", "yes"}};
    spec.unset_env = {"PHASEGATE_IT_SECRET"};
    auto r = runner.run(spec);
    ::unsetenv("PHASEGATE_IT_SECRET");
    REQUIRE(r);
    CHECK(r->ok());
    CHECK(r->out == "out\n");  // not env(1)'s dump of the environment
    CHECK(r->out.find("s3cr3t") == std::string::npos);
    std::string ran;
    std::getline(std::ifstream(dir / "ran"), ran);
    CHECK(ran == "ran yes");
    std::filesystem::remove_all(dir);
  }
  TEST_CASE("a bare name is looked up on the PATH the program gets") {
    BoostProcessRunner runner;
    auto dir = std::filesystem::temp_directory_path() / ("phasegate-it-path-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "only-here") << "#!/bin/sh\necho found\n";
    std::filesystem::permissions(dir / "only-here", std::filesystem::perms::owner_all);
    ProcessSpec spec = argv({"only-here"});
    spec.env = {{"PATH", dir.string() + ":/usr/bin:/bin"}};
    auto r = runner.run(spec);
    REQUIRE(r);
    CHECK(r->out == "found\n");
    std::filesystem::remove_all(dir);
  }
  TEST_CASE("programs start with default signal handling: nothing ignored, nothing blocked (phasegate ignores SIGPIPE)") {
    BoostProcessRunner runner;
    auto r = runner.run(argv({"sh", "-c", "grep -E '^Sig(Ign|Blk)' /proc/self/status"}));
    REQUIRE(r);
    CHECK(r->out.find("SigBlk:\t0000000000000000") != std::string::npos);
    CHECK(r->out.find("SigIgn:\t0000000000000000") != std::string::npos);
  }
  TEST_CASE("a signal to phasegate is forwarded to the program's group, then the group is killed") {
    BoostProcessRunner runner;
    auto dir = std::filesystem::temp_directory_path() / ("phasegate-it-forward-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    // The program says when its trap is in place; only then does "phasegate" get its SIGTERM.
    ProcessSpec spec = argv({"sh", "-c", "trap 'echo got TERM; exit 7' TERM; sleep 60 & echo $! > child.pid; touch ready; wait"},
                            dir.string());
    spec.timeout = Millis(120'000);
    spec.grace = Millis(30'000);
    std::thread signaller([&] {
      for (int i = 0; i < 600 && !std::filesystem::exists(dir / "ready"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      set_interrupt_signal(SIGTERM);
    });
    auto r = runner.run(spec);
    signaller.join();
    set_interrupt_signal(0);
    REQUIRE(r);
    CHECK(r->interrupted);
    CHECK(r->forwarded == SIGTERM);
    CHECK(r->exit_code == 7);
    CHECK(r->out == "got TERM\n");
    CHECK_FALSE(r->ok());
    int child = 0;
    std::ifstream(dir / "child.pid") >> child;
    REQUIRE(child > 0);
    CHECK(gone_soon(child));  // the sleeper in the group went with it (SIGKILL after the leader ended)
    std::filesystem::remove_all(dir);
  }
  TEST_CASE("stdin reaches a program that reads it late, and one that never reads it does not block us") {
    BoostProcessRunner runner;
    ProcessSpec late = argv({"sh", "-c", "sleep 0.2; wc -c"});
    late.stdin_data = std::string(300'000, 'x');  // more than a pipe holds
    auto r = runner.run(late);
    REQUIRE(r);
    CHECK(r->out.find("300000") != std::string::npos);
    ProcessSpec deaf = argv({"true"});
    deaf.stdin_data = std::string(300'000, 'x');
    auto d = runner.run(deaf);
    REQUIRE(d);
    CHECK(d->ok());
  }
}
