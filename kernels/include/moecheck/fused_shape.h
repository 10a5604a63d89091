// The fused family's CTA shape, chosen per launch on the host (kernels/src/fused_gemm.hip): a CTA
// is 8 warps of 32 columns each, `warps_n` of them side by side along N (1, 2, 4 or 8: tiles of
// 32, 64, 128 or 256 columns) and the rest splitting K (8, 4, 2 or 1 ranges, added in shared
// memory). The rule counts in those 8-warp CTAs; the kernel runs the widest (8 along N, no K
// split) as twice as many CTAs of 4 warps, which share nothing but the block's ids, 5 per SM on
// an H200 instead of 2 of 8 warps (20 warps instead of 16): 1.022x over the decode table, T = 16
// 1.04x (kernels/README.md).
//
// Why it varies: a wide CTA reads a whole 1 KiB of each packed weight row at once (8 warps at the
// same k), which the memory system serves faster than four 256-byte pieces at four different k;
// a narrow CTA splits K, so a small grid (a decode step that touches few experts) still has
// enough CTAs to fill the device. Measured on an H200 (one bench run of every model at T = 1, 4,
// 16 with each shape forced): wide CTAs win when they fill the device several times over, or
// about once when K is short (the K-split warps' chains are then short, and their reduction and
// start-up dominate); narrow ones win on small grids by up to 5x. The narrowest (one warp along N,
// 8 along K) doubles the CTAs of a grid that would fill at most half the device, when K is long
// enough for 8 chains (K > 1536): in a second run (after the fused kernel's transposed product)
// 1.07-1.30x on the six decode rows it takes, 1.005x on the one such grid with a short K, and
// 0.80-0.97x on grids past that half but for one at 1.03x. The thresholds below are those runs'
// (kernels/README.md has the figures, and a re-measurement of the older ones on the current
// kernel: within 1.3 % of the best shape per row); on other devices they are a starting point.
//
// Plain constexpr C++ (no device code), so CPU tests check the rule (suites/cpu).
#ifndef MOECHECK_FUSED_SHAPE_H
#define MOECHECK_FUSED_SHAPE_H

#include <stdint.h>

namespace moecheck {
namespace fused {

constexpr int kWarps = 8;      // per CTA
constexpr int kWarpCols = 32;  // columns per warp (the decode map's kCols)

// CTAs of the widest shape that the device holds at once: `compute_units` (SMs, CUs) times the 2
// CTAs of 256 threads that fit one at the kernel's register use.
constexpr int64_t resident_ctas(int64_t compute_units) {
  return 2 * compute_units;
}

// Blocks that can hold routes, from what the host knows (the padded length is on the device): at
// most one per route (numel), at most the launched grid (`grid_blocks`), and at most one per
// local expert plus the ceil(numel / block_m) that fill up.
constexpr int64_t block_estimate(int64_t grid_blocks, int64_t numel, int64_t block_m,
                                 int64_t num_experts) {
  const int64_t by_experts = num_experts + (numel + block_m - 1) / block_m;
  const int64_t b = grid_blocks < numel ? grid_blocks : numel;
  return b < by_experts ? b : by_experts;
}

// CTAs of a launch with `w` warps along N.
constexpr int64_t ctas_of(int64_t blocks, int64_t n, int w) {
  return blocks * ((n + w * kWarpCols - 1) / (w * kWarpCols));
}

// Warps along N for a launch of `blocks` blocks (block_estimate) of N columns and K deep on a
// device holding `resident` CTAs at once (resident_ctas).
// An unknown device (resident 0) gets 2, which never starves a device.
constexpr int warps_n(int64_t blocks, int64_t n, int64_t k, int64_t resident) {
  if (resident <= 0) return 2;
  const bool short_k = k <= 1536;
  for (int w = 8; w >= 4; w /= 2) {
    const int64_t ctas = ctas_of(blocks, n, w);
    const int64_t fill = w == 8 ? 4 : 3;  // device-fulls of CTAs a wide shape wants
    // ctas * 4 >= resident * 3: at least three quarters of one device-full (short K).
    if (ctas >= fill * resident || (short_k && 4 * ctas >= 3 * resident)) return w;
  }
  // At most half a device-full of 64-column CTAs over a long K: 32-column ones.
  if (!short_k && 2 * ctas_of(blocks, n, 2) <= resident) return 1;
  return 2;
}

}  // namespace fused
}  // namespace moecheck

#endif  // MOECHECK_FUSED_SHAPE_H
