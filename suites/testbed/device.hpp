// What device a testbed binary runs on. The CPU testbed links device_none.cpp; the GPU testbed
// links suites/gpu/device_hip.cpp, which asks the runtime.
#pragma once

#include <string>

namespace moecheck {

struct DeviceInfo {
  bool available = false;
  std::string name;    // e.g. "NVIDIA H100 80GB HBM3"
  std::string arch;    // e.g. "sm_90", "gfx1151"
  std::string reason;  // why no device is available
};

DeviceInfo detect_device();

// Whether the binary's suites need a device (GPU testbeds) — decides the cpu/gpu label.
bool testbed_uses_device();

// Loads the implementation under test before any case is registered and returns a line that
// names it: the GPU testbed loads the kernels' library (`path`: --impl / $MOECHECK_IMPL, "" for
// the built-in one) and says "<mc_implementation_name()> from <file> (built-in|--impl)"; the CPU
// testbed runs no implementation and returns "". Throws std::runtime_error naming the library
// and what is wrong with it.
std::string load_implementation(const std::string& path);

}  // namespace moecheck
