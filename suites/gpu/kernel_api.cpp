#include "kernel_api.hpp"

namespace moecheck {

const KernelApi& kernel_api() {
  static const KernelApi builtin = {
      "built-in",
      mc_abi_version,
      mc_implementation_name,
      mc_align_workspace_bytes,
      mc_supports_align,
      mc_align,
      mc_supports_tiled_gemm,
      mc_tiled_gemm,
      mc_fused_workspace_bytes,
      mc_supports_fused_gemm,
      mc_fused_gemm,
      mc_supports_silu_and_mul,
      mc_silu_and_mul,
      mc_supports_moe_sum,
      mc_moe_sum,
  };
  return builtin;
}

const char* to_string(mc_status s) {
  switch (s) {
    case MC_OK:
      return "MC_OK";
    case MC_UNSUPPORTED:
      return "MC_UNSUPPORTED";
    case MC_INVALID_ARGUMENT:
      return "MC_INVALID_ARGUMENT";
    case MC_LAUNCH_FAILED:
      return "MC_LAUNCH_FAILED";
    case MC_NO_DEVICE:
      return "MC_NO_DEVICE";
  }
  return "unknown mc_status";
}

}  // namespace moecheck
