// Activations A [rows, K] in bf16 or fp16 with a row stride lda >= K (DESIGN.md section 2).
#pragma once

#include <cstdint>
#include <vector>

#include "moecheck/reference/dtype.hpp"

namespace moecheck {

struct Activations {
  DType dtype = DType::bf16;
  int64_t rows = 0;
  int64_t k = 0;
  int64_t lda = 0;             // elements between row starts, >= k
  std::vector<uint16_t> bits;  // rows * lda; padding elements are never read

  // rows x k zeros (+0.0) with row stride lda. Padding elements (columns k..lda-1) hold the
  // dtype's poison NaN (poison_bits), so a kernel that reads past K shows up as NaN in its
  // output. Throws InputError unless rows >= 0, k > 0, lda >= k and rows * lda fits in int64.
  static Activations zeros(DType dtype, int64_t rows, int64_t k, int64_t lda);
  float at(int64_t r, int64_t c) const { return bits_to_float(bits[r * lda + c], dtype); }
  void set(int64_t r, int64_t c, float v) { bits[r * lda + c] = float_to_bits(v, dtype); }
};

}  // namespace moecheck
