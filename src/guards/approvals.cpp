// The approval document (SPEC §3.2) and the quorum count. Signature verification itself is done by
// ssh-keygen in the adapters; this file only decides over its verdicts.
#include <algorithm>
#include <map>
#include <sstream>

#include "phasegate/guards.hpp"
#include "phasegate/text.hpp"

namespace phasegate::guards {

namespace {
constexpr const char* kHeader = "phasegate-approval-v1";
}

std::string render(const ApprovalDocument& d) {
  return std::string(kHeader) + "\nplan: " + d.plan + "\ndigest: sha256:" + d.digest + "\ntarget: " + d.target +
         "\nprincipal: " + d.principal + "\nexpires: " + rfc3339(d.expires) + "\n";
}

Result<ApprovalDocument> parse_approval(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line) || line != kHeader) return fail(Exit::invalid, "not a phasegate-approval-v1 document");
  std::map<std::string, std::string> fields;
  while (std::getline(in, line)) {
    auto colon = line.find(": ");
    if (colon == std::string::npos) return fail(Exit::invalid, "malformed approval line: " + line);
    if (!fields.emplace(line.substr(0, colon), line.substr(colon + 2)).second)
      return fail(Exit::invalid, "approval field repeated: " + line.substr(0, colon));
  }
  for (const char* k : {"plan", "digest", "target", "principal", "expires"})
    if (!fields.count(k)) return fail(Exit::invalid, std::string("approval document lacks ") + k);
  auto expires = parse_rfc3339(fields["expires"]);
  if (!expires) return fail(Exit::invalid, "approval expiry is not RFC 3339: " + fields["expires"]);
  if (fields["digest"].rfind("sha256:", 0) != 0) return fail(Exit::invalid, "approval digest is not sha256:<hex>");
  ApprovalDocument d{fields["plan"], fields["digest"].substr(7), fields["target"], fields["principal"], *expires};
  if (render(d) != text) return fail(Exit::invalid, "approval document is not in canonical form");
  return d;
}

std::string Quorum::summary() const {
  std::vector<std::string> who;
  for (const auto& c : counted) who.push_back(c.principal);
  std::string s = std::to_string(counted.size()) + " of " + std::to_string(needed) + " approval(s)";
  if (!who.empty()) s += " (" + join(who, ", ") + ")";
  if (!rejected.empty()) {
    std::vector<std::string> why;
    for (const auto& r : rejected) why.push_back("#" + std::to_string(r.id) + " " + r.principal + ": " + r.reason);
    s += "; not counted: " + join(why, "; ");
  }
  return s;
}

Quorum count_approvals(const QuorumQuestion& q, const std::vector<ApprovalRecord>& approvals) {
  Quorum out;
  out.needed = q.needed;
  for (const auto& a : approvals) {
    auto reject = [&](const std::string& why) { out.rejected.push_back({a.id, a.principal, why}); };
    if (a.revoked_at) { reject("revoked at " + rfc3339(*a.revoked_at)); continue; }
    if (!a.signature_ok) { reject("signature does not verify against allowed_signers: " + a.signature_problem); continue; }
    auto doc = parse_approval(a.document);
    if (!doc) { reject(doc.error().message); continue; }
    if (doc->principal != a.principal) { reject("document names principal " + doc->principal); continue; }
    if (doc->plan != q.plan) { reject("approves plan " + doc->plan); continue; }
    if (doc->digest != q.digest) { reject("the plan changed since it was approved (digest " + doc->digest + ")"); continue; }
    if (doc->target != q.target) { reject("approves another database (" + doc->target + ", this is " + q.target + ")"); continue; }
    if (doc->expires <= q.now) { reject("expired at " + rfc3339(doc->expires)); continue; }
    if (!q.allow_initiator && !q.initiator.empty() && a.principal == q.initiator) {
      reject("the initiator of the run does not count (allow_initiator = false)");
      continue;
    }
    auto same = std::find_if(out.counted.begin(), out.counted.end(), [&](const auto& c) { return c.principal == a.principal; });
    if (same != out.counted.end()) {
      reject("same principal as approval #" + std::to_string(same->id));
      continue;
    }
    out.counted.push_back({a.id, a.principal, a.comment, doc->expires});
  }
  return out;
}

}  // namespace phasegate::guards
