// Typed reads of YAML scalars for the gate's two YAML inputs (the code-object metadata that
// llvm-readelf prints, and budgets.yaml). Every failure is a GateError "<where>: <key>: <problem>"
// with the line and column when yaml-cpp knows them, so a missing or malformed field is named.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>

namespace moecheck::gate {

// `where` is the input ("tiled_gemm-gfx1100.o (llvm-readelf --notes)", "budgets.yaml") and the
// record inside it ("kernel #3"); it prefixes every message.
[[noreturn]] void fail_at(const std::string& where, const YAML::Node& at, const std::string& key,
                          const std::string& what);

// The child `key` of map `m`; a GateError naming the key when it is absent.
YAML::Node required(const std::string& where, const YAML::Node& m, const std::string& key);

std::string to_string(const std::string& where, const YAML::Node& n, const std::string& key);
int64_t to_uint(const std::string& where, const YAML::Node& n, const std::string& key);
bool to_bool(const std::string& where, const YAML::Node& n, const std::string& key);

}  // namespace moecheck::gate
