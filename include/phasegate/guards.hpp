#pragma once
// Guards (SPEC §3): pure decisions over a snapshot of facts: the off-peak window (§3.1), the approval
// quorum (§3.2) and load (§3.4). The executor gathers the facts through ports and acts on the verdicts.
#include <optional>
#include <string>
#include <vector>

#include "phasegate/config.hpp"
#include "phasegate/ports.hpp"

namespace phasegate::guards {

struct WindowState {
  std::string window, timezone;
  TimePoint at{};
  bool open = false;
  std::string reason;                   // why it is open or closed, for humans
  std::optional<TimePoint> next_open;   // when closed: the next opening (nullopt: none within a year)
  std::optional<TimePoint> next_close;  // when open: when it closes
};

// Evaluates one window at `at` in its IANA time zone (system tz database). Error: unknown time zone.
Result<WindowState> evaluate(const Window& w, TimePoint at);
// Several windows (a plan's `windows`): open when any of them is open; next_open is the earliest.
Result<WindowState> evaluate_any(const std::vector<const Window*>& ws, TimePoint at);

// The checks evaluate() depends on, for `validate` to make before a run (issue #12). Each returns why the
// text is refused, or nullopt when it is fine; evaluate() uses the same parsers.
// An IANA zone of the system tz database; fixed offsets ("+10:00", "UTC+10", "Etc/GMT-10") are refused.
std::optional<std::string> time_zone_problem(const std::string& name);
// 5 fields (minute hour day-of-month month day-of-week): numbers, *, lists, ranges a-b, steps */n and a-b/n.
std::optional<std::string> cron_problem(const std::string& spec);
// YYYY-MM-DD naming a day that exists.
std::optional<std::string> date_problem(const std::string& ymd);

// "2026-11-22 14:00:00 AEST" in the given zone (empty zone or unknown: UTC).
std::string local_time(const std::string& timezone, TimePoint t);
std::string rfc3339(TimePoint t);                        // "2026-11-22T04:00:00Z"
std::optional<TimePoint> parse_rfc3339(const std::string& s);  // accepts Z or ±hh:mm offsets

// ---- approvals (§3.2) -----------------------------------------------------------------------------
inline constexpr const char* kApprovalNamespace = "phasegate-approval";

struct ApprovalDocument {
  std::string plan, digest, target, principal;
  TimePoint expires{};
};
// The exact text that is signed (SPEC §3.2), newline-terminated.
std::string render(const ApprovalDocument& d);
// Error when the text is not a phasegate-approval-v1 document.
Result<ApprovalDocument> parse_approval(const std::string& text);

// The longest an approval may be valid (SPEC §1.1 valid_for "max 7d"), enforced when signing and when counting;
// the slack covers the clocks of the approver's machine and the database disagreeing.
inline constexpr Millis kMaxApprovalLifetime{7LL * 86'400'000};
inline constexpr Millis kApprovalClockSlack{5LL * 60'000};

// `revoke` signs one of these per approval it withdraws, with the approver's key and the approval namespace; the
// header tells it from an approval. `approval_signature` is sha256(hex) of the approval's signature text, so the
// revocation names exactly one signed approval.
struct RevocationDocument {
  std::string plan, target, principal;
  int64_t approval = 0;
  std::string approval_signature;
  TimePoint revoked{};
};
std::string render(const RevocationDocument& d);
Result<RevocationDocument> parse_revocation(const std::string& text);
// sha256 of an approval's signature text, as a revocation names it.
std::string approval_fingerprint(const std::string& signature);
// Principals compare without regard to ASCII case (`Alice` and `alice` are one operator).
bool same_principal(const std::string& a, const std::string& b);

struct QuorumQuestion {
  int needed = 0;
  std::string plan, digest, target;
  std::string initiator;  // the principal starting the run ("" = unknown)
  bool allow_initiator = false;
  TimePoint now{};
};
struct CountedApproval {
  int64_t id = 0;
  std::string principal, comment;
  TimePoint expires{};
};
struct RejectedApproval {
  int64_t id = 0;
  std::string principal, reason;
};
struct Quorum {
  int needed = 0;
  std::vector<CountedApproval> counted;  // one per distinct principal
  std::vector<RejectedApproval> rejected;
  bool met() const { return static_cast<int>(counted.size()) >= needed; }
  std::string summary() const;  // "1 of 2 approvals (alice); not counted: ..."
};
// Counts distinct principals (case-insensitive) whose signature verified, whose document names this plan, digest
// and target and the same principal it was stored under, that have not expired, are valid for at most 7d (from
// when they were recorded and from now), and carry no sign of revocation (revoked_at, a stored revocation, or an
// approval.revoked event naming them — a revocation only ever withdraws, so an unverified one withdraws too); the
// initiator only with allow_initiator (docs/guards/approvals.md).
Quorum count_approvals(const QuorumQuestion& q, const std::vector<ApprovalRecord>& approvals);

// ---- load (§3.4) and the verdict shape every guard returns -----------------------------------------
struct Verdict {
  bool go = true;
  std::string guard;   // "window", "approvals", "replication_lag", "active_connections", "throttle_query", "vacuum", "archive_pending"
  std::string reason;
  std::optional<TimePoint> retry_at;  // when waiting has a known end (a window's next opening)
};
Verdict check_load(const Guards& g, const LoadFacts& facts);
// The backfill health stops: guard "vacuum" or "archive_pending".
Verdict check_health(const Guards& g, const HealthFacts& facts);

}  // namespace phasegate::guards
