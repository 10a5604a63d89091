// The operands every vendor GEMM baseline times on (vendor_gemm.hpp).
#include "vendor_gemm.hpp"

#include "device_buffer.hpp"

namespace moecheck::bench {

DenseOperands::DenseOperands(int64_t m, int64_t n, int64_t k, hipStream_t stream)
    : a(static_cast<size_t>(m * k) * 2),
      b(static_cast<size_t>(n * k) * 2),
      c(static_cast<size_t>(m * n) * 2) {
  check_runtime(hipMemsetAsync(a.data(), 0x3c, a.bytes(), stream), "fill the vendor GEMM's A");
  check_runtime(hipMemsetAsync(b.data(), 0x3c, b.bytes(), stream), "fill the vendor GEMM's B");
  check_runtime(hipMemsetAsync(c.data(), 0, c.bytes(), stream), "zero the vendor GEMM's C");
}

}  // namespace moecheck::bench
