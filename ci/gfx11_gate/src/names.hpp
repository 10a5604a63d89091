// Kernel names as people read them: "tiled_gemm_kernel<Bf16, 64>" for
// _ZN2mc12_GLOBAL__N_117tiled_gemm_kernelINS_4Bf16ELi64EEEvNS0_11TiledParamsE. Budgets match
// on this short form, which stays stable when a parameter type or namespace changes.
#pragma once

#include <string>

namespace moecheck::gate {

// The demangled name (the input itself when it is not an Itanium-mangled name, e.g. extern "C").
std::string demangle(const std::string& mangled);

// Demangled, with namespace qualifiers, the return type and the parameter list removed.
std::string short_kernel_name(const std::string& mangled);

}  // namespace moecheck::gate
