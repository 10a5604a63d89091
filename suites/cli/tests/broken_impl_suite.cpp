// A deliberately wrong implementation, linked into the real testbed main (suites/testbed) for the
// test of --dump-failures (suites/cli/CMakeLists.txt): its gemm1 output is the reference rounded
// to the dtype with one element corrupted (row 0, column 7), judged as the GPU testbed judges
// (compare, then dump_failed_comparison). The test then checks that the failing case printed
// the commands that rerun it, and that `moecheck verify` on the dump fails at the same element.
#include <gtest/gtest.h>

#include "failures.hpp"
#include "inputs.hpp"
#include "moecheck/reference/align.hpp"
#include "registry.hpp"

namespace moecheck {
namespace {

void broken_gemm1(const Case& c) {
  ASSERT_EQ(c.stage, "gemm1") << "the broken implementation only does gemm1";
  const GemmProblem p = make_gemm_problem(c);
  const Routing& r = p.experts.routing;
  GemmOptions opt;
  opt.mul_routed_weight = p.mul_routed_weight;
  const Activations a = c.apply_router_weight_on_input ? apply_router_weight_on_input(p.a, r) : p.a;
  const RefOutput ref = routed_gemm(a, c.apply_router_weight_on_input ? 1 : p.a_route_div, p.w, r,
                                    align_block_size(r, c.block_m), opt);
  const Tolerance tol = case_tolerance(c);
  std::vector<uint16_t> out(ref.value.size(), poison_bits(c.dtype));
  for (int64_t i = 0; i < ref.rows; ++i) {
    if (!ref.written[i]) continue;
    for (int64_t j = 0; j < ref.cols; ++j)
      out[i * ref.cols + j] = double_to_bits(ref.at(i, j), c.dtype);
  }
  ASSERT_TRUE(ref.written[0]) << "the test case must compute route 0";
  out[7] ^= 0x4000;  // row 0, column 7: the exponent's top bit
  const Comparison cmp = compare(out, ref.cols, ref, tol, poison_bits(c.dtype));
  dump_failed_comparison(c, c.stage, out, ref.cols, ref, tol, cmp);
  EXPECT_STREQ(to_string(cmp.outcome), "Passed") << cmp.message;
}

MOECHECK_SUITE(ref_vs_naive, broken_gemm1);

}  // namespace
}  // namespace moecheck
