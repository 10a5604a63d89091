// The tolerance model and the comparator (DESIGN.md section 5) judged on a real reference GEMM:
// the reference's own rounded output passes; one ulp off passes (bounded tier) or fails (exact
// tier); twice the bound fails; NaN and Inf fail; a write into a row the contract leaves alone
// fails; exact-tier reference results are exactly representable.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "inputs.hpp"
#include "moecheck/reference/align.hpp"
#include "moecheck/reference/tolerance.hpp"
#include "registry.hpp"
#include "results.hpp"

namespace moecheck {
namespace {

struct Judged {
  RefOutput ref;
  Tolerance tol;
  std::vector<uint16_t> out;  // the reference rounded once, poison in unwritten rows
  int64_t ldc = 0;
  uint16_t poison = 0;
};

Judged judged_case(const Case& c) {
  const GemmProblem p = make_gemm_problem(c);
  GemmOptions opt;
  opt.mul_routed_weight = p.mul_routed_weight;
  Judged j;
  const Routing& r = p.experts.routing;
  j.ref = routed_gemm(p.a, p.a_route_div, p.w, r, align_block_size(r, c.block_m), opt);
  j.tol = case_tolerance(c);
  j.poison = poison_bits(c.dtype);
  j.ldc = j.ref.cols + 3;  // a padded output stride, as kernels may be given
  j.out.assign(j.ref.rows * j.ldc, j.poison);
  for (int64_t r = 0; r < j.ref.rows; ++r) {
    if (!j.ref.written[r]) continue;
    for (int64_t n = 0; n < j.ref.cols; ++n) {
      j.out[r * j.ldc + n] = double_to_bits(j.ref.value[r * j.ref.cols + n], c.dtype);
    }
  }
  return j;
}

// The written element of largest |value| (where relative errors are judged hardest).
int64_t largest_element(const RefOutput& ref) {
  int64_t best = -1;
  for (int64_t i = 0; i < static_cast<int64_t>(ref.value.size()); ++i) {
    if (!ref.written[i / ref.cols]) continue;
    if (best < 0 || std::fabs(ref.value[i]) > std::fabs(ref.value[best])) best = i;
  }
  return best;
}

Comparison judge(const Judged& j, const std::vector<uint16_t>& out) {
  return compare(out, j.ldc, j.ref, j.tol, j.poison);
}

void tolerance_case(const Case& c) {
  const Judged j = judged_case(c);
  const int64_t idx = largest_element(j.ref);
  ASSERT_GE(idx, 0) << "the case computes no route";
  const int64_t at = (idx / j.ref.cols) * j.ldc + idx % j.ref.cols;

  const Comparison clean = judge(j, j.out);
  // The result line of the one real judgement here: the reference rounded once, judged by the
  // model (its margin is the rounding's share of the bound). The planted errors below are the
  // suite's checks of the comparator, expected to fail: no result lines.
  report_stage_result(c.suite + "." + c.name(), c.stage, clean);
  EXPECT_EQ(clean.outcome, Outcome::Passed) << clean.message;
  EXPECT_LE(clean.worst_margin, 1.0);
  EXPECT_EQ(clean.rel_l1 == 0, c.exact) << "rounding error is zero exactly in the exact tier";

  if (c.exact) {
    for (int64_t i = 0; i < static_cast<int64_t>(j.ref.value.size()); ++i) {
      const double v = j.ref.value[i];
      ASSERT_EQ(static_cast<double>(bits_to_float(double_to_bits(v, c.dtype), c.dtype)), v)
          << "exact-tier reference result " << i << " is not representable in "
          << to_string(c.dtype);
    }
  }

  // One ulp away from the rounded reference (towards larger magnitude).
  auto ulp_off = j.out;
  ulp_off[at] = static_cast<uint16_t>(ulp_off[at] + 1);
  const Comparison one_ulp = judge(j, ulp_off);
  if (c.exact) {
    EXPECT_EQ(one_ulp.outcome, Outcome::Incorrect) << "the exact tier must catch one ulp";
  } else {
    EXPECT_EQ(one_ulp.outcome, Outcome::Passed) << one_ulp.message;
  }

  // Twice the bound away.
  if (!c.exact) {
    const double bound = element_bound(j.ref, idx, j.tol);
    const double wrong = j.ref.value[idx] + 2 * bound;
    auto far = j.out;
    far[at] = double_to_bits(wrong, c.dtype);
    ASSERT_GT(std::fabs(bits_to_float(far[at], c.dtype) - j.ref.value[idx]), bound)
        << "rounding pulled the planted error back inside the bound";
    const Comparison twice = judge(j, far);
    EXPECT_EQ(twice.outcome, Outcome::Incorrect);
    EXPECT_EQ(twice.worst_index, idx);
    EXPECT_GT(twice.worst_margin, 1.0);
    EXPECT_NE(twice.message.find("row " + std::to_string(idx / j.ref.cols)), std::string::npos)
        << twice.message;
  }

  // NaN and Inf never pass.
  for (const float bad :
       {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    auto broken = j.out;
    broken[at] = float_to_bits(bad, c.dtype);
    EXPECT_EQ(judge(j, broken).outcome, Outcome::Failed) << "value " << bad;
  }

  // A write into a row the contract leaves alone (padding of non-local experts' routes).
  for (int64_t r = 0; r < j.ref.rows; ++r) {
    if (j.ref.written[r]) continue;
    auto stray = j.out;
    stray[r * j.ldc] = float_to_bits(0.0f, c.dtype);
    const Comparison wrote = judge(j, stray);
    EXPECT_EQ(wrote.outcome, Outcome::Failed);
    EXPECT_NE(wrote.message.find("untouched row written"), std::string::npos) << wrote.message;
    break;
  }
  if (c.routing.kind == RoutingKind::ep) {
    EXPECT_LT(std::count(j.ref.written.begin(), j.ref.written.end(), 1), j.ref.rows)
        << "an expert-parallel case must leave some routes uncomputed";
  }
}

MOECHECK_SUITE(tolerance, tolerance_case);

}  // namespace
}  // namespace moecheck
