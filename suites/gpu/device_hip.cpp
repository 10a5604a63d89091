// The GPU testbed's device (the first visible one, as the runtime reports it) and the
// implementation it runs there (kernel_api.hpp).
#include <string>

#include "device.hpp"
#include "kernel_api.hpp"
#include "moecheck/hip_compat.h"

namespace moecheck {

DeviceInfo detect_device() {
  DeviceInfo d;
  int count = 0;
  const hipError_t err = hipGetDeviceCount(&count);
  if (err != hipSuccess || count == 0) {
    d.reason = err != hipSuccess ? std::string("the runtime reports: ") + hipGetErrorString(err)
                                 : std::string("no device is visible");
    (void)hipGetLastError();  // clear the sticky error so later calls report their own
    return d;
  }
  hipDeviceProp_t prop;
  if (hipGetDeviceProperties(&prop, 0) != hipSuccess) {
    d.reason = "cannot read the properties of device 0";
    return d;
  }
  char arch[64];
  mc_device_arch_name(0, arch, sizeof arch);
  d.available = true;
  d.name = prop.name;
  d.arch = arch;
  return d;
}

bool testbed_uses_device() {
  return true;
}

std::string load_implementation(const std::string& path) {
  const KernelApi& api = load_kernel_api(path);
  return describe(api) + (api.builtin ? " (built-in)" : " (--impl)");
}

}  // namespace moecheck
