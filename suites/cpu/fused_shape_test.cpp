// The fused family's per-launch CTA shape (kernels/include/moecheck/fused_shape.h): the rule on
// decode shapes of real models, its thresholds at their edges, the grid's tile limit and the
// host's block estimate. Expected shapes are worked out by hand from the rule's statement in the
// header, on an H200 (132 SMs: 660 CTAs of 4 warps at once; 3/4 of that is 495, 1/4 is 165).
#include "moecheck/fused_shape.h"

#include <gtest/gtest.h>

#include <ostream>

namespace moecheck {
namespace fused {
// So that a failed comparison prints the shapes.
void PrintTo(Shape s, std::ostream* os) {
  *os << s.warps_n << " x " << s.warps;
}
}  // namespace fused
}  // namespace moecheck

namespace fs = moecheck::fused;

namespace {
constexpr int64_t kH200 = fs::resident_ctas(132);
constexpr fs::Shape kWide{4, 4}, kHalf{2, 4}, kNarrow{1, 4}, kNarrowest{1, 8};
}  // namespace

TEST(FusedShape, ResidentCtasAreFivePerComputeUnit) {
  EXPECT_EQ(fs::resident_ctas(132), 660);
  EXPECT_EQ(fs::resident_ctas(48), 240);
}

TEST(FusedShape, BlockEstimateIsTheSmallestBound) {
  // Qwen3-30B decode, T = 1: 8 routes, 128 experts, block_m 8, a grid of 8 blocks.
  EXPECT_EQ(fs::block_estimate(8, 8, 8, 128), 8);
  // Mixtral, T = 16: 32 routes over 8 experts fill at most 8 + 4 blocks of 8.
  EXPECT_EQ(fs::block_estimate(32, 32, 8, 8), 12);
  // A grid smaller than the routes (sorted_len / block_m) bounds it too.
  EXPECT_EQ(fs::block_estimate(5, 32, 8, 64), 5);
}

TEST(FusedShape, TilesCountPartialOnes) {
  EXPECT_EQ(fs::tiles_of(128, 4), 1);
  EXPECT_EQ(fs::tiles_of(129, 4), 2);
  EXPECT_EQ(fs::tiles_of(720, 2), 12);  // 11.25 tiles of 64
  EXPECT_EQ(fs::ctas_of(3, 65, 1), 9);  // 3 blocks x 3 tiles of 32
}

// Decode launches of real models (block estimate, N, K from the bench table), the shape the rule
// gives each and why.
struct ModelLaunch {
  const char* what;
  int64_t blocks, n, k;
  fs::Shape want;
};
constexpr ModelLaunch kModelLaunches[] = {
    // K <= 1024 and 128-column CTAs fill 3/4 of the device (495): whole rows, no K split.
    {"Qwen3.6-35B gemm2 T16: 128 x 16 tiles of 128 = 2048", 128, 2048, 512, kWide},
    {"Qwen3-30B gemm2 T4: 32 x 16 = 512", 32, 2048, 768, kWide},
    // Otherwise 64-column CTAs of at least 495 x max(K, 2048) / 2048: 2 along N, 2 along K.
    {"Qwen3-235B gemm2 T16, K > 1024: 128 x 64 tiles of 64 = 8192", 128, 4096, 1536, kHalf},
    {"DeepSeek-V3 gemm1 T16: 8192 x 2048 >= 3 x 660 x 7168", 128, 4096, 7168, kHalf},
    {"Mixtral gemm1 T4: 8 x 448 = 3584 >= 495 x 2", 8, 28672, 4096, kHalf},
    // Smaller grids: 1 along N, 4 along K.
    {"Qwen3-30B gemm2 T1: 8 x 16 of 128, 8 x 32 of 64; K short", 8, 2048, 768, kNarrow},
    {"Qwen3-30B gemm1 T1: 8 x 24 = 192 of 64; 8 x 48 = 384 of 32 > 165", 8, 1536, 2048, kNarrow},
    {"Qwen3.6-35B gemm1 T1: 8 x 32 = 256 of 32 > 165", 8, 1024, 2048, kNarrow},
    // The smallest, over a long K: 32-column CTAs of at most 165 x max(K, 2048) / 2048, 8 along K.
    {"Llama-4-Scout gemm2 T1: 160 of 32; 1310720 <= 660 x 8192", 1, 5120, 8192, kNarrowest},
    {"Mixtral gemm2 T1: 2 x 128 = 256 of 32; 2097152 <= 660 x 14336", 2, 4096, 14336, kNarrowest},
};

TEST(FusedShape, DecodeLaunchesOfRealModels) {
  for (const ModelLaunch& m : kModelLaunches) {
    SCOPED_TRACE(m.what);
    EXPECT_EQ(fs::shape(m.blocks, m.n, m.k, kH200), m.want);
  }
}

TEST(FusedShape, ThresholdEdges) {
  // 4 x 4 at K <= 1024 from 495 CTAs of 128 (4 x 495 >= 3 x 660 = 1980; 494 is short of it).
  EXPECT_EQ(fs::shape(495, 128, 1024, kH200), kWide);
  EXPECT_EQ(fs::shape(494, 128, 1024, kH200), kHalf);  // 988 of 64 >= 495
  EXPECT_EQ(fs::shape(495, 128, 1025, kH200), kHalf);  // K = 1025: never 4 x 4
  // 2 x 4 from 495 CTAs of 64 up to K = 2048, then 495 x K / 2048.
  EXPECT_EQ(fs::shape(495, 64, 2048, kH200), kHalf);
  EXPECT_EQ(fs::shape(494, 64, 2048, kH200), kNarrow);  // 494 of 32 > 165
  EXPECT_EQ(fs::shape(990, 64, 4096, kH200), kHalf);    // 990 x 2048 = 495 x 4096
  EXPECT_EQ(fs::shape(989, 64, 4096, kH200), kNarrow);
  // 1 x 8 up to 165 CTAs of 32 at K = 2048 (4 x 2048 x 165 = 660 x 2048), over K > 1536.
  EXPECT_EQ(fs::shape(165, 32, 2048, kH200), kNarrowest);
  EXPECT_EQ(fs::shape(166, 32, 2048, kH200), kNarrow);
  EXPECT_EQ(fs::shape(165, 32, 1536, kH200), kNarrow);  // K = 1536 is short
  EXPECT_EQ(fs::shape(165, 32, 1537, kH200), kNarrowest);
  EXPECT_EQ(fs::shape(330, 32, 4096, kH200), kNarrowest);  // twice the CTAs at twice the K
  EXPECT_EQ(fs::shape(331, 32, 4096, kH200), kNarrow);
  // A partial tile counts as a CTA: N = 33 is 2 tiles of 32, so 82 blocks make 164 and 83 make 166.
  EXPECT_EQ(fs::shape(82, 33, 2048, kH200), kNarrowest);
  EXPECT_EQ(fs::shape(83, 33, 2048, kH200), kNarrow);
}

TEST(FusedShape, NarrowTilesStayWithinTheGridLimit) {
  // N = 65535 x 64 (the launchers' largest) is 131070 tiles of 32, past the grid's 65535: one
  // block over a K long enough that neither wide shape's threshold is met still gets 64 columns.
  constexpr int64_t kMaxN = 65535 * 64;
  constexpr int64_t kLongK = int64_t{1} << 30;
  EXPECT_EQ(fs::tiles_of(kMaxN, 1), 131070);
  EXPECT_EQ(fs::shape(1, kMaxN, kLongK, kH200), kHalf);
  // One tile fewer of 32 would fit the limit: the same launch then takes 32 columns.
  EXPECT_EQ(fs::shape(1, 65535 * 32, kLongK, kH200), kNarrowest);
}

TEST(FusedShape, UnknownDeviceTakesHalfWidth) {
  EXPECT_EQ(fs::shape(4096, 4096, 4096, 0), kHalf);
  EXPECT_EQ(fs::shape(1, 32, 8192, 0), kHalf);
}
