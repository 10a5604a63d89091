// Runs a tool (llvm-readelf, llvm-objdump) and returns its stdout. No shell: arguments are passed
// as they are, so paths need no quoting. The tool's stderr goes to ours (it shows in the log).
#pragma once

#include <string>
#include <vector>

namespace moecheck::gate {

// Throws GateError naming the command when it cannot be started or exits with a non-zero
// status or a signal.
std::string run_tool(const std::vector<std::string>& argv);

}  // namespace moecheck::gate
