// The naive side's numbers and packed-weight reading (DESIGN.md section 2), written from the
// design's tables: every index below is the table's [dims] read row-major, every nibble is
// bits 4p..4p+3 of its little-endian word.
#include <cmath>
#include <limits>
#include <string>

#include "moecheck/reference/error.hpp"
#include "naive.hpp"

namespace moecheck::naive {

namespace {

// The field widths of a 16-bit float: 1 sign bit, `exp_bits` exponent bits, `mant` fraction bits.
struct Layout {
  int exp_bits;
  int mant;
  int bias;
};
Layout layout(DType t) {
  return t == DType::bf16 ? Layout{8, 7, 127} : Layout{5, 10, 15};
}

uint32_t inf_pattern(const Layout& l) {
  return ((1u << l.exp_bits) - 1u) << l.mant;
}

// The value of a non-negative pattern p <= the infinity pattern, where infinity stands for the
// first power of two past the largest finite value (so that rounding to nearest overflows to
// infinity exactly as IEEE 754 does: halfway past the largest finite value and beyond).
long double magnitude_of(uint32_t p, const Layout& l) {
  const uint32_t e = p >> l.mant;
  const uint32_t m = p & ((1u << l.mant) - 1u);
  const int emax = (1 << l.exp_bits) - 2 - l.bias;
  if (p == inf_pattern(l)) return std::ldexp(1.0L, emax + 1);
  if (e == 0) return std::ldexp(static_cast<long double>(m), 1 - l.bias - l.mant);
  return std::ldexp(static_cast<long double>(m + (1u << l.mant)),
                    static_cast<int>(e) - l.bias - l.mant);
}

[[noreturn]] void bad(const std::string& what) {
  throw InputError("naive weights: " + what);
}

void expect_size(const char* array, size_t got, int64_t want) {
  if (got != static_cast<size_t>(want)) {
    bad(std::string(array) + " has " + std::to_string(got) + " elements, the shape needs " +
        std::to_string(want));
  }
}

// Where k % 8 sits in a K-packed int32 word: the shuffled order puts the even k of the word in
// nibbles 0..3 and the odd k in nibbles 4..7 (DESIGN.md: order = [0,2,4,6,1,3,5,7]).
constexpr int kOrder[8] = {0, 2, 4, 6, 1, 3, 5, 7};
int shuffled_nibble(int64_t k) {
  for (int p = 0; p < 8; ++p) {
    if (kOrder[p] == k % 8) return p;
  }
  return -1;  // unreachable: kOrder is a permutation of 0..7
}

uint32_t nibble_of(int32_t word, int p) {
  return (static_cast<uint32_t>(word) >> (4 * p)) & 15u;
}

}  // namespace

long double decode(uint16_t bits, DType t) {
  const Layout l = layout(t);
  const uint32_t mag = bits & 0x7fffu;
  const bool negative = (bits & 0x8000u) != 0;
  if (mag > inf_pattern(l)) return std::numeric_limits<long double>::quiet_NaN();
  const long double v =
      mag == inf_pattern(l) ? std::numeric_limits<long double>::infinity() : magnitude_of(mag, l);
  return negative ? -v : v;
}

uint16_t round_to_bits(long double x, DType t) {
  const Layout l = layout(t);
  if (std::isnan(x)) return t == DType::bf16 ? 0x7fc0u : 0x7e00u;
  const uint16_t sign = std::signbit(x) ? 0x8000u : 0u;
  const long double a = std::fabs(x);
  // Invariant: magnitude(lo) <= a < magnitude(hi); patterns are ordered like their values.
  uint32_t lo = 0, hi = inf_pattern(l);
  if (a >= magnitude_of(hi, l)) return static_cast<uint16_t>(sign | hi);
  while (hi - lo > 1) {
    const uint32_t mid = lo + (hi - lo) / 2;
    if (magnitude_of(mid, l) <= a) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  const long double below = magnitude_of(lo, l), above = magnitude_of(hi, l);
  // The midpoint needs one bit more than the dtype's 11 at most: exact in long double.
  const long double half = (below + above) / 2;
  uint32_t p;
  if (a == below || a < half) {
    p = lo;
  } else if (a > half) {
    p = hi;
  } else {
    p = (lo % 2 == 0) ? lo : hi;  // a tie: the even pattern
  }
  return static_cast<uint16_t>(sign | p);
}

long double activation(const Activations& a, int64_t r, int64_t c) {
  return decode(a.bits[r * a.lda + c], a.dtype);
}

void validate(const PackedWeights& w) {
  const WeightShape& s = w.shape;
  if (s.experts < 1 || s.n < 1 || s.k < 1 || s.group < 1) {
    bad("E, N, K and G must be positive (E=" + std::to_string(s.experts) + " N=" +
        std::to_string(s.n) + " K=" + std::to_string(s.k) + " G=" + std::to_string(s.group) + ")");
  }
  if (s.k % s.group != 0) {
    bad("K=" + std::to_string(s.k) + " is not a multiple of G=" + std::to_string(s.group));
  }
  const int64_t e = s.experts, n = s.n, k = s.k, groups = s.k / s.group;
  switch (w.format) {
    case Format::exllama_nk:
      if (k % 8 != 0) bad("exllama_nk packs 8 k per word: K=" + std::to_string(k));
      if (w.exllama.kw < k / 8) bad("exllama_nk row stride kw < K/8");
      expect_size("exllama_nk qweight", w.exllama.qweight.size(), e * n * w.exllama.kw);
      expect_size("exllama_nk scales", w.exllama.scales.size(), e * n * groups);
      if (!w.exllama.zeros.empty()) {
        if (n % 8 != 0) bad("exllama_nk zeros pack 8 n per word: N=" + std::to_string(n));
        expect_size("exllama_nk zeros", w.exllama.zeros.size(), e * (n / 8) * groups);
      }
      break;
    case Format::gptq_kn:
      if (k % 8 != 0) bad("gptq_kn packs 8 k per word: K=" + std::to_string(k));
      if (n % 8 != 0) bad("gptq_kn zeros pack 8 n per word: N=" + std::to_string(n));
      expect_size("gptq_kn qweight", w.gptq.qweight.size(), e * (k / 8) * n);
      expect_size("gptq_kn scales", w.gptq.scales.size(), e * groups * n);
      expect_size("gptq_kn zeros", w.gptq.zeros.size(), e * groups * (n / 8));
      break;
    case Format::triton_nk_u8:
      if (k % 2 != 0) bad("triton_nk_u8 packs 2 k per byte: K=" + std::to_string(k));
      expect_size("triton_nk_u8 qweight", w.triton.qweight.size(), e * n * (k / 2));
      expect_size("triton_nk_u8 scales", w.triton.scales.size(), e * n * groups);
      if (!w.triton.zeros.empty()) {
        if (n % 2 != 0) bad("triton_nk_u8 zeros pack 2 n per byte: N=" + std::to_string(n));
        expect_size("triton_nk_u8 zeros", w.triton.zeros.size(), e * (n / 2) * groups);
      }
      break;
  }
}

int nibble(const PackedWeights& w, int64_t e, int64_t n, int64_t k) {
  const WeightShape& s = w.shape;
  switch (w.format) {
    case Format::exllama_nk:  // int32 [E, N, Kw]
      return static_cast<int>(
          nibble_of(w.exllama.qweight[(e * s.n + n) * w.exllama.kw + k / 8], shuffled_nibble(k)));
    case Format::gptq_kn: {  // int32 [E, K/8, N]
      const int p = w.gptq.shuffled ? shuffled_nibble(k) : static_cast<int>(k % 8);
      return static_cast<int>(nibble_of(w.gptq.qweight[(e * (s.k / 8) + k / 8) * s.n + n], p));
    }
    case Format::triton_nk_u8: {  // uint8 [E, N, K/2]: even k low nibble, odd k high
      const uint8_t byte = w.triton.qweight[(e * s.n + n) * (s.k / 2) + k / 2];
      return k % 2 == 0 ? (byte & 15) : (byte >> 4);
    }
  }
  return 0;
}

int zero_point(const PackedWeights& w, int64_t e, int64_t n, int64_t g) {
  const WeightShape& s = w.shape;
  const int64_t groups = s.k / s.group;
  switch (w.format) {
    case Format::exllama_nk:  // int32 [E, N/8, K/G], n at nibble n % 8
      if (w.exllama.zeros.empty()) return 8;
      return static_cast<int>(nibble_of(w.exllama.zeros[(e * (s.n / 8) + n / 8) * groups + g],
                                        static_cast<int>(n % 8)));
    case Format::gptq_kn: {  // int32 [E, K/G, N/8], n = 8c + p at nibble p
      const uint32_t stored =
          nibble_of(w.gptq.zeros[(e * groups + g) * (s.n / 8) + n / 8], static_cast<int>(n % 8));
      // v1 stores z - 1. Four bits cannot hold -1, so z = 0 is stored as 15 and, for the format
      // to stay the bijection DESIGN.md requires, stored 15 reads back as 0 (not 16).
      return static_cast<int>(w.gptq.zero_format == GptqZeros::v1 ? (stored + 1) % 16 : stored);
    }
    case Format::triton_nk_u8: {  // uint8 [E, N/2, K/G], n at nibble n % 2
      if (w.triton.zeros.empty()) return 8;
      const uint8_t byte = w.triton.zeros[(e * (s.n / 2) + n / 2) * groups + g];
      return n % 2 == 0 ? (byte & 15) : (byte >> 4);
    }
  }
  return 0;
}

long double scale(const PackedWeights& w, int64_t e, int64_t n, int64_t g) {
  const WeightShape& s = w.shape;
  const int64_t groups = s.k / s.group;
  switch (w.format) {
    case Format::exllama_nk:  // [E, N, K/G]
      return decode(w.exllama.scales[(e * s.n + n) * groups + g], w.dtype);
    case Format::gptq_kn:  // [E, K/G, N]
      return decode(w.gptq.scales[(e * groups + g) * s.n + n], w.dtype);
    case Format::triton_nk_u8:  // [E, N, K/G]
      return decode(w.triton.scales[(e * s.n + n) * groups + g], w.dtype);
  }
  return 0;
}

long double weight(const PackedWeights& w, int64_t e, int64_t n, int64_t k) {
  const int64_t g = k / w.shape.group;
  return (nibble(w, e, n, k) - zero_point(w, e, n, g)) * scale(w, e, n, g);
}

}  // namespace moecheck::naive
