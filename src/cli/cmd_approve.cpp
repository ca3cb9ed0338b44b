// approve / approvals / revoke (SPEC §3.2): OpenSSH-signed approvals bound to the plan digest and the
// target database, stored in the state schema; the quorum shown here is the one `run` enforces.
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/output.hpp"
#include "phasegate/adapters.hpp"
#include "phasegate/engine.hpp"
#include "phasegate/text.hpp"

namespace phasegate::cli {

using json = nlohmann::json;

namespace {
struct Session {
  Loaded loaded;
  const Plan* plan = nullptr;
  std::unique_ptr<PgDatabase> db;
  BoostProcessRunner runner;
  std::unique_ptr<SshSigner> signer;
};

// Loads the project, picks the plan, opens the database and the signer; an Error names what is missing.
Result<void> open_session(const Global& g, const std::string& plan_arg, Session& s, int& exit) {
  auto loaded = load_all(g);
  if (!loaded) {
    exit = loaded.error();
    return fail(Exit::invalid, "");
  }
  s.loaded = std::move(*loaded);
  auto plan = select_plan(s.loaded, plan_arg);
  if (!plan) return std::unexpected(plan.error());
  s.plan = *plan;
  if (!s.loaded.project.approvals)
    return fail(Exit::invalid, "no [approvals] table in " + s.loaded.project.file +
                                   ": add one with allowed_signers = \"PATH\" (an OpenSSH allowed_signers file)");
  s.signer = std::make_unique<SshSigner>(s.runner, s.loaded.project.approvals->allowed_signers, s.loaded.project.root);
  auto db = open_database(s.loaded.project, "approvals");
  if (!db) return std::unexpected(db.error());
  s.db = std::move(*db);
  return s.db->ensure_schema();
}

json quorum_json(const guards::Quorum& q) {
  json counted = json::array(), rejected = json::array();
  for (const auto& c : q.counted)
    counted.push_back({{"id", c.id}, {"principal", c.principal}, {"expires", guards::rfc3339(c.expires)}, {"comment", c.comment}});
  for (const auto& r : q.rejected) rejected.push_back({{"id", r.id}, {"principal", r.principal}, {"reason", r.reason}});
  return {{"needed", q.needed}, {"met", q.met()}, {"counted", counted}, {"not_counted", rejected}};
}

// --key is relative to the caller's directory; ssh-keygen runs in the project root.
std::string absolute(const std::string& path) { return std::filesystem::absolute(path).lexically_normal().string(); }

Result<std::string> principal_of_key(Session& s, const std::string& key) {
  auto probe = s.signer->sign(key, "phasegate-approval-v1 principal lookup\n");
  if (!probe) return std::unexpected(probe.error());
  return s.signer->principal_of(*probe);
}

Result<void> record_event(PgDatabase& db, const std::string& kind, const std::string& plan_id, const json& payload) {
  return db.append_event(Event{kind, 0, plan_id, "", "", payload.dump(), std::chrono::system_clock::now()});
}
}  // namespace

Result<guards::Quorum> approval_quorum(const Project& project, const Plan& plan, PgDatabase& db, const std::string& initiator) {
  Guards guards = merge_guards(project.guards, plan.guards);
  BoostProcessRunner runner;
  std::unique_ptr<SshSigner> signer;
  if (project.approvals) signer = std::make_unique<SshSigner>(runner, project.approvals->allowed_signers, project.root);
  PgGuardProbe probe(db, signer.get());
  auto target = probe.target_id();
  if (!target) return std::unexpected(target.error());
  auto records = probe.approvals(plan.id);
  if (!records) return std::unexpected(records.error());
  guards::QuorumQuestion q{guards.approvals, plan.id, plan_digest(plan), *target, initiator,
                           project.approvals && project.approvals->allow_initiator, std::chrono::system_clock::now()};
  return guards::count_approvals(q, *records);
}

int cmd_approve(const Global& g, const ApproveArgs& args) {
  Session s;
  int exit = 0;
  if (auto r = open_session(g, args.plan, s, exit); !r) return exit ? exit : report(g, r.error());
  const auto& settings = *s.loaded.project.approvals;
  Millis valid_for = settings.valid_for;
  if (!args.valid_for.empty()) {
    auto d = parse_duration(args.valid_for);
    if (!d || *d <= Millis(0)) return report(g, Error{Exit::invalid, "--valid-for: not a duration: \"" + args.valid_for + "\" (e.g. 12h)"});
    if (*d > guards::kMaxApprovalLifetime) return report(g, Error{Exit::invalid, "--valid-for: at most 7d"});
    valid_for = *d;
  }
  const std::string key = absolute(args.key);
  std::string principal = args.principal;
  if (principal.empty()) {
    auto p = principal_of_key(s, key);
    if (!p) return report(g, p.error());
    principal = *p;
  }
  auto target = s.db->target_id();
  if (!target) return report(g, target.error());
  std::string digest = plan_digest(*s.plan);
  auto expires = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now() + valid_for);
  std::string document = guards::render({s.plan->id, digest, *target, principal, expires});
  auto signature = s.signer->sign(key, document);
  if (!signature) return report(g, signature.error());
  // Refuse what run would not count: a key that is not principal's in allowed_signers.
  if (auto v = s.signer->verify(principal, document, *signature); !v)
    return report(g, Error{Exit::invalid, "the signature does not verify for principal " + principal + " against " +
                                              settings.allowed_signers + ": " + v.error().message + "; nothing was recorded"});
  s.db->set_actor(current_actor(principal));
  auto id = s.db->insert_approval(s.plan->id, digest, *target, principal, document, *signature, expires, args.comment);
  if (!id) return report(g, id.error());
  (void)record_event(*s.db, "approval.recorded", s.plan->id,
                     {{"approval", *id}, {"principal", principal}, {"digest", digest}, {"target", *target},
                      {"expires", guards::rfc3339(expires)}, {"comment", args.comment}});
  auto quorum = approval_quorum(s.loaded.project, *s.plan, *s.db, "");
  if (!quorum) return report(g, quorum.error());
  if (g.json) {
    print_json({{"ok", true}, {"exit", 0}, {"approval", *id}, {"plan", s.plan->id}, {"principal", principal},
                {"expires", guards::rfc3339(expires)}, {"quorum", quorum_json(*quorum)}});
  } else {
    std::cout << "approval #" << *id << " recorded: " << principal << " approves " << s.plan->id << " (sha256:" << digest.substr(0, 12)
              << "...) on " << *target << " until " << guards::rfc3339(expires) << "\n"
              << "quorum: " << quorum->summary() << "\n";
  }
  return 0;
}

int cmd_approvals(const Global& g, const std::string& plan_arg, const std::string& initiator_flag) {
  Session s;
  int exit = 0;
  if (auto r = open_session(g, plan_arg, s, exit); !r) return exit ? exit : report(g, r.error());
  std::string initiator = current_actor(initiator_flag).principal;
  auto quorum = approval_quorum(s.loaded.project, *s.plan, *s.db, initiator);
  if (!quorum) return report(g, quorum.error());
  if (g.json) {
    print_json({{"ok", true}, {"exit", 0}, {"plan", s.plan->id}, {"initiator", initiator}, {"quorum", quorum_json(*quorum)}});
    return 0;
  }
  std::cout << paint(g, "1", s.plan->id) << ": " << (quorum->met() ? paint(g, "32", "quorum met") : paint(g, "33", "quorum not met"))
            << " — " << quorum->counted.size() << " of " << quorum->needed << " approval(s)"
            << (initiator.empty() ? "" : " (initiator " + initiator + " excluded unless allow_initiator)") << "\n";
  for (const auto& c : quorum->counted)
    std::cout << "  " << paint(g, "32", "counted") << "  #" << c.id << " " << c.principal << " until " << guards::rfc3339(c.expires)
              << (c.comment.empty() ? "" : " — " + c.comment) << "\n";
  for (const auto& r : quorum->rejected)
    std::cout << "  " << paint(g, "33", "ignored") << "  #" << r.id << " " << r.principal << ": " << r.reason << "\n";
  if (!quorum->met())
    std::cout << "missing " << quorum->needed - static_cast<int>(quorum->counted.size())
              << "; each approver runs: phasegate approve " << s.plan->id << " --key ~/.ssh/id_ed25519\n";
  return 0;
}

// revoke: one signed revocation document per approval stored under the key's principal (any case), verified
// like an approval before it is stored; the rows and the approval.revoked event (with the documents) commit
// together. Rows that are not the key's (a forgery stored under the principal's name) are withdrawn too: a
// revocation only ever takes approvals away.
int cmd_revoke(const Global& g, const std::string& plan_arg, const std::string& key_arg) {
  Session s;
  int exit = 0;
  if (auto r = open_session(g, plan_arg, s, exit); !r) return exit ? exit : report(g, r.error());
  const std::string key = absolute(key_arg);
  auto principal = principal_of_key(s, key);  // proves the caller holds the approver's key
  if (!principal) return report(g, principal.error());
  auto target = s.db->target_id();
  if (!target) return report(g, target.error());
  auto rows = s.db->approval_rows(s.plan->id);
  if (!rows) return report(g, rows.error());
  auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  std::vector<PgDatabase::Revocation> revocations;
  for (const auto& a : *rows) {
    if (a.revoked_at || !a.revocation.empty() || !guards::same_principal(a.principal, *principal)) continue;
    std::string document = guards::render(guards::RevocationDocument{s.plan->id, *target, *principal, a.id,
                                                                     guards::approval_fingerprint(a.signature), now});
    auto signature = s.signer->sign(key, document);
    if (!signature) return report(g, signature.error());
    if (auto v = s.signer->verify(*principal, document, *signature); !v)
      return report(g, Error{Exit::invalid, "the revocation of approval #" + std::to_string(a.id) + " does not verify for " + *principal +
                                                " against " + s.loaded.project.approvals->allowed_signers + ": " + v.error().message +
                                                "; nothing was revoked"});
    revocations.push_back({a.id, document, *signature});
  }
  s.db->set_actor(current_actor(*principal));
  std::vector<int64_t> done;
  if (!revocations.empty()) {
    auto r = s.db->record_revocations(s.plan->id, *principal, revocations);
    if (!r) return report(g, r.error());
    done = *r;
  }
  const auto n = done.size();
  if (g.json) print_json({{"ok", true}, {"exit", 0}, {"plan", s.plan->id}, {"principal", *principal}, {"revoked", n}, {"approvals", done}});
  else std::cout << (n ? "revoked " + std::to_string(n) + " approval(s) of " : "nothing to revoke for ") << *principal << " on " << s.plan->id
                 << (n ? " (signed revocations)" : "") << "\n";
  return 0;
}

}  // namespace phasegate::cli
