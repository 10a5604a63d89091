// The matrix-multiply atom: one 16x16x16 step, fp32 accumulate, bf16 or fp16 inputs. This file
// and the layout maps in moecheck/atom_layout.h are the only architecture-specific code of the
// kernels (DESIGN.md section 6). Everything else reaches the atom through:
//
//   mc::Layout              the lane maps (lane, element) -> (row, col) of A, B and C
//   mc::FragA / mc::FragB   one lane's A / B elements as 32-bit words (two elements per word)
//   mc::Acc                 one lane's kCElems fp32 accumulators
//   mc::load_frag_a/b       a fragment from a k-contiguous shared-memory tile, through the maps
//   mc::atom_mma<Dt>(c,a,b) c += a * b
//   MC_HAS_ATOM             1 in a device pass that has an atom (sm_80+, gfx11), else 0
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

// Copies RUN consecutive 16-bit elements (a run of the layout) from shared memory into fragment
// words, with the widest loads the run allows. `src` is aligned to the run's byte size, capped at
// 16 bytes (the tiles' row strides and column offsets keep it so).
template <int RUN>
__device__ __forceinline__ void load_run(uint32_t* dst, const uint16_t* src) {
  static_assert(RUN % 2 == 0, "a run covers whole 32-bit words");
  if constexpr (RUN % 8 == 0) {
#pragma unroll
    for (int i = 0; i < RUN / 8; ++i) {
      const u32x4 v = reinterpret_cast<const u32x4*>(src)[i];
      dst[4 * i + 0] = v.x;
      dst[4 * i + 1] = v.y;
      dst[4 * i + 2] = v.z;
      dst[4 * i + 3] = v.w;
    }
  } else if constexpr (RUN % 4 == 0) {
#pragma unroll
    for (int i = 0; i < RUN / 4; ++i) {
      const u32x2 v = reinterpret_cast<const u32x2*>(src)[i];
      dst[2 * i + 0] = v.x;
      dst[2 * i + 1] = v.y;
    }
  } else {
#pragma unroll
    for (int i = 0; i < RUN / 2; ++i) dst[i] = reinterpret_cast<const uint32_t*>(src)[i];
  }
}

#if defined(MC_ATOM_MMA_SYNC)
// NVIDIA: four 8x8 matrices of 16-bit elements from shared memory in one instruction; lane i
// supplies the address of row i % 8 of matrix i / 8 and receives, of each matrix j, the elements
// (row i / 4, columns 2 (i % 4) and +1) in register j (PTX ISA, ldmatrix). Those are exactly the
// A and B elements the MmaSyncLayout map gives each lane (see the two loaders below), so the maps
// stay the one description of the fragments; the generic loop is the gfx11 path.
__device__ __forceinline__ void ldmatrix_x4(uint32_t* r, const uint16_t* row) {
  const auto addr = static_cast<uint32_t>(__cvta_generic_to_shared(row));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
#endif

// A fragment of the 16x16 (m, k) tile at `tile`, row stride `ld` elements (k contiguous). Rows
// are 16-byte aligned (the tiles' strides and offsets keep them so).
__device__ __forceinline__ void load_frag_a(FragA& f, const uint16_t* tile, int ld, int lane) {
#if defined(MC_ATOM_MMA_SYNC)
  // Words 0..3 are (m, k) = (g, 2t), (g + 8, 2t), (g, 2t + 8), (g + 8, 2t + 8): matrices of rows
  // 0-7 / 8-15 at k 0 (lanes 0-15) and at k 8 (lanes 16-31).
  ldmatrix_x4(f.w, tile + (lane % 16) * ld + 8 * (lane / 16));
#else
#pragma unroll
  for (int e = 0; e < Layout::kAElems; e += Layout::kARun) {
    const Coord x = Layout::a(lane, e);
    load_run<Layout::kARun>(&f.w[e / 2], tile + x.row * ld + x.col);
  }
#endif
}
// B fragment of the 16x16 (k, n) tile stored n-major at `tile`: element (k, n) at tile[n*ld + k].
__device__ __forceinline__ void load_frag_b(FragB& f, const uint16_t* tile, int ld, int lane) {
#if defined(MC_ATOM_MMA_SYNC)
  // Words 0..3 are (k, n) = (2t, g), (2t + 8, g), (2t, g + 8), (2t + 8, g + 8): matrices of
  // n 0-7 at k 0, k 8 (lanes 0-7, 8-15) and n 8-15 at k 0, k 8 (lanes 16-23, 24-31).
  ldmatrix_x4(f.w, tile + (lane % 8 + 8 * (lane / 16)) * ld + 8 * ((lane / 8) % 2));
#else
#pragma unroll
  for (int e = 0; e < Layout::kBElems; e += Layout::kBRun) {
    const Coord x = Layout::b(lane, e);
    load_run<Layout::kBRun>(&f.w[e / 2], tile + x.col * ld + x.row);
  }
#endif
}

#if defined(MC_ATOM_WMMA_GFX11)
typedef short mc_v16s __attribute__((ext_vector_type(16)));
typedef _Float16 mc_v16h __attribute__((ext_vector_type(16)));
typedef float mc_v8f __attribute__((ext_vector_type(8)));
#endif

// c += a * b over one 16x16x16 step.
template <class Dt>
__device__ __forceinline__ void atom_mma(Acc& c, const FragA& a, const FragB& b) {
#if defined(MC_ATOM_MMA_SYNC)
  // Two m16n8k16: B words 0-1 (elements 0..3) and C 0..3 are n = 0..7, words 2-3 and C 4..7
  // are n = 8..15; the A fragment is shared.
#define MC_MMA_16816(TYPE, C0, B0)                                                 \
  asm("mma.sync.aligned.m16n8k16.row.col.f32." TYPE "." TYPE                       \
      ".f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"               \
      : "+f"(c.v[C0 + 0]), "+f"(c.v[C0 + 1]), "+f"(c.v[C0 + 2]), "+f"(c.v[C0 + 3]) \
      : "r"(a.w[0]), "r"(a.w[1]), "r"(a.w[2]), "r"(a.w[3]), "r"(b.w[B0]), "r"(b.w[B0 + 1]))
  if constexpr (Dt::kDtype == MC_BF16) {
    MC_MMA_16816("bf16", 0, 0);
    MC_MMA_16816("bf16", 4, 2);
  } else {
    MC_MMA_16816("f16", 0, 0);
    MC_MMA_16816("f16", 4, 2);
  }
#undef MC_MMA_16816
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

}  // namespace mc
