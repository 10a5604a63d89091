// A stand-in for an implementation that lives elsewhere, for the plugin loader's negative tests
// (suites/gpu/CMakeLists.txt): plain C++, no device code, nothing computed. By default it exports
// only the first three symbols of the C ABI, like a library that forgot the rest; with
// STUB_ALL_SYMBOLS it exports all of them, and STUB_ABI_VERSION sets what mc_abi_version() says.
#include "moecheck/kernels.h"

#ifndef STUB_ABI_VERSION
#define STUB_ABI_VERSION MC_ABI_VERSION
#endif

extern "C" {

int mc_abi_version(void) {
  return STUB_ABI_VERSION;
}
const char* mc_implementation_name(void) {
  return "moecheck-stub";
}
int64_t mc_align_workspace_bytes(int64_t) {
  return 0;
}

#ifdef STUB_ALL_SYMBOLS
int mc_supports_align(const mc_align_args*, char*) {
  return 0;
}
mc_status mc_align(const mc_align_args*) {
  return MC_UNSUPPORTED;
}
int mc_supports_tiled_gemm(const mc_tiled_gemm_args*, char*) {
  return 0;
}
mc_status mc_tiled_gemm(const mc_tiled_gemm_args*) {
  return MC_UNSUPPORTED;
}
int64_t mc_fused_workspace_bytes(const mc_fused_gemm_args*) {
  return 0;
}
int mc_supports_fused_gemm(const mc_fused_gemm_args*, char*) {
  return 0;
}
mc_status mc_fused_gemm(const mc_fused_gemm_args*) {
  return MC_UNSUPPORTED;
}
int mc_supports_silu_and_mul(const mc_silu_and_mul_args*, char*) {
  return 0;
}
mc_status mc_silu_and_mul(const mc_silu_and_mul_args*) {
  return MC_UNSUPPORTED;
}
int mc_supports_moe_sum(const mc_moe_sum_args*, char*) {
  return 0;
}
mc_status mc_moe_sum(const mc_moe_sum_args*) {
  return MC_UNSUPPORTED;
}
#endif

}  // extern "C"
