#pragma once
// Small real-world adapters used by the CLI.
#include <functional>
#include <memory>
#include <string>

#include "phasegate/ports.hpp"

namespace phasegate {

class SystemClock final : public Clock {
 public:
  TimePoint now() override;
  void sleep_for(Millis d) override;
};

// Runs programs with Boost.Process (src/adapters/process/runner.cpp).
class BoostProcessRunner final : public ProcessRunner {
 public:
  BoostProcessRunner();
  Result<ProcessResult> run(const ProcessSpec& spec) override;
};

// HTTP GET/POST with cpp-httplib (src/adapters/http/client.cpp); http and https.
class HttplibClient final : public HttpClient {
 public:
  Result<HttpResponse> get(const std::string& url, Millis timeout) override;
  using HttpClient::post;
  Result<HttpResponse> post(const std::string& url, const std::string& body, Millis timeout, const Headers& headers) override;
};

// A small HTTP server for `phasegate serve` (src/adapters/http/server.cpp, cpp-httplib): GET routes whose handlers
// run on the server's own threads.
class HttpServer {
 public:
  struct Response {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
  };
  HttpServer();
  ~HttpServer();  // stops and joins
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  void get(const std::string& path, std::function<Response()> handler);
  // Binds host:port (port 0: a free one) and returns the port; Exit::invalid when it cannot (in use, no such address).
  Result<int> bind(const std::string& host, int port);
  void start();  // serves on a thread of its own
  void stop();   // stops accepting, finishes the requests in flight, joins

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// OpenSSH signatures for approvals (SPEC §3.2), run through a ProcessRunner.
class SshSigner {
 public:
  // allowed_signers: path of the OpenSSH allowed_signers file; cwd: where relative paths are resolved.
  SshSigner(ProcessRunner& runner, std::string allowed_signers, std::string cwd);
  Result<std::string> sign(const std::string& key_file, const std::string& text);  // armored signature
  Result<std::string> principal_of(const std::string& signature);  // the allowed_signers principal of its key
  // Error message: why ssh-keygen refused (unknown key, wrong namespace, tampered text, ...).
  Result<void> verify(const std::string& principal, const std::string& text, const std::string& signature);

 private:
  Result<ProcessResult> keygen(std::vector<std::string> args, const std::string& stdin_data);
  ProcessRunner& runner_;
  std::string allowed_signers_, cwd_;
};

class PgDatabase;
// GuardProbe over the target database; approvals are verified with `signer` (null: none verify).
class PgGuardProbe final : public GuardProbe {
 public:
  PgGuardProbe(PgDatabase& db, SshSigner* signer);
  Result<LoadFacts> load(bool lag, bool connections, const std::optional<std::string>& throttle_query) override;
  Result<HealthFacts> health(const std::string& table, bool vacuum, bool archive) override;
  Result<std::vector<ApprovalRecord>> approvals(const std::string& plan_id) override;
  Result<std::string> target_id() override;

 private:
  PgDatabase& db_;
  SshSigner* signer_;
  std::string target_;
};

// The actor for events: principal from --as or PHASEGATE_PRINCIPAL, OS user, host name.
Actor current_actor(const std::string& principal_flag);
std::string getenv_or(const char* name, const std::string& fallback = "");
// PHASEGATE_CRASH_AT=<point>: kill -9 ourselves when the engine reaches that named point (crash tests).
CrashPoint crash_point_from_env();

}  // namespace phasegate
