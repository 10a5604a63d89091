// The bench's floor kernels (floor_kernels.hpp), built by the GPU variant's device compiler.
#include "floor_kernels.hpp"

// The kernels' own matrix atom (kernels/src/atom.hpp): the roof is measured on the very
// instruction the GEMMs issue, for the device this pass compiles for.
#include "atom.hpp"

namespace moecheck::bench {
namespace {

constexpr unsigned kMagic = 0x9e3779b9u;

__global__ void empty_kernel() {}

__global__ void dependent_reads_kernel(const uint32_t* chain, unsigned* sink) {
  const uint32_t v = chain[chain[0]];
  if (v == kMagic) *sink = v;
}

// Every warp runs kAtomChains independent accumulators through the atom, `iters` times each: no
// memory in the loop, and enough independent atoms per warp that the atom's latency is hidden
// (a separate sweep on an H200 at 16 warps per SM, bf16: 8 chains 649 TFLOP/s, 16 chains 651;
// this kernel, timed by the bench, 637-641). A and B are values in
// [1, 2) that differ per lane, so no product is zero and nothing folds away; the sum of the
// accumulators, never 0, keeps every atom live.
template <class Dt>
__global__ __launch_bounds__(kAtomPeakWarps * 32) void atom_peak_kernel(int iters, unsigned* sink) {
#if MC_HAS_ATOM
  const uint32_t bits = (threadIdx.x * kMagic + blockIdx.x) & 0x007F007Fu;
  const uint32_t one = Dt::kDtype == MC_BF16 ? 0x3F803F80u : 0x3C003C00u;  // 1.0 in both halves
  mc::FragA a;
  mc::FragB b;
  for (uint32_t& w : a.w) w = one | bits;
  for (uint32_t& w : b.w) w = one | (bits ^ 0x00550055u);
  mc::Acc acc[kAtomPeakChains] = {};
  for (int it = 0; it < iters; ++it) {
#pragma unroll
    for (int c = 0; c < kAtomPeakChains; ++c) mc::atom_mma<Dt>(acc[c], a, b);
  }
  float s = 0.0f;
#pragma unroll
  for (int c = 0; c < kAtomPeakChains; ++c) {
#pragma unroll
    for (float v : acc[c].v) s += v;
  }
  if (s == 0.0f) *sink = 1u;
#else
  (void)iters;
  if (threadIdx.x == 0 && blockIdx.x == 0) *sink = kNoAtom;
#endif
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

double atom_peak_flops(int blocks, int iters) {
  using moecheck::atom::kK;
  using moecheck::atom::kM;
  using moecheck::atom::kN;
  return 2.0 * kM * kN * kK * kAtomPeakChains * kAtomPeakWarps * static_cast<double>(blocks) *
         iters;
}

hipError_t enqueue_atom_peak(mc_dtype dtype, int blocks, int iters, unsigned* sink,
                             hipStream_t stream) {
  if (dtype == MC_BF16) {
    atom_peak_kernel<mc::Bf16><<<blocks, kAtomPeakWarps * 32, 0, stream>>>(iters, sink);
  } else {
    atom_peak_kernel<mc::Fp16><<<blocks, kAtomPeakWarps * 32, 0, stream>>>(iters, sink);
  }
  return hipGetLastError();
}

}  // namespace moecheck::bench
