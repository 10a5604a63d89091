// summarise_speedups (speedup.hpp): the figures moecheck_bench --against prints after its table.
#include "speedup.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace moecheck::bench {
namespace {

TEST(SpeedupSummary, GeometricMeanPerGroupAndInAll) {
  const std::vector<SpeedupSample> s = {{"fused gemm1", "a", 2.0},
                                        {"tiled gemm1", "b", 1.5},
                                        {"fused gemm1", "c", 0.5},
                                        {"tiled gemm1", "d", 1.5}};
  const std::vector<SpeedupGroup> g = summarise_speedups(s);
  ASSERT_EQ(g.size(), 3u);
  EXPECT_EQ(g[0].name, "all");
  EXPECT_EQ(g[0].rows, 4);
  // (2 * 1.5 * 0.5 * 1.5)^(1/4) = 2.25^(1/4) = 1.5^(1/2)
  EXPECT_NEAR(g[0].geomean, std::sqrt(1.5), 1e-12);
  EXPECT_DOUBLE_EQ(g[0].min, 0.5);
  EXPECT_EQ(g[0].min_row, "c");
  EXPECT_DOUBLE_EQ(g[0].max, 2.0);
  EXPECT_EQ(g[0].max_row, "a");
  EXPECT_EQ(g[1].name, "fused gemm1");  // groups in order of first appearance
  EXPECT_EQ(g[1].rows, 2);
  EXPECT_NEAR(g[1].geomean, 1.0, 1e-12);  // 2x and 0.5x: no change
  EXPECT_EQ(g[2].name, "tiled gemm1");
  EXPECT_NEAR(g[2].geomean, 1.5, 1e-12);
  EXPECT_EQ(g[2].min_row, "b");  // ties keep the first row
  EXPECT_EQ(g[2].max_row, "b");
}

TEST(SpeedupSummary, RowsWithoutAPositiveFiniteSpeedupAreLeftOut) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<SpeedupSample> s = {{"x", "zero", 0.0},
                                        {"x", "nan", nan},
                                        {"x", "inf", inf},
                                        {"x", "neg", -1.0},
                                        {"y", "ok", 1.2}};
  const std::vector<SpeedupGroup> g = summarise_speedups(s);
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(g[0].rows, 1);
  EXPECT_EQ(g[1].name, "y");
  EXPECT_DOUBLE_EQ(g[1].geomean, 1.2);
  EXPECT_TRUE(summarise_speedups({{"x", "nan", nan}}).empty());
  EXPECT_TRUE(summarise_speedups({}).empty());
}

}  // namespace
}  // namespace moecheck::bench
