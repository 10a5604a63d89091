#include "inputs.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>

#include "moecheck/reference/exact_tier.hpp"
#include "moecheck/reference/parallel.hpp"
#include "moecheck/reference/quantize.hpp"

namespace moecheck {

namespace {

// Distinct, reproducible seeds for the tensors of one case.
uint64_t mix(uint64_t seed, uint64_t salt) {
  uint64_t z = seed * 0x9e3779b97f4a7c15ull + salt * 0xbf58476d1ce4e5b9ull + 0x94d049bb133111ebull;
  z ^= z >> 31;
  return z;
}

}  // namespace

Routing make_routing(const Case& c) {
  Routing r = generate_routing(c.routing, c.tokens, c.top_k, c.experts, c.block_m);
  if (c.exact) r.weights = exact_routing_weights(r.numel(), mix(c.routing.seed, 7));
  return r;
}

WeightShape gemm_weight_shape(const Case& c, const Routing& r) {
  WeightShape s;
  s.experts = r.local_experts();
  s.n = c.gemm_n();
  s.k = c.gemm_k();
  s.group = c.group;
  return s;
}

namespace {

// Above this many weights a layer is built from a pool of a few expert bodies (see below).
constexpr int64_t kPoolAbove = int64_t{1} << 26;
constexpr int64_t kPoolBodies = 4;

// Big layers (DeepSeek-V3's gemm1 alone has 7.5e9 weights) reuse kPoolBodies generated expert
// bodies: expert e is body e % kPoolBodies with its rows (q, scales and zeros of output row n)
// rotated by e. Generating them takes seconds instead of minutes, every expert still differs
// from every other (an expert mix-up changes the result), and the weights keep the
// distribution of the generator.
QuantWeights pooled(const WeightShape& s,
                    const std::function<QuantWeights(const WeightShape&)>& gen) {
  const int64_t bodies = std::min(s.experts, kPoolBodies);
  const QuantWeights pool = gen({bodies, s.n, s.k, s.group});
  QuantWeights w = QuantWeights::zeros_like(s, pool.dtype, pool.symmetric);
  const int64_t g = s.groups();
  parallel_for(s.experts, [&](int64_t e, int) {
    const int64_t b = e % bodies;
    for (int64_t n = 0; n < s.n; ++n) {
      const int64_t from = (n + e) % s.n;
      std::copy_n(&pool.q[pool.q_index(b, from, 0)], s.k, &w.q[w.q_index(e, n, 0)]);
      std::copy_n(&pool.scale[pool.g_index(b, from, 0)], g, &w.scale[w.g_index(e, n, 0)]);
      std::copy_n(&pool.zero[pool.g_index(b, from, 0)], g, &w.zero[w.g_index(e, n, 0)]);
    }
  });
  return w;
}

}  // namespace

ExactTierBounds case_exact_bounds(const Case& c, int64_t k, int64_t fan_in) {
  ExactTierBounds b = exact_tier_bounds(k, c.dtype, fan_in);
  b.zero_min = c.zeros_include_0 ? 0 : 1;
  return b;
}

QuantWeights make_weights(const Case& c, const WeightShape& s, uint64_t salt) {
  const uint64_t seed = mix(c.seed, 100 + salt);
  const auto gen = [&](const WeightShape& shape) {
    if (c.exact) {
      return exact_weights(shape, c.dtype, c.symmetric, case_exact_bounds(c, shape.k), seed);
    }
    return random_weights(shape, c.dtype, c.symmetric, seed);
  };
  if (s.experts * s.n * s.k > kPoolAbove && s.experts > kPoolBodies) return pooled(s, gen);
  return gen(s);
}

Activations make_activations(const Case& c, int64_t rows, int64_t k, uint64_t salt) {
  const uint64_t seed = mix(c.seed, 200 + salt);
  const int64_t lda = k + c.pad_lda;
  if (c.exact) return exact_activations(c.dtype, rows, k, lda, exact_tier_bounds(k, c.dtype), seed);
  // N(0, 1) activations, the same on every platform (quantize.hpp's seeded generator).
  Activations a = Activations::zeros(c.dtype, rows, k, lda);
  std::mt19937_64 rng = seeded_rng(seed, 0);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < k; ++i) a.set(r, i, static_cast<float>(standard_normal(rng)));
  }
  return a;
}

ExpertSubset reached_experts(const Routing& r) {
  ExpertSubset s;
  s.local_experts = r.local_experts();
  s.routing = r;
  std::vector<int32_t> compact(s.local_experts, -1);
  for (int32_t g : r.ids) {
    if (g < 0 || g >= r.experts) continue;  // validate() reports these where it matters
    const int32_t local = r.expert_map.empty() ? g : r.expert_map[g];
    if (local < 0 || compact[local] >= 0) continue;
    compact[local] = static_cast<int32_t>(s.local_of_compact.size());
    s.local_of_compact.push_back(local);
  }
  if (s.count() == s.local_experts || s.count() == 0) {
    // Every expert reached (nothing to save), or none (keep all so the weights are not empty).
    s.local_of_compact.resize(s.local_experts);
    for (int32_t i = 0; i < s.local_experts; ++i) s.local_of_compact[i] = i;
    return s;
  }
  // Keep the compact ids in local order, so compaction never reorders experts.
  std::sort(s.local_of_compact.begin(), s.local_of_compact.end());
  for (int32_t i = 0; i < s.count(); ++i) compact[s.local_of_compact[i]] = i;
  s.routing.expert_map.assign(r.experts, -1);
  for (int64_t g = 0; g < r.experts; ++g) {
    const int32_t local = r.expert_map.empty() ? static_cast<int32_t>(g) : r.expert_map[g];
    if (local >= 0) s.routing.expert_map[g] = compact[local];
  }
  return s;
}

GemmProblem make_gemm_problem(const Case& c) {
  GemmProblem p{make_routing(c), {}, {}, 1, {}, c.mul_routed_weight};
  p.experts = reached_experts(p.routing);
  const bool gemm2 = c.stage == "gemm2";
  p.a_route_div = gemm2 ? 1 : c.top_k;
  // The routing's own token count: a generator may choose T itself (block_edge).
  p.a = make_activations(c, gemm2 ? p.routing.numel() : p.routing.tokens, c.gemm_k());
  p.w = make_weights(c, gemm_weight_shape(c, p.experts.routing));
  return p;
}

LayerCase make_layer_case(const Case& c) {
  LayerCase lc;
  lc.routing = make_routing(c);
  lc.experts = reached_experts(lc.routing);
  LayerProblem& p = lc.problem;
  p.routing = lc.experts.routing;
  p.block_m = c.block_m;
  p.apply_router_weight_on_input = c.apply_router_weight_on_input;
  p.a = make_activations(c, lc.routing.tokens, c.hidden);
  const int64_t experts = lc.experts.count();
  p.w1 = make_weights(c, {experts, 2 * c.inter, c.hidden, c.group}, 1);
  p.w2 = make_weights(c, {experts, c.hidden, c.inter, c.group}, 2);
  return lc;
}

Tolerance case_tolerance(const Case& c) {
  Tolerance t;
  t.weight_dtype = c.dtype;
  t.out_dtype = c.dtype;
  t.exact = c.exact;
  return t;
}

}  // namespace moecheck
