// Command-line options shared by every testbed binary, read before GoogleTest's own flags.
#pragma once

#include <string>

namespace moecheck {

struct TestbedOptions {
  std::string catalog_dir;   // --catalog DIR, or $MOECHECK_CATALOG, or the source tree's cases/
  std::string ctest_file;    // --moecheck-ctest-file FILE: write one ctest entry per case, exit
  bool require_gpu = false;  // --require-gpu or MOECHECK_REQUIRE_GPU=1: no device is a failure
  std::string require_arch;  // --require-arch ARCH or MOECHECK_REQUIRE_ARCH: another arch fails
};

// The testbed's options as the process was started with them (set once by main).
const TestbedOptions& testbed_options();

}  // namespace moecheck
