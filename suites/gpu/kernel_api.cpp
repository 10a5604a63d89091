#include "kernel_api.hpp"

#include <dlfcn.h>

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bundle_paths.hpp"

#if !defined(MOECHECK_BUILTIN_IMPL) || !defined(MOECHECK_BUILTIN_IMPL_IN_BUNDLE)
#error \
    "MOECHECK_BUILTIN_IMPL(_IN_BUNDLE) must name the built-in kernels (suites/gpu/CMakeLists.txt)"
#endif

namespace moecheck {

namespace {

// The implementation of this process: loaded once, kept loaded until exit (device code and the
// runtime's registrations live in it).
std::mutex g_mutex;
std::unique_ptr<KernelApi> g_api;

// One C ABI symbol into its slot of the table; a missing one is remembered, so that the error
// names every symbol the library lacks at once.
template <class Fn>
void resolve(void* lib, const char* symbol, Fn& slot, std::vector<std::string>& missing) {
  void* p = dlsym(lib, symbol);
  if (p == nullptr) {
    missing.push_back(symbol);
    return;
  }
  slot = reinterpret_cast<Fn>(p);
}

KernelApi open_library(const std::string& file, bool builtin) {
  const std::string what =
      std::string(builtin ? "built-in implementation " : "implementation ") + file;
  // RTLD_NOW: a library with an unresolved dependency fails here, with the loader's message,
  // instead of at its first launch. RTLD_LOCAL: its symbols stay out of the global namespace.
  void* lib = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* why = dlerror();
    throw ImplementationError(
        what + ": cannot load: " + (why ? why : "dlopen failed") +
        (builtin ? " (build the moecheck_kernels target, or pass --impl)" : ""));
  }
  KernelApi api{};
  api.builtin = builtin;
  std::vector<std::string> missing;
  resolve(lib, "mc_abi_version", api.abi_version, missing);
  resolve(lib, "mc_implementation_name", api.implementation_name, missing);
  resolve(lib, "mc_align_workspace_bytes", api.align_workspace_bytes, missing);
  resolve(lib, "mc_supports_align", api.supports_align, missing);
  resolve(lib, "mc_align", api.align, missing);
  resolve(lib, "mc_supports_tiled_gemm", api.supports_tiled_gemm, missing);
  resolve(lib, "mc_tiled_gemm", api.tiled_gemm, missing);
  resolve(lib, "mc_fused_workspace_bytes", api.fused_workspace_bytes, missing);
  resolve(lib, "mc_supports_fused_gemm", api.supports_fused_gemm, missing);
  resolve(lib, "mc_fused_gemm", api.fused_gemm, missing);
  resolve(lib, "mc_supports_silu_and_mul", api.supports_silu_and_mul, missing);
  resolve(lib, "mc_silu_and_mul", api.silu_and_mul, missing);
  resolve(lib, "mc_supports_moe_sum", api.supports_moe_sum, missing);
  resolve(lib, "mc_moe_sum", api.moe_sum, missing);
  constexpr int kSymbols = 14;

  // The version first: a library of another ABI may well lack symbols because of it.
  if (api.abi_version != nullptr && api.abi_version() != MC_ABI_VERSION) {
    const int version = api.abi_version();
    dlclose(lib);
    throw ImplementationError(what + ": mc_abi_version() returns " + std::to_string(version) +
                              ", this testbed speaks MC_ABI_VERSION " +
                              std::to_string(MC_ABI_VERSION) + " (moecheck/kernels.h)");
  }
  if (!missing.empty()) {
    std::string list;
    for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
    dlclose(lib);
    throw ImplementationError(what + ": missing symbol" + (missing.size() > 1 ? "s " : " ") + list +
                              " (" + std::to_string(missing.size()) + " of the " +
                              std::to_string(kSymbols) +
                              " of the C ABI in moecheck/kernels.h; are they extern \"C\" and "
                              "exported?)");
  }
  // The file the loader actually opened (a bare name is searched for), absolute: the path that
  // is printed, so that a log says which build of a library ran.
  Dl_info info{};
  api.path = dladdr(dlsym(lib, "mc_abi_version"), &info) != 0 && info.dli_fname != nullptr
                 ? info.dli_fname
                 : file;
  std::error_code ec;
  const std::filesystem::path absolute = std::filesystem::weakly_canonical(api.path, ec);
  if (!ec) api.path = absolute.string();
  return api;
}

}  // namespace

const char* builtin_implementation_path() {
  // A bundle (ci/bundle/) carries the library at the same place relative to its root as the
  // build tree: MOECHECK_BUILTIN_IMPL_IN_BUNDLE, e.g. kernels/libmoecheck_kernels.so.
  static const std::string path =
      bundle_path_or(MOECHECK_BUILTIN_IMPL_IN_BUNDLE, MOECHECK_BUILTIN_IMPL);
  return path.c_str();
}

const KernelApi& load_kernel_api(const std::string& path) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (!g_api) g_api = std::make_unique<KernelApi>(open_kernel_api(path));
  return *g_api;
}

const KernelApi& kernel_api() {
  return load_kernel_api("");
}

std::string describe(const KernelApi& api) {
  return std::string(api.implementation_name()) + " from " + api.path;
}

KernelApi open_kernel_api(const std::string& path) {
  const bool builtin = path.empty();
  return open_library(builtin ? builtin_implementation_path() : path, builtin);
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
