// A per-group quantiser from float weights, so cases can use realistic weights, and the seeded
// weight generators the testbed uses, with the small seeded-random toolkit they share.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "moecheck/reference/weights.hpp"

namespace moecheck {

// w: [E][N][K] floats, quantised per group of G consecutive k:
// - Symmetric: z = 8, s = max|w| / 7.5 rounded to dtype.
// - Asymmetric: s = (hi - lo) / 15 rounded to dtype, z = clamp(round(-lo / s), 0, 15), with
//   lo = min(min w, 0) and hi = max(max w, 0). Widening the range to include 0 (as GPTQ does)
//   keeps q inside 0..15 for groups of one sign and gives a constant group a nonzero range.
// Then q = clamp(round(w / s) + z, 0, 15). Rounding is to nearest, ties to even.
// s is never 0: a scale below the dtype's smallest normal (an all-zero group, say) becomes that
// smallest normal, so kernels that flush subnormals see the same scale.
// Throws InputError for a bad shape, a length mismatch, a non-finite w, or a scale that
// overflows the dtype.
QuantWeights quantize(const std::vector<float>& w, const WeightShape& s, DType dtype,
                      bool symmetric);

// Realistic weights: Gaussian floats (mean 0, std 0.02, like a trained projection) quantised per
// group as above. Each row (e, n) is drawn from a stream of its own (SplitMix64 seeded by `seed`
// and the row, Gaussian by Marsaglia's polar method), so rows are generated in parallel
// (parallel.hpp) and the weights do not depend on the number of threads; memory stays O(K) per
// thread beyond the result. Deterministic wherever std::log returns the same doubles, as for
// standard_normal below (quantize.cpp is compiled without FMA contraction, so the x86-64-v3
// build and a portable one draw the same weights).
QuantWeights random_weights(const WeightShape& s, DType dtype, bool symmetric, uint64_t seed);

// ---- Seeded randomness, the same on every platform ---------------------------------------------
// std::mt19937_64 is fully specified by the standard, its distributions are not; so every
// generator in the reference draws raw mt19937_64 words and maps them with the functions below.

// An engine for (seed, stream): streams let one case seed feed independent generators
// (weights, activations, routing) without their sequences lining up. Seeds are mixed with
// splitmix64, so nearby seeds give unrelated sequences.
std::mt19937_64 seeded_rng(uint64_t seed, uint64_t stream);

// Uniform integer in [0, n), unbiased (rejection of the short top range). n must be >= 1.
uint64_t uniform_below(std::mt19937_64& rng, uint64_t n);

// Standard normal by Box-Muller on 53-bit uniforms. Deterministic wherever std::log, std::sqrt,
// std::cos and std::sin return the same doubles (glibc does; another libm may differ in the last
// bit, which changes a quantised weight only when it sits exactly on a rounding boundary).
double standard_normal(std::mt19937_64& rng);

// A uniformly random permutation of 0..n-1 (Fisher-Yates with uniform_below).
std::vector<int64_t> random_permutation(int64_t n, std::mt19937_64& rng);

}  // namespace moecheck
