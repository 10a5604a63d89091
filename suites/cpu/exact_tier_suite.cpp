// exact_tier: the exact-tier generators (exact_tier.hpp) keep their promise for one case's K, N,
// G, dtype and symmetry, checked from first principles rather than from the generators' own
// arithmetic:
//  - the inputs have the promised structure (small integers, nnz per row, every k covered,
//    every q nibble 0..15, zeros in 1..15 or 8, power-of-two scales);
//  - every dot product, computed here in long double straight from q, z and s, is exactly
//    representable in the dtype (checked by an independent significand count), also times each
//    routing weight 0.5, 1, 2, and fp32 sums in two orders reproduce it exactly;
//  - for stages that sum routes (sum, e2e), sums of top_k routing-weighted results are exact too;
//  - typical kernel bugs (nibble order, zero off by one, scale group off by one, last K word
//    dropped) change at least one result, so the tier can catch them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "inputs.hpp"
#include "moecheck/reference/error.hpp"
#include "moecheck/reference/exact_tier.hpp"
#include "moecheck/reference/formats.hpp"
#include "registry.hpp"

namespace moecheck {
namespace {

int significant_bits(DType t) {
  return t == DType::bf16 ? 8 : 11;
}
int min_normal_exponent(DType t) {
  return t == DType::bf16 ? -126 : -14;
}

// Independent of exactly_representable: v fits when its significand needs at most p bits and its
// exponent is in the dtype's range (results here are far from the subnormal range and overflow).
bool fits(long double v, DType t) {
  if (!std::isfinite(v)) return false;
  if (v == 0) return true;
  int e = 0;
  const long double m = std::frexp(std::fabs(v), &e);  // |v| = m * 2^e, m in [0.5, 1)
  const long double scaled = std::ldexp(m, significant_bits(t));
  return scaled == std::floor(scaled) && e - 1 >= min_normal_exponent(t) &&
         std::fabs(v) <= max_finite(t);
}

struct Nonzero {
  int64_t k;
  float a;
};

// Bugs a kernel could have; the exact tier must notice each.
enum class Bug { none, nibble_order, zero_plus_one, scale_group_plus_one, drop_last_word };

// One output element, computed in long double from the logical weights, optionally with a bug.
long double dot(const std::vector<Nonzero>& row, const QuantWeights& w, int64_t e, int64_t n,
                Bug bug) {
  const int64_t groups = w.shape.groups();
  long double sum = 0;
  for (const auto& [k, a] : row) {
    if (bug == Bug::drop_last_word && k >= w.shape.k - 8) continue;
    const int64_t kq = bug == Bug::nibble_order ? 8 * (k / 8) + kShuffledOrder[k % 8] : k;
    const int64_t g = k / w.shape.group;
    const int64_t gs = bug == Bug::scale_group_plus_one ? std::min(g + 1, groups - 1) : g;
    const int z = w.zero[w.g_index(e, n, g)] + (bug == Bug::zero_plus_one ? 1 : 0);
    const long double s = bits_to_float(w.scale[w.g_index(e, n, gs)], w.dtype);
    sum += static_cast<long double>(a) * (w.q[w.q_index(e, n, kq)] - z) * s;
  }
  return sum;
}

// The same dot in fp32, summed forwards or backwards: exact inputs make the order irrelevant.
float dot_fp32(const std::vector<Nonzero>& row, const QuantWeights& w, int64_t e, int64_t n,
               bool backwards) {
  float sum = 0;
  for (size_t i = 0; i < row.size(); ++i) {
    const auto& [k, a] = row[backwards ? row.size() - 1 - i : i];
    const float wq = static_cast<float>(w.q[w.q_index(e, n, k)] - w.zero_at(e, n, k));
    sum += a * (wq * w.scale_at(e, n, k));
  }
  return sum;
}

// Collects failures and reports the first few in full, so a broken generator does not print
// millions of lines.
struct Failures {
  int64_t count = 0;
  void add(const std::string& what) {
    if (++count <= 5) ADD_FAILURE() << what;
  }
};

void check_activations(const Activations& a, const ExactTierBounds& b) {
  std::vector<bool> covered(a.k, false);
  Failures f;
  for (int64_t t = 0; t < a.rows; ++t) {
    int64_t nnz = 0;
    for (int64_t k = 0; k < a.k; ++k) {
      const float v = a.at(t, k);
      if (v == 0) continue;
      ++nnz;
      covered[k] = true;
      if (v != std::floor(v) || std::fabs(v) > b.amax) {
        f.add("A[" + std::to_string(t) + "," + std::to_string(k) + "] = " + std::to_string(v));
      }
    }
    if (nnz != b.nnz)
      f.add("row " + std::to_string(t) + " has " + std::to_string(nnz) + " nonzeros");
    for (int64_t k = a.k; k < a.lda; ++k) {
      if (a.bits[t * a.lda + k] != poison_bits(a.dtype)) f.add("padding not poisoned");
    }
  }
  EXPECT_EQ(f.count, 0);
  EXPECT_EQ(std::count(covered.begin(), covered.end(), false), 0)
      << "k positions never exercised by " << a.rows << " rows";
}

void check_weights(const QuantWeights& w, const ExactTierBounds& b) {
  std::vector<int64_t> q_seen(16, 0), z_seen(16, 0);
  for (uint8_t q : w.q) ++q_seen[q];
  for (int v = 0; v < 16; ++v) EXPECT_GT(q_seen[v], 0) << "q nibble value " << v << " never occurs";
  // The 8 nibbles of every packed word are distinct, so any nibble-order mixup changes q.
  int64_t repeated = 0;
  for (size_t j = 0; j < w.q.size(); j += 8) {
    bool seen[16] = {};
    int distinct = 0;
    for (size_t i = 0; i < 8; ++i) distinct += !std::exchange(seen[w.q[j + i]], true);
    repeated += distinct != 8;
  }
  EXPECT_EQ(repeated, 0) << "words with a repeated nibble value";

  for (uint8_t z : w.zero) ++z_seen[z];
  if (w.symmetric) {
    EXPECT_EQ(z_seen[8], static_cast<int64_t>(w.zero.size())) << "symmetric zeros must all be 8";
  } else {
    if (b.zero_min == 1) {
      EXPECT_EQ(z_seen[0], 0) << "z = 0 is not exact for GPTQ v1 kernels";
    }
    if (w.zero.size() >= static_cast<size_t>(16 - b.zero_min)) {
      for (int v = b.zero_min; v < 16; ++v) {
        EXPECT_GT(z_seen[v], 0) << "zero " << v << " never occurs";
      }
    }
  }

  std::vector<int64_t> e_seen(1 - b.emin, 0);
  for (uint16_t bits : w.scale) {
    int e = 0;
    const float s = bits_to_float(bits, w.dtype);
    const float m = std::frexp(s, &e);
    if (m != 0.5f || e - 1 < b.emin || e - 1 > 0) {
      ADD_FAILURE() << "scale " << s << " is not a power of two in [2^" << b.emin << ", 1]";
      return;
    }
    ++e_seen[e - 1 - b.emin];
  }
  if (w.scale.size() >= e_seen.size()) {
    for (size_t i = 0; i < e_seen.size(); ++i) {
      EXPECT_GT(e_seen[i], 0) << "scale 2^" << b.emin + static_cast<int>(i) << " never occurs";
    }
  }
}

void run_case(const Case& c) {
  ASSERT_EQ(c.expect, "pass") << "exact_tier cases expect pass";
  const int64_t k = c.gemm_k(), n = c.gemm_n();
  const int64_t fan_in = (c.stage == "sum" || c.stage == "e2e") ? c.top_k : 1;
  const ExactTierBounds b = case_exact_bounds(c, k, fan_in);

  // The budget the header promises, recomputed: B (or 4 * fan_in * B) <= 2^p.
  const int64_t budget = b.nnz * b.amax * ExactTierBounds::kQmax * (int64_t{1} << -b.emin) *
                         (fan_in == 1 ? 1 : 4 * fan_in);
  EXPECT_LE(budget, int64_t{1} << significant_bits(c.dtype));
  if (fan_in == 1) {
    EXPECT_LT(b.emin, 0) << "scales do not vary: scale-group bugs go unnoticed";
  }
  EXPECT_THROW(exact_tier_bounds(k, c.dtype, int64_t{1} << 20), InputError);
  ExactTierBounds bad_zeros = b;
  bad_zeros.zero_min = 2;
  EXPECT_THROW(exact_weights({1, 8, c.group, c.group}, c.dtype, false, bad_zeros, c.seed),
               InputError);
  // exactly_representable against values whose answer is known.
  const double p2 = std::ldexp(1.0, significant_bits(c.dtype));
  EXPECT_TRUE(exactly_representable(p2, c.dtype));
  EXPECT_TRUE(exactly_representable(-(p2 - 1) * 0.125, c.dtype));
  EXPECT_FALSE(exactly_representable(p2 + 1, c.dtype));
  EXPECT_FALSE(exactly_representable(NAN, c.dtype));

  const int64_t cover = exact_rows_to_cover(k, b);
  const int64_t rows = (std::max(c.tokens, cover) + fan_in - 1) / fan_in * fan_in;
  const Activations a = exact_activations(c.dtype, rows, k, k + c.pad_lda, b, c.seed);
  const QuantWeights w = exact_weights({c.experts, n, k, c.group}, c.dtype, c.symmetric, b, c.seed);
  check_activations(a, b);
  check_weights(w, b);

  std::vector<std::vector<Nonzero>> nz(rows);
  for (int64_t t = 0; t < rows; ++t) {
    for (int64_t kk = 0; kk < k; ++kk) {
      if (a.at(t, kk) != 0) nz[t].push_back({kk, a.at(t, kk)});
    }
  }

  Failures f;
  const Bug bugs[] = {Bug::nibble_order, Bug::zero_plus_one, Bug::scale_group_plus_one,
                      Bug::drop_last_word};
  std::vector<bool> noticed(std::size(bugs), false);
  for (int64_t e = 0; e < c.experts; ++e) {
    for (int64_t t = 0; t < rows; ++t) {
      for (int64_t col = 0; col < n; ++col) {
        const long double s = dot(nz[t], w, e, col, Bug::none);
        // Built only when something fails: formatting every element would dominate the run.
        const auto at = [&] {
          return "(e=" + std::to_string(e) + ", t=" + std::to_string(t) +
                 ", n=" + std::to_string(col) + ") = " + std::to_string(static_cast<double>(s));
        };
        if (!fits(s, c.dtype))
          f.add("not exact in " + std::string(to_string(c.dtype)) + ": " + at());
        for (long double rw : {0.5L, 1.0L, 2.0L}) {
          if (!fits(s * rw, c.dtype)) f.add("times routing weight not exact: " + at());
        }
        if (dot_fp32(nz[t], w, e, col, false) != s || dot_fp32(nz[t], w, e, col, true) != s) {
          f.add("fp32 sum not exact: " + at());
        }
        for (size_t i = 0; i < std::size(bugs); ++i) {
          if (!noticed[i] && dot(nz[t], w, e, col, bugs[i]) != s) noticed[i] = true;
        }
      }
    }
  }
  if (fan_in > 1) {
    // Route j of token-group t0 goes to expert (t0 + j) % E, like top_k distinct experts.
    const std::vector<float> rw = exact_routing_weights(rows, c.seed);
    for (int64_t t0 = 0; t0 < rows; t0 += fan_in) {
      for (int64_t col = 0; col < n; ++col) {
        long double sum = 0;
        for (int64_t j = 0; j < fan_in; ++j) {
          sum += rw[t0 + j] * dot(nz[t0 + j], w, (t0 + j) % c.experts, col, Bug::none);
        }
        if (!fits(sum, c.dtype)) f.add("routed sum not exact at t0=" + std::to_string(t0));
      }
    }
  }
  EXPECT_EQ(f.count, 0) << "inexact results";

  const char* names[] = {"nibble order", "zero + 1", "scale group + 1", "last K word dropped"};
  for (size_t i = 0; i < std::size(bugs); ++i) {
    if (bugs[i] == Bug::scale_group_plus_one && (w.shape.groups() < 2 || b.emin == 0)) {
      continue;  // one group, or one scale value: nothing to tell apart
    }
    EXPECT_TRUE(noticed[i]) << "the exact tier does not notice: " << names[i];
  }
}

}  // namespace
}  // namespace moecheck

MOECHECK_SUITE(exact_tier, moecheck::run_case);
