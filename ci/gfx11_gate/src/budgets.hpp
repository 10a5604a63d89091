// The budget table (ci/gfx11_gate/budgets.yaml): the limits every kernel is held to, and per
// kernel (matched by name pattern) its VGPR budget and which instructions it must contain.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace moecheck::gate {

struct KernelBudget {
  std::string match;       // glob (fnmatch) on the short kernel name, "tiled_gemm_kernel<*, 64>"
  int64_t vgpr_max = 0;    // .vgpr_count must not exceed it
  bool wmma = false;       // v_wmma_* required
  bool load_b128 = false;  // a 16-byte global load required
  std::string why;         // optional note printed with a violation
};

struct Budgets {
  std::string file;
  int64_t lds_max_bytes = 0;   // .group_segment_fixed_size limit (gfx11: 64 KiB per work-group)
  int64_t wavefront_size = 0;  // the only wave size allowed (gfx11 kernels here: 32)
  std::vector<KernelBudget> kernels;  // first match wins

  // The first entry whose pattern matches `short_name`, or nullptr.
  const KernelBudget* find(const std::string& short_name) const;
};

// Reads and validates budgets.yaml. Throws GateError "<file>:<line>:<col>: <key>: <problem>" for
// a missing or malformed field and for unknown keys (a misspelt key must not silently drop a rule).
Budgets load_budgets(const std::string& file);

}  // namespace moecheck::gate
