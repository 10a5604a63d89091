// The implementation under test, as a table of the C ABI's entry points (kernels.h), resolved
// from a shared library with dlopen/dlsym: an implementation that lives elsewhere (--impl PATH or
// $MOECHECK_IMPL: a PyTorch custom op's library, say), or by default the built-in kernels,
// libmoecheck_kernels.so of this build. The GPU testbed does not link the kernels, so the
// built-in kernels are checked through exactly the path a plugin takes, and every GPU suite calls
// kernels only through this table.
#pragma once

#include <stdexcept>
#include <string>

#include "moecheck/kernels.h"

namespace moecheck {

struct KernelApi {
  std::string path;      // the library the symbols came from, as the dynamic loader resolved it
  bool builtin = false;  // the default library of this build (no --impl, no $MOECHECK_IMPL)
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

// A library that cannot serve as the implementation; the message names the library and, where
// one is at fault, the symbol.
struct ImplementationError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Where the built-in kernels of this build are (libmoecheck_kernels.so in the build tree, or in
// the bundle this binary was unpacked from: suites/catalog/bundle_paths.hpp).
const char* builtin_implementation_path();

// Loads the implementation once per process, before any case runs: `path` ("" for the built-in
// library). Every one of the C ABI's symbols must resolve and mc_abi_version() must equal
// MC_ABI_VERSION; otherwise throws ImplementationError (no fallback to the built-in kernels).
// A path without '/' is looked up like any library (LD_LIBRARY_PATH, ...). Once loaded, later
// calls return that implementation whatever they ask: one process runs one implementation.
const KernelApi& load_kernel_api(const std::string& path);

// The implementation the GPU suites run: the one load_kernel_api() loaded (the testbed's main
// loads it at start-up); loads the built-in library when nothing was loaded yet.
const KernelApi& kernel_api();

// A second implementation beside the process's own (moecheck_bench --against): `path` ("" for
// the built-in library) loaded and checked like load_kernel_api's, but not made the one
// kernel_api() returns. It stays loaded until exit. The loader hands back the library already
// open for the same file, so the same path twice gives the same kernels.
KernelApi open_kernel_api(const std::string& path);

// How a log names an implementation: "<mc_implementation_name()> from <library path>".
std::string describe(const KernelApi& api);

const char* to_string(mc_status s);

}  // namespace moecheck
