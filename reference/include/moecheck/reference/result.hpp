// The result taxonomy of DESIGN.md section 7, shared by every suite and report.
#pragma once

#include <string>

namespace moecheck {

enum class Outcome {
  Passed,        // within bound (or bit-exact in the exact tier)
  Incorrect,     // some element beyond its bound
  Failed,        // error, crash, guard band broken, untouched row written, NaN/Inf
  NotSupported,  // the predicate refused the shape: a pass only where the case expects it
  Skipped,       // no device, wrong arch, not enough memory (with a reason)
  KnownBug       // matched cases/known_bugs.yaml: reported, never a pass
};

const char* to_string(Outcome o);
Outcome parse_outcome(const std::string& s);  // throws std::invalid_argument

}  // namespace moecheck
