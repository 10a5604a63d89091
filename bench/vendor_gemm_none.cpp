// A build without a vendor BLAS (hip without hipBLAS): the vendor column is absent.
#include "vendor_gemm.hpp"

namespace moecheck::bench {

std::unique_ptr<VendorGemm> make_vendor_gemm(hipStream_t, std::string& why) {
  why = "no vendor BLAS in this build (hipBLAS was not found at configure time)";
  return nullptr;
}

}  // namespace moecheck::bench
