// The approval document (SPEC §3.2) and the quorum count. Signature verification itself is done by
// ssh-keygen in the adapters; this file only decides over its verdicts.
#include <algorithm>
#include <cctype>
#include <map>
#include <sstream>

#include "phasegate/duration.hpp"
#include "phasegate/guards.hpp"
#include "phasegate/text.hpp"

namespace phasegate::guards {

namespace {
constexpr const char* kHeader = "phasegate-approval-v1";
constexpr const char* kRevocationHeader = "phasegate-revocation-v1";

// "key: value" lines after `header`, each key once.
Result<std::map<std::string, std::string>> fields_of(const std::string& text, const char* header, const char* what) {
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line) || line != header) return fail(Exit::invalid, std::string("not a ") + header + " document");
  std::map<std::string, std::string> fields;
  while (std::getline(in, line)) {
    auto colon = line.find(": ");
    if (colon == std::string::npos) return fail(Exit::invalid, std::string("malformed ") + what + " line: " + line);
    if (!fields.emplace(line.substr(0, colon), line.substr(colon + 2)).second)
      return fail(Exit::invalid, std::string(what) + " field repeated: " + line.substr(0, colon));
  }
  return fields;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string lifetime(Millis d) { return format_duration(std::chrono::floor<std::chrono::seconds>(d)); }
}  // namespace

bool same_principal(const std::string& a, const std::string& b) { return lower(a) == lower(b); }

std::string approval_fingerprint(const std::string& signature) { return sha256_hex(signature); }

std::string render(const RevocationDocument& d) {
  return std::string(kRevocationHeader) + "\nplan: " + d.plan + "\ntarget: " + d.target + "\nprincipal: " + d.principal +
         "\napproval: " + std::to_string(d.approval) + "\napproval-signature: sha256:" + d.approval_signature +
         "\nrevoked: " + rfc3339(d.revoked) + "\n";
}

Result<RevocationDocument> parse_revocation(const std::string& text) {
  auto fields = fields_of(text, kRevocationHeader, "revocation");
  if (!fields) return std::unexpected(fields.error());
  auto& f = *fields;
  for (const char* k : {"plan", "target", "principal", "approval", "approval-signature", "revoked"})
    if (!f.count(k)) return fail(Exit::invalid, std::string("revocation document lacks ") + k);
  auto revoked = parse_rfc3339(f["revoked"]);
  if (!revoked) return fail(Exit::invalid, "revocation time is not RFC 3339: " + f["revoked"]);
  if (f["approval-signature"].rfind("sha256:", 0) != 0) return fail(Exit::invalid, "revocation approval-signature is not sha256:<hex>");
  RevocationDocument d{f["plan"], f["target"], f["principal"], 0, f["approval-signature"].substr(7), *revoked};
  try {
    d.approval = std::stoll(f["approval"]);
  } catch (const std::exception&) {
    return fail(Exit::invalid, "revocation approval is not a number: " + f["approval"]);
  }
  if (render(d) != text) return fail(Exit::invalid, "revocation document is not in canonical form");
  return d;
}

std::string render(const ApprovalDocument& d) {
  return std::string(kHeader) + "\nplan: " + d.plan + "\ndigest: sha256:" + d.digest + "\ntarget: " + d.target +
         "\nprincipal: " + d.principal + "\nexpires: " + rfc3339(d.expires) + "\n";
}

Result<ApprovalDocument> parse_approval(const std::string& text) {
  auto parsed = fields_of(text, kHeader, "approval");
  if (!parsed) return std::unexpected(parsed.error());
  auto& fields = *parsed;
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
    for (const auto& r : rejected) why.push_back('#' + std::to_string(r.id) + " " + r.principal + ": " + r.reason);
    s += "; not counted: " + join(why, "; ");
  }
  return s;
}

namespace {
// Why a withdrawn approval does not count, and how far its withdrawal can be trusted. Every sign of a revocation
// withdraws (a forged one can only take an approval away, which shows); what is checked is whether the
// revocation is the approver's own, and whether someone tried to undo it.
std::string revocation_reason(const ApprovalRecord& a) {
  std::string when = a.revoked_at ? "revoked at " + rfc3339(*a.revoked_at) : std::string("revoked");
  if (!a.revocation.empty()) {
    std::string problem = a.revocation_problem;
    if (a.revocation_ok) {
      auto d = parse_revocation(a.revocation);
      if (!d) problem = d.error().message;
      else if (d->plan != a.plan_id || d->approval != a.id || !same_principal(d->principal, a.principal) ||
               d->approval_signature != approval_fingerprint(a.signature))
        problem = "it names another approval (#" + std::to_string(d->approval) + " of " + d->principal + " on " + d->plan + ")";
      else if (!a.revoked_at)
        return "revoked at " + rfc3339(d->revoked) + " (signed revocation; the row's revoked_at was cleared by hand)";
      else
        return when + " (signed by " + d->principal + ")";
    }
    return when + "; its revocation does not verify (" + problem +
           "): not trusted as the approver's, but a revocation only ever withdraws, so the approval does not count";
  }
  if (a.revoked_event && !a.revoked_at)
    return "revoked by event #" + std::to_string(a.revoked_event) +
           ", but its approvals row no longer says so: the row was altered to undo the revocation";
  return when + " (an unsigned revocation: by a phasegate before state schema v4, or written by hand; it withdraws all the same)";
}
}  // namespace

Quorum count_approvals(const QuorumQuestion& q, const std::vector<ApprovalRecord>& approvals) {
  Quorum out;
  out.needed = q.needed;
  for (const auto& a : approvals) {
    auto reject = [&](const std::string& why) { out.rejected.push_back({a.id, a.principal, why}); };
    if (a.revoked_at || !a.revocation.empty() || a.revoked_event) { reject(revocation_reason(a)); continue; }
    if (!a.signature_ok) { reject("signature does not verify against allowed_signers: " + a.signature_problem); continue; }
    auto doc = parse_approval(a.document);
    if (!doc) { reject(doc.error().message); continue; }
    if (doc->principal != a.principal) { reject("document names principal " + doc->principal); continue; }
    if (doc->plan != q.plan) { reject("approves plan " + doc->plan); continue; }
    if (doc->digest != q.digest) { reject("the plan changed since it was approved (digest " + doc->digest + ")"); continue; }
    if (doc->target != q.target) { reject("approves another database (" + doc->target + ", this is " + q.target + ")"); continue; }
    if (doc->expires <= q.now) { reject("expired at " + rfc3339(doc->expires)); continue; }
    // The 7d cap holds for what is stored, not only for what `approve` signs (a row inserted by hand).
    if (auto life = std::chrono::duration_cast<Millis>(doc->expires - a.created_at); life > kMaxApprovalLifetime + kApprovalClockSlack) {
      reject("valid for " + lifetime(life) + " after it was recorded (" + rfc3339(a.created_at) + "), more than the 7d maximum");
      continue;
    }
    if (auto left = std::chrono::duration_cast<Millis>(doc->expires - q.now); left > kMaxApprovalLifetime + kApprovalClockSlack) {
      reject("expires " + rfc3339(doc->expires) + ", more than the 7d maximum from now");
      continue;
    }
    if (!q.allow_initiator && !q.initiator.empty() && same_principal(a.principal, q.initiator)) {
      reject("the initiator of the run does not count (allow_initiator = false)");
      continue;
    }
    auto same = std::find_if(out.counted.begin(), out.counted.end(), [&](const auto& c) { return same_principal(c.principal, a.principal); });
    if (same != out.counted.end()) {
      reject("same principal as approval #" + std::to_string(same->id));
      continue;
    }
    out.counted.push_back({a.id, a.principal, a.comment, doc->expires});
  }
  return out;
}

}  // namespace phasegate::guards
