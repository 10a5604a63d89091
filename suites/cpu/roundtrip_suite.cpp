// roundtrip: every packed weight format is a bijection with the logical form (DESIGN.md section 2).
// For one case (format, G, dtype, symmetric, gptq order and zero format, exllama row padding):
//  1. probes: single nonzero nibbles, zeros and scales at known (e, n, k) must land in exactly the
//     word and nibble the format table says; the expected packed arrays are built here from the
//     table's own index formulas, independently of the packers;
//  2. random weights: logical -> packed -> logical is the identity, and packed -> logical ->
//     packed reproduces the packed arrays bit for bit;
//  3. malformed packed input (wrong lengths, nonzero padding, mislabelled zeros) is an InputError.
// A case with expect: input_error names a shape the reference must refuse (K % G != 0, zeros that
// need N % 8 == 0, ...): packing it must throw InputError.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "moecheck/reference/error.hpp"
#include "moecheck/reference/formats.hpp"
#include "moecheck/reference/quantize.hpp"
#include "registry.hpp"

namespace moecheck {
namespace {

// DESIGN.md's order = [0,2,4,6,1,3,5,7] says which k%8 nibble p holds; this is its inverse,
// written out by hand: the nibble that holds k%8.
constexpr int kNibbleOfShuffled[8] = {0, 4, 1, 5, 2, 6, 3, 7};

WeightShape shape_of(const Case& c) {
  return {c.experts, c.gemm_n(), c.gemm_k(), c.group};
}

// Index of the first differing element, as a readable message; empty when equal.
template <typename A, typename B>
std::string first_difference(const char* name, const std::vector<A>& got,
                             const std::vector<B>& want) {
  if (got.size() != want.size()) {
    return std::string(name) + ": " + std::to_string(got.size()) + " elements, expected " +
           std::to_string(want.size());
  }
  for (size_t i = 0; i < got.size(); ++i) {
    const auto g = static_cast<uint32_t>(got[i]), w = static_cast<uint32_t>(want[i]);
    if (g != w) {
      return std::string(name) + "[" + std::to_string(i) + "] = " + std::to_string(g) +
             ", expected " + std::to_string(w);
    }
  }
  return "";
}

// Logical weights that are blank except at a few probe positions, with the probes remembered
// so the expected packed arrays can be built from them alone.
struct Probes {
  QuantWeights w;
  std::map<std::tuple<int64_t, int64_t, int64_t>, uint8_t> q;       // (e, n, k) -> q
  std::map<std::tuple<int64_t, int64_t, int64_t>, uint8_t> zero;    // (e, n, g) -> z
  std::map<std::tuple<int64_t, int64_t, int64_t>, uint16_t> scale;  // (e, n, g) -> bits
};

Probes make_probes(const Case& c) {
  const WeightShape s = shape_of(c);
  Probes p;
  p.w = QuantWeights::zeros_like(s, c.dtype, c.symmetric);
  std::mt19937_64 rng = seeded_rng(c.seed, 0x70726f6265ull);
  // The two corners, then one probe at every nibble position p of a random word.
  std::vector<std::tuple<int64_t, int64_t, int64_t>> at = {{0, 0, 0},
                                                           {s.experts - 1, s.n - 1, s.k - 1}};
  for (int nib = 0; nib < 8; ++nib) {
    at.emplace_back(uniform_below(rng, s.experts), uniform_below(rng, s.n),
                    8 * static_cast<int64_t>(uniform_below(rng, s.k / 8)) + nib);
  }
  int i = 0;
  for (const auto& [e, n, k] : at) {
    const auto v = static_cast<uint8_t>(1 + i % 15);  // nonzero, so it shows in a blank array
    const int64_t g = k / s.group;
    p.q[{e, n, k}] = v;
    p.w.q[p.w.q_index(e, n, k)] = v;
    const auto bits = static_cast<uint16_t>(0x3c00 + 17 * i);  // arbitrary distinct patterns
    p.scale[{e, n, g}] = bits;
    p.w.scale[p.w.g_index(e, n, g)] = bits;
    if (!c.symmetric) {
      // Asymmetric blanks have z = 0; probe values cycle through 1..15 and include 15.
      const auto z = static_cast<uint8_t>(15 - i % 15);
      p.zero[{e, n, g}] = z;
      p.w.zero[p.w.g_index(e, n, g)] = z;
    }
    ++i;
  }
  return p;
}

uint32_t put(uint32_t word, int nib, uint32_t v) {
  return (word & ~(0xFu << (4 * nib))) | ((v & 0xFu) << (4 * nib));
}

void check_probes_exllama(const Case& c) {
  const WeightShape s = shape_of(c);
  const Probes p = make_probes(c);
  const int64_t kw = s.k / 8 + c.pad_kw, groups = s.groups();
  const ExllamaNK got = pack_exllama_nk(p.w, kw);
  std::vector<uint32_t> q(s.experts * s.n * kw, 0), zeros;
  std::vector<uint16_t> scales(s.experts * s.n * groups, 0);
  for (const auto& [at, v] : p.q) {
    const auto [e, n, k] = at;
    auto& word = q[(e * s.n + n) * kw + k / 8];
    word = put(word, kNibbleOfShuffled[k % 8], v);
  }
  for (const auto& [at, bits] : p.scale) {
    const auto [e, n, g] = at;
    scales[(e * s.n + n) * groups + g] = bits;
  }
  if (!c.symmetric) {
    zeros.assign(s.experts * (s.n / 8) * groups, 0);  // blank zeros are 0
    for (const auto& [at, z] : p.zero) {
      const auto [e, n, g] = at;
      auto& word = zeros[(e * (s.n / 8) + n / 8) * groups + g];
      word = put(word, static_cast<int>(n % 8), z);
    }
  }
  EXPECT_EQ(got.kw, kw);
  EXPECT_EQ(first_difference("qweight", got.qweight, q), "");
  EXPECT_EQ(first_difference("scales", got.scales, scales), "");
  EXPECT_EQ(first_difference("zeros", got.zeros, zeros), "");
}

void check_probes_gptq(const Case& c) {
  const WeightShape s = shape_of(c);
  const Probes p = make_probes(c);
  const int64_t groups = s.groups();
  const GptqKN got = pack_gptq_kn(p.w, c.shuffled, c.zero_format);
  const bool v1 = c.zero_format == GptqZeros::v1;
  // v1 stores z - 1 wrapped to a nibble: 8 -> 7, 0 -> 15.
  const auto stored = [v1](uint32_t z) -> uint32_t { return v1 ? (z == 0 ? 15 : z - 1) : z; };
  const uint32_t blank_z = stored(c.symmetric ? 8 : 0);
  std::vector<uint32_t> q(s.experts * (s.k / 8) * s.n, 0);
  std::vector<uint16_t> scales(s.experts * groups * s.n, 0);
  std::vector<uint32_t> zeros(s.experts * groups * (s.n / 8), blank_z * 0x11111111u);
  for (const auto& [at, v] : p.q) {
    const auto [e, n, k] = at;
    auto& word = q[(e * (s.k / 8) + k / 8) * s.n + n];
    word = put(word, c.shuffled ? kNibbleOfShuffled[k % 8] : static_cast<int>(k % 8), v);
  }
  for (const auto& [at, bits] : p.scale) {
    const auto [e, n, g] = at;
    scales[(e * groups + g) * s.n + n] = bits;
  }
  for (const auto& [at, z] : p.zero) {
    const auto [e, n, g] = at;
    auto& word = zeros[(e * groups + g) * (s.n / 8) + n / 8];
    word = put(word, static_cast<int>(n % 8), stored(z));
  }
  EXPECT_EQ(got.shuffled, c.shuffled);
  EXPECT_EQ(got.zero_format, c.zero_format);
  EXPECT_EQ(first_difference("qweight", got.qweight, q), "");
  EXPECT_EQ(first_difference("scales", got.scales, scales), "");
  EXPECT_EQ(first_difference("zeros", got.zeros, zeros), "");
}

void check_probes_triton(const Case& c) {
  const WeightShape s = shape_of(c);
  const Probes p = make_probes(c);
  const int64_t groups = s.groups();
  const TritonNKU8 got = pack_triton_nk_u8(p.w);
  std::vector<uint32_t> q(s.experts * s.n * (s.k / 2), 0), zeros;
  std::vector<uint16_t> scales(s.experts * s.n * groups, 0);
  for (const auto& [at, v] : p.q) {
    const auto [e, n, k] = at;
    auto& byte = q[(e * s.n + n) * (s.k / 2) + k / 2];
    byte = put(byte, static_cast<int>(k % 2), v);
  }
  for (const auto& [at, bits] : p.scale) {
    const auto [e, n, g] = at;
    scales[(e * s.n + n) * groups + g] = bits;
  }
  if (!c.symmetric) {
    zeros.assign(s.experts * (s.n / 2) * groups, 0);
    for (const auto& [at, z] : p.zero) {
      const auto [e, n, g] = at;
      auto& byte = zeros[(e * (s.n / 2) + n / 2) * groups + g];
      byte = put(byte, static_cast<int>(n % 2), z);
    }
  }
  EXPECT_EQ(first_difference("qweight", got.qweight, q), "");
  EXPECT_EQ(first_difference("scales", got.scales, scales), "");
  EXPECT_EQ(first_difference("zeros", got.zeros, zeros), "");
}

// Random weights; asymmetric zeros are redrawn over all of 0..15 (the quantiser's zeros cluster
// near 8) so that z = 0, whose GPTQ v1 form wraps to 15, and z = 15 occur.
QuantWeights random_case_weights(const Case& c) {
  QuantWeights w = random_weights(shape_of(c), c.dtype, c.symmetric, c.seed);
  if (!c.symmetric) {
    std::mt19937_64 rng = seeded_rng(c.seed, 0x7a65726f73ull);
    for (auto& z : w.zero) z = static_cast<uint8_t>(uniform_below(rng, 16));
  }
  return w;
}

void roundtrip_exllama(const Case& c, const QuantWeights& w) {
  const WeightShape s = shape_of(c);
  const int64_t kw = s.k / 8 + c.pad_kw;
  const ExllamaNK p = pack_exllama_nk(w, kw);
  ASSERT_EQ(p.qweight.size(), static_cast<size_t>(s.experts * s.n * kw));
  ASSERT_EQ(p.scales.size(), static_cast<size_t>(s.experts * s.n * s.groups()));
  ASSERT_EQ(p.zeros.size(),
            c.symmetric ? 0u : static_cast<size_t>(s.experts * (s.n / 8) * s.groups()));
  const QuantWeights back = unpack_exllama_nk(p, s, c.dtype);
  EXPECT_TRUE(back == w) << "unpack(pack(w)) != w";
  const ExllamaNK again = pack_exllama_nk(back, kw);
  EXPECT_EQ(again.kw, p.kw);
  EXPECT_EQ(first_difference("qweight", again.qweight, p.qweight), "");
  EXPECT_EQ(first_difference("scales", again.scales, p.scales), "");
  EXPECT_EQ(first_difference("zeros", again.zeros, p.zeros), "");

  ExllamaNK bad = p;
  bad.qweight.pop_back();
  EXPECT_THROW(unpack_exllama_nk(bad, s, c.dtype), InputError) << "short qweight accepted";
  if (c.pad_kw > 0) {
    bad = p;
    bad.qweight.back() = 1;  // the last padding word of the last row
    EXPECT_THROW(unpack_exllama_nk(bad, s, c.dtype), InputError) << "nonzero padding accepted";
  }
  // kw = 0 means K/8, so the narrowest bad stride is K/8 - 1 only when that is not 0.
  EXPECT_THROW(pack_exllama_nk(w, s.k / 8 > 1 ? s.k / 8 - 1 : -1), InputError)
      << "row stride below K/8 accepted";
}

void roundtrip_gptq(const Case& c, const QuantWeights& w) {
  const WeightShape s = shape_of(c);
  const GptqKN p = pack_gptq_kn(w, c.shuffled, c.zero_format);
  ASSERT_EQ(p.qweight.size(), static_cast<size_t>(s.experts * (s.k / 8) * s.n));
  ASSERT_EQ(p.scales.size(), static_cast<size_t>(s.experts * s.groups() * s.n));
  ASSERT_EQ(p.zeros.size(), static_cast<size_t>(s.experts * s.groups() * (s.n / 8)));
  const QuantWeights back = unpack_gptq_kn(p, s, c.dtype, c.symmetric);
  EXPECT_TRUE(back == w) << "unpack(pack(w)) != w";
  const GptqKN again = pack_gptq_kn(back, p.shuffled, p.zero_format);
  EXPECT_EQ(first_difference("qweight", again.qweight, p.qweight), "");
  EXPECT_EQ(first_difference("scales", again.scales, p.scales), "");
  EXPECT_EQ(first_difference("zeros", again.zeros, p.zeros), "");

  GptqKN bad = p;
  bad.zeros.pop_back();
  EXPECT_THROW(unpack_gptq_kn(bad, s, c.dtype, c.symmetric), InputError) << "short zeros accepted";
  if (!c.symmetric) {
    // Random zeros 0..15 are not all 8: reading them as symmetric must be refused.
    EXPECT_THROW(unpack_gptq_kn(p, s, c.dtype, true), InputError) << "zeros != 8 read as sym";
  }
}

void roundtrip_triton(const Case& c, const QuantWeights& w) {
  const WeightShape s = shape_of(c);
  const TritonNKU8 p = pack_triton_nk_u8(w);
  ASSERT_EQ(p.qweight.size(), static_cast<size_t>(s.experts * s.n * (s.k / 2)));
  ASSERT_EQ(p.scales.size(), static_cast<size_t>(s.experts * s.n * s.groups()));
  ASSERT_EQ(p.zeros.size(),
            c.symmetric ? 0u : static_cast<size_t>(s.experts * (s.n / 2) * s.groups()));
  const QuantWeights back = unpack_triton_nk_u8(p, s, c.dtype);
  EXPECT_TRUE(back == w) << "unpack(pack(w)) != w";
  const TritonNKU8 again = pack_triton_nk_u8(back);
  EXPECT_EQ(first_difference("qweight", again.qweight, p.qweight), "");
  EXPECT_EQ(first_difference("scales", again.scales, p.scales), "");
  EXPECT_EQ(first_difference("zeros", again.zeros, p.zeros), "");

  TritonNKU8 bad = p;
  bad.scales.push_back(0);
  EXPECT_THROW(unpack_triton_nk_u8(bad, s, c.dtype), InputError) << "long scales accepted";
}

// Packs the case's weights, start to finish; used where the case expects an InputError.
void pack_case(const Case& c) {
  const QuantWeights w = random_case_weights(c);
  switch (c.format) {
    case Format::exllama_nk:
      pack_exllama_nk(w, c.gemm_k() / 8 + c.pad_kw);
      break;
    case Format::gptq_kn:
      pack_gptq_kn(w, c.shuffled, c.zero_format);
      break;
    case Format::triton_nk_u8:
      pack_triton_nk_u8(w);
      break;
  }
}

void run_case(const Case& c) {
  if (c.expect == "input_error") {
    try {
      pack_case(c);
      ADD_FAILURE() << "packing was expected to throw InputError";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(c.error), std::string::npos)
          << "the error '" << e.what() << "' does not mention '" << c.error << "'";
    }
    return;
  }
  ASSERT_EQ(c.expect, "pass") << "roundtrip cases expect pass or input_error";
  const QuantWeights w = random_case_weights(c);
  switch (c.format) {
    case Format::exllama_nk:
      check_probes_exllama(c);
      roundtrip_exllama(c, w);
      break;
    case Format::gptq_kn:
      check_probes_gptq(c);
      roundtrip_gptq(c, w);
      break;
    case Format::triton_nk_u8:
      check_probes_triton(c);
      roundtrip_triton(c, w);
      break;
  }
}

}  // namespace
}  // namespace moecheck

MOECHECK_SUITE(roundtrip, moecheck::run_case);
