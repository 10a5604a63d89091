// Known bugs (cases/known_bugs.yaml, DESIGN.md section 7): catalog cases that are expected to
// fail on some architectures, each with its issue and reason. The testbed still runs such a case
// and reports it as KnownBug (never as a pass); if the bug does not reproduce it says so loudly
// ("KnownBug fixed? case passed"), so that the list stays honest. The file's header documents
// the format and the mapping to GoogleTest and ctest results.
#pragma once

#include <functional>
#include <regex>
#include <string>
#include <vector>

#include "case.hpp"

namespace moecheck {

struct KnownBug {
  std::string source;             // file:line of the entry
  std::string issue;              // link or tracker id
  std::string reason;             // what goes wrong, one line
  std::vector<std::string> arch;  // "gfx1151", "sm_90", "gfx11*" (prefix), "*" (any)
  std::string name_pattern;       // the `name` regex as written ("" = any case)
  std::regex name_regex;          // searched in "<suite>.<case name>"
  // One predicate per `match` field (field: value or field: [values]); all must hold.
  std::vector<std::function<bool(const Case&)>> fields;

  bool matches_case(const Case& c) const;
  bool matches_arch(const std::string& arch) const;
};

// Parses a known-bugs file's text. Throws CatalogError "<file>:<line>:<col>: <key>: <problem>".
std::vector<KnownBug> load_known_bugs(const std::string& text, const std::string& file);

// The first entry that matches the case on the architecture, or null.
const KnownBug* find_known_bug(const std::vector<KnownBug>& bugs, const Case& c,
                               const std::string& arch);

}  // namespace moecheck
