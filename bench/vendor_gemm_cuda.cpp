// The cuBLAS baseline (vendor_gemm.hpp): cublasGemmEx, bf16/fp16 in and out, fp32 compute.
#include <cublas_v2.h>

#include <limits>
#include <memory>
#include <stdexcept>
#include <string>

#include "device_buffer.hpp"
#include "vendor_gemm.hpp"

namespace moecheck::bench {
namespace {

void check_cublas(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS) {
    throw std::runtime_error(std::string("cuBLAS ") + what + ": " + cublasGetStatusString(s));
  }
}

int as_int(int64_t v, const char* what) {
  if (v < 1 || v > std::numeric_limits<int>::max()) {
    throw std::runtime_error(std::string("cuBLAS: ") + what + " = " + std::to_string(v) +
                             " is outside 1..INT_MAX");
  }
  return static_cast<int>(v);
}

class Cublas : public VendorGemm {
 public:
  explicit Cublas(hipStream_t stream) {
    check_cublas(cublasCreate(&handle_), "create a handle");
    check_cublas(cublasSetStream(handle_, stream), "set the stream");
    int version = 0;
    check_cublas(cublasGetVersion(handle_, &version), "read the version");
    name_ = "cuBLAS " + std::to_string(version) + " cublasGemmEx";
  }
  ~Cublas() override { (void)cublasDestroy(handle_); }

  std::string name() const override { return name_; }

  Timer::Work prepare(mc_dtype dtype, int64_t m, int64_t n, int64_t k,
                      hipStream_t stream) override {
    const int mi = as_int(m, "M"), ni = as_int(n, "N"), ki = as_int(k, "K");
    check_cublas(cublasSetStream(handle_, stream), "set the stream");
    const auto ops = std::make_shared<const DenseOperands>(m, n, k, stream);
    const cudaDataType_t t = dtype == MC_BF16 ? CUDA_R_16BF : CUDA_R_16F;
    const Timer::Work gemm = [this, ops, t, mi, ni, ki] {
      const float alpha = 1.0f, beta = 0.0f;
      check_cublas(cublasGemmEx(handle_, CUBLAS_OP_T, CUBLAS_OP_N, ni, mi, ki, &alpha,
                                ops->b.data(), t, ki, ops->a.data(), t, ki, &beta, ops->c.data(), t,
                                ni, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                   "cublasGemmEx");
    };
    gemm();
    check_runtime(hipStreamSynchronize(stream), "run cublasGemmEx once");
    return gemm;
  }

 private:
  cublasHandle_t handle_ = nullptr;
  std::string name_;
};

}  // namespace

std::unique_ptr<VendorGemm> make_vendor_gemm(hipStream_t stream, std::string& why) {
  try {
    return std::make_unique<Cublas>(stream);
  } catch (const std::exception& e) {
    why = e.what();
    return nullptr;
  }
}

}  // namespace moecheck::bench
