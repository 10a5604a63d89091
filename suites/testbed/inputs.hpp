// Step two of the data flow: a case becomes inputs. Every testbed (CPU and GPU) and the bench
// build their inputs here, so one case means the same numbers everywhere.
#pragma once

#include <cstdint>

#include "case.hpp"
#include "moecheck/reference/activations.hpp"
#include "moecheck/reference/exact_tier.hpp"
#include "moecheck/reference/layer.hpp"
#include "moecheck/reference/routing.hpp"
#include "moecheck/reference/weights.hpp"

namespace moecheck {

// The routing the case names (generator, seed), with exact-tier routing weights (powers of two)
// when the case is exact.
Routing make_routing(const Case& c);

// The weight shape of one GEMM stage (gemm1 or gemm2) for the routing's local experts.
WeightShape gemm_weight_shape(const Case& c, const Routing& r);

// The exact tier's bounds for the case's dot products of length k summed fan_in at a time
// (reference exact_tier_bounds), with the zeros the case asks for: 0..15 with zeros_include_0,
// else 1..15.
ExactTierBounds case_exact_bounds(const Case& c, int64_t k, int64_t fan_in = 1);

// Weights: realistic (quantised Gaussians) or exact-tier; symmetric or not, per the case.
// `salt` separates the two weight tensors of one layer.
QuantWeights make_weights(const Case& c, const WeightShape& s, uint64_t salt = 0);

// Activations [rows, k] with lda = k + pad_lda: realistic (N(0, 1) rounded) or exact-tier.
Activations make_activations(const Case& c, int64_t rows, int64_t k, uint64_t salt = 0);

// Real models have up to 512 experts of up to 14336 x 4096 weights, of which a decode step
// touches a few: a case builds weights only for the experts its routing reaches. `compact` maps
// each reached local expert to a dense id; the returned routing is the case's routing with an
// expert map (global id -> compact id, -1 for the rest) that computes exactly the same routes.
// Kernels are given the case's own routing and full-size weight buffers in which the unreached
// experts stay poisoned (suites/gpu).
struct ExpertSubset {
  int64_t local_experts = 0;              // experts of the full weight tensor
  std::vector<int32_t> local_of_compact;  // [compact count] -> local expert id
  Routing routing;                        // the routing the reference uses (compact ids)
  int64_t count() const { return static_cast<int64_t>(local_of_compact.size()); }
};
ExpertSubset reached_experts(const Routing& r);

// One routed GEMM stage of a case (stage gemm1 or gemm2): its input, weights and routing.
struct GemmProblem {
  Routing routing;       // as the case names it: what kernels are given
  ExpertSubset experts;  // the reached experts; experts.routing indexes `w`
  Activations a;         // gemm1: [T, K]; gemm2: [numel, K]
  int64_t a_route_div;   // top_k for gemm1, 1 for gemm2
  QuantWeights w;        // [experts.count(), N, K]
  bool mul_routed_weight;
};
GemmProblem make_gemm_problem(const Case& c);

// The whole layer of a case, on the reached experts: problem.routing has compact ids (as
// ExpertSubset::routing), `experts` says where each compact expert lives in the full tensors.
struct LayerCase {
  LayerProblem problem;
  Routing routing;  // as the case names it: what kernels are given
  ExpertSubset experts;
};
LayerCase make_layer_case(const Case& c);

// The tolerance of a case's outputs (dtype, exact tier).
Tolerance case_tolerance(const Case& c);

}  // namespace moecheck
