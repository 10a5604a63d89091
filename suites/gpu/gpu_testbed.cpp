#include "gpu_testbed.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>

#include "device.hpp"
#include "dump.hpp"
#include "failures.hpp"
#include "moecheck/hip_compat.h"
#include "moecheck/reference/formats.hpp"
#include "results.hpp"

namespace moecheck {

std::string device_skip_reason() {
  static const DeviceInfo d = detect_device();
  return d.available ? "" : d.reason;
}

namespace {

template <class T>
std::unique_ptr<GuardedBuffer> upload_vector(const std::string& name, const std::vector<T>& v) {
  auto b = std::make_unique<GuardedBuffer>(name, v.size() * sizeof(T));
  b->upload(v);
  return b;
}

}  // namespace

std::vector<const GuardedBuffer*> DeviceWeights::buffers() const {
  std::vector<const GuardedBuffer*> out = {qweight.get(), scales.get()};
  if (zeros) out.push_back(zeros.get());
  return out;
}

namespace {

// A packed tensor of the compact experts scattered into a poisoned full-size device buffer:
// every format is expert-major, so each expert is one contiguous slice.
template <class T>
std::unique_ptr<GuardedBuffer> upload_experts(const std::string& name, const std::vector<T>& packed,
                                              const ExpertSubset& experts) {
  const size_t per_expert = packed.size() / experts.count();
  auto b = std::make_unique<GuardedBuffer>(name, per_expert * experts.local_experts * sizeof(T));
  b->fill16(0xffff);
  for (int64_t i = 0; i < experts.count(); ++i) {
    const size_t bytes = per_expert * sizeof(T);
    check_runtime(hipMemcpy(static_cast<char*>(b->data()) + experts.local_of_compact[i] * bytes,
                            packed.data() + i * per_expert, bytes, hipMemcpyHostToDevice),
                  ("upload " + name).c_str());
  }
  return b;
}

}  // namespace

DeviceWeights upload_weights(const Case& c, const QuantWeights& w, const ExpertSubset& experts) {
  DeviceWeights d;
  d.shape = w.shape;
  d.shape.experts = experts.local_experts;
  if (c.kernel == "fused") {
    const GptqKN p = pack_gptq_kn(w, c.shuffled, c.zero_format);
    d.zeros_v1 = c.zero_format == GptqZeros::v1;
    d.qweight = upload_experts("qweight", p.qweight, experts);
    d.scales = upload_experts("scales", p.scales, experts);
    d.zeros = upload_experts("zeros", p.zeros, experts);
  } else {
    const ExllamaNK p = pack_exllama_nk(w, w.shape.k / 8 + c.pad_kw);
    d.ldw = p.kw;
    d.qweight = upload_experts("qweight", p.qweight, experts);
    d.scales = upload_experts("scales", p.scales, experts);
    if (!p.zeros.empty()) d.zeros = upload_experts("zeros", p.zeros, experts);
  }
  return d;
}

std::vector<const GuardedBuffer*> DeviceRouting::buffers() const {
  return {sorted_ids.get(), expert_ids.get(), num_post_padded.get(), topk_weights.get()};
}

DeviceRouting upload_routing(const Routing& r, const Alignment& al) {
  DeviceRouting d;
  d.numel = r.numel();
  d.top_k = r.top_k;
  d.block_m = al.block_m;
  d.sorted_len = static_cast<int64_t>(al.sorted_token_ids.size());
  d.sorted_ids = upload_vector("sorted_token_ids", al.sorted_token_ids);
  d.expert_ids = upload_vector("expert_ids", al.expert_ids);
  d.num_post_padded =
      upload_vector("num_tokens_post_padded", std::vector<int32_t>{al.num_tokens_post_padded});
  d.topk_weights = upload_vector("topk_weights", r.weights);
  return d;
}

std::vector<const GuardedBuffer*> DeviceAlignment::buffers() const {
  std::vector<const GuardedBuffer*> out = routing.buffers();
  out.push_back(topk_ids.get());
  out.push_back(workspace.get());
  if (expert_map) out.push_back(expert_map.get());
  return out;
}

mc_align_args align_args(const Routing& r, const DeviceAlignment& d, int64_t block_m,
                         void* stream) {
  mc_align_args a{};
  a.topk_ids = static_cast<const int32_t*>(d.topk_ids->data());
  a.numel = r.numel();
  a.num_experts = r.experts;
  a.block_m = block_m;
  a.expert_map = d.expert_map ? static_cast<const int32_t*>(d.expert_map->data()) : nullptr;
  a.sorted_token_ids = static_cast<int32_t*>(d.routing.sorted_ids->data());
  a.sorted_capacity = d.routing.sorted_len;
  a.expert_ids = static_cast<int32_t*>(d.routing.expert_ids->data());
  a.num_tokens_post_padded = static_cast<int32_t*>(d.routing.num_post_padded->data());
  a.workspace = d.workspace->data();
  a.stream = stream;
  return a;
}

DeviceAlignment align_on_device(const Routing& r, int64_t block_m) {
  const KernelApi& api = kernel_api();
  DeviceAlignment d;
  DeviceRouting& dr = d.routing;
  dr.numel = r.numel();
  dr.top_k = r.top_k;
  dr.block_m = block_m;
  dr.sorted_len = max_padded_length(r.numel(), r.experts, block_m);
  auto poisoned = [](const std::string& name, size_t bytes) {
    auto b = std::make_unique<GuardedBuffer>(name, bytes);
    b->fill16(kIntPoison);
    return b;
  };
  dr.sorted_ids = poisoned("sorted_token_ids", dr.sorted_len * 4);
  dr.expert_ids = poisoned("expert_ids", (dr.sorted_len / block_m) * 4);
  dr.num_post_padded = poisoned("num_tokens_post_padded", 4);
  dr.topk_weights = upload_vector("topk_weights", r.weights);
  d.topk_ids = upload_vector("topk_ids", r.ids);
  if (!r.expert_map.empty()) d.expert_map = upload_vector("expert_map", r.expert_map);
  d.workspace =
      poisoned("align workspace", static_cast<size_t>(api.align_workspace_bytes(r.experts)));

  mc_align_args a = align_args(r, d, block_m, nullptr);
  char why[MC_REASON_LEN] = {};
  if (!api.supports_align(&a, why)) {
    d.status = MC_UNSUPPORTED;
    d.reason = why;
    return d;
  }
  d.status = api.align(&a);
  synchronize_device();
  if (d.status != MC_OK) d.reason = to_string(d.status);
  return d;
}

std::unique_ptr<GuardedBuffer> upload_activations(const std::string& name, const Activations& a) {
  return upload_vector(name, a.bits);
}

GemmFields gemm_fields(const Case& c, const DeviceWeights& w, const DeviceRouting& r,
                       const GemmCall& call) {
  GemmFields f;
  f.dtype = abi_dtype(c.dtype);
  f.a = call.a;
  f.lda = call.lda;
  f.a_route_div = call.a_route_div;
  f.qweight = static_cast<const int32_t*>(w.qweight->data());
  f.scales = w.scales->data();
  f.zeros = w.zeros ? static_cast<const int32_t*>(w.zeros->data()) : nullptr;
  f.num_experts = w.shape.experts;
  f.n = w.shape.n;
  f.k = w.shape.k;
  f.group_size = w.shape.group;
  f.sorted_token_ids = static_cast<const int32_t*>(r.sorted_ids->data());
  f.expert_ids = static_cast<const int32_t*>(r.expert_ids->data());
  f.num_tokens_post_padded = static_cast<const int32_t*>(r.num_post_padded->data());
  f.sorted_len = r.sorted_len;
  f.block_m = r.block_m;
  f.numel = r.numel;
  f.topk_weights = static_cast<const float*>(r.topk_weights->data());
  f.mul_routed_weight = call.mul_routed_weight;
  f.c = call.out;
  f.ldc = call.ldc;
  return f;
}

mc_status run_gemm(const Case& c, const DeviceWeights& w, const DeviceRouting& r,
                   const GemmCall& call, std::string& reason) {
  const KernelApi& api = kernel_api();
  char why[MC_REASON_LEN] = {};
  const GemmFields f = gemm_fields(c, w, r, call);
  mc_status status;
  if (c.kernel == "fused") {
    auto a = gemm_args<mc_fused_gemm_args>(f);
    a.zeros_v1 = w.zeros_v1;
    a.top_k = r.top_k;
    a.output_topk = call.output_topk;
    const int64_t ws = api.fused_workspace_bytes(&a);
    GuardedBuffer workspace("fused workspace", static_cast<size_t>(ws > 0 ? ws : 0));
    a.workspace = ws > 0 ? workspace.data() : nullptr;
    a.workspace_bytes = ws;
    if (!api.supports_fused_gemm(&a, why)) {
      reason = why;
      return MC_UNSUPPORTED;
    }
    status = api.fused_gemm(&a);
    synchronize_device();
    const std::string g = workspace.check_guards();
    if (!g.empty()) throw DeviceError(g);
  } else {
    auto a = gemm_args<mc_tiled_gemm_args>(f);
    a.ldw = w.ldw;
    if (!api.supports_tiled_gemm(&a, why)) {
      reason = why;
      return MC_UNSUPPORTED;
    }
    status = api.tiled_gemm(&a);
    synchronize_device();
  }
  if (status != MC_OK) reason = to_string(status);
  return status;
}

void report_line(const std::string& line) {
  // On stdout and appended to $MOECHECK_RESULTS when set (suites/testbed/results.hpp).
  report_result_line(line);
}

void report_not_supported(const Case& c, const std::string& reason) {
  report_line(
      fmt::format("{{\"test\":\"{}.{}\",\"stage\":\"{}\",\"outcome\":\"NotSupported\","
                  "\"reason\":\"{}\"}}\n",
                  c.suite, c.name(), c.stage, reason));
  testing::Test::RecordProperty("outcome", "NotSupported");
}

void report_stage(const Case& c, const std::string& stage, const Comparison& cmp) {
  // One line per judged stage, the same line `moecheck verify` prints (suites/exchange/dump.hpp).
  // In a case of cases/known_bugs.yaml a stage that fails says KnownBug, with the outcome it
  // observed and the entry (report_stage_result, shared with the CPU suites; the testbed's main
  // decides the test's result).
  report_stage_result(c.suite + "." + c.name(), stage, cmp);
  const bool known_bug = current_known_bug() != nullptr && cmp.outcome != Outcome::Passed;
  const Outcome shown = known_bug ? Outcome::KnownBug : cmp.outcome;
  testing::Test::RecordProperty(stage + "_outcome", to_string(shown));
  testing::Test::RecordProperty(stage + "_margin", fmt::format("{:.6g}", cmp.worst_margin));
  testing::Test::RecordProperty(stage + "_rel_l1", fmt::format("{:.6g}", cmp.rel_l1));
}

Comparison judge(const Case& c, const std::string& stage, const std::vector<uint16_t>& out,
                 int64_t ldc, const RefOutput& ref, const std::string& guards,
                 const std::vector<int64_t>& only_rows) {
  Comparison cmp;
  if (!guards.empty()) {
    cmp.outcome = Outcome::Failed;
    cmp.message = guards;
  } else {
    cmp = compare(out, ldc, ref, case_tolerance(c), poison_bits(c.dtype), only_rows);
  }
  report_stage(c, stage, cmp);
  if (cmp.outcome != Outcome::Passed) {
    dump_failed_comparison(c, stage, out, ldc, ref, case_tolerance(c), cmp);  // --dump-failures
  }
  EXPECT_EQ(cmp.outcome, Outcome::Passed)
      << stage << ": " << to_string(cmp.outcome) << ": " << cmp.message << " (worst margin "
      << cmp.worst_margin << ")";
  return cmp;
}

std::unique_ptr<GuardedBuffer> poisoned_output(const std::string& name, const Case& c, int64_t rows,
                                               int64_t ldc) {
  auto b = std::make_unique<GuardedBuffer>(name, static_cast<size_t>(rows * ldc) * 2);
  b->fill16(poison_bits(c.dtype));
  return b;
}

std::vector<uint16_t> download_rows(const GuardedBuffer& b, const std::vector<int64_t>& rows,
                                    int64_t ldc) {
  std::vector<uint16_t> out(rows.size() * ldc);
  // Consecutive rows are fetched in one copy: a full (unsampled) output is one transfer.
  for (size_t i = 0; i < rows.size();) {
    size_t run = 1;
    while (i + run < rows.size() && rows[i + run] == rows[i] + static_cast<int64_t>(run)) ++run;
    b.download(out.data() + i * ldc, run * ldc * 2, static_cast<size_t>(rows[i] * ldc) * 2);
    i += run;
  }
  return out;
}

bool expect_support(const Case& c, bool supported, const std::string& reason) {
  if (c.expect == "not_supported") {
    EXPECT_FALSE(supported) << "the case expects the implementation to refuse it";
    if (!supported) report_not_supported(c, reason);
    return false;
  }
  EXPECT_TRUE(supported) << "NotSupported where the case expects a pass: " << reason;
  return supported;
}

}  // namespace moecheck
