// Device helpers shared by every kernel: the two activation dtypes as bit patterns, 16-byte
// vector types, and the int4 nibble order. Architecture-neutral (the atom lives in atom.hpp).
#pragma once

#include <stdint.h>

#include "moecheck/hip_compat.h"
#include "moecheck/kernels.h"
#include "moecheck/nibble_order.h"

namespace mc {

constexpr int kWarpSize = 32;  // NVIDIA warp, gfx11 wave32: every tile loop assumes 32 lanes

// 16- and 8-byte vectors of 32-bit words. Loads through these compile to one 128-bit (64-bit)
// memory instruction when the address is aligned, which the `supports` predicates guarantee.
#if defined(MC_COMPAT_CUDA)
using u32x4 = uint4;
using u32x2 = uint2;
__device__ __forceinline__ float bits_to_f32(uint32_t u) {
  return __uint_as_float(u);
}
__device__ __forceinline__ uint32_t f32_to_bits(float f) {
  return __float_as_uint(f);
}
#else
typedef uint32_t u32x4 __attribute__((ext_vector_type(4)));
typedef uint32_t u32x2 __attribute__((ext_vector_type(2)));
__device__ __forceinline__ float bits_to_f32(uint32_t u) {
  return __builtin_bit_cast(float, u);
}
__device__ __forceinline__ uint32_t f32_to_bits(float f) {
  return __builtin_bit_cast(uint32_t, f);
}
#endif

// fp32 fused multiply-add, spelled out so both compilers contract exactly where we say.
#if defined(MC_COMPAT_CUDA)
__device__ __forceinline__ float fma32(float a, float b, float c) {
  return __fmaf_rn(a, b, c);
}
#else
__device__ __forceinline__ float fma32(float a, float b, float c) {
  return __builtin_fmaf(a, b, c);
}
#endif

__device__ __forceinline__ u32x4 zero_u32x4() {
  u32x4 v;
  v.x = v.y = v.z = v.w = 0u;
  return v;
}
__device__ __forceinline__ uint32_t word(const u32x4& v, int i) {
  return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w;
}

// Activation dtypes, stored as raw 16-bit patterns everywhere (no dependence on a platform's
// bf16/fp16 class types). Conversions to fp32 are exact; conversions from fp32 round to nearest
// even, overflow to +-Inf and keep NaN (a quiet NaN), like the reference's float_to_bits.
struct Bf16 {
  static constexpr mc_dtype kDtype = MC_BF16;
  static __device__ __forceinline__ float to_float(uint16_t b) {
    return bits_to_f32(static_cast<uint32_t>(b) << 16);
  }
  static __device__ __forceinline__ uint16_t from_float(float x) {
    uint32_t u = f32_to_bits(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x0040u);
    u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest, ties to even
    return static_cast<uint16_t>(u >> 16);
  }
};
struct Fp16 {
  static constexpr mc_dtype kDtype = MC_FP16;
  static __device__ __forceinline__ float to_float(uint16_t b) { return mc_half_to_float(b); }
  static __device__ __forceinline__ uint16_t from_float(float x) { return mc_float_to_half(x); }
};

// Two values rounded to the dtype and packed as one 32-bit word, `lo` in bits 0..15.
template <class Dt>
__device__ __forceinline__ uint32_t pack2(float lo, float hi) {
  return static_cast<uint32_t>(Dt::from_float(lo)) |
         (static_cast<uint32_t>(Dt::from_float(hi)) << 16);
}
// The 16-bit element `i` (0..7) of a 16-byte vector, as fp32.
template <class Dt>
__device__ __forceinline__ float elem(const u32x4& v, int i) {
  return Dt::to_float(static_cast<uint16_t>(word(v, i / 2) >> (16 * (i % 2))));
}

// Dequantisation of int4 weight pairs to fragment words: round((q - z) * s) for pair p of a
// shuffled word (moecheck::int4::pair_of_word: k = 2p in the low half, 2p + 1 in the high half),
// one column, so one scale s and zero z. (q - z) * s is exact in fp32 (|q - z| < 16, s has <= 11
// significant bits), so rounding it once gives the same bits on every path:
//   sm_80+: one LOP3 makes the pair two dtype values M + q ((word >> 4p) & 0x000F000F | M's
//   exponent; M = 128 in bf16, 1024 in fp16: integers up to 2M are exact there), then two packed
//   FMAs: (M + q) * 1 - (M + z) = q - z exactly, then (q - z) * s + 0 rounded once. A shift, a
//   LOP3 and two FMAs per pair (the shift is free for p = 0).
//   elsewhere (gfx11 has no packed bf16 arithmetic): fp32 (q - z) * s, rounded to the dtype.
// A zero product is +0 on both paths.
// The state (two 32-bit words) can be made once and handed to many lanes: state() makes it,
// set() takes it; init() is both. The tiled kernel makes each column's state once per chunk, in
// the thread that stores the scales to shared memory, instead of in every lane that uses it.
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
#define MC_PACKED_DEQUANT 1
#else
#define MC_PACKED_DEQUANT 0
#endif

template <class Dt>
struct PairDequant {
#if MC_PACKED_DEQUANT
  uint32_t scale2;  // s in both halves
  uint32_t bias2;   // -(M + z) in both halves
  static __device__ __forceinline__ u32x2 state(uint16_t scale_bits, uint32_t z) {
    u32x2 st;
    st.x = static_cast<uint32_t>(scale_bits) * 0x00010001u;
    // -(M + z) for z = 0..15: M's bits with the sign set, plus z in the last mantissa bits.
    const uint32_t neg_m = Dt::kDtype == MC_BF16 ? 0xC300u : 0xE400u;
    st.y = (neg_m + z) * 0x00010001u;
    return st;
  }
  __device__ __forceinline__ void set(const u32x2& st) {
    scale2 = st.x;
    bias2 = st.y;
  }
  // The dequantisers of 4 consecutive columns i = 0..3 (the NVIDIA decode map's runs, so sm_80+
  // only) from their scales as loaded (column i in half i % 2 of word i / 2) and their zero word:
  // column i's stored zero is nibble shift / 4 + i of `zero_word` (shift 0 or 16), its zero
  // (stored + zero_add) mod 16. 16 instructions for the 4 (24 column by column through init): a
  // PRMT spreads each scale to both halves, and the 4 zeros are made together, in both halves at
  // once (the run's 16 bits shifted down and copied to both halves by a PRMT, the v1 "+1" as a
  // nibble-wise add mod 16, then each bias one LOP3, after a shift but for column 0).
  static __device__ __forceinline__ void init_run4(PairDequant (&dq)[4], uint32_t scales_lo,
                                                   uint32_t scales_hi, uint32_t zero_word,
                                                   int shift, uint32_t zero_add) {
    // Shifted, then one fixed PRMT: a selector that picks the half held one more register (4
    // bytes of spills at G = 128 on sm_90).
    const uint32_t twice = __byte_perm(zero_word >> shift, 0u, 0x1010u);
    // Nibble-wise (z + zero_add) mod 16, zero_add 0 or 1: no carry leaves a nibble below 8.
    const uint32_t z = ((twice & 0x77777777u) + zero_add * 0x11111111u) ^ (twice & 0x88888888u);
    const uint32_t neg_m2 = Dt::kDtype == MC_BF16 ? 0xC300C300u : 0xE400E400u;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      dq[i].scale2 = __byte_perm(i < 2 ? scales_lo : scales_hi, 0u, i % 2 == 0 ? 0x1010u : 0x3232u);
      dq[i].bias2 = ((z >> (4 * i)) & 0x000F000Fu) | neg_m2;
    }
  }
  // Pair p of `word`.
  __device__ __forceinline__ uint32_t operator()(uint32_t word, int p) const {
    constexpr uint32_t kMagic = Dt::kDtype == MC_BF16 ? 0x43004300u : 0x64006400u;
    constexpr uint32_t kOne = Dt::kDtype == MC_BF16 ? 0x3F803F80u : 0x3C003C00u;
    // (word >> 4p) & 0x000F000F | kMagic as one LOP3 (lut 0xEA = (a & b) | c): written out, ptxas
    // splits it in two, having only one immediate slot.
    uint32_t x;
    asm("lop3.b32 %0, %1, %2, %3, 0xEA;"
        : "=r"(x)
        : "r"(word >> (4 * p)), "n"(0x000F000F), "n"(kMagic));
    uint32_t d, r;
    if constexpr (Dt::kDtype == MC_BF16) {
      asm("fma.rn.bf16x2 %0, %1, %2, %3;" : "=r"(d) : "r"(x), "r"(kOne), "r"(bias2));
      asm("fma.rn.bf16x2 %0, %1, %2, %3;" : "=r"(r) : "r"(d), "r"(scale2), "r"(0u));
    } else {
      asm("fma.rn.f16x2 %0, %1, %2, %3;" : "=r"(d) : "r"(x), "r"(kOne), "r"(bias2));
      asm("fma.rn.f16x2 %0, %1, %2, %3;" : "=r"(r) : "r"(d), "r"(scale2), "r"(0u));
    }
    return r;
  }
#else
  float s;
  float zs;  // z * s (exact)
  static __device__ __forceinline__ u32x2 state(uint16_t scale_bits, uint32_t z) {
    const float sf = Dt::to_float(scale_bits);
    u32x2 st;
    st.x = f32_to_bits(sf);
    st.y = f32_to_bits(static_cast<float>(z) * sf);
    return st;
  }
  __device__ __forceinline__ void set(const u32x2& st) {
    s = bits_to_f32(st.x);
    zs = bits_to_f32(st.y);
  }
  // Pair p of `word`.
  __device__ __forceinline__ uint32_t operator()(uint32_t word, int p) const {
    const uint32_t pair = moecheck::int4::pair_of_word(word, p);
    return pack2<Dt>(fma32(static_cast<float>(pair & 15u), s, -zs),
                     fma32(static_cast<float>(pair >> 16), s, -zs));
  }
#endif
  __device__ __forceinline__ void init(uint16_t scale_bits, uint32_t z) {
    set(state(scale_bits, z));
  }
};

// The CTAs a GEMM kernel launches along x, one per alignment block: min(sorted_len / block_m,
// numel). sorted_len / block_m is what the buffers hold, but a conforming alignment fills at most
// numel blocks (an expert with c routes gets ceil(c / block_m) <= c of them, one without routes
// none: DESIGN.md section 3, and moecheck/kernels.h says the launchers rely on it), so the CTAs
// past that, which could only find themselves past num_tokens_post_padded and exit, are not
// started. A decode step with many experts and few routes is mostly those: e.g. 7200 CTAs for
// 256 that work (8 routes, 256 experts, block_m 8, N = 2048), at 0.5-1 us per round of empty
// CTAs per SM.
inline int64_t grid_blocks(int64_t sorted_len, int64_t block_m, int64_t numel) {
  const int64_t blocks = sorted_len / block_m;
  return blocks < numel ? blocks : numel;
}

// int4 packing along K (exllama_nk and the shuffled gptq_kn): the order lives in
// moecheck/nibble_order.h, plain constexpr C++ that the CPU tests check against the reference's
// packers.
using moecheck::int4::nibble;

}  // namespace mc
