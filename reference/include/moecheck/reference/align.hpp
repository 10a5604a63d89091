// moe_align_block_size (DESIGN.md section 3): groups the flat route ids by expert, each
// expert's range padded to a multiple of block_m with the sentinel numel.
#pragma once

#include <cstdint>
#include <vector>

#include "moecheck/reference/routing.hpp"

namespace moecheck {

struct Alignment {
  int64_t block_m = 0;
  std::vector<int32_t> sorted_token_ids;  // [max_padded]
  std::vector<int32_t> expert_ids;        // [max_padded / block_m]; -1 past the end / non-local
  int32_t num_tokens_post_padded = 0;
  int64_t num_blocks() const { return num_tokens_post_padded / block_m; }
};

// numel + E * (block_m - 1), rounded up to a multiple of block_m: every expert pads fewer than
// block_m slots. Throws InputError for numel < 0, experts < 1, block_m < 1 or int64 overflow.
int64_t max_padded_length(int64_t numel, int64_t experts, int64_t block_m);

// Stable (ascending flat id inside each expert). With an expert_map, each block carries the local
// id expert_map[e], so non-local experts' blocks carry -1 (their slots still hold their route ids,
// and no kernel computes them).
// The sentinel is numel; blocks past num_tokens_post_padded / block_m carry -1.
// Throws InputError for ids outside [0, E) (anything validate() rejects), block_m < 1, or a
// max padded length beyond the int32 range of sorted_token_ids.
Alignment align_block_size(const Routing& r, int64_t block_m);

}  // namespace moecheck
