// The case catalog (DESIGN.md section 7): cases/models.yaml (real MoE layers) plus every other
// cases/**/*.yaml file of sweeps, expanded into Cases. Errors name file, line and key.
#pragma once

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "case.hpp"
#include "known_bugs.hpp"

namespace moecheck {

struct CatalogError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Model {
  std::string name;   // identifier used in case names, e.g. qwen3_30b_a3b
  std::string hf_id;  // where the shape comes from, e.g. Qwen/Qwen3-30B-A3B
  int64_t experts = 0;
  int64_t top_k = 0;
  int64_t hidden = 0;
  int64_t inter = 0;            // moe_intermediate_size
  std::vector<int64_t> groups;  // group sizes its W4A16 checkpoints ship
};

struct Catalog {
  std::vector<Model> models;
  std::vector<Case> cases;           // expanded, de-duplicated by (suite, name), in file order
  std::vector<KnownBug> known_bugs;  // dir/known_bugs.yaml, when present
};

// Loads dir/models.yaml, every other *.yaml below dir (sorted by path) as sweeps, and
// dir/known_bugs.yaml as known bugs.
// Throws CatalogError "<file>:<line>:<column>: <key>: <problem>".
Catalog load_catalog(const std::filesystem::path& dir);

// Parses one sweeps file's text (exposed for the loader's own tests).
std::vector<Case> load_sweeps(const std::string& text, const std::string& file,
                              const std::vector<Model>& models);
std::vector<Model> load_models(const std::string& text, const std::string& file);

// The keys a case may set in a sweep (fixed, grid, zip), "model" among them: one per parameter
// of Case that the catalog can vary (routing_seed is routing.seed).
std::vector<std::string> case_keys();

// `block_m: auto` in a tiled-family sweep: the block_m the tiled kernel runs fastest with for
// `routes` (tokens x top_k) spread over `experts`, by the expected routes per expert r = routes /
// experts: 16 when r < 16, 32 when r < 32, else 64. Small blocks waste fewer padded slots when an
// expert gets few routes; large ones reuse each dequantised weight over more rows. Measured on an
// H200 over every model at T = 512 and 4096 (kernels/README.md: 64 fastest from 32 routes per
// expert up, 32 at 16, 16 at 10).
int64_t preferred_tiled_block_m(int64_t routes, int64_t experts);

// The suites the catalog may name; a case naming another suite is an error.
const std::vector<std::string>& known_suites();

}  // namespace moecheck
