// Packed weight formats of DESIGN.md section 2, each a bijection with QuantWeights.
// All little-endian; nibble p of a word is bits 4p..4p+3.
//
// pack_* validates its input (validate(QuantWeights)) and the format's own requirements;
// unpack_* validates every array length against the shape, and rejects anything pack_* cannot
// produce (nonzero padding words, symmetric-labelled zeros that are not 8), so that unpack is
// exactly the inverse of pack. Both throw InputError naming the array and what is wrong.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "moecheck/reference/weights.hpp"

namespace moecheck {

// Nibble p of a K-packed int32 word holds k = 8j + kShuffledOrder[p] (the "shuffled" order used
// by exllama_nk and the shuffled gptq_kn).
inline constexpr int kShuffledOrder[8] = {0, 2, 4, 6, 1, 3, 5, 7};

enum class Format { exllama_nk, gptq_kn, triton_nk_u8 };
const char* to_string(Format f);
Format parse_format(const std::string& s);  // throws std::invalid_argument

// exllama_nk: qweight int32 [E, N, Kw] (Kw >= K/8, expert stride N*Kw), scales [E, N, K/G],
// zeros absent (symmetric) or int32 [E, N/8, K/G] with n at nibble n % 8 of word n / 8
// (asymmetric weights need N % 8 == 0). Word j of a row holds k = 8j + kShuffledOrder[p] at
// nibble p. Whether the weights are symmetric is carried by whether `zeros` is empty.
struct ExllamaNK {
  int64_t kw = 0;                // words per row (row stride), >= K/8
  std::vector<int32_t> qweight;  // E * N * kw (padding words are zero)
  std::vector<uint16_t> scales;  // E * N * K/G
  std::vector<int32_t> zeros;    // empty when symmetric, else E * N/8 * K/G
};
ExllamaNK pack_exllama_nk(const QuantWeights& w, int64_t kw);  // kw = 0 means K/8, else >= K/8
QuantWeights unpack_exllama_nk(const ExllamaNK& p, const WeightShape& s, DType dtype);

// gptq_kn: qweight int32 [E, K/8, N] (shuffled or plain nibble order along K), scales [E, K/G, N],
// zeros int32 [E, K/G, N/8] with n = 8c + p at nibble p; v1 stores z - 1, v2 stores z.
// N % 8 == 0 is required (the zeros are always present).
//
// GPTQ v1 zeros: real v1 checkpoints store (z - 1) & 0xF and their kernels dequantise with
// stored + 1, *without* wrapping, so a v1 kernel reads stored 15 as z = 16 and can never see
// z = 0. Our logical zeros are 0..15, and to keep pack/unpack a bijection on all of them,
// unpack decodes z = (stored + 1) & 0xF, i.e. stored 15 means z = 0. The two readings agree for
// z in 1..15 and differ only for z = 0 (ours) vs z = 16 (v1 kernels'). Inputs meant for a v1
// kernel must therefore avoid z = 0: the exact tier draws zeros from 1..15 (exact_tier.hpp)
// unless a case asks for 0..15 (zeros_include_0, labelled v1_z0 with v1 zeros);
// the quantiser (quantize.hpp) gives z = 0 only to a group with no value below -s/2.
enum class GptqZeros { v1, v2 };
struct GptqKN {
  bool shuffled = true;
  GptqZeros zero_format = GptqZeros::v2;
  std::vector<int32_t> qweight;  // E * K/8 * N
  std::vector<uint16_t> scales;  // E * K/G * N
  std::vector<int32_t> zeros;    // E * K/G * N/8 (always present: symmetric stores 8 or 7)
};
GptqKN pack_gptq_kn(const QuantWeights& w, bool shuffled, GptqZeros zero_format);
// `symmetric` says how to label the result (the format itself always carries zeros).
QuantWeights unpack_gptq_kn(const GptqKN& p, const WeightShape& s, DType dtype, bool symmetric);

// triton_nk_u8: uint8 [E, N, K/2] (k = 2j low nibble, 2j+1 high), scales [E, N, K/G],
// zeros uint8 [E, N/2, K/G] raw (n at nibble n % 2; asymmetric weights need N % 2 == 0),
// absent = 8 (symmetric).
struct TritonNKU8 {
  std::vector<uint8_t> qweight;  // E * N * K/2
  std::vector<uint16_t> scales;  // E * N * K/G
  std::vector<uint8_t> zeros;    // empty when symmetric, else E * N/2 * K/G
};
TritonNKU8 pack_triton_nk_u8(const QuantWeights& w);
QuantWeights unpack_triton_nk_u8(const TritonNKU8& p, const WeightShape& s, DType dtype);

}  // namespace moecheck
