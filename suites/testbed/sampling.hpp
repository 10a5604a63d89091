// Big cases (prefill at T = 4096, the 2^31-element case) are verified on a sample of tokens:
// every route of a token is computed independently of the other tokens, so the reference can
// run on a sub-problem made of the sampled tokens alone and be compared against those tokens'
// rows of the full GPU run. The sample is seeded and always holds the first and last tokens.
#pragma once

#include <cstdint>
#include <vector>

#include "moecheck/reference/activations.hpp"
#include "moecheck/reference/routing.hpp"

namespace moecheck {

// Every token when tokens <= max_all, else `count` tokens: the first, the last and a seeded
// choice of the others, ascending.
std::vector<int64_t> sample_tokens(int64_t tokens, uint64_t seed, int64_t max_all = 256,
                                   int64_t count = 64);

// The routing of the sampled tokens only (same experts and expert map).
Routing restrict_routing(const Routing& r, const std::vector<int64_t>& tokens);

// The flat route ids (rows of a compact GEMM output) of the sampled tokens, in order.
std::vector<int64_t> route_rows(const std::vector<int64_t>& tokens, int64_t top_k);

// The given rows of an activation matrix, in order (lda kept).
Activations restrict_rows(const Activations& a, const std::vector<int64_t>& rows);

}  // namespace moecheck
