// The one exception type of the gfx11 static gate: input it cannot read (a tool's output, the
// budget table, the command line). The message names the input and what is missing or wrong; the
// gate prints it and exits non-zero, so unreadable input can never look like a pass.
#pragma once

#include <stdexcept>
#include <string>

namespace moecheck::gate {

struct GateError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace moecheck::gate
