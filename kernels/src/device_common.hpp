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

// int4 packing along K (exllama_nk and the shuffled gptq_kn): the order lives in
// moecheck/nibble_order.h, plain constexpr C++ that the CPU tests check against the reference's
// packers.
using moecheck::int4::k_of_nibble;
using moecheck::int4::nibble;
using moecheck::int4::nibble_of_k;

}  // namespace mc
