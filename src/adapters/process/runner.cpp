// ProcessRunner over Boost.Process: argv without a shell, its own process group (so a timeout reaches
// every descendant: SIGTERM, then SIGKILL after the grace period), stdin fed and stdout/stderr captured
// through asio pipes, bounded. The only translation unit that includes Boost.Process.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/process/args.hpp>
#include <boost/process/async_pipe.hpp>
#include <boost/process/child.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/group.hpp>
#include <boost/process/io.hpp>
#include <boost/process/search_path.hpp>
#include <boost/process/start_dir.hpp>
#include <filesystem>
#include <thread>

#include "phasegate/adapters.hpp"

namespace phasegate {

namespace bp = boost::process;
namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;

namespace {

// Reads a pipe until EOF, keeping the first `limit` bytes.
struct Capture {
  Capture(bp::async_pipe& p, std::string& sink, std::size_t limit, bool& truncated)
      : pipe(p), out(sink), limit(limit), truncated(truncated) {}
  bp::async_pipe& pipe;
  std::string& out;
  std::size_t limit;
  bool& truncated;
  std::array<char, 4096> buf{};
  bool open = true;
  void arm() {
    pipe.async_read_some(asio::buffer(buf), [this](const boost::system::error_code& ec, std::size_t n) {
      if (n > 0) {
        std::size_t keep = out.size() < limit ? std::min(n, limit - out.size()) : 0;
        out.append(buf.data(), keep);
        if (keep < n) truncated = true;
      }
      if (ec) open = false;
      else arm();
    });
  }
};

Result<std::string> resolve(const ProcessSpec& spec) {
  const std::string& name = spec.argv.front();
  if (name.find('/') == std::string::npos) {
    auto found = bp::search_path(name);
    if (found.empty()) return fail(Exit::invalid, "cannot run \"" + name + "\": not found on PATH");
    return found.string();
  }
  std::filesystem::path p(name);
  if (p.is_relative() && !spec.cwd.empty()) p = std::filesystem::path(spec.cwd) / p;
  if (::access(p.c_str(), X_OK) != 0) return fail(Exit::invalid, "cannot run \"" + p.string() + "\": not an executable file");
  return p.string();
}

}  // namespace

BoostProcessRunner::BoostProcessRunner() {
  // A child that exits without reading its stdin must not kill us with SIGPIPE on the write.
  ::signal(SIGPIPE, SIG_IGN);
}

Result<ProcessResult> BoostProcessRunner::run(const ProcessSpec& spec) {
  if (spec.argv.empty()) return fail(Exit::invalid, "empty command");
  auto exe = resolve(spec);
  if (!exe) return std::unexpected(exe.error());
  ProcessResult res;
  asio::io_context ios;
  bp::async_pipe in(ios), out(ios), err(ios);
  // The child's environment is phasegate's, changed by env(1) (exec only, no shell): Boost 1.74's
  // basic_environment_impl::find compares each entry over the key's length and reads past shorter entries
  // (AddressSanitizer aborts on it), so we never build a bp::environment.
  std::string program = *exe;
  std::vector<std::string> args;
  if (!spec.env.empty() || !spec.unset_env.empty()) {
    program = "/usr/bin/env";
    for (const auto& k : spec.unset_env) args.insert(args.end(), {"-u", k});
    for (const auto& [k, v] : spec.env) args.push_back(k + "=" + v);
    args.push_back(std::filesystem::absolute(*exe).string());
  }
  args.insert(args.end(), spec.argv.begin() + 1, spec.argv.end());
  bp::group group;
  std::error_code ec;
  auto start = SteadyClock::now();
  bp::child child(bp::exe = program, bp::args = args, bp::start_dir = spec.cwd.empty() ? "." : spec.cwd,
                  bp::std_in < in, bp::std_out > out, bp::std_err > err, group, ec);
  if (ec) return fail(Exit::invalid, "cannot run \"" + spec.argv.front() + "\": " + ec.message());

  Capture cout_(out, res.out, spec.capture_limit, res.truncated), cerr_(err, res.err, spec.capture_limit, res.truncated);
  cout_.arm();
  cerr_.arm();
  asio::async_write(in, asio::buffer(spec.stdin_data), [&](const boost::system::error_code&, std::size_t) {
    boost::system::error_code ignore;
    in.close(ignore);
  });
  const pid_t pgid = child.id();  // the child leads its own group
  auto signal_group = [&](int sig) { ::kill(-pgid, sig) == 0 || ::kill(pgid, sig); };
  auto term_at = start + spec.timeout, kill_at = term_at + spec.grace;
  auto ask_at = start + spec.interrupt_poll;
  bool termed = false, killed = false;
  std::error_code wait_ec;
  for (;;) {
    if (ios.stopped()) ios.restart();
    if (ios.run_for(std::chrono::milliseconds(20)) == 0 && ios.stopped())
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (!child.running(wait_ec)) break;
    auto now = SteadyClock::now();
    if (!termed && spec.interrupt && now >= ask_at) {
      ask_at = now + spec.interrupt_poll;
      if (spec.interrupt()) {  // e.g. an operator aborted the run: stop it like a timeout, from now
        res.interrupted = termed = true;
        kill_at = now + spec.grace;
        signal_group(SIGTERM);
        continue;
      }
    }
    if (!termed && now >= term_at) {
      res.timed_out = termed = true;
      signal_group(SIGTERM);
    } else if (termed && !killed && now >= kill_at) {
      killed = true;
      signal_group(SIGKILL);
    }
  }
  if (termed) signal_group(SIGKILL);  // descendants that outlived the leader
  // Drain what the child wrote; a daemon it left behind may hold the pipes open, so do not wait for EOF.
  auto drain_until = SteadyClock::now() + std::chrono::milliseconds(100);
  while ((cout_.open || cerr_.open) && SteadyClock::now() < drain_until) {
    if (ios.stopped()) ios.restart();
    ios.run_for(std::chrono::milliseconds(10));
  }
  boost::system::error_code ignore;
  out.close(ignore);
  err.close(ignore);
  in.close(ignore);
  ios.restart();
  ios.poll();
  int status = child.native_exit_code();
  if (WIFSIGNALED(status)) {
    res.signal = WTERMSIG(status);
    res.exit_code = -1;
  } else {
    res.exit_code = WEXITSTATUS(status);
  }
  res.elapsed = std::chrono::duration_cast<Millis>(SteadyClock::now() - start);
  return res;
}

}  // namespace phasegate
