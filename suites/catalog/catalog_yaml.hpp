// The catalog loader's building blocks, shared by every file it reads (case files and
// cases/known_bugs.yaml) so that all of them parse keys alike and fail alike, with
// "<file>:<line>:<col>: <key>: <problem>". Internal to suites/catalog/.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

#include "case.hpp"

namespace moecheck {

// Sets one case key (the keys of a sweep, except `model`) from its YAML value; throws
// CatalogError for an unknown key or a bad value.
void apply_case_key(Case& c, const std::string& file, const std::string& key,
                    const YAML::Node& value);

// Throws CatalogError at the node's position.
[[noreturn]] void catalog_fail(const std::string& file, const YAML::Node& at,
                               const std::string& key, const std::string& what);

// YAML::Load with a parse error turned into a CatalogError at its position.
YAML::Node parse_catalog_yaml(const std::string& text, const std::string& file);

}  // namespace moecheck
