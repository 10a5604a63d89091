// Host-only: the device the kernels run on, the implementation name, and the runtime calls the
// launchers need (error state, memset). Built with the runtime (CUDA::cudart through
// hip_compat.h, or ROCm's HIP); not part of the device-only static gate.
#include <mutex>
#include <string>

#include "internal.hpp"
#include "moecheck/hip_compat.h"

namespace mc {
namespace {

#if defined(MC_COMPAT_CUDA)
constexpr const char* kPlatform = "cuda";
#else
constexpr const char* kPlatform = "hip";
#endif

struct DeviceInfo {
  bool known = false;
  bool usable = false;  // the query succeeded
  bool has_atom = false;
  int compute_units = 0;  // SMs, CUs; 0: unknown
  std::string arch;       // "sm_90", "gfx1100"
};

// Architectures with a matrix atom (atom.hpp): NVIDIA sm_80 and newer, AMD gfx11.
bool arch_has_atom(const std::string& arch) {
  if (arch.rfind("sm_", 0) == 0) return std::stoi(arch.substr(3)) >= 80;
  return arch.rfind("gfx11", 0) == 0;
}

// Properties are queried once per device (hipGetDeviceProperties is slow on some runtimes).
const DeviceInfo& info_for(int device) {
  static std::mutex mutex;
  static DeviceInfo cache[64];
  static DeviceInfo unknown;
  if (device < 0 || device >= 64) return unknown;
  std::lock_guard<std::mutex> lock(mutex);
  DeviceInfo& d = cache[device];
  if (!d.known) {
    d.known = true;
    hipDeviceProp_t prop;
    d.usable = hipGetDeviceProperties(&prop, device) == hipSuccess;
    if (d.usable) {
      char arch[64];
      mc_arch_name(prop, arch, sizeof arch);
      d.arch = arch;
      d.has_atom = arch_has_atom(d.arch);
      d.compute_units = prop.multiProcessorCount;
    }
  }
  return d;
}

// The current device, or -1 when there is none (clearing the error the query may leave).
int current_device() {
  int count = 0;
  int device = -1;
  if (hipGetDeviceCount(&count) != hipSuccess || count <= 0 ||
      hipGetDevice(&device) != hipSuccess) {
    (void)hipGetLastError();
    return -1;
  }
  return device;
}

}  // namespace

mc_status device_status(bool needs_atom, int* compute_units) {
  const int device = current_device();
  if (device < 0) return MC_NO_DEVICE;
  const DeviceInfo& d = info_for(device);
  if (!d.usable || (needs_atom && !d.has_atom)) return MC_NO_DEVICE;
  if (compute_units != nullptr) *compute_units = d.compute_units;
  (void)hipGetLastError();  // a stale error from earlier work is not this launch's failure
  return MC_OK;
}

mc_status launch_status() {
  return hipGetLastError() == hipSuccess ? MC_OK : MC_LAUNCH_FAILED;
}

mc_status memset_zero_async(void* p, int64_t bytes, void* stream) {
  if (bytes <= 0) return MC_OK;
  const hipError_t err =
      hipMemsetAsync(p, 0, static_cast<size_t>(bytes), static_cast<hipStream_t>(stream));
  return err == hipSuccess ? MC_OK : MC_LAUNCH_FAILED;
}

}  // namespace mc

MC_API int mc_abi_version(void) {
  return MC_ABI_VERSION;
}

// "moecheck-builtin (cuda sm_90)", "moecheck-builtin (hip gfx1100)"; when the current device
// cannot run the tiled family: "(hip gfx1030, no matrix atom)"; without a device: "(cuda, no
// device)". Computed on the first call, for the device current then.
MC_API const char* mc_implementation_name(void) {
  static std::string name;
  static std::once_flag once;
  std::call_once(once, [] {
    name = std::string("moecheck-builtin (") + mc::kPlatform;
    const int device = mc::current_device();
    const mc::DeviceInfo* d = device >= 0 ? &mc::info_for(device) : nullptr;
    if (d == nullptr || !d->usable) {
      name += ", no device)";
    } else {
      name += " " + d->arch + (d->has_atom ? ")" : ", no matrix atom)");
    }
  });
  return name.c_str();
}
