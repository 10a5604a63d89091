// Command-line options shared by every testbed binary, read before GoogleTest's own flags.
#pragma once

#include <string>

namespace moecheck {

struct TestbedOptions {
  std::string catalog_dir;   // --catalog DIR, or $MOECHECK_CATALOG, or the source tree's cases/
  std::string ctest_file;    // --moecheck-ctest-file FILE: write one ctest entry per case, exit
  bool require_gpu = false;  // --require-gpu or MOECHECK_REQUIRE_GPU=1: no device is a failure
  std::string require_arch;  // --require-arch ARCH or MOECHECK_REQUIRE_ARCH: another arch fails
  // --impl PATH or MOECHECK_IMPL: the library the GPU testbed runs (suites/gpu/kernel_api.hpp);
  // "" for the built-in kernels
  std::string impl;
  bool device_info = false;  // --moecheck-device-info: print implementation, device, arch; exit
  // --dump-failures DIR or MOECHECK_DUMP_FAILURES: failing cases' inputs and outputs go to
  // DIR/<suite>.<name>/ (failures.hpp)
  std::string dump_failures;
};

// The testbed's options as the process was started with them (set once by main).
const TestbedOptions& testbed_options();
void set_testbed_options(const TestbedOptions& o);

}  // namespace moecheck
