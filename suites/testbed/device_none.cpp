#include "device.hpp"

namespace moecheck {

DeviceInfo detect_device() {
  return {false, "", "", "CPU testbed: no device used"};
}
bool testbed_uses_device() {
  return false;
}

}  // namespace moecheck
