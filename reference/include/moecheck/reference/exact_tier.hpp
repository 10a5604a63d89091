// Exact-tier inputs (DESIGN.md section 5): every product and partial sum is exact in fp32 and every
// result representable in the output dtype, so a kernel must match the reference bit for bit.
//
// The guarantee holds by construction, for any K and any draw of the seed:
//
// - Weights (exact_weights). q is uniform over 0..15, drawn as a fresh random permutation of
//   0..15 for every 16 consecutive entries of the flat [E][N][K] array: every nibble value occurs
//   (once E*N*K >= 16) and the 8 nibbles of any packed word are distinct, so any nibble-order
//   mixup changes q. Zeros are 8 when symmetric; otherwise drawn the same way from 1..15 (15
//   consecutive groups form a permutation), never 0, because GPTQ v1 kernels read the stored
//   form of z = 0 as 16 (formats.hpp). So |q - z| <= kQmax = 15. Scales are 2^e, e in
//   [emin, 0], 1 - emin consecutive groups cycling through a permutation of the exponents, so
//   neighbouring groups mostly differ and a scale-group off-by-one changes results.
// - Activations (exact_activations). Each row has exactly `nnz` nonzero elements, integers a
//   with 1 <= |a| <= amax and random sign, everything else +0. Positions come from one seeded
//   permutation P of 0..K-1: row t uses P[(t*nnz + i) mod K] for i < nnz, so any
//   exact_rows_to_cover(K) consecutive rows exercise every k (every nibble of every word).
//
// Then every term a * (q - z) * s is an integer multiple of 2^emin, and every partial sum, in
// any order, is m * 2^emin with |m| <= B = nnz * amax * kQmax * 2^-emin. The bounds keep
// B <= 2^p (p = 8 significant bits for bf16, 11 for fp16), so m is an integer of at most p
// significant bits: exact in fp32 (p < 24) and in the output dtype, whatever K is.
//
// Routing weights are 0.5, 1 or 2 (exact_routing_weights). Multiplying one result by a power of
// two only moves its exponent, so it stays exact (results stay far inside the normal range:
// 2^(emin-1) <= |c| <= 2^(p+1) with emin >= -2). A sum of `fan_in` results, each times a routing
// weight (moe_sum, or output_topk's fused reduction), is a multiple of 2^(emin-1) of magnitude at
// most fan_in * 2B * 2^emin, so it stays exact when 4 * fan_in * B <= 2^p: exact_tier_bounds
// budgets for that when fan_in > 1. Activations scaled by a routing weight on input
// (apply_router_weight_on_input) are again small integers times a power of two: exact likewise.
#pragma once

#include <cstdint>
#include <vector>

#include "moecheck/reference/activations.hpp"
#include "moecheck/reference/weights.hpp"

namespace moecheck {

struct ExactTierBounds {
  static constexpr int kQmax = 15;  // |q - z| <= 15: q in 0..15, z in zero_min..15 (or 8)
  int amax = 1;                     // nonzero activations are integers with 1 <= |a| <= amax
  int emin = 0;                     // scales in {2^emin, ..., 2^0}
  int64_t nnz = 1;                  // nonzero activations per row (<= K)
  int64_t fan_in = 1;               // how many routing-weighted results may be summed exactly
  // Asymmetric zeros are drawn from zero_min..15: 1 by default, so that a GPTQ v1 kernel (which
  // reads stored 15 as z = 16, formats.hpp) sees the same zeros; 0 for cases that ask for z = 0
  // (the catalog's zeros_include_0). exact_weights rejects anything else.
  int zero_min = 1;
};

// Bounds that keep every result of a length-K dot product (and every sum of `fan_in` of them,
// each times a routing weight) exactly representable in `dtype`. Prefers, in order, (amax, emin)
// = (2, -2), (1, -2), (1, -1) for fp16 and (1, -1) for bf16, taking the first that allows at
// least 4 nonzeros per row, else the one allowing most; only when none allows one nonzero does it
// fall back to (1, 0) (all scales 1: scale-group bugs then go unnoticed). nnz is as large as the
// budget allows, at most K. fan_in = 1: bf16 (1, -1) nnz 8; fp16 (2, -2) nnz 17.
// Throws InputError when k < 1, fan_in < 1, or fan_in is too large for any exact tier.
ExactTierBounds exact_tier_bounds(int64_t k, DType dtype, int64_t fan_in = 1);

// Rows needed so that every k position holds a nonzero activation in some row: ceil(K / nnz).
int64_t exact_rows_to_cover(int64_t k, const ExactTierBounds& b);

// Activations [rows, K] with row stride lda (padding poisoned, see Activations::zeros), as
// described above. Throws InputError for bad sizes or bounds (nnz outside 1..K, amax < 1).
Activations exact_activations(DType dtype, int64_t rows, int64_t k, int64_t lda,
                              const ExactTierBounds& b, uint64_t seed);
// Weights as described above. Throws InputError for a bad shape or emin outside [-14, 0].
QuantWeights exact_weights(const WeightShape& s, DType dtype, bool symmetric,
                           const ExactTierBounds& b, uint64_t seed);

// True when v is finite and exactly equal to a value of `t` (subnormals included).
bool exactly_representable(double v, DType t);

// n routing weights, each 0.5, 1 or 2, seeded. Throws InputError when n < 0.
std::vector<float> exact_routing_weights(int64_t n, uint64_t seed);

}  // namespace moecheck
