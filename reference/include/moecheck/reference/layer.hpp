// The whole MoE layer end to end (DESIGN.md section 4): align, gemm1, silu_and_mul, gemm2,
// moe_sum, with the tolerance of each stage composed into the next (tolerance.hpp):
//   c1 bound  -> input error of the activation (through silu's slope)
//   act bound, plus the reference's own rounding of act to the dtype -> input error of gemm2
//              (through |W2|)
//   c2 bound  -> summed by moe_sum.
// The reference feeds each stage the previous stage's reference value rounded to the dtype, as a
// kernel chain does; every difference between that and what a kernel sees is inside the bound
// carried forward.
#pragma once

#include "moecheck/reference/moe.hpp"
#include "moecheck/reference/tolerance.hpp"

namespace moecheck {

struct LayerProblem {
  Activations a;    // [T, hidden]
  QuantWeights w1;  // [local experts, 2 * inter, hidden]
  QuantWeights w2;  // [local experts, hidden, inter]
  Routing routing;
  int64_t block_m = 16;
  // The routing weight multiplies gemm1's input (A'[i] = A[i / top_k] * w[i], rounded) instead
  // of gemm2's output.
  bool apply_router_weight_on_input = false;
};

struct LayerReference {
  Alignment alignment;
  Activations gemm1_input;  // A, or A' with the routing weight applied
  int64_t gemm1_route_div = 1;
  RefOutput c1, act, c2, out;
  std::vector<double> c1_bound, act_bound, c2_bound;
  Activations act_input;  // act rounded to the dtype: gemm2's input
};

// `tol.out_dtype` and `tol.weight_dtype` are the activation dtype.
LayerReference reference_layer(const LayerProblem& p, const Tolerance& tol);

}  // namespace moecheck
