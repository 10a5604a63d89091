// The fused family's per-launch CTA shape (kernels/include/moecheck/fused_shape.h): the rule on
// decode shapes of real models, its thresholds at their edges, and the host's block estimate.
// Expected shapes are worked out by hand from the rule's statement in the header.
#include "moecheck/fused_shape.h"

#include <gtest/gtest.h>

namespace fs = moecheck::fused;

namespace {
constexpr int64_t kH200 = fs::resident_ctas(132);  // 264 CTAs at once
}  // namespace

TEST(FusedShape, ResidentCtasAreTwoPerComputeUnit) {
  EXPECT_EQ(fs::resident_ctas(132), 264);
  EXPECT_EQ(fs::resident_ctas(48), 96);
}

TEST(FusedShape, BlockEstimateIsTheSmallestBound) {
  // Qwen3-30B decode, T = 1: 8 routes, 128 experts, block_m 8, a grid of 8 blocks.
  EXPECT_EQ(fs::block_estimate(8, 8, 8, 128), 8);
  // Mixtral, T = 16: 32 routes over 8 experts fill at most 8 + 4 blocks of 8.
  EXPECT_EQ(fs::block_estimate(32, 32, 8, 8), 12);
  // A grid smaller than the routes (sorted_len / block_m) bounds it too.
  EXPECT_EQ(fs::block_estimate(5, 32, 8, 64), 5);
}

TEST(FusedShape, SmallGridsSplitK) {
  // Qwen3-30B gemm2, T = 1: 8 blocks x 8 tiles of 256 = 64 CTAs, 8 x 16 of 128 = 128: both under
  // three quarters of 264 (198), so 2 warps along N and 4 along K (K = 768 is short: not 1).
  EXPECT_EQ(fs::warps_n(8, 2048, 768, kH200), 2);
  // Mixtral gemm2, T = 16 (K = 14336, long): 12 x 16 = 192 < 4 x 264, 12 x 32 = 384 < 3 x 264,
  // and 12 x 64 tiles of 64 = 768 CTAs, more than half of 264.
  EXPECT_EQ(fs::warps_n(12, 4096, 14336, kH200), 2);
}

TEST(FusedShape, HalfEmptyDevicesSplitKEightWays) {
  // Llama-4-Scout gemm2, T = 1: one block, 80 tiles of 64 columns: 2 x 80 <= 264.
  EXPECT_EQ(fs::warps_n(1, 5120, 8192, kH200), 1);
  // Mixtral gemm2, T = 1: 2 blocks x 64 = 128 CTAs of 64 columns, 256 <= 264.
  EXPECT_EQ(fs::warps_n(2, 4096, 14336, kH200), 1);
  // Qwen3.6-35B gemm1, T = 1: 8 blocks x 16 = 128, K = 2048.
  EXPECT_EQ(fs::warps_n(8, 1024, 2048, kH200), 1);
  // Edges: 132 CTAs of 64 columns is half of 264; 133 is not; K = 1536 is short.
  EXPECT_EQ(fs::warps_n(132, 64, 1537, kH200), 1);
  EXPECT_EQ(fs::warps_n(133, 64, 1537, kH200), 2);
  EXPECT_EQ(fs::warps_n(132, 64, 1536, kH200), 2);
  // A partial tile counts as a CTA: N = 65 is 2 tiles of 64, so 66 blocks make 132 and 67 do not.
  EXPECT_EQ(fs::warps_n(66, 65, 4096, kH200), 1);
  EXPECT_EQ(fs::warps_n(67, 65, 4096, kH200), 2);
}

TEST(FusedShape, LargeGridsReadWholeRows) {
  // Qwen3-30B gemm2, T = 16 (K = 768, short): 128 x 8 = 1024 CTAs of 256 columns >= 198.
  EXPECT_EQ(fs::warps_n(128, 2048, 768, kH200), 8);
  // DeepSeek-V3 gemm1, T = 16 (K = 7168, long): 128 x 16 = 2048 >= 4 x 264 = 1056.
  EXPECT_EQ(fs::warps_n(128, 4096, 7168, kH200), 8);
  // Long K, between: 30 x 16 = 480 < 1056 but 30 x 32 = 960 >= 3 x 264 = 792: 4 along N.
  EXPECT_EQ(fs::warps_n(30, 4096, 4096, kH200), 4);
}

TEST(FusedShape, ThresholdEdges) {
  // Short K: 8 wide when 4 x CTAs >= 3 x 264 = 792, i.e. CTAs >= 198.
  EXPECT_EQ(fs::warps_n(198, 256, 1536, kH200), 8);  // 198 x 1
  EXPECT_EQ(fs::warps_n(197, 256, 1536, kH200), 4);  // 197 < 198; 197 x 2 = 394 >= 198
  EXPECT_EQ(fs::warps_n(99, 256, 1536, kH200), 4);   // 99 x 2 = 198
  EXPECT_EQ(fs::warps_n(98, 256, 1536, kH200), 2);   // 196
  // K = 1537 is long: the same grids need 4 and 3 device-fulls.
  EXPECT_EQ(fs::warps_n(198, 256, 1537, kH200), 2);  // 198 < 1056; 396 < 792
  EXPECT_EQ(fs::warps_n(1056, 256, 1537, kH200), 8);
  EXPECT_EQ(fs::warps_n(396, 256, 1537, kH200), 4);  // 396 x 2 = 792
  EXPECT_EQ(fs::warps_n(395, 256, 1537, kH200), 2);
}

TEST(FusedShape, UnknownDeviceStaysNarrow) {
  EXPECT_EQ(fs::warps_n(4096, 4096, 4096, 0), 2);
}
