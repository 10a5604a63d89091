// Judges an implementation's alignment against the reference (DESIGN.md section 3): the padded
// count and every block's expert compare exactly; the route ids of each expert's range compare
// as a set (order inside an expert is unspecified), padding slots included, so a dropped route
// or a missing sentinel shows.
#pragma once

#include <string>
#include <vector>

#include "moecheck/reference/align.hpp"

namespace moecheck {

// "" when `got` agrees with `ref`, else the first difference, naming the block or slot.
std::string alignment_difference(const Alignment& ref, const std::vector<int32_t>& sorted,
                                 const std::vector<int32_t>& expert_ids, int32_t post_padded);

}  // namespace moecheck
