#include "moecheck/reference/align_compare.hpp"

#include <algorithm>

namespace moecheck {

std::string alignment_difference(const Alignment& ref, const std::vector<int32_t>& sorted,
                                 const std::vector<int32_t>& experts, int32_t post) {
  if (sorted.size() < ref.sorted_token_ids.size() || experts.size() < ref.expert_ids.size()) {
    return "the alignment buffers are shorter than the reference's";
  }
  if (post != ref.num_tokens_post_padded) {
    return "num_tokens_post_padded " + std::to_string(post) + ", reference " +
           std::to_string(ref.num_tokens_post_padded);
  }
  for (size_t b = 0; b < ref.expert_ids.size(); ++b) {
    if (experts[b] != ref.expert_ids[b]) {
      return "expert_ids[" + std::to_string(b) + "] = " + std::to_string(experts[b]) +
             ", reference " + std::to_string(ref.expert_ids[b]);
    }
  }
  const int64_t bm = ref.block_m;
  for (int64_t b = 0; b < ref.num_blocks();) {
    int64_t end = b + 1;
    while (end < ref.num_blocks() && ref.expert_ids[end] == ref.expert_ids[b]) ++end;
    std::vector<int32_t> want(ref.sorted_token_ids.begin() + b * bm,
                              ref.sorted_token_ids.begin() + end * bm);
    std::vector<int32_t> got(sorted.begin() + b * bm, sorted.begin() + end * bm);
    std::sort(want.begin(), want.end());
    std::sort(got.begin(), got.end());
    if (want != got) {
      return "the route ids of blocks " + std::to_string(b) + ".." + std::to_string(end - 1) +
             " (expert " + std::to_string(ref.expert_ids[b]) +
             ") differ from the reference's as a set";
    }
    b = end;
  }
  return "";
}

}  // namespace moecheck
