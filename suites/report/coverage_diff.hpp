// moecheck diff: two coverage.json files (an older run, a newer one) compared for what a reviewer
// must see. Three kinds of regression, each listed by case:
//   new failure     now Incorrect or Failed, and before not (or absent); also tests that are no
//                   catalog case (other_tests)
//   margin grew     a case that still does not fail, a stage judged in both runs, whose worst
//                   margin grew by more than `abs` (default 0.05) AND by more than `rel`
//                   (default 25 %) of the old margin: both, so that neither noise on a tiny margin
//                   (0.001 -> 0.01) nor a small step near the bound counts alone
//   coverage lost   a case that ran before (Passed, Incorrect, Failed, KnownBug) and now is
//                   missing, Skipped, NotSupported or NotRun
#pragma once

#include <string>
#include <vector>

#include "coverage.hpp"

namespace moecheck::report {

struct DiffOptions {
  double margin_growth_abs = 0.05;
  double margin_growth_rel = 0.25;
};

struct NewFailure {
  std::string test;
  std::string before;  // an outcome, or "absent"
  std::string now;
  std::optional<double> margin;
};

struct MarginGrowth {
  std::string test, stage;
  double before = 0, now = 0;
};

struct LostCoverage {
  std::string test;
  std::string before;
  std::string now;  // an outcome, or "missing"
};

struct CoverageDiff {
  std::vector<NewFailure> new_failures;
  std::vector<MarginGrowth> margins_grew;
  std::vector<LostCoverage> coverage_lost;
  bool any() const {
    return !new_failures.empty() || !margins_grew.empty() || !coverage_lost.empty();
  }
};

CoverageDiff diff_coverage(const Coverage& before, const Coverage& now, const DiffOptions& opt);

// The report: plain text for a terminal, markdown for a pull-request comment.
std::string diff_text(const CoverageDiff& d, const std::string& old_name,
                      const std::string& new_name, const DiffOptions& opt);
std::string diff_markdown(const CoverageDiff& d, const std::string& old_name,
                          const std::string& new_name, const DiffOptions& opt);

}  // namespace moecheck::report
