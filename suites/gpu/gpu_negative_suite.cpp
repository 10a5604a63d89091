// Unsupported shapes (expect: not_supported) given straight to the launchers: each must return
// MC_UNSUPPORTED, agree with its supports() predicate (with a reason), and touch no memory: every
// output and workspace keeps its poison and every guard band stays intact. The buffers are sized
// for the shape as given (rounded up), filled with poison, and never uploaded: a launcher that
// read them before refusing would still pass this test, one that wrote them would not.
#include <gtest/gtest.h>

#include "gpu_testbed.hpp"
#include "registry.hpp"

namespace moecheck {
namespace {

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

void expect_untouched(const std::vector<const GuardedBuffer*>& buffers) {
  for (const GuardedBuffer* b : buffers) {
    const auto words = b->download<uint16_t>();
    for (size_t i = 0; i < words.size(); ++i) {
      if (words[i] != 0xffff) {
        ADD_FAILURE() << b->name() << " written at element " << i << " by a refused launch";
        break;
      }
    }
  }
  EXPECT_EQ(check_all_guards(buffers), "");
}

void gpu_negative_case(const Case& c) {
  MOECHECK_SKIP_WITHOUT_DEVICE();
  ASSERT_EQ(c.expect, "not_supported")
      << c.source << ": gpu_negative cases must expect not_supported";
  const KernelApi& api = kernel_api();
  const int64_t n = c.gemm_n(), k = c.gemm_k(), g = c.group, e = c.experts, numel = c.numel();
  const int64_t lda = k + c.pad_lda, ldw = ceil_div(k, 8) + c.pad_kw;
  const int64_t a_rows = c.stage == "gemm2" ? numel : c.tokens;
  const int64_t sorted_len = numel + e * c.block_m;
  const int64_t out_rows = c.output_topk ? c.tokens : numel;
  auto buffer = [](const char* name, int64_t bytes) {
    return std::make_unique<GuardedBuffer>(name, static_cast<size_t>(bytes));
  };
  const auto a = buffer("activations", a_rows * lda * 2);
  const auto qweight = buffer("qweight", e * n * ldw * 4 + e * ceil_div(k, 8) * n * 4);
  const auto scales = buffer("scales", e * n * ceil_div(k, g) * 2);
  const auto zeros = buffer("zeros", e * ceil_div(n, 8) * ceil_div(k, g) * 4);
  const auto sorted = buffer("sorted_token_ids", sorted_len * 4);
  const auto experts = buffer("expert_ids", ceil_div(sorted_len, c.block_m) * 4);
  const auto post = buffer("num_tokens_post_padded", 4);
  const auto weights = buffer("topk_weights", numel * 4);
  const auto out = buffer("output", out_rows * n * 2);
  const auto workspace = buffer("workspace", 1 << 20);
  GemmFields f;
  f.dtype = abi_dtype(c.dtype);
  f.a = a->data();
  f.lda = lda;
  f.a_route_div = c.stage == "gemm2" ? 1 : c.top_k;
  f.qweight = static_cast<const int32_t*>(qweight->data());
  f.scales = scales->data();
  f.zeros = static_cast<const int32_t*>(zeros->data());
  f.num_experts = e;
  f.n = n;
  f.k = k;
  f.group_size = g;
  f.sorted_token_ids = static_cast<const int32_t*>(sorted->data());
  f.expert_ids = static_cast<const int32_t*>(experts->data());
  f.num_tokens_post_padded = static_cast<const int32_t*>(post->data());
  f.sorted_len = sorted_len;
  f.block_m = c.block_m;
  f.numel = numel;
  f.topk_weights = static_cast<const float*>(weights->data());
  f.mul_routed_weight = c.mul_routed_weight;
  f.c = out->data();
  f.ldc = n;
  char why[MC_REASON_LEN] = {};
  mc_status s;
  bool supported;
  if (c.kernel == "fused") {
    auto x = gemm_args<mc_fused_gemm_args>(f);
    x.zeros_v1 = c.zero_format == GptqZeros::v1;
    x.top_k = c.top_k;
    x.output_topk = c.output_topk;
    x.workspace = workspace->data();
    x.workspace_bytes = static_cast<int64_t>(workspace->bytes());
    supported = api.supports_fused_gemm(&x, why);
    s = api.fused_gemm(&x);
  } else {
    auto x = gemm_args<mc_tiled_gemm_args>(f);
    x.ldw = ldw;
    if (c.symmetric) x.zeros = nullptr;
    supported = api.supports_tiled_gemm(&x, why);
    s = api.tiled_gemm(&x);
  }
  synchronize_device();
  EXPECT_FALSE(supported) << "supports() accepted a shape the case says is unsupported";
  EXPECT_GT(std::string(why).size(), 0u) << "supports() refused without saying why";
  EXPECT_EQ(s, MC_UNSUPPORTED) << "the launcher returned " << to_string(s);
  expect_untouched({a.get(), qweight.get(), scales.get(), zeros.get(), sorted.get(), experts.get(),
                    post.get(), weights.get(), out.get(), workspace.get()});
  report_not_supported(c, why);
}

MOECHECK_SUITE(gpu_negative, gpu_negative_case);

}  // namespace
}  // namespace moecheck
