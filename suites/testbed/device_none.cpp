#include "device.hpp"

namespace moecheck {

DeviceInfo detect_device() {
  return {false, "", "", "CPU testbed: no device used"};
}
bool testbed_uses_device() {
  return false;
}
// The CPU suites compare the reference with itself and a naive loop: no implementation to load
// (the gate hands $MOECHECK_IMPL to every test; it is meant for the GPU testbed).
std::string load_implementation(const std::string&) {
  return "";
}

}  // namespace moecheck
