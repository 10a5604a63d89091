// Every kernel against the reference, one stage at a time (DESIGN.md sections 5, 7, 8):
//   gemm1 / gemm2 through the case's family (tiled: exllama_nk; fused: gptq_kn, optionally with
//   the output_topk reduction), act (silu_and_mul), sum (moe_sum).
// Inputs are uploaded into guarded buffers; outputs start poisoned; rows the contract leaves
// alone must keep their poison; reductions must be bitwise repeatable. Big cases are verified on
// a sample of tokens (sampling.hpp), the first and last always among them.
#include <gtest/gtest.h>

#include "gpu_testbed.hpp"
#include "moecheck/reference/moe.hpp"
#include "registry.hpp"
#include "sampling.hpp"

namespace moecheck {
namespace {

// Launches of the same inputs that must agree bit for bit (DESIGN.md section 8).
constexpr int kRepeats = 3;

void gemm_stage(const Case& c) {
  const GemmProblem p = make_gemm_problem(c);
  const Tolerance tol = case_tolerance(c);
  // The routing's own sizes: a generator may choose T itself (block_edge).
  const int64_t tokens_total = p.routing.tokens, numel = p.routing.numel();

  // Reference on the sampled tokens (all of them unless the case is big).
  const std::vector<int64_t> tokens = sample_tokens(tokens_total, c.seed);
  const Routing ref_routing = restrict_routing(p.experts.routing, tokens);
  const std::vector<int64_t> routes = route_rows(tokens, c.top_k);
  const Activations ref_a =
      p.a_route_div == 1 ? restrict_rows(p.a, routes) : restrict_rows(p.a, tokens);
  GemmOptions opt;
  opt.mul_routed_weight = p.mul_routed_weight;
  RefOutput ref = routed_gemm(ref_a, p.a_route_div, p.w, ref_routing,
                              align_block_size(ref_routing, c.block_m), opt);
  if (c.output_topk) ref = moe_sum(ref, c.top_k, element_bounds(ref, tol));

  // The kernel on the whole problem.
  const Alignment al = align_block_size(p.routing, c.block_m);
  const DeviceWeights w = upload_weights(c, p.w, p.experts);
  const DeviceRouting r = upload_routing(p.routing, al);
  const auto a = upload_activations("activations", p.a);
  const int64_t ldc = c.gemm_n();
  const int64_t out_rows = c.output_topk ? tokens_total : numel;
  const auto out = poisoned_output("output", c, out_rows, ldc);
  GemmCall call;
  call.a = a->data();
  call.lda = p.a.lda;
  call.a_route_div = p.a_route_div;
  call.mul_routed_weight = p.mul_routed_weight;
  call.output_topk = c.output_topk;
  call.out = out->data();
  call.ldc = ldc;
  const std::vector<int64_t>& rows = c.output_topk ? tokens : routes;
  std::vector<uint16_t> first;
  for (int launch = 0; launch < (c.output_topk ? kRepeats : 1); ++launch) {
    if (c.output_topk) out->zero();  // the fused reduction accumulates into a zeroed output
    std::string reason;
    const mc_status s = run_gemm(c, w, r, call, reason);
    if (!expect_support(c, s != MC_UNSUPPORTED, reason)) return;
    ASSERT_EQ(s, MC_OK) << reason;
    std::vector<const GuardedBuffer*> all = w.buffers();
    for (const auto* b : r.buffers()) all.push_back(b);
    all.push_back(a.get());
    all.push_back(out.get());
    const std::vector<uint16_t> got = download_rows(*out, rows, ldc);
    if (launch == 0) {
      judge(c, c.stage, got, ldc, ref, check_all_guards(all));
      first = got;
    } else {
      EXPECT_TRUE(got == first) << "launch " << launch
                                << " differs bitwise from the first: the reduction is not "
                                   "deterministic";
    }
  }
}

// Stages fed with given values: act (silu_and_mul) and sum (moe_sum).
void elementwise_stage(const Case& c) {
  const KernelApi& api = kernel_api();
  const bool act = c.stage == "act";
  const int64_t cols = act ? 2 * c.inter : c.hidden;
  const Activations x = make_activations(c, c.numel(), cols);
  const RefOutput in = given_values(x);
  const std::vector<double> no_error(in.value.size(), 0.0);
  const RefOutput ref = act ? silu_and_mul(in, no_error) : moe_sum(in, c.top_k, no_error);

  const auto dx = upload_activations("input", x);
  const int64_t ldo = ref.cols;
  const auto out = poisoned_output("output", c, ref.rows, ldo);
  char why[MC_REASON_LEN] = {};
  mc_status s;
  const mc_dtype dt = abi_dtype(c.dtype);
  if (act) {
    const mc_silu_and_mul_args args{dt,  dx->data(), x.lda,   out->data(),
                                    ldo, c.numel(),  c.inter, nullptr};
    if (!expect_support(c, api.supports_silu_and_mul(&args, why), why)) return;
    s = api.silu_and_mul(&args);
  } else {
    const mc_moe_sum_args args{dt,       dx->data(), x.lda,    out->data(), ldo,
                               c.tokens, c.top_k,    c.hidden, nullptr};
    if (!expect_support(c, api.supports_moe_sum(&args, why), why)) return;
    s = api.moe_sum(&args);
  }
  synchronize_device();
  ASSERT_EQ(s, MC_OK) << to_string(s);
  judge(c, c.stage, out->download<uint16_t>(), ldo, ref, check_all_guards({dx.get(), out.get()}));
}

void gpu_kernel_case(const Case& c) {
  MOECHECK_SKIP_WITHOUT_DEVICE();
  if (c.stage == "gemm1" || c.stage == "gemm2") {
    gemm_stage(c);
  } else if (c.stage == "act" || c.stage == "sum") {
    elementwise_stage(c);
  } else {
    FAIL() << c.source << ": gpu_kernel runs gemm1, gemm2, act or sum, not " << c.stage;
  }
}

MOECHECK_SUITE(gpu_kernel, gpu_kernel_case);

}  // namespace
}  // namespace moecheck
