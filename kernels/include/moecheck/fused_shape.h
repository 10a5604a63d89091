// The fused family's CTA shape, chosen per launch on the host (kernels/src/fused_gemm.hip): warps
// of 32 columns each, `warps_n` of them side by side along N and the rest of the CTA's `warps`
// splitting K into ranges whose partial tiles are added in shared memory. Four shapes:
//   4 x 4: CTAs of 4 warps along N (128 columns), no K split;
//   2 x 4: 2 along N (64 columns) by 2 along K;
//   1 x 4: 1 along N (32 columns) by 4 along K;
//   1 x 8: 1 along N by 8 along K, the one 8-warp CTA.
// The 4-warp CTAs hold 5 per SM on an H200 at the kernel's 96 registers, 20 warps where 8-warp
// CTAs held 16.
//
// Why it varies: a warp that streams a whole K reads its columns' weights with no reduction and
// no second start-up, so wide shapes win where the grid fills the device; K split over warps
// gives a small grid (a decode step that touches few experts) enough warps to fill it, and the
// longer K is, the longer each CTA runs and the more a grid that does not fill the device costs.
// Measured on an H200 (one bench run of every model at T = 1, 4, 16, each shape forced on every
// row, the faster of two passes; kernels/README.md): the best shape per row would run 1.067x over
// the decode table against the earlier rule (8-warp CTAs but for the widest), and this rule
// 1.056x; its thresholds are that run's, in device-fulls of 4-warp CTAs (`resident_ctas`):
//   - K <= 1024 and 128-column CTAs fill at least 3/4 of the device: 4 x 4;
//   - 64-column CTAs fill at least 3/4 of the device per 2048 of K (3/4 below 2048): 2 x 4;
//   - K > 1536 and 32-column CTAs fill at most 1/4 per 2048 of K: 1 x 8;
//   - else 1 x 4.
// On other devices the thresholds are a starting point. A shape whose tiles would pass the grid's
// y limit (65535) is never picked: 2 x 4 covers every N the launchers accept (supports.cpp).
//
// Plain constexpr C++ (no device code), so CPU tests check the rule (suites/cpu).
#ifndef MOECHECK_FUSED_SHAPE_H
#define MOECHECK_FUSED_SHAPE_H

#include <stdint.h>

namespace moecheck {
namespace fused {

constexpr int kWarpCols = 32;         // columns per warp (the decode map's kCols)
constexpr int64_t kMaxTiles = 65535;  // a grid's y dimension, the N tiles
constexpr int64_t kPerKRef = 2048;    // the K a device-full threshold is stated for

// A CTA's warp grid: warps_n along N, warps in all (the rest along K).
struct Shape {
  int warps_n;
  int warps;
};
constexpr bool operator==(Shape a, Shape b) {
  return a.warps_n == b.warps_n && a.warps == b.warps;
}

// CTAs of 4 warps that the device holds at once: `compute_units` (SMs, CUs) times the 5 that fit
// one at the kernel's register use (every group size; G = 32 held 4 when the rule was fitted,
// and the rule did not tell them apart then either).
constexpr int64_t resident_ctas(int64_t compute_units) {
  return 5 * compute_units;
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

// Tiles of N for CTAs `w` warps wide, and the CTAs of a launch of `blocks` blocks.
constexpr int64_t tiles_of(int64_t n, int w) {
  return (n + w * kWarpCols - 1) / (w * kWarpCols);
}
constexpr int64_t ctas_of(int64_t blocks, int64_t n, int w) {
  return blocks * tiles_of(n, w);
}

// The shape for a launch of `blocks` blocks (block_estimate) of N columns and K deep on a device
// holding `resident` 4-warp CTAs at once (resident_ctas). Integer arithmetic: "fills f of the
// device per 2048 of K" is ctas * 2048 against f * resident * max(K, 2048). An unknown device
// (resident 0) gets 2 x 4, which neither starves a device nor reads narrow tiles.
constexpr Shape shape(int64_t blocks, int64_t n, int64_t k, int64_t resident) {
  if (resident <= 0) return {2, 4};
  const int64_t k_scale = k > kPerKRef ? k : kPerKRef;
  if (k <= 1024 && 4 * ctas_of(blocks, n, 4) >= 3 * resident) return {4, 4};
  if (4 * kPerKRef * ctas_of(blocks, n, 2) >= 3 * resident * k_scale) return {2, 4};
  if (tiles_of(n, 1) > kMaxTiles) return {2, 4};
  if (k > 1536 && 4 * kPerKRef * ctas_of(blocks, n, 1) <= resident * k_scale) return {1, 8};
  return {1, 4};
}

}  // namespace fused
}  // namespace moecheck

#endif  // MOECHECK_FUSED_SHAPE_H
