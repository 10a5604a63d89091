// The logical weights of one MoE layer (DESIGN.md section 2): q[e][n][k] in 0..15, scale
// s[e][n][g] in the activation dtype, integer zero z[e][n][g] in 0..15, g = k / G.
// Every packed format is a bijection with this form (formats.hpp).
#pragma once

#include <cstdint>
#include <vector>

#include "moecheck/reference/dtype.hpp"

namespace moecheck {

struct WeightShape {
  int64_t experts = 0;  // E
  int64_t n = 0;        // output features (rows of W)
  int64_t k = 0;        // reduction length
  int64_t group = 0;    // G: K % G == 0 is required
  int64_t groups() const { return k / group; }
};

// Throws InputError naming the field and its value when the shape is not one DESIGN.md allows:
// positive E, N, K, G; K % G == 0; K % 8 == 0 (every packed format packs 8 k per int32 word);
// E * N * K fits in int64. Any positive G dividing K is accepted (the kernels support 32, 64,
// 128; their `supports` predicates refuse others, the reference does not need to).
// `what` prefixes the message, e.g. "gemm1 weights: K=100 is not a multiple of the group size
// G=32".
void validate(const WeightShape& s, const char* what);

struct QuantWeights {
  WeightShape shape;
  DType dtype = DType::bf16;    // dtype of the scales (the activation dtype)
  bool symmetric = true;        // uint4b8: every zero is 8
  std::vector<uint8_t> q;       // [E][N][K], each 0..15
  std::vector<uint16_t> scale;  // [E][N][G'] scale bits in `dtype`, G' = K / G
  std::vector<uint8_t> zero;    // [E][N][G'], each 0..15 (all 8 when symmetric)

  // Validated shape, q = 0, scale bits 0 (+0.0), zero = 8 when symmetric else 0: a blank to fill.
  static QuantWeights zeros_like(const WeightShape& s, DType dtype, bool symmetric);

  int64_t q_index(int64_t e, int64_t n, int64_t k) const { return (e * shape.n + n) * shape.k + k; }
  int64_t g_index(int64_t e, int64_t n, int64_t g) const {
    return (e * shape.n + n) * shape.groups() + g;
  }
  float scale_at(int64_t e, int64_t n, int64_t k) const {
    return bits_to_float(scale[g_index(e, n, k / shape.group)], dtype);
  }
  int zero_at(int64_t e, int64_t n, int64_t k) const {
    return zero[g_index(e, n, k / shape.group)];
  }
  // w = (q - z) * s, exact in float and double: |q - z| < 16 and s has at most 11 significant bits.
  double dequant(int64_t e, int64_t n, int64_t k) const {
    return (static_cast<int>(q[q_index(e, n, k)]) - zero_at(e, n, k)) *
           static_cast<double>(scale_at(e, n, k));
  }
  // Every field equal: shape, dtype, symmetric and the three arrays (scales compared as bits).
  bool operator==(const QuantWeights& o) const;
  bool operator!=(const QuantWeights& o) const { return !(*this == o); }
};

// Throws InputError (prefixed by `what`) unless w is well formed: a valid shape, array lengths
// matching it, every q and zero in 0..15, and every zero 8 when symmetric. The packers call it.
void validate(const QuantWeights& w, const char* what);

}  // namespace moecheck
