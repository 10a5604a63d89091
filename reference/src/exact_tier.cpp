#include "moecheck/reference/exact_tier.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "moecheck/reference/error.hpp"
#include "moecheck/reference/quantize.hpp"

namespace moecheck {

namespace {

constexpr uint64_t kActivationStream = 0x65782d616374ull;  // "ex-act"
constexpr uint64_t kWeightStream = 0x65782d77ull;          // "ex-w"
constexpr uint64_t kRoutingStream = 0x65782d72ull;         // "ex-r"

int significant_bits(DType t) {
  return t == DType::bf16 ? 8 : 11;
}

// Largest nnz with 4*fan_in*B <= 2^p (fan_in > 1) or B <= 2^p (fan_in == 1), see the header.
int64_t budget_nnz(DType dtype, int amax, int emin, int64_t fan_in) {
  const int64_t per_term =
      static_cast<int64_t>(amax) * ExactTierBounds::kQmax * (int64_t{1} << -emin);
  const int64_t factor = fan_in == 1 ? 1 : 4 * fan_in;
  return (int64_t{1} << significant_bits(dtype)) / (per_term * factor);
}

// Fills `out` with consecutive random permutations of lo..lo+m-1 (the last one cut short), so
// every value occurs in every full run of m and neighbours within a run differ.
template <typename T>
void fill_cycling(std::vector<T>& out, int lo, int m, std::mt19937_64& rng) {
  for (size_t start = 0; start < out.size(); start += static_cast<size_t>(m)) {
    const std::vector<int64_t> p = random_permutation(m, rng);
    for (size_t i = 0; i < static_cast<size_t>(m) && start + i < out.size(); ++i) {
      out[start + i] = static_cast<T>(lo + p[i]);
    }
  }
}

}  // namespace

ExactTierBounds exact_tier_bounds(int64_t k, DType dtype, int64_t fan_in) {
  if (k < 1) throw InputError("exact tier: K=" + std::to_string(k) + " must be positive");
  if (fan_in < 1 || fan_in > (int64_t{1} << 20)) {
    throw InputError("exact tier: fan_in=" + std::to_string(fan_in) + " is not in 1..2^20");
  }
  // Preferences: more activation and scale variety first. emin = 0 (all scales 1, so scale-group
  // bugs go unnoticed) is only the last resort.
  struct Choice {
    int amax, emin;
  };
  static const std::vector<Choice> bf16 = {{1, -1}};
  static const std::vector<Choice> fp16 = {{2, -2}, {1, -2}, {1, -1}};
  ExactTierBounds best;
  best.nnz = 0;
  for (const Choice& c : dtype == DType::bf16 ? bf16 : fp16) {
    const int64_t nnz = budget_nnz(dtype, c.amax, c.emin, fan_in);
    if (nnz > best.nnz) {
      best.amax = c.amax;
      best.emin = c.emin;
      best.nnz = nnz;
    }
    if (nnz >= 4) break;  // the first choice with room for 4 nonzeros wins
  }
  if (best.nnz < 1) {
    best.amax = 1;
    best.emin = 0;
    best.nnz = budget_nnz(dtype, 1, 0, fan_in);
  }
  if (best.nnz < 1) {
    throw InputError("exact tier: a sum of fan_in=" + std::to_string(fan_in) +
                     " routed results cannot be kept exact in " + to_string(dtype));
  }
  best.nnz = std::min(best.nnz, k);
  best.fan_in = fan_in;
  return best;
}

int64_t exact_rows_to_cover(int64_t k, const ExactTierBounds& b) {
  if (k < 1 || b.nnz < 1) {
    throw InputError("exact tier: K=" + std::to_string(k) + " and nnz=" + std::to_string(b.nnz) +
                     " must be positive");
  }
  return (k + b.nnz - 1) / b.nnz;
}

Activations exact_activations(DType dtype, int64_t rows, int64_t k, int64_t lda,
                              const ExactTierBounds& b, uint64_t seed) {
  Activations a = Activations::zeros(dtype, rows, k, lda);
  if (b.nnz < 1 || b.nnz > k) {
    throw InputError("exact activations: nnz=" + std::to_string(b.nnz) +
                     " is not in 1..K=" + std::to_string(k));
  }
  if (b.amax < 1 || b.amax > 16) {
    throw InputError("exact activations: amax=" + std::to_string(b.amax) + " is not in 1..16");
  }
  std::mt19937_64 rng = seeded_rng(seed, kActivationStream);
  const std::vector<int64_t> positions = random_permutation(k, rng);
  for (int64_t t = 0; t < rows; ++t) {
    for (int64_t i = 0; i < b.nnz; ++i) {
      // (t*nnz + i) mod K, reduced first so that huge row counts cannot overflow.
      const int64_t slot = ((t % k) * b.nnz + i) % k;
      const int64_t magnitude = 1 + static_cast<int64_t>(uniform_below(rng, b.amax));
      const float v = static_cast<float>((rng() & 1u) ? -magnitude : magnitude);
      a.set(t, positions[slot], v);
    }
  }
  return a;
}

QuantWeights exact_weights(const WeightShape& s, DType dtype, bool symmetric,
                           const ExactTierBounds& b, uint64_t seed) {
  QuantWeights w = QuantWeights::zeros_like(s, dtype, symmetric);
  if (b.emin < -14 || b.emin > 0) {
    throw InputError("exact weights: emin=" + std::to_string(b.emin) + " is not in -14..0");
  }
  if (b.zero_min != 0 && b.zero_min != 1) {
    throw InputError("exact weights: zero_min=" + std::to_string(b.zero_min) + " is not 0 or 1");
  }
  std::mt19937_64 rng = seeded_rng(seed, kWeightStream);
  fill_cycling(w.q, 0, 16, rng);
  if (!symmetric) fill_cycling(w.zero, b.zero_min, 16 - b.zero_min, rng);
  std::vector<int> exponents(w.scale.size());
  fill_cycling(exponents, b.emin, 1 - b.emin, rng);
  for (size_t i = 0; i < exponents.size(); ++i) {
    w.scale[i] = double_to_bits(std::ldexp(1.0, exponents[i]), dtype);
  }
  return w;
}

bool exactly_representable(double v, DType t) {
  if (!std::isfinite(v)) return false;
  const uint16_t bits = double_to_bits(v, t);
  return is_finite_bits(bits, t) && static_cast<double>(bits_to_float(bits, t)) == v;
}

std::vector<float> exact_routing_weights(int64_t n, uint64_t seed) {
  if (n < 0) throw InputError("exact routing weights: n=" + std::to_string(n) + " is negative");
  static const float kValues[3] = {0.5f, 1.0f, 2.0f};
  std::mt19937_64 rng = seeded_rng(seed, kRoutingStream);
  std::vector<float> out(static_cast<size_t>(n));
  for (auto& v : out) v = kValues[uniform_below(rng, 3)];
  return out;
}

}  // namespace moecheck
