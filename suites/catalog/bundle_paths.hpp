// Paths of a relocatable bundle (`cmake --build <build> --target bundle`, ci/bundle/): a binary
// unpacked from one finds the bundle it runs from, wherever that folder was moved, by the marker
// file MOECHECK_BUNDLE at the bundle's root, and takes its defaults (the catalog, the built-in
// kernels) from there. A binary in its build folder has no such marker above it and keeps the
// paths compiled into it (the source tree's cases/, the build's libmoecheck_kernels.so).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace moecheck {

// The file at the root of every bundle; its first line starts with "moecheck bundle".
inline constexpr const char* kBundleMarker = "MOECHECK_BUNDLE";

// The root of the bundle this executable was unpacked from: the folder of /proc/self/exe or one
// of its three nearest parents that holds the marker. nullopt outside a bundle.
std::optional<std::filesystem::path> bundle_root();

// `relative` inside the bundle this executable runs from, or `built_in` outside a bundle.
std::string bundle_path_or(const std::string& relative, const std::string& built_in);

}  // namespace moecheck
