// Approvals through OpenSSH (SPEC §3.2): documents are signed with `ssh-keygen -Y sign` using the
// operator's key and verified with `ssh-keygen -Y verify` against allowed_signers, through the
// ProcessRunner port. The guard probe joins those verdicts with the rows stored in the target database.
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "phasegate/adapters.hpp"
#include "phasegate/guards.hpp"
#include "phasegate/pg.hpp"
#include "phasegate/text.hpp"

namespace phasegate {

namespace {
// A file holding `content` for as long as this object lives (ssh-keygen reads signatures from files).
class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    std::string dir = getenv_or("TMPDIR", "/tmp");
    std::string pattern = dir + "/phasegate-sig.XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    int fd = ::mkstemp(buf.data());
    if (fd < 0) return;
    path_ = buf.data();
    ssize_t off = 0, n = static_cast<ssize_t>(content.size());
    while (off < n) {
      ssize_t w = ::write(fd, content.data() + off, static_cast<size_t>(n - off));
      if (w <= 0) break;
      off += w;
    }
    ::close(fd);
  }
  ~TempFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string first_line(std::string s) {
  s = trim(s);
  auto nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}
}  // namespace

SshSigner::SshSigner(ProcessRunner& runner, std::string allowed_signers, std::string cwd)
    : runner_(runner), allowed_signers_(std::move(allowed_signers)), cwd_(std::move(cwd)) {}

Result<ProcessResult> SshSigner::keygen(std::vector<std::string> args, const std::string& stdin_data) {
  ProcessSpec spec;
  spec.argv = {"ssh-keygen"};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.cwd = cwd_;
  spec.stdin_data = stdin_data;
  spec.timeout = Millis(30'000);
  return runner_.run(spec);
}

Result<std::string> SshSigner::sign(const std::string& key_file, const std::string& text) {
  auto r = keygen({"-q", "-Y", "sign", "-f", key_file, "-n", guards::kApprovalNamespace}, text);
  if (!r) return std::unexpected(r.error());
  if (!r->ok() || r->out.find("BEGIN SSH SIGNATURE") == std::string::npos)
    return fail(Exit::invalid, "ssh-keygen could not sign with " + key_file + " (" + r->describe() + "): " + first_line(r->err));
  return r->out;
}

Result<std::string> SshSigner::principal_of(const std::string& signature) {
  TempFile sig(signature);
  auto r = keygen({"-Y", "find-principals", "-s", sig.path(), "-f", allowed_signers_}, "");
  if (!r) return std::unexpected(r.error());
  if (!r->ok() || trim(r->out).empty())
    return fail(Exit::invalid, "this key is not in " + allowed_signers_ + " (ssh-keygen -Y find-principals: " +
                                   first_line(r->err.empty() ? r->describe() : r->err) + ")");
  return first_line(r->out);
}

Result<void> SshSigner::verify(const std::string& principal, const std::string& text, const std::string& signature) {
  TempFile sig(signature);
  auto r = keygen({"-Y", "verify", "-f", allowed_signers_, "-I", principal, "-n", guards::kApprovalNamespace, "-s", sig.path()},
                  text);
  if (!r) return std::unexpected(r.error());
  if (!r->ok()) {
    std::string why = trim(r->err);
    auto pos = why.rfind('\n');  // ssh-keygen's last line is the reason
    return fail(Exit::invalid, pos == std::string::npos ? why : why.substr(pos + 1));
  }
  return {};
}

PgGuardProbe::PgGuardProbe(PgDatabase& db, SshSigner* signer) : db_(db), signer_(signer) {}

Result<LoadFacts> PgGuardProbe::load(bool lag, bool connections, const std::optional<std::string>& throttle_query) {
  return db_.load_facts(lag, connections, throttle_query);
}

Result<HealthFacts> PgGuardProbe::health(const std::string& table, bool vacuum, bool archive) {
  return db_.health_facts(table, vacuum, archive);
}

Result<std::string> PgGuardProbe::target_id() {
  if (target_.empty()) {
    auto t = db_.target_id();
    if (!t) return t;
    target_ = *t;
  }
  return target_;
}

Result<std::vector<ApprovalRecord>> PgGuardProbe::approvals(const std::string& plan_id) {
  auto rows = db_.approval_rows(plan_id);
  if (!rows) return rows;
  for (auto& a : *rows) {
    if (!a.revocation.empty()) {
      // Withdrawn whatever the approval's own signature says; what is checked is that the approver signed it.
      auto d = guards::parse_revocation(a.revocation);
      if (!d) a.revocation_problem = d.error().message;
      else if (!signer_) a.revocation_problem = "no [approvals] allowed_signers is configured";
      else if (auto v = signer_->verify(d->principal, a.revocation, a.revocation_signature); !v) a.revocation_problem = v.error().message;
      else a.revocation_ok = true;
      continue;
    }
    if (a.revoked_at || a.revoked_event) continue;  // not counted whatever its signature says: no ssh-keygen run for it
    if (!signer_) {
      a.signature_problem = "no [approvals] allowed_signers is configured";
      continue;
    }
    auto v = signer_->verify(a.principal, a.document, a.signature);
    a.signature_ok = v.has_value();
    if (!v) a.signature_problem = v.error().message;
  }
  return rows;
}

}  // namespace phasegate
