#include "moecheck/reference/dtype.hpp"

#include <cmath>
#include <cstring>

namespace moecheck {

DType parse_dtype(const std::string& s) {
  if (s == "bf16") return DType::bf16;
  if (s == "fp16") return DType::fp16;
  throw std::invalid_argument("unknown dtype '" + s + "' (expected bf16 or fp16)");
}

namespace {

uint32_t float_bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

float bits_float(uint32_t u) {
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

// Rounds |x| (finite, as a double) to a value with `mant` explicit mantissa bits and minimum
// normal exponent `emin`, returning the encoded magnitude. Works for both dtypes so the two
// conversion paths share one rounding rule; overflow gives the infinity encoding.
uint16_t encode_magnitude(double a, int mant, int emin, int bias, uint16_t inf) {
  if (a == 0.0) return 0;
  int e;
  std::frexp(a, &e);           // a = f * 2^e, f in [0.5, 1)
  int exp = e - 1;             // a = 1.xxx * 2^exp
  if (exp < emin) exp = emin;  // subnormal: fixed quantum
  const double quantum = std::ldexp(1.0, exp - mant);
  const double scaled = a / quantum;  // exact: power-of-two division
  double r = std::nearbyint(scaled);  // default rounding mode: nearest even
  // nearbyint rounds half to even in the default mode; `scaled` is exact so this is RNE.
  uint64_t m = static_cast<uint64_t>(r);
  if (m >> (mant + 1)) {  // carried into the next binade
    m >>= 1;
    ++exp;
  }
  const int biased = (m >> mant) ? exp + bias : 0;
  if (biased >= (inf >> mant)) return inf;
  return static_cast<uint16_t>((static_cast<uint64_t>(biased) << mant) | (m & ((1u << mant) - 1)));
}

}  // namespace

uint16_t double_to_bits(double x, DType t) {
  const bool bf = t == DType::bf16;
  const uint16_t sign = std::signbit(x) ? 0x8000u : 0u;
  if (std::isnan(x)) return bf ? 0x7fc0u : 0x7e00u;
  const uint16_t inf = bf ? 0x7f80u : 0x7c00u;
  if (std::isinf(x)) return sign | inf;
  const uint16_t mag = bf ? encode_magnitude(std::fabs(x), 7, -126, 127, inf)
                          : encode_magnitude(std::fabs(x), 10, -14, 15, inf);
  return sign | mag;
}

uint16_t float_to_bits(float x, DType t) {
  if (t == DType::bf16 && !std::isnan(x)) {
    // Fast exact path: bf16 is the top half of a float.
    const uint32_t u = float_bits(x);
    const uint32_t rounded = u + 0x7fffu + ((u >> 16) & 1u);
    return static_cast<uint16_t>(rounded >> 16);
  }
  return double_to_bits(static_cast<double>(x), t);
}

float bits_to_float(uint16_t b, DType t) {
  if (t == DType::bf16) return bits_float(static_cast<uint32_t>(b) << 16);
  const uint32_t sign = (b & 0x8000u) << 16;
  const uint32_t exp = (b >> 10) & 0x1fu;
  const uint32_t man = b & 0x3ffu;
  if (exp == 0x1f) return bits_float(sign | 0x7f800000u | (man << 13));
  if (exp == 0) {
    const float v = std::ldexp(static_cast<float>(man), -24);
    return sign ? -v : v;
  }
  return bits_float(sign | ((exp + 112u) << 23) | (man << 13));
}

}  // namespace moecheck
