// The implementation under test, as a table of the C ABI's entry points (kernels.h). The
// built-in kernels fill it by linking; an implementation that lives elsewhere fills it from a
// shared library (the --impl plugin), so every GPU suite calls kernels only through this table.
#pragma once

#include <string>

#include "moecheck/kernels.h"

namespace moecheck {

struct KernelApi {
  std::string origin;  // "built-in" or the plugin's path
  int (*abi_version)(void);
  const char* (*implementation_name)(void);
  int64_t (*align_workspace_bytes)(int64_t);
  int (*supports_align)(const mc_align_args*, char*);
  mc_status (*align)(const mc_align_args*);
  int (*supports_tiled_gemm)(const mc_tiled_gemm_args*, char*);
  mc_status (*tiled_gemm)(const mc_tiled_gemm_args*);
  int64_t (*fused_workspace_bytes)(const mc_fused_gemm_args*);
  int (*supports_fused_gemm)(const mc_fused_gemm_args*, char*);
  mc_status (*fused_gemm)(const mc_fused_gemm_args*);
  int (*supports_silu_and_mul)(const mc_silu_and_mul_args*, char*);
  mc_status (*silu_and_mul)(const mc_silu_and_mul_args*);
  int (*supports_moe_sum)(const mc_moe_sum_args*, char*);
  mc_status (*moe_sum)(const mc_moe_sum_args*);
};

// The implementation the GPU suites run: the built-in kernels.
const KernelApi& kernel_api();

const char* to_string(mc_status s);

}  // namespace moecheck
