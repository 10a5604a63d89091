// The hipBLAS baseline (vendor_gemm.hpp): hipblasGemmEx, bf16/fp16 in and out, fp32 compute.
// HIPBLAS_V2 selects the hipDataType / hipblasComputeType_t interface on ROCm 6 (the only one
// on ROCm 7).
#ifndef HIPBLAS_V2
#define HIPBLAS_V2
#endif
#include <hipblas/hipblas.h>

#include <limits>
#include <memory>
#include <stdexcept>
#include <string>

#include "device_buffer.hpp"
#include "vendor_gemm.hpp"

namespace moecheck::bench {
namespace {

void check_hipblas(hipblasStatus_t s, const char* what) {
  if (s != HIPBLAS_STATUS_SUCCESS) {
    throw std::runtime_error(std::string("hipBLAS ") + what + ": status " +
                             std::to_string(static_cast<int>(s)));
  }
}

int as_int(int64_t v, const char* what) {
  if (v < 1 || v > std::numeric_limits<int>::max()) {
    throw std::runtime_error(std::string("hipBLAS: ") + what + " = " + std::to_string(v) +
                             " is outside 1..INT_MAX");
  }
  return static_cast<int>(v);
}

class Hipblas : public VendorGemm {
 public:
  explicit Hipblas(hipStream_t stream) {
    check_hipblas(hipblasCreate(&handle_), "create a handle");
    check_hipblas(hipblasSetStream(handle_, stream), "set the stream");
  }
  ~Hipblas() override { (void)hipblasDestroy(handle_); }

  std::string name() const override { return "hipBLAS hipblasGemmEx"; }

  Timer::Work prepare(mc_dtype dtype, int64_t m, int64_t n, int64_t k,
                      hipStream_t stream) override {
    const int mi = as_int(m, "M"), ni = as_int(n, "N"), ki = as_int(k, "K");
    check_hipblas(hipblasSetStream(handle_, stream), "set the stream");
    const auto ops = std::make_shared<const DenseOperands>(m, n, k, stream);
    const hipDataType t = dtype == MC_BF16 ? HIP_R_16BF : HIP_R_16F;
    const Timer::Work gemm = [this, ops, t, mi, ni, ki] {
      const float alpha = 1.0f, beta = 0.0f;
      check_hipblas(hipblasGemmEx(handle_, HIPBLAS_OP_T, HIPBLAS_OP_N, ni, mi, ki, &alpha,
                                  ops->b.data(), t, ki, ops->a.data(), t, ki, &beta, ops->c.data(),
                                  t, ni, HIPBLAS_COMPUTE_32F, HIPBLAS_GEMM_DEFAULT),
                    "hipblasGemmEx");
    };
    gemm();
    check_runtime(hipStreamSynchronize(stream), "run hipblasGemmEx once");
    return gemm;
  }

 private:
  hipblasHandle_t handle_ = nullptr;
};

}  // namespace

std::unique_ptr<VendorGemm> make_vendor_gemm(hipStream_t stream, std::string& why) {
  try {
    return std::make_unique<Hipblas>(stream);
  } catch (const std::exception& e) {
    why = e.what();
    return nullptr;
  }
}

}  // namespace moecheck::bench
