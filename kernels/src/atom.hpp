// The matrix-multiply atom: one 16x16x16 step, fp32 accumulate, bf16 or fp16 inputs. This file,
// the layout and decode maps in moecheck/atom_layout.h and the copies in async_copy.hpp are the
// only architecture-specific code of the kernels (DESIGN.md section 6). Everything else reaches
// the atom through:
//
//   mc::Layout              the lane maps (lane, element) -> (row, col) of A, B and C
//   mc::FragA / mc::FragB   one lane's A / B elements as 32-bit words (two elements per word)
//   mc::Acc                 one lane's kCElems fp32 accumulators
//   mc::atom_mma<Dt>(c,a,b) c += a * b
//   mc::atom_mma_n8<Dt>(c,a,b) c += a * b for columns 0..7 only (an n8 step, atom_layout.h):
//                           FragBN8 holds B words 0 .. kN8BWords - 1, C elements >= kN8CElems
//                           are left as they are
//   mc::atom_load_a(lane,seg) an A fragment from a row-major tile in shared memory
//   MC_HAS_ATOM             1 in a device pass that has an atom (sm_80+, gfx11), else 0
//   kSubStepUnroll, kWarpAtomsM, kTiledReuseHeldGroups, MC_TILED_LAUNCH_BOUNDS
//                           the per-architecture shape of the tile loops (below)
//
// Targets without an atom (AMD other than gfx11, e.g. gfx12 where clang-19 crashes on the gfx11
// builtins; NVIDIA below sm_80) compile the kernels with an empty body; the launchers never
// launch them there (device_status() says MC_NO_DEVICE).
#pragma once

#include "device_common.hpp"
#include "moecheck/atom_layout.h"

#if defined(__CUDA_ARCH__)
#if __CUDA_ARCH__ >= 800
#define MC_HAS_ATOM 1
#define MC_ATOM_MMA_SYNC 1
#else
#define MC_HAS_ATOM 0
#endif
#elif defined(__HIP_DEVICE_COMPILE__) && defined(__GFX11__)
#define MC_HAS_ATOM 1
#define MC_ATOM_WMMA_GFX11 1
#else
#define MC_HAS_ATOM 0  // host pass, or a device target without an atom
#endif

namespace mc {

using Layout = moecheck::atom::NativeLayout;
using moecheck::atom::Coord;

template <int N>
struct Words {
  uint32_t w[N];
};
using FragA = Words<Layout::kAElems / 2>;
using FragB = Words<Layout::kBElems / 2>;
using FragBN8 = Words<Layout::kN8BWords>;
struct Acc {
  float v[Layout::kCElems];
};

// How many of a K step's 16-k sub-steps a tile loop unrolls: all on NVIDIA (independent
// mma.sync in flight), one at a time on gfx11, where hoisting the next sub-step's fragments (8
// VGPRs each) takes the tiled kernel past its VGPR budget (ci/gfx11_gate/budgets.yaml).
#if defined(MC_ATOM_WMMA_GFX11)
constexpr int kSubStepUnroll = 1;
#else
constexpr int kSubStepUnroll = 2;
#endif

// At most how many atoms along M one warp of the tiled kernel owns (its tile is that x 16 rows by
// 32 columns). Each atom row reuses the warp's dequantised weights, so more rows mean fewer
// dequantising instructions per mma: 4 on NVIDIA (64 rows, 64 fp32 accumulators per lane; the
// kernel is issue-bound there), 2 on gfx11, where 4 takes the kernel past its VGPR budget.
#if defined(MC_ATOM_WMMA_GFX11)
constexpr int kWarpAtomsM = 2;
#else
constexpr int kWarpAtomsM = 4;
#endif

// Whether the tiled kernel copies a scale/zero entry of a group it already holds instead of
// loading it again (tiled_gemm.hip stage_sz). On sm_90 those 2-byte loads, each lane in another
// sector, cost the L1 more than their bytes: 1.031-1.037x over the prefill table on an H200.
// Off elsewhere, where it was not measured and costs registers: on sm_80 ptxas spills 16 bytes at
// block_m 64 with it (none without), and on gfx11 it takes the bf16 block_m 32 kernel to 129
// VGPRs, past its budget of 128 (ci/gfx11_gate/budgets.yaml). There every entry is loaded, as at
// G = 32 on sm_90.
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
constexpr bool kTiledReuseHeldGroups = true;
#else
constexpr bool kTiledReuseHeldGroups = false;
#endif

// MC_TILED_LAUNCH_BOUNDS(threads): the tiled kernel's __launch_bounds__. On NVIDIA it asks for
// 3 resident CTAs per SM, which caps its registers at 168 (from 198; on sm_90 the fp16 block_m 64
// kernel spills 8-16 bytes there, the others none), for 12 warps per SM instead of 8 (measured in
// one bench run on an H200: 7 % less time, geometric mean over the prefill table). On AMD the
// second argument means something else (waves per EU), so the one-argument form.
#if defined(MC_COMPAT_CUDA)
#define MC_TILED_LAUNCH_BOUNDS(threads) __launch_bounds__(threads, 3)
#else
#define MC_TILED_LAUNCH_BOUNDS(threads) __launch_bounds__(threads)
#endif
// MC_FUSED_LAUNCH_BOUNDS(threads, ctas): the fused kernel's, `ctas` resident per SM on NVIDIA
// (fused_gemm.hip fused_min_ctas); the one-argument form on AMD, as above.
#if defined(MC_COMPAT_CUDA)
#define MC_FUSED_LAUNCH_BOUNDS(threads, ctas) __launch_bounds__(threads, ctas)
#else
#define MC_FUSED_LAUNCH_BOUNDS(threads, ctas) __launch_bounds__(threads)
#endif

#if defined(MC_ATOM_WMMA_GFX11)
typedef short mc_v16s __attribute__((ext_vector_type(16)));
typedef _Float16 mc_v16h __attribute__((ext_vector_type(16)));
typedef float mc_v8f __attribute__((ext_vector_type(8)));
#endif

#if defined(MC_ATOM_MMA_SYNC)
// One mma.sync m16n8k16: c[0..3] += a * {b0, b1} (PTX ISA fragment layout: atom_layout.h).
template <class Dt>
__device__ __forceinline__ void mma_16816(float* c, const FragA& a, uint32_t b0, uint32_t b1) {
#define MC_MMA_16816(TYPE)                                           \
  asm("mma.sync.aligned.m16n8k16.row.col.f32." TYPE "." TYPE         \
      ".f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n" \
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])               \
      : "r"(a.w[0]), "r"(a.w[1]), "r"(a.w[2]), "r"(a.w[3]), "r"(b0), "r"(b1))
  if constexpr (Dt::kDtype == MC_BF16) {
    MC_MMA_16816("bf16");
  } else {
    MC_MMA_16816("f16");
  }
#undef MC_MMA_16816
}
#endif

// c += a * b over one 16x16x16 step.
template <class Dt>
__device__ __forceinline__ void atom_mma(Acc& c, const FragA& a, const FragB& b) {
#if defined(MC_ATOM_MMA_SYNC)
  // Two m16n8k16: B words 0-1 (elements 0..3) and C 0..3 are n = 0..7, words 2-3 and C 4..7
  // are n = 8..15; the A fragment is shared.
  mma_16816<Dt>(&c.v[0], a, b.w[0], b.w[1]);
  mma_16816<Dt>(&c.v[4], a, b.w[2], b.w[3]);
#elif defined(MC_ATOM_WMMA_GFX11)
  // clang-19: the bf16 builtin takes 16 x short (bf16 bits), the f16 one 16 x _Float16.
  mc_v8f acc = __builtin_bit_cast(mc_v8f, c);
  if constexpr (Dt::kDtype == MC_BF16) {
    acc = __builtin_amdgcn_wmma_f32_16x16x16_bf16_w32(__builtin_bit_cast(mc_v16s, a),
                                                      __builtin_bit_cast(mc_v16s, b), acc);
  } else {
    acc = __builtin_amdgcn_wmma_f32_16x16x16_f16_w32(__builtin_bit_cast(mc_v16h, a),
                                                     __builtin_bit_cast(mc_v16h, b), acc);
  }
  c = __builtin_bit_cast(Acc, acc);
#else
  // No atom on this target: never launched (see the file comment).
  (void)c;
  (void)a;
  (void)b;
#endif
}

// c += a * b for the step's columns n = 0..7 (an n8 step): one m16n8k16 on NVIDIA, the whole
// atom on gfx11 (its columns 8..15 come out of whatever B words the lanes of those columns hold).
template <class Dt>
__device__ __forceinline__ void atom_mma_n8(Acc& c, const FragA& a, const FragBN8& b) {
#if defined(MC_ATOM_MMA_SYNC)
  mma_16816<Dt>(&c.v[0], a, b.w[0], b.w[1]);
#elif defined(MC_ATOM_WMMA_GFX11)
  static_assert(Layout::kN8BWords == Layout::kBElems / 2, "the whole atom's B: FragBN8 is FragB");
  atom_mma<Dt>(c, a, b);
#else
  // No atom on this target: never launched (see the file comment).
  (void)c;
  (void)a;
  (void)b;
#endif
}

// One atom's A fragment (16 rows by 16 k) from a row-major tile in shared memory: seg(row, k) is
// the address of elements k .. k + 7 of the atom's row `row`, 16-byte aligned (Layout::a_seg says
// which segments a lane supplies). On NVIDIA one ldmatrix .x4; on gfx11 two 16-byte reads of the
// lane's own row. volatile: the tile is rewritten between barriers, so a load must stay where it
// is written (the asm names no memory operand the compiler could track).
template <class SegAddr>
__device__ __forceinline__ FragA atom_load_a(int lane, SegAddr seg) {
  FragA f;
#if defined(MC_ATOM_MMA_SYNC)
  const Coord x = Layout::a_seg(lane, 0);
  const auto addr = static_cast<uint32_t>(__cvta_generic_to_shared(seg(x.row, x.col)));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(f.w[0]), "=r"(f.w[1]), "=r"(f.w[2]), "=r"(f.w[3])
               : "r"(addr));
#elif defined(MC_ATOM_WMMA_GFX11)
#pragma unroll
  for (int q = 0; q < Layout::kASegs; ++q) {
    const Coord x = Layout::a_seg(lane, q);
    const u32x4 v = *reinterpret_cast<const u32x4*>(seg(x.row, x.col));
#pragma unroll
    for (int j = 0; j < 4; ++j) f.w[4 * q + j] = word(v, j);
  }
#else
  // No atom on this target: never launched (see the file comment).
  (void)lane;
  (void)seg;
  for (uint32_t& w : f.w) w = 0u;
#endif
  return f;
}

}  // namespace mc
