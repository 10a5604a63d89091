// moecheck_bench --against: the summary of a comparison, over the rows that were timed for both
// implementations. Plain C++ (no device code), so CPU tests check it (speedup_test.cpp).
#pragma once

#include <string>
#include <vector>

namespace moecheck::bench {

// One row's speedup (the second implementation's time over the first's) and where it belongs.
struct SpeedupSample {
  std::string group;  // e.g. "fused gemm1": rows are summarised per group and in all
  std::string row;    // what names the row in the summary (its test and stage)
  double speedup = 0;
};

// The geometric mean of a set of speedups (the mean of ratios that multiply: 2x on one row and
// 0.5x on another is no change), their count, and the slowest and fastest row.
struct SpeedupGroup {
  std::string name;  // "all", or a sample's group
  int rows = 0;
  double geomean = 0, min = 0, max = 0;
  std::string min_row, max_row;
};

// "all" first, then each group in order of first appearance. Samples whose speedup is not a
// positive finite number are left out (a row with no time for one side has none). Empty when no
// sample counts.
std::vector<SpeedupGroup> summarise_speedups(const std::vector<SpeedupSample>& samples);

}  // namespace moecheck::bench
