#include "moecheck/reference/activations.hpp"

#include <limits>
#include <string>

#include "moecheck/reference/error.hpp"

namespace moecheck {

Activations Activations::zeros(DType dtype, int64_t rows, int64_t k, int64_t lda) {
  const auto fail = [&](const std::string& msg) {
    throw InputError("activations: " + msg + " (rows=" + std::to_string(rows) +
                     ", K=" + std::to_string(k) + ", lda=" + std::to_string(lda) + ")");
  };
  if (rows < 0) fail("rows must not be negative");
  if (k <= 0) fail("K must be positive");
  if (lda < k)
    fail("row stride lda=" + std::to_string(lda) + " is less than K=" + std::to_string(k));
  if (rows > 0 && lda > std::numeric_limits<int64_t>::max() / rows) fail("rows * lda overflows");

  Activations a;
  a.dtype = dtype;
  a.rows = rows;
  a.k = k;
  a.lda = lda;
  a.bits.assign(static_cast<size_t>(rows * lda), 0);
  // Poison only the padding: the logical elements start at +0.0.
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = k; c < lda; ++c) a.bits[r * lda + c] = poison_bits(dtype);
  }
  return a;
}

}  // namespace moecheck
