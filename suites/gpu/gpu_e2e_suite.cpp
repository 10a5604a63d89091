// The whole layer end to end on the device (DESIGN.md section 4): align, gemm1, silu_and_mul,
// gemm2 and moe_sum (or gemm2's fused output_topk reduction), each stage judged against the
// reference with the bound composed stage by stage (reference/layer.hpp). The GEMMs run through
// the case's kernel family; the alignment they use is the device's own. Big cases are verified
// on a sample of tokens (sampling.hpp).
#include <gtest/gtest.h>

#include "gpu_testbed.hpp"
#include "moecheck/hip_compat.h"
#include "moecheck/reference/align_compare.hpp"
#include "moecheck/reference/layer.hpp"
#include "registry.hpp"
#include "sampling.hpp"

namespace moecheck {
namespace {

void gpu_e2e_case(const Case& c) {
  MOECHECK_SKIP_WITHOUT_DEVICE();
  const KernelApi& api = kernel_api();
  LayerCase lc = make_layer_case(c);
  const Tolerance tol = case_tolerance(c);
  // The routing's own sizes: a generator may choose T itself (block_edge).
  const int64_t tokens_total = lc.routing.tokens, numel = lc.routing.numel();
  const int64_t n1 = 2 * c.inter, hidden = c.hidden;
  const mc_dtype dt = abi_dtype(c.dtype);

  // Reference on the sampled tokens. The weights move into its problem, not copied (DeepSeek-V3's
  // take seconds to copy), and are uploaded from there.
  const std::vector<int64_t> tokens = sample_tokens(tokens_total, c.seed);
  const std::vector<int64_t> routes = route_rows(tokens, c.top_k);
  LayerProblem sub = std::move(lc.problem);
  const Activations a_all = std::move(sub.a);
  sub.a = restrict_rows(a_all, tokens);
  sub.routing = restrict_routing(sub.routing, tokens);
  const LayerReference ref = reference_layer(sub, tol);

  // Device: alignment first (its result feeds both GEMMs).
  const DeviceAlignment al = align_on_device(lc.routing, c.block_m);
  if (!expect_support(c, al.status != MC_UNSUPPORTED, al.reason)) return;
  ASSERT_EQ(al.status, MC_OK) << al.reason;
  {
    Comparison cmp;
    cmp.message = alignment_difference(align_block_size(lc.routing, c.block_m),
                                       al.routing.sorted_ids->download<int32_t>(),
                                       al.routing.expert_ids->download<int32_t>(),
                                       al.routing.num_post_padded->download<int32_t>()[0]);
    if (!cmp.message.empty()) cmp.outcome = Outcome::Incorrect;
    report_stage(c, "align", cmp);
    ASSERT_EQ(cmp.outcome, Outcome::Passed) << cmp.message;
  }

  // Both branches lvalues: a conditional with a temporary on one side would copy a_all.
  Activations weighted;
  if (c.apply_router_weight_on_input) weighted = apply_router_weight_on_input(a_all, lc.routing);
  const Activations& a_host = c.apply_router_weight_on_input ? weighted : a_all;
  const auto a = upload_activations("activations", a_host);
  const DeviceWeights w1 = upload_weights(c, sub.w1, lc.experts);
  const DeviceWeights w2 = upload_weights(c, sub.w2, lc.experts);
  const auto c1 = poisoned_output("c1", c, numel, n1);
  const auto act = poisoned_output("act", c, numel, c.inter);
  const auto c2 = poisoned_output("c2", c, numel, hidden);
  const auto out = poisoned_output("out", c, tokens_total, hidden);
  std::vector<const GuardedBuffer*> all = al.buffers();
  for (const auto* b : w1.buffers()) all.push_back(b);
  for (const auto* b : w2.buffers()) all.push_back(b);
  for (const auto* b : {a.get(), c1.get(), act.get(), c2.get(), out.get()}) all.push_back(b);
  std::string reason;

  GemmCall g1;
  g1.a = a->data();
  g1.lda = a_host.lda;
  g1.a_route_div = c.apply_router_weight_on_input ? 1 : c.top_k;
  g1.out = c1->data();
  g1.ldc = n1;
  mc_status s = run_gemm(c, w1, al.routing, g1, reason);
  if (!expect_support(c, s != MC_UNSUPPORTED, reason)) return;
  ASSERT_EQ(s, MC_OK) << reason;
  judge(c, "gemm1", download_rows(*c1, routes, n1), n1, ref.c1, check_all_guards(all));

  const mc_silu_and_mul_args sa{dt, c1->data(), n1, act->data(), c.inter, numel, c.inter, nullptr};
  ASSERT_EQ(api.silu_and_mul(&sa), MC_OK);
  synchronize_device();
  // silu_and_mul runs over every row; rows of routes never computed hold NaN from the poison,
  // so only computed routes are compared.
  std::vector<int64_t> computed;
  for (size_t i = 0; i < routes.size(); ++i) {
    if (ref.act.written[i]) computed.push_back(static_cast<int64_t>(i));
  }
  judge(c, "act", download_rows(*act, routes, c.inter), c.inter, ref.act, check_all_guards(all),
        computed);

  GemmCall g2;
  g2.a = act->data();
  g2.lda = c.inter;
  g2.a_route_div = 1;
  g2.mul_routed_weight = !c.apply_router_weight_on_input;
  g2.output_topk = c.output_topk;
  g2.out = c.output_topk ? out->data() : c2->data();
  g2.ldc = hidden;
  if (c.output_topk) {
    out->zero();
  }
  s = run_gemm(c, w2, al.routing, g2, reason);
  ASSERT_EQ(s, MC_OK) << reason;
  if (!c.output_topk) {
    judge(c, "gemm2", download_rows(*c2, routes, hidden), hidden, ref.c2, check_all_guards(all));
    // moe_sum adds every route of a token: routes of experts not computed here (expert
    // parallelism) contribute zero, so their rows are zeroed first, as the ABI asks.
    const std::vector<uint8_t> written =
        computed_routes(lc.routing, align_block_size(lc.routing, c.block_m));
    for (int64_t i = 0; i < numel; ++i) {
      if (!written[i])
        check_runtime(hipMemset(static_cast<char*>(c2->data()) + i * hidden * 2, 0, hidden * 2),
                      "zero c2 row");
    }
    const mc_moe_sum_args ma{dt,           c2->data(), hidden, out->data(), hidden,
                             tokens_total, c.top_k,    hidden, nullptr};
    ASSERT_EQ(api.moe_sum(&ma), MC_OK);
    synchronize_device();
  }
  judge(c, "out", download_rows(*out, tokens, hidden), hidden, ref.out, check_all_guards(all));
}

MOECHECK_SUITE(gpu_e2e, gpu_e2e_case);

}  // namespace
}  // namespace moecheck
