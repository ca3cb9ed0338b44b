#pragma once
// What `phasegate --version` prints. Defined in the one generated translation unit (cmake/version.cmake), so a new
// commit recompiles that file only.
#include <string>
#include <string_view>

namespace phasegate::cli {

std::string_view version();  // the project version, e.g. "0.1.0"
std::string_view commit();   // the commit built, e.g. "b112263c0ffe" or "b112263c0ffe-dirty"; "unknown" for a tarball

// "phasegate 0.1.0 (commit b112263c0ffe)"
inline std::string version_line() {
  std::string line = "phasegate ";
  line.append(version()).append(" (commit ").append(commit()).append(")");
  return line;
}

}  // namespace phasegate::cli
