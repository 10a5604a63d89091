// The launch floor's kernels (floor_kernels.hpp), built by the GPU variant's device compiler.
#include "floor_kernels.hpp"

namespace moecheck::bench {
namespace {

constexpr unsigned kMagic = 0x9e3779b9u;

__global__ void empty_kernel() {}

__global__ void dependent_reads_kernel(const uint32_t* chain, unsigned* sink) {
  const uint32_t v = chain[chain[0]];
  if (v == kMagic) *sink = v;
}

}  // namespace

hipError_t enqueue_empty(hipStream_t stream) {
  empty_kernel<<<1, 1, 0, stream>>>();
  return hipGetLastError();
}

hipError_t enqueue_dependent_reads(const uint32_t* chain, unsigned* sink, hipStream_t stream) {
  dependent_reads_kernel<<<1, 1, 0, stream>>>(chain, sink);
  return hipGetLastError();
}

}  // namespace moecheck::bench
