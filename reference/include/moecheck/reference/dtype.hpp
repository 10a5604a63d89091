// Activation dtypes (bf16, fp16) as 16-bit patterns, converted with round-to-nearest-even.
// The reference never computes in these types: it stores inputs and outputs in them and
// computes in double. Conversions are written out bit by bit so they behave the same on every
// host compiler (no reliance on _Float16 or __bf16).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace moecheck {

enum class DType { bf16, fp16 };

inline const char* to_string(DType t) {
  return t == DType::bf16 ? "bf16" : "fp16";
}
DType parse_dtype(const std::string& s);  // throws std::invalid_argument

// Unit roundoff u = 2^-p of the dtype (bf16 2^-8, fp16 2^-11), DESIGN.md section 5.
inline double unit_roundoff(DType t) {
  return t == DType::bf16 ? 0x1p-8 : 0x1p-11;
}
// Largest finite value of the dtype.
inline double max_finite(DType t) {
  return t == DType::bf16 ? 0x1.fep127 : 65504.0;
}

uint16_t float_to_bits(float x, DType t);    // round to nearest even, overflow to +-Inf, NaN kept
float bits_to_float(uint16_t b, DType t);    // exact
uint16_t double_to_bits(double x, DType t);  // one rounding, directly from double
inline float round_to(float x, DType t) {
  return bits_to_float(float_to_bits(x, t), t);
}
inline bool is_finite_bits(uint16_t b, DType t) {
  return t == DType::bf16 ? (b & 0x7f80u) != 0x7f80u : (b & 0x7c00u) != 0x7c00u;
}
// The pattern that poisons outputs and workspaces: 0xffff is a NaN in bf16 and in fp16, and a
// byte pattern a device memset can write at full speed into a buffer of gigabytes.
inline uint16_t poison_bits(DType) {
  return 0xffffu;
}

}  // namespace moecheck
