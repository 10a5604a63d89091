// The read flush's kernel (l2_flush.hpp). Compiled by the GPU variant's device compiler (nvcc
// through moecheck/hip_compat.h, or ROCm's HIP), like floor_kernels.hip.
#include "l2_flush.hpp"

#include <stdint.h>

namespace moecheck::bench {
namespace {

constexpr int kThreads = 256;
constexpr unsigned kMagic = 0x9e3779b9u;

struct Words {
  uint32_t x, y, z, w;
};

__global__ __launch_bounds__(kThreads) void read_flush_kernel(const Words* __restrict__ p, size_t n,
                                                              unsigned* sink) {
  uint32_t acc = 0;
  const size_t stride = static_cast<size_t>(gridDim.x) * kThreads;
  for (size_t i = static_cast<size_t>(blockIdx.x) * kThreads + threadIdx.x; i < n; i += stride) {
    const Words v = p[i];
    acc ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  if (acc == kMagic) *sink = acc;
}

}  // namespace

hipError_t enqueue_read_flush(const void* buffer, size_t bytes, unsigned* sink,
                              hipStream_t stream) {
  // Enough CTAs to keep every SM's loads in flight; the grid-stride loop covers the rest.
  const size_t n = bytes / sizeof(Words);
  const size_t ctas = (n + kThreads - 1) / kThreads;
  const unsigned grid = static_cast<unsigned>(ctas < 4096 ? ctas : 4096);
  read_flush_kernel<<<grid, kThreads, 0, stream>>>(static_cast<const Words*>(buffer), n, sink);
  return hipGetLastError();
}

}  // namespace moecheck::bench
