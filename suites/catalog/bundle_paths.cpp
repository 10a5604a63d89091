#include "bundle_paths.hpp"

#include <fstream>
#include <system_error>

namespace moecheck {

namespace {

bool is_bundle_root(const std::filesystem::path& dir) {
  std::ifstream marker(dir / kBundleMarker);
  std::string first;
  return marker && std::getline(marker, first) && first.rfind("moecheck bundle", 0) == 0;
}

}  // namespace

std::optional<std::filesystem::path> bundle_root() {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::canonical("/proc/self/exe", ec);
  if (ec) return std::nullopt;
  std::filesystem::path dir = exe.parent_path();
  // Bundled binaries sit at most three folders below the root (suites/cpu/moecheck_cpu_tests).
  for (int up = 0; up <= 3 && !dir.empty(); ++up) {
    if (is_bundle_root(dir)) return dir;
    if (dir == dir.root_path()) break;
    dir = dir.parent_path();
  }
  return std::nullopt;
}

std::string bundle_path_or(const std::string& relative, const std::string& built_in) {
  const auto root = bundle_root();
  return root ? (*root / relative).string() : built_in;
}

}  // namespace moecheck
