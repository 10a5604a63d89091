// The GPU testbed: what every GPU suite shares. A case's inputs (suites/testbed/inputs.hpp) are
// packed into the kernel family's format, uploaded into guarded, poisoned device buffers, run
// through the implementation's C ABI (kernel_api.hpp), downloaded, and judged by the reference's
// comparator; each result is reported as one line (and as test properties) for the reports.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "case.hpp"
#include "device_buffer.hpp"
#include "inputs.hpp"
#include "kernel_api.hpp"
#include "moecheck/reference/align.hpp"
#include "moecheck/reference/tolerance.hpp"

namespace moecheck {

// "" when a device is usable, else why not (the test is then skipped with that reason).
std::string device_skip_reason();

#define MOECHECK_SKIP_WITHOUT_DEVICE()                                                 \
  do {                                                                                 \
    const std::string moecheck_no_device = ::moecheck::device_skip_reason();           \
    if (!moecheck_no_device.empty()) GTEST_SKIP() << "no GPU: " << moecheck_no_device; \
  } while (0)

// One GEMM's weights on the device, in the format of the case's kernel family:
// tiled -> exllama_nk (row stride K/8 + pad_kw, zeros packed along N or none when symmetric);
// fused -> gptq_kn (nibble order and zero format from the case; zeros always present).
// The buffers hold every local expert; the reached ones (`experts`) are placed at their own
// offsets and the rest stay poisoned (0xff bytes: q = 15 and NaN scales), so a kernel that reads
// an expert no route names produces NaN.
struct DeviceWeights {
  WeightShape shape;
  int64_t ldw = 0;
  bool zeros_v1 = false;
  std::unique_ptr<GuardedBuffer> qweight, scales, zeros;
  std::vector<const GuardedBuffer*> buffers() const;
};
DeviceWeights upload_weights(const Case& c, const QuantWeights& w, const ExpertSubset& experts);

// The alignment and routing weights on the device.
struct DeviceRouting {
  int64_t numel = 0, top_k = 0, block_m = 0, sorted_len = 0;
  std::unique_ptr<GuardedBuffer> sorted_ids, expert_ids, num_post_padded, topk_weights;
  std::vector<const GuardedBuffer*> buffers() const;
};
DeviceRouting upload_routing(const Routing& r, const Alignment& al);

// Activations on the device (lda kept).
std::unique_ptr<GuardedBuffer> upload_activations(const std::string& name, const Activations& a);

// The fields both GEMM argument structs of kernels.h share, so either family's arguments are
// filled by one piece of code (gemm_args).
struct GemmFields {
  mc_dtype dtype = MC_BF16;
  const void* a = nullptr;
  int64_t lda = 0, a_route_div = 1;
  const int32_t* qweight = nullptr;
  const void* scales = nullptr;
  const int32_t* zeros = nullptr;
  int64_t num_experts = 0, n = 0, k = 0, group_size = 0;
  const int32_t* sorted_token_ids = nullptr;
  const int32_t* expert_ids = nullptr;
  const int32_t* num_tokens_post_padded = nullptr;
  int64_t sorted_len = 0, block_m = 0, numel = 0;
  const float* topk_weights = nullptr;
  int mul_routed_weight = 0;
  void* c = nullptr;
  int64_t ldc = 0;
};

// mc_tiled_gemm_args or mc_fused_gemm_args with the shared fields set (the rest zero).
template <class Args>
Args gemm_args(const GemmFields& f) {
  Args x{};
  x.dtype = f.dtype;
  x.a = f.a;
  x.lda = f.lda;
  x.a_route_div = f.a_route_div;
  x.qweight = f.qweight;
  x.scales = f.scales;
  x.zeros = f.zeros;
  x.num_experts = f.num_experts;
  x.n = f.n;
  x.k = f.k;
  x.group_size = f.group_size;
  x.sorted_token_ids = f.sorted_token_ids;
  x.expert_ids = f.expert_ids;
  x.num_tokens_post_padded = f.num_tokens_post_padded;
  x.sorted_len = f.sorted_len;
  x.block_m = f.block_m;
  x.numel = f.numel;
  x.topk_weights = f.topk_weights;
  x.mul_routed_weight = f.mul_routed_weight;
  x.c = f.c;
  x.ldc = f.ldc;
  return x;
}

inline mc_dtype abi_dtype(DType t) {
  return t == DType::bf16 ? MC_BF16 : MC_FP16;
}

// One routed GEMM through the case's kernel family. `out` is [numel, ldc] (or [T, ldc] with
// output_topk, zeroed by the caller). Fills `reason` when the implementation refuses.
struct GemmCall {
  const void* a = nullptr;
  int64_t lda = 0;
  int64_t a_route_div = 1;
  bool mul_routed_weight = false;
  bool output_topk = false;
  void* out = nullptr;
  int64_t ldc = 0;
};
mc_status run_gemm(const Case& c, const DeviceWeights& w, const DeviceRouting& r,
                   const GemmCall& call, std::string& reason);
// The shared argument fields of such a call (run_gemm and the bench fill their launches from it).
GemmFields gemm_fields(const Case& c, const DeviceWeights& w, const DeviceRouting& r,
                       const GemmCall& call);

// One machine-readable JSON line per result (stdout and $MOECHECK_RESULTS).
void report_line(const std::string& line);
// An expected refusal: the NotSupported outcome with the implementation's reason.
void report_not_supported(const Case& c, const std::string& reason);
// Reports a judged stage: one machine-readable line and the test's properties.
void report_stage(const Case& c, const std::string& stage, const Comparison& cmp);

// Judges an output against its reference: guard bands intact, then the comparator; a failure
// message names the stage. Returns the comparison (already reported).
Comparison judge(const Case& c, const std::string& stage, const std::vector<uint16_t>& out,
                 int64_t ldc, const RefOutput& ref, const std::string& guards,
                 const std::vector<int64_t>& only_rows = {});

// The output rows of `ref` as poisoned [rows, ldc] device memory.
std::unique_ptr<GuardedBuffer> poisoned_output(const std::string& name, const Case& c, int64_t rows,
                                               int64_t ldc);

// Checks the implementation's answer to "is this shape supported?" against the case: returns
// true when the case should go on to run; records a pass for an expected refusal.
bool expect_support(const Case& c, bool supported, const std::string& reason);

}  // namespace moecheck

namespace moecheck {

// The given rows of a [rows, ldc] 16-bit device buffer, compact ([rows.size(), ldc]).
std::vector<uint16_t> download_rows(const GuardedBuffer& b, const std::vector<int64_t>& rows,
                                    int64_t ldc);

}  // namespace moecheck

namespace moecheck {

// moe_align_block_size on the device for a routing: the result buffers (poisoned with
// kIntPoison first), the inputs and workspace kept for guard checks, and the launch status.
constexpr uint16_t kIntPoison = 0x7fc1;  // 0x7fc17fc1 as int32: no valid id, expert or count
struct DeviceAlignment {
  DeviceRouting routing;  // sorted ids, expert ids, padded count (device-made), topk weights
  std::unique_ptr<GuardedBuffer> topk_ids, expert_map, workspace;
  mc_status status = MC_OK;
  std::string reason;
  std::vector<const GuardedBuffer*> buffers() const;
};
DeviceAlignment align_on_device(const Routing& r, int64_t block_m);
// The alignment arguments for routing `r` into d's buffers (align_on_device and the bench).
mc_align_args align_args(const Routing& r, const DeviceAlignment& d, int64_t block_m, void* stream);

}  // namespace moecheck
