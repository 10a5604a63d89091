// The MoE layer reference (DESIGN.md section 4), in double with Eigen: per expert, gather its
// rows, multiply them by its dequantised weights, scatter (by slices of columns on worker
// threads, parallel.hpp). Every GEMM output carries, beside its value, the magnitude
// M = sum_k |a_k| |w_k| the tolerance model needs, and which rows the contract writes.
#pragma once

#include <cstdint>
#include <vector>

#include "moecheck/reference/activations.hpp"
#include "moecheck/reference/align.hpp"
#include "moecheck/reference/routing.hpp"
#include "moecheck/reference/weights.hpp"

namespace moecheck {

// A reference result [rows, cols], row-major. `bound_extra` is the error already carried by the
// inputs of a chained stage (DESIGN.md section 5, see tolerance.hpp); zero for a stage whose
// inputs are exact. `written[r]` says whether the contract writes row r (others keep poison).
struct RefOutput {
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t k = 0;                    // fp32 operations behind each element (gamma_K)
  bool weight_rounding = true;      // the u_w term applies (the stage multiplies by weights)
  std::vector<double> value;        // rows * cols
  std::vector<double> magnitude;    // rows * cols, M
  std::vector<double> bound_extra;  // rows * cols, propagated input error (absolute)
  std::vector<uint8_t> written;     // rows
  double& at(int64_t r, int64_t c) { return value[r * cols + c]; }
  double at(int64_t r, int64_t c) const { return value[r * cols + c]; }
};

struct GemmOptions {
  bool mul_routed_weight = false;
};

// gemm1: C1[id, :] = A[id / top_k, :] . W1[e]^T, A [T, K], output [numel, N1] compact by flat id.
// gemm2: C2[id, :] = act[id, :] . W2[e]^T, act [numel, K].
// Both: for every block with expert_ids[b] >= 0 and every slot id < numel, times
// topk_weights[id] when mul_routed_weight. `a_route_div` is top_k for gemm1 and 1 for gemm2.
// Only experts named by valid blocks are dequantised. `a_extra` (optional, [rows of a, K]) is the
// absolute error bound of each input element, propagated into bound_extra as |W| . a_extra.
RefOutput routed_gemm(const Activations& a, int64_t a_route_div, const QuantWeights& w,
                      const Routing& r, const Alignment& al, const GemmOptions& opt,
                      const std::vector<double>* a_extra = nullptr);

// Rows the given routing and alignment let a kernel write: flat ids in valid blocks.
std::vector<uint8_t> computed_routes(const Routing& r, const Alignment& al);

// act[i, c] = silu(x[i, c]) * x[i, I + c] for rows marked in x.written (others not written),
// computed from x's values (in double) and propagating x's absolute bound (value error +
// bound_extra of x) through the activation's derivative into bound_extra.
// `x_bound` [rows * 2I] is the absolute error bound of each input (see tolerance.hpp).
RefOutput silu_and_mul(const RefOutput& x, const std::vector<double>& x_bound);

// out[t, :] = sum_j x[t * top_k + j, :] over routes marked in x.written; magnitude and extra
// bound summed likewise. Rows of routes not written (non-local experts) contribute nothing.
RefOutput moe_sum(const RefOutput& x, int64_t top_k, const std::vector<double>& x_bound);

// Scales the activations by the routing weight of each route (apply_router_weight_on_input):
// returns A' [numel, K] with A'[i] = A[i / top_k] * topk_weights[i], rounded to A's dtype
// as a kernel that applies the weight on its input would.
Activations apply_router_weight_on_input(const Activations& a, const Routing& r);

// Given inputs as a reference result (exact values, no magnitude, every row written): the input
// of a stage fed with given values (act, sum).
RefOutput given_values(const Activations& x);

// Activations from a reference result, rounded to `dtype` (a chained stage's input).
Activations to_activations(const RefOutput& x, DType dtype);

}  // namespace moecheck
