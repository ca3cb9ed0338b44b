#pragma once
// lint's machine formats for CI systems (docs/ci.md): GitHub workflow commands with a step summary, and the
// GitLab Code Quality report. The JSON string escaper is shared with --format json.
#include <string>
#include <vector>

#include "phasegate/lint.hpp"

namespace phasegate::cli {

// Appends v as a JSON string literal (RFC 8259 escapes).
void append_json_string(std::string& out, const std::string& v);

// `::error file=F,line=L,col=C,title=RULE::MESSAGE` per finding, escaped as GitHub's runner reads them
// (data: % CR LF; properties also : and ,). With $GITHUB_STEP_SUMMARY set, a Markdown table of the findings
// is appended to that file (shown on the run's page).
void print_github(const std::vector<lint::Finding>& findings, const lint::Summary& summary);

// The GitLab Code Quality report: a JSON array of {description, check_name, fingerprint, severity,
// location: {path, lines: {begin}}}. The fingerprint is stable across edits elsewhere in the file: SHA-256 of
// the rule, the file, the statement's canonical tokens and its rank among equal ones — never the line.
void print_gitlab(const std::vector<lint::Finding>& findings);

}  // namespace phasegate::cli
