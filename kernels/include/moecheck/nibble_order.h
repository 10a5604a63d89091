// The int4 nibble order of the K-packed weight words (exllama_nk and the shuffled gptq_kn,
// DESIGN.md section 2), as the kernels decode it in registers. Plain constexpr C++ like
// atom_layout.h: the kernels call these (through kernels/src/device_common.hpp) and the CPU tests
// (suites/cpu/atom_lanes_test.cpp) check the very same functions against the reference's packers.
//
// Nibble p of a word holds k = 8j + kOrder[p], kOrder = [0,2,4,6,1,3,5,7]. The inverse: the value
// for k offset o (0..7) sits at nibble o/2 + 4*(o%2). The even/odd split puts k and k+1 in the two
// 16-bit halves of `word >> 4i`, which is what makes the order cheap to decode into pairs.
#ifndef MOECHECK_NIBBLE_ORDER_H
#define MOECHECK_NIBBLE_ORDER_H

#include <stdint.h>

#if defined(__CUDACC__) && !defined(__clang__)
#define MC_NIBBLE_HD __host__ __device__
#elif defined(__HIP__) || defined(__CUDA__)
#define MC_NIBBLE_HD __attribute__((host, device))
#else
#define MC_NIBBLE_HD
#endif

namespace moecheck {
namespace int4 {

// The nibble that holds k offset o (0..7) of a word.
MC_NIBBLE_HD constexpr int nibble_of_k(int o) {
  return o / 2 + 4 * (o % 2);
}
// The k offset (0..7) held by nibble p.
MC_NIBBLE_HD constexpr int k_of_nibble(int p) {
  return p < 4 ? 2 * p : 2 * (p - 4) + 1;
}
// Nibble p (bits 4p..4p+3) of a word.
MC_NIBBLE_HD constexpr uint32_t nibble(uint32_t w, int p) {
  return (w >> (4 * p)) & 15u;
}

// The pair k offsets 2p (bits 0..3) and 2p + 1 (bits 16..19) of a word, p = 0..3: nibbles p and
// p + 4, each in its own 16-bit half, the rest zero (what the kernels OR a float's exponent into).
MC_NIBBLE_HD constexpr uint32_t pair_of_word(uint32_t w, int p) {
  return (w >> (4 * p)) & 0x000F000Fu;
}

constexpr bool check_nibble_order() {
  for (int o = 0; o < 8; ++o) {
    if (k_of_nibble(nibble_of_k(o)) != o || nibble_of_k(o) < 0 || nibble_of_k(o) > 7) return false;
  }
  for (int p = 0; p < 4; ++p) {      // pair_of_word: k = 2p low, 2p + 1 high
    const uint32_t w = 0x76543210u;  // nibble i holds i
    const uint32_t want = static_cast<uint32_t>(nibble_of_k(2 * p)) |
                          (static_cast<uint32_t>(nibble_of_k(2 * p + 1)) << 16);
    if (pair_of_word(w, p) != want) return false;
  }
  return true;
}
static_assert(check_nibble_order(), "nibble_of_k and k_of_nibble are not inverse permutations");

}  // namespace int4
}  // namespace moecheck

#endif  // MOECHECK_NIBBLE_ORDER_H
