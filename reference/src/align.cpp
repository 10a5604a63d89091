// moe_align_block_size on the CPU (DESIGN.md section 3): a counting sort of the flat route ids
// by expert. Visiting the routes in ascending flat id makes it stable, so the reference's order
// inside an expert is defined even though the contract leaves it open for GPU versions.

#include "moecheck/reference/align.hpp"

#include <limits>
#include <string>

#include "moecheck/reference/error.hpp"

namespace moecheck {

int64_t max_padded_length(int64_t numel, int64_t experts, int64_t block_m) {
  const auto s = [](int64_t v) { return std::to_string(v); };
  if (numel < 0) throw InputError("max_padded_length: numel = " + s(numel) + " must be >= 0");
  if (experts < 1) throw InputError("max_padded_length: experts = " + s(experts) + " must be >= 1");
  if (block_m < 1) throw InputError("max_padded_length: block_m = " + s(block_m) + " must be >= 1");
  // Keep numel + experts * (block_m - 1) + (block_m - 1) inside int64.
  const int64_t room = std::numeric_limits<int64_t>::max() - numel - block_m;
  if (block_m - 1 > room / experts)
    throw InputError("max_padded_length: numel = " + s(numel) + ", experts = " + s(experts) +
                     ", block_m = " + s(block_m) + " overflow int64");
  const int64_t worst = numel + experts * (block_m - 1);  // each expert pads < block_m slots
  return (worst + block_m - 1) / block_m * block_m;
}

Alignment align_block_size(const Routing& r, int64_t block_m) {
  if (block_m < 1)
    throw InputError("align_block_size: block_m = " + std::to_string(block_m) + " must be >= 1");
  validate(r);  // ids in [0, E), sizes, expert_map
  const int64_t numel = r.numel();
  const int64_t length = max_padded_length(numel, r.experts, block_m);
  // sorted_token_ids are int32 and hold numel as the sentinel.
  if (length > std::numeric_limits<int32_t>::max())
    throw InputError(
        "align_block_size: max padded length " + std::to_string(length) +
        " (numel = " + std::to_string(numel) + ", experts = " + std::to_string(r.experts) +
        ", block_m = " + std::to_string(block_m) + ") exceeds the int32 range of sorted_token_ids");

  const auto experts = static_cast<size_t>(r.experts);
  std::vector<int64_t> count(experts, 0);
  for (const int32_t e : r.ids) ++count[static_cast<size_t>(e)];

  // Expert e's range starts at the prefix sum of the padded counts; an expert without routes
  // pads to 0 slots and so gets no block.
  std::vector<int64_t> next(experts);  // next free slot of each expert
  int64_t end = 0;
  for (size_t e = 0; e < experts; ++e) {
    next[e] = end;
    end += (count[e] + block_m - 1) / block_m * block_m;
  }

  Alignment a;
  a.block_m = block_m;
  a.sorted_token_ids.assign(static_cast<size_t>(length), static_cast<int32_t>(numel));
  a.expert_ids.assign(static_cast<size_t>(length / block_m), -1);
  a.num_tokens_post_padded = static_cast<int32_t>(end);
  for (int64_t i = 0; i < numel; ++i)
    a.sorted_token_ids[static_cast<size_t>(
        next[static_cast<size_t>(r.ids[static_cast<size_t>(i)])]++)] = static_cast<int32_t>(i);

  // Each block carries its expert, or with an expert_map the local id (-1 for a non-local
  // expert: its slots still hold its routes, as in the global alignment, but nobody computes
  // them). Blocks past num_tokens_post_padded keep -1.
  int64_t block = 0;
  for (size_t e = 0; e < experts; ++e) {
    const int32_t id = r.expert_map.empty() ? static_cast<int32_t>(e) : r.expert_map[e];
    for (int64_t b = 0; b < (count[e] + block_m - 1) / block_m; ++b)
      a.expert_ids[static_cast<size_t>(block++)] = id;
  }
  return a;
}

}  // namespace moecheck
