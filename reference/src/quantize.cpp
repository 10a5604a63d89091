#include "moecheck/reference/quantize.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "moecheck/reference/error.hpp"
#include "moecheck/reference/parallel.hpp"

namespace moecheck {

namespace {

double smallest_normal(DType t) {
  return t == DType::bf16 ? 0x1p-126 : 0x1p-14;
}

// Rounds a positive scale to the dtype; never 0, never subnormal (see quantize.hpp).
uint16_t scale_bits(double s, DType dtype, int64_t group_index) {
  uint16_t bits = double_to_bits(std::max(s, smallest_normal(dtype)), dtype);
  if (!is_finite_bits(bits, dtype)) {
    throw InputError("quantize: the scale of group " + std::to_string(group_index) + " (" +
                     std::to_string(s) + ") overflows " + to_string(dtype));
  }
  return bits;
}

// Quantises one row of K values (all its groups). `row` is the flat row index e*N + n.
void quantize_row(const float* w, int64_t row, const WeightShape& shape, DType dtype,
                  bool symmetric, QuantWeights& out) {
  const int64_t k = shape.k, group = shape.group, groups = shape.groups();
  for (int64_t kk = 0; kk < k; ++kk) {
    if (!std::isfinite(w[kk])) {
      throw InputError("quantize: w[" + std::to_string(row * k + kk) +
                       "] = " + std::to_string(w[kk]) + " is not finite");
    }
  }
  for (int64_t g = 0; g < groups; ++g) {
    const float* x = w + g * group;
    double lo = 0.0, hi = 0.0, amax = 0.0;
    for (int64_t i = 0; i < group; ++i) {
      lo = std::min(lo, static_cast<double>(x[i]));
      hi = std::max(hi, static_cast<double>(x[i]));
      amax = std::max(amax, std::fabs(static_cast<double>(x[i])));
    }
    const int64_t gi = row * groups + g;
    const uint16_t bits =
        symmetric ? scale_bits(amax / 7.5, dtype, gi) : scale_bits((hi - lo) / 15.0, dtype, gi);
    const double s = bits_to_float(bits, dtype);
    const double z = symmetric ? 8.0 : std::clamp(std::nearbyint(-lo / s), 0.0, 15.0);
    out.scale[gi] = bits;
    out.zero[gi] = static_cast<uint8_t>(z);
    for (int64_t i = 0; i < group; ++i) {
      const double q = std::clamp(std::nearbyint(x[i] / s) + z, 0.0, 15.0);
      out.q[row * k + g * group + i] = static_cast<uint8_t>(q);
    }
  }
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Uniform double in [0, 1) from the top 53 bits of one draw.
double unit_interval(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * 0x1p-53;
}

constexpr double kTwoPi = 6.283185307179586476925286766559;
constexpr uint64_t kWeightsStream = 0x77656967687473ull;  // "weights"

// Fills `out` with N(0, sigma^2) floats from a SplitMix64 stream that starts at `state`: its 8
// bytes of state let every weight row have a stream of its own, generated in any order on any
// thread. Marsaglia's polar method gives two normals per accepted point with no trigonometry,
// about a quarter of the cost of a Box-Muller draw that keeps one half.
void fill_normal(uint64_t state, double sigma, std::vector<float>& out) {
  const auto uniform = [&state] {  // in [-1, 1), from the top 53 bits
    const uint64_t bits = splitmix64(state);
    state += 0x9e3779b97f4a7c15ull;
    return static_cast<double>(bits >> 11) * 0x1p-52 - 1.0;
  };
  for (size_t i = 0; i < out.size();) {
    const double u = uniform(), v = uniform(), r2 = u * u + v * v;
    if (r2 >= 1.0 || r2 == 0.0) continue;
    const double f = sigma * std::sqrt(-2.0 * std::log(r2) / r2);
    out[i++] = static_cast<float>(u * f);
    if (i < out.size()) out[i++] = static_cast<float>(v * f);
  }
}

}  // namespace

QuantWeights quantize(const std::vector<float>& w, const WeightShape& s, DType dtype,
                      bool symmetric) {
  QuantWeights out = QuantWeights::zeros_like(s, dtype, symmetric);
  const int64_t rows = s.experts * s.n;
  if (w.size() != static_cast<size_t>(rows * s.k)) {
    throw InputError("quantize: w has " + std::to_string(w.size()) +
                     " elements, expected E*N*K = " + std::to_string(rows * s.k));
  }
  for (int64_t r = 0; r < rows; ++r) quantize_row(&w[r * s.k], r, s, dtype, symmetric, out);
  return out;
}

QuantWeights random_weights(const WeightShape& s, DType dtype, bool symmetric, uint64_t seed) {
  QuantWeights out = QuantWeights::zeros_like(s, dtype, symmetric);
  const int64_t rows = s.experts * s.n;
  const int workers = parallel_workers(rows);
  std::vector<std::vector<float>> scratch(workers, std::vector<float>(static_cast<size_t>(s.k)));
  // Rows write disjoint q, scale and zero entries.
  parallel_for(rows, workers, [&](int64_t r, int worker) {
    std::vector<float>& row = scratch[worker];
    fill_normal(splitmix64(seed ^ splitmix64(kWeightsStream + static_cast<uint64_t>(r))), 0.02,
                row);
    quantize_row(row.data(), r, s, dtype, symmetric, out);
  });
  return out;
}

std::mt19937_64 seeded_rng(uint64_t seed, uint64_t stream) {
  return std::mt19937_64(splitmix64(seed ^ splitmix64(stream)));
}

uint64_t uniform_below(std::mt19937_64& rng, uint64_t n) {
  if (n == 0) throw InputError("uniform_below: the range is empty (n = 0)");
  // Reject draws below 2^64 mod n, so that the accepted range is a multiple of n.
  const uint64_t threshold = (0 - n) % n;
  for (;;) {
    const uint64_t r = rng();
    if (r >= threshold) return r % n;
  }
}

double standard_normal(std::mt19937_64& rng) {
  // One Box-Muller pair per call, using only its cosine half: simpler than carrying the sine
  // half between calls, and the sequence then depends on nothing but the engine's state.
  const double u1 = 1.0 - unit_interval(rng);  // (0, 1]: log is finite
  const double u2 = unit_interval(rng);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(kTwoPi * u2);
}

std::vector<int64_t> random_permutation(int64_t n, std::mt19937_64& rng) {
  if (n < 0) throw InputError("random_permutation: n = " + std::to_string(n) + " is negative");
  std::vector<int64_t> p(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  for (int64_t i = n - 1; i > 0; --i) {
    std::swap(p[i], p[uniform_below(rng, static_cast<uint64_t>(i) + 1)]);
  }
  return p;
}

}  // namespace moecheck
