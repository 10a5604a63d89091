// The vendor's dense GEMM as the yardstick for the routed GEMM stages of moecheck_bench: a
// dense C[M, N] = A[M, K] . B[N, K]^T in bf16 (fp16 for fp16 cases), fp32 compute, C in the
// same dtype, M = the stage's computed routes: the same FLOPs as the routed GEMM, timed in the
// same run with the same Timer (events, warm-up, L2 flush, median), launch by launch alternating
// with the routed GEMM's own launches (gpu_bench.cpp time_stage, Timer::time_together).
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
  // The dense GEMM's launch on `stream`, which owns its operands (allocated and filled here) and
  // enqueues one GEMM per call. The GEMM is run once here, so a refusal shows now: it throws
  // (DeviceError, std::runtime_error) when the library refuses or memory runs out, and the
  // caller reports that and goes on.
  virtual Timer::Work prepare(mc_dtype dtype, int64_t m, int64_t n, int64_t k,
                              hipStream_t stream) = 0;
};

// A dense GEMM's operands as every VendorGemm fills them: A[M, K] and B[N, K] of 0x3c3c (0.0115
// in bf16, 1.06 in fp16: finite sums for every K of the catalog), C[M, N] zeroed, on `stream`.
struct DenseOperands {
  DenseOperands(int64_t m, int64_t n, int64_t k, hipStream_t stream);
  DeviceMemory a, b, c;
};

// The vendor GEMM of this build, or nullptr with `why` saying why there is none.
std::unique_ptr<VendorGemm> make_vendor_gemm(hipStream_t stream, std::string& why);

}  // namespace moecheck::bench
