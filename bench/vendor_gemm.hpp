// The vendor's dense GEMM as the yardstick for the routed GEMM stages of moecheck_bench: a
// dense C[M, N] = A[M, K] . B[N, K]^T in bf16 (fp16 for fp16 cases), fp32 compute, C in the
// same dtype, M = the stage's computed routes: the same FLOPs as the routed GEMM, timed in the
// same run with the same Timer (events, warm-up, L2 flush, median).
//   cuda: cuBLAS cublasGemmEx (CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT), vendor_gemm_cuda.cpp
//   hip:  hipBLAS hipblasGemmEx (HIPBLAS_COMPUTE_32F) where CMake finds hipBLAS,
//         vendor_gemm_hip.cpp; otherwise vendor_gemm_none.cpp and the column is absent.
// Row-major C = A . B^T is column-major C^T = B . A^T: the call is (op T, op N, m = N, n = M,
// k = K, lda = ldb = K, ldc = N), cuBLAS's and hipBLAS's fastest ("TN") layout.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "device_timing.hpp"
#include "moecheck/kernels.h"

namespace moecheck::bench {

class VendorGemm {
 public:
  virtual ~VendorGemm() = default;
  virtual std::string name() const = 0;  // e.g. "cuBLAS 130000 cublasGemmEx"
  // Times the dense GEMM on timer.stream(). Throws (DeviceError, std::runtime_error) when the
  // library refuses or memory runs out; the caller reports that and goes on.
  virtual Timing time(mc_dtype dtype, int64_t m, int64_t n, int64_t k, Timer& timer) = 0;
};

// The vendor GEMM of this build, or nullptr with `why` saying why there is none.
std::unique_ptr<VendorGemm> make_vendor_gemm(hipStream_t stream, std::string& why);

}  // namespace moecheck::bench
