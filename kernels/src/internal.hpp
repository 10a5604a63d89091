// Host-side internals shared by the launchers: argument checks (supports.cpp), device status
// (device_info.cpp). Plain C++, no runtime names, so the static gate can compile the kernel
// sources that include it.
#pragma once

#include <stdint.h>

#include "moecheck/kernels.h"

// Exported C ABI symbols; everything else in the library is hidden.
#define MC_API extern "C" __attribute__((visibility("default")))

namespace mc {

// Each check returns MC_OK, MC_INVALID_ARGUMENT (null pointer, non-positive size, a stride
// smaller than a row, inconsistent lengths) or MC_UNSUPPORTED (a valid shape the kernel does not
// handle), and writes a specific reason into `reason` (MC_REASON_LEN bytes, may be NULL).
// mc_supports_* is `check == MC_OK`; each launcher returns the check's status before touching
// any memory. Checks look at arguments only, never at the device, so they give the same answer
// on a machine without a GPU.
mc_status check_align(const mc_align_args* a, char* reason);
mc_status check_tiled_gemm(const mc_tiled_gemm_args* a, char* reason);
mc_status check_fused_gemm(const mc_fused_gemm_args* a, char* reason);
mc_status check_silu_and_mul(const mc_silu_and_mul_args* a, char* reason);
mc_status check_moe_sum(const mc_moe_sum_args* a, char* reason);

// Bytes of fp32 partials the fused gemm needs for output_topk (0 otherwise).
int64_t fused_workspace_bytes(const mc_fused_gemm_args* a);

// MC_OK when the current device can run the kernels (needs_atom: the tiled family's matrix atom,
// sm_80+ or gfx11), MC_NO_DEVICE otherwise. Clears the runtime's last-error state so that the
// launch that follows is judged on its own. With MC_OK, *compute_units (when given) receives the
// device's SMs or CUs (0: unknown), which size launch shapes (moecheck/fused_shape.h), never
// correctness.
mc_status device_status(bool needs_atom, int* compute_units = nullptr);
// MC_LAUNCH_FAILED when the runtime reports an error for the launches just made, else MC_OK.
mc_status launch_status();
// hipMemsetAsync(p, 0, bytes, stream): MC_OK or MC_LAUNCH_FAILED.
mc_status memset_zero_async(void* p, int64_t bytes, void* stream);

}  // namespace mc
