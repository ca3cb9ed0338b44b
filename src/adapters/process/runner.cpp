// ProcessRunner over Boost.Process: argv without a shell, its own process group, the environment handed
// to execve directly (no env(1) in between: a program path with '=' in it is a path, and Boost 1.74's
// bp::environment reads past shorter entries under ASan), stdin from a file and stdout/stderr into files.
// Files rather than pipes: a daemon the program leaves behind (`nohup app &`, an init script, pg_ctl start)
// keeps the output it inherited, and must neither hold phasegate up (a pipe stays open) nor die of
// SIGPIPE when phasegate stops reading. The only translation unit that includes Boost.Process.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <linux/close_range.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/extend.hpp>
#include <boost/process/search_path.hpp>
#include <boost/process/start_dir.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "phasegate/adapters.hpp"
#include "phasegate/interrupt.hpp"
#include "phasegate/text.hpp"

extern char** environ;

namespace phasegate {

namespace bp = boost::process;
using SteadyClock = std::chrono::steady_clock;

namespace {

// The child's environment: phasegate's, without `unset`, with `env` added or replacing.
struct Environment {
  std::vector<std::string> entries;
  std::vector<char*> pointers;
  explicit Environment(const ProcessSpec& spec) {
    auto dropped = [&](std::string_view entry) {
      auto key = entry.substr(0, entry.find('='));
      for (const auto& k : spec.unset_env)
        if (key == k) return true;
      for (const auto& [k, v] : spec.env)
        if (key == k) return true;
      return false;
    };
    for (char** e = environ; e && *e; ++e)
      if (!dropped(*e)) entries.emplace_back(*e);
    for (const auto& [k, v] : spec.env) entries.push_back(k + "=" + v);
    for (auto& s : entries) pointers.push_back(s.data());
    pointers.push_back(nullptr);
  }
  std::string get(const std::string& key) const {
    for (const auto& s : entries)
      if (s.size() > key.size() && s.compare(0, key.size(), key) == 0 && s[key.size()] == '=') return s.substr(key.size() + 1);
    return {};
  }
};

// Runs in Boost's executor: the environment before fork; in the child before exec, its own process group,
// the three files as stdin/stdout/stderr, and default signal handling (phasegate ignores SIGPIPE and may
// have signals blocked; a program must not inherit that).
struct ChildSetup : bp::extend::handler {
  char** envp;
  int in, out, err;
  template <class Executor>
  void on_setup(Executor& e) const {
    e.env = envp;
  }
  template <class Executor>
  void on_exec_setup(Executor&) const {
    ::setpgid(0, 0);
    ::dup2(in, STDIN_FILENO);
    ::dup2(out, STDOUT_FILENO);
    ::dup2(err, STDERR_FILENO);
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT}) ::signal(sig, SIG_DFL);
    // Nothing but 0-2 reaches the program: descriptors phasegate inherited without close-on-exec (from a CI
    // runner, a shell) would otherwise live on in the daemons it starts.
    if (::syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC) != 0)
      for (int fd = 3; fd < 4096; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
  }
};

// A file in $TMPDIR (close-on-exec in phasegate; the child gets it through dup2).
struct TempFile {
  std::string path;
  int fd = -1;
  explicit TempFile(const char* what) {
    const char* dir = std::getenv("TMPDIR");
    std::string tmpl = std::string(dir && *dir ? dir : "/tmp") + "/phasegate-" + what + "-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    fd = ::mkostemp(buf.data(), O_CLOEXEC);
    if (fd >= 0) path = buf.data();
  }
  ~TempFile() {
    if (fd >= 0) ::close(fd);
    if (!path.empty()) ::unlink(path.c_str());
  }
  void keep() { path.clear(); }  // the file stays (processes left behind still write to it)
  // The last `limit` bytes (a program's explanation comes at the end), as valid UTF-8; `truncated` when
  // there were more.
  std::string tail(std::size_t limit, bool& truncated) const {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return {};
    const auto size = static_cast<std::size_t>(st.st_size);
    std::string s(std::min(limit, size), '\0');
    ssize_t n = s.empty() ? 0 : ::pread(fd, s.data(), s.size(), static_cast<off_t>(size - s.size()));
    s.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    if (size > limit) truncated = true;
    return valid_utf8(s);
  }
};

// Live (not zombie) members of process group `pgid`, from /proc; kill(-pgid, 0) where there is no /proc.
bool group_alive(pid_t pgid) {
  DIR* d = ::opendir("/proc");
  if (!d) return ::kill(-pgid, 0) == 0;
  bool alive = false;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream f(std::string("/proc/") + e->d_name + "/stat");
    std::string line;
    if (!std::getline(f, line)) continue;
    auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    char state = 0;
    long ppid = 0, pgrp = 0;
    if (std::sscanf(line.c_str() + close + 1, " %c %ld %ld", &state, &ppid, &pgrp) == 3 && pgrp == pgid && state != 'Z') {
      alive = true;
      break;
    }
  }
  ::closedir(d);
  return alive;
}

Result<std::string> resolve(const ProcessSpec& spec, const Environment& env) {
  const std::string& name = spec.argv.front();
  if (name.find('/') == std::string::npos) {
    std::vector<boost::filesystem::path> dirs;
    std::string path = env.get("PATH");
    for (size_t at = 0; at <= path.size();) {
      size_t colon = path.find(':', at);
      if (colon == std::string::npos) colon = path.size();
      dirs.emplace_back(colon == at ? "." : path.substr(at, colon - at));
      at = colon + 1;
    }
    auto found = bp::search_path(name, dirs);
    if (found.empty()) return fail(Exit::invalid, "cannot run \"" + name + "\": not found on PATH");
    return found.string();
  }
  std::filesystem::path p(name);
  if (p.is_relative() && !spec.cwd.empty()) p = std::filesystem::path(spec.cwd) / p;
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || ::access(p.c_str(), X_OK) != 0)
    return fail(Exit::invalid, "cannot run \"" + p.string() + "\": not an executable file");
  return std::filesystem::absolute(p).string();
}

}  // namespace

BoostProcessRunner::BoostProcessRunner() {
  // phasegate itself must not die of SIGPIPE writing to a closed socket or pipe (children get SIG_DFL back).
  ::signal(SIGPIPE, SIG_IGN);
}

Result<ProcessResult> BoostProcessRunner::run(const ProcessSpec& spec) {
  if (spec.argv.empty()) return fail(Exit::invalid, "empty command");
  Environment env(spec);
  auto exe = resolve(spec, env);
  if (!exe) return std::unexpected(exe.error());
  TempFile in("in"), out("out"), err("err");
  if (in.fd < 0 || out.fd < 0 || err.fd < 0)
    return fail(Exit::internal, "cannot create a temporary file for the output of \"" + spec.argv.front() + "\" in $TMPDIR");
  for (size_t at = 0; at < spec.stdin_data.size();) {
    ssize_t n = ::write(in.fd, spec.stdin_data.data() + at, spec.stdin_data.size() - at);
    if (n <= 0) return fail(Exit::internal, "cannot write the input of \"" + spec.argv.front() + "\" to a temporary file");
    at += static_cast<size_t>(n);
  }
  ::lseek(in.fd, 0, SEEK_SET);
  ::unlink(in.path.c_str());
  in.keep();

  ProcessResult res;
  std::vector<std::string> args(spec.argv.begin() + 1, spec.argv.end());
  std::error_code ec;
  auto start = SteadyClock::now();
  bp::child child(bp::exe = *exe, bp::args = args, bp::start_dir = spec.cwd.empty() ? "." : spec.cwd,
                  ChildSetup{{}, env.pointers.data(), in.fd, out.fd, err.fd}, ec);
  if (ec) return fail(Exit::invalid, "cannot run \"" + spec.argv.front() + "\": " + ec.message());
  const pid_t pgid = child.id();  // it leads its own group (setpgid before exec; Boost returns after exec)
  if (spec.foreground) {
    set_running_group(pgid);
    set_running_outputs(out.path.c_str(), err.path.c_str());
  }
  auto signal_group = [&](int sig) { ::kill(-pgid, sig) == 0 || ::kill(pgid, sig); };
  auto term_at = start + spec.timeout, kill_at = term_at + spec.grace;
  auto ask_at = start + spec.interrupt_poll;
  bool termed = false, killed = false;
  std::error_code wait_ec;
  while (child.running(wait_ec)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto now = SteadyClock::now();
    if (!termed) {
      if (int sig = interrupt_pending()) {  // phasegate was told to stop: so is the program, the same way
        res.interrupted = termed = true;
        res.forwarded = sig;
        kill_at = now + spec.grace;
        signal_group(sig);
        continue;
      }
      if (spec.interrupt && now >= ask_at) {
        ask_at = now + spec.interrupt_poll;
        if (spec.interrupt()) {  // e.g. an operator aborted the run: stop it like a timeout, from now
          res.interrupted = termed = true;
          kill_at = now + spec.grace;
          signal_group(SIGTERM);
          continue;
        }
      }
      if (now >= term_at) {
        res.timed_out = termed = true;
        signal_group(SIGTERM);
      }
    } else if (!killed && now >= kill_at) {
      killed = true;
      signal_group(SIGKILL);
    }
  }
  if (spec.foreground) {
    set_running_group(0);
    set_running_outputs(nullptr, nullptr);
  }
  if (termed) signal_group(SIGKILL);  // what it started goes with it when it was stopped
  int status = child.native_exit_code();
  if (WIFSIGNALED(status)) {
    res.signal = WTERMSIG(status);
    res.exit_code = -1;
  } else {
    res.exit_code = WEXITSTATUS(status);
  }
  res.out = out.tail(spec.capture_limit, res.truncated);
  res.err = err.tail(spec.capture_limit, res.truncated);
  // A normal exit leaves its background processes alone; they keep writing where they were told to.
  if (!termed && group_alive(pgid)) {
    res.background_output = out.path + " and " + err.path;
    out.keep();
    err.keep();
  }
  res.elapsed = std::chrono::duration_cast<Millis>(SteadyClock::now() - start);
  return res;
}

}  // namespace phasegate
