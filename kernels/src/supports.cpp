// The `supports` predicates of the C ABI (kernels.h) and the argument checks every launcher runs
// first. Plain C++ with no runtime dependency: the answers depend on the arguments only.
//
// Order of the checks: argument errors first (MC_INVALID_ARGUMENT: NULL pointers, non-positive
// sizes, strides shorter than a row, inconsistent lengths), then the shapes the kernels do not
// handle (MC_UNSUPPORTED), each with a reason that names the field and its value. A data pointer
// may be NULL when its buffer has no element to read or write (e.g. numel == 0).
#include <stdarg.h>
#include <stdio.h>

#include "internal.hpp"
#include "moecheck/fused_shape.h"

namespace mc {
namespace {

constexpr int64_t kInt32Max = 2147483647;
// Grids put N tiles on the y dimension (at most fused_shape.h's kMaxTiles, 65535). The fused
// family's shape rule takes 32-column tiles only where they fit that limit, so its narrowest tile
// for any N is two warps' columns, 64 (the tiled family's are 128): N up to 65535 x 64.
constexpr int64_t kMaxN = moecheck::fused::kMaxTiles * 2 * moecheck::fused::kWarpCols;

__attribute__((format(printf, 3, 4))) mc_status fail(char* reason, mc_status status,
                                                     const char* fmt, ...) {
  if (reason != nullptr) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, MC_REASON_LEN, fmt, ap);
    va_end(ap);
  }
  return status;
}
mc_status ok(char* reason) {
  if (reason != nullptr) reason[0] = '\0';
  return MC_OK;
}
bool aligned(const void* p, uintptr_t bytes) {
  return reinterpret_cast<uintptr_t>(p) % bytes == 0;
}
long long ll(int64_t v) {
  return static_cast<long long>(v);
}

#define MC_REQUIRE(cond, status, ...)                           \
  do {                                                          \
    if (!(cond)) return fail(reason, MC_##status, __VA_ARGS__); \
  } while (0)
// `args` is the struct, `field` one of its pointers, named as in kernels.h.
#define MC_REQUIRE_PTR(args, field, needed) \
  MC_REQUIRE(!(needed) || (args)->field != nullptr, INVALID_ARGUMENT, "%s is NULL", #field)
#define MC_REQUIRE_POSITIVE(v, name) \
  MC_REQUIRE((v) >= 1, INVALID_ARGUMENT, "%s=%lld must be positive", name, ll(v))
#define MC_REQUIRE_NONNEGATIVE(v, name) \
  MC_REQUIRE((v) >= 0, INVALID_ARGUMENT, "%s=%lld is negative", name, ll(v))

mc_status check_dtype(mc_dtype d, char* reason) {
  MC_REQUIRE(d == MC_BF16 || d == MC_FP16, INVALID_ARGUMENT,
             "dtype %d is neither MC_BF16 (0) nor MC_FP16 (1)", static_cast<int>(d));
  return MC_OK;
}

// The checks the two routed GEMMs share (shape, routing arrays, activations).
struct GemmShape {
  int64_t num_experts, n, k, group_size, lda, a_route_div, sorted_len, block_m, numel, ldc;
};
mc_status check_gemm_shape(const GemmShape& s, char* reason) {
  const int64_t num_experts = s.num_experts, n = s.n, k = s.k, group_size = s.group_size;
  const int64_t lda = s.lda, a_route_div = s.a_route_div, sorted_len = s.sorted_len;
  const int64_t block_m = s.block_m, numel = s.numel, ldc = s.ldc;
  MC_REQUIRE_POSITIVE(num_experts, "num_experts");
  MC_REQUIRE_POSITIVE(n, "N");
  MC_REQUIRE_POSITIVE(k, "K");
  MC_REQUIRE_POSITIVE(group_size, "group_size");
  MC_REQUIRE_POSITIVE(block_m, "block_m");
  MC_REQUIRE_POSITIVE(a_route_div, "a_route_div");
  MC_REQUIRE_NONNEGATIVE(numel, "numel");
  MC_REQUIRE_NONNEGATIVE(sorted_len, "sorted_len");
  MC_REQUIRE(lda >= k, INVALID_ARGUMENT, "lda %lld < K=%lld", ll(lda), ll(k));
  MC_REQUIRE(ldc >= n, INVALID_ARGUMENT, "ldc %lld < N=%lld", ll(ldc), ll(n));
  return MC_OK;
}
mc_status check_gemm_support(const GemmShape& s, const void* a, char* reason) {
  MC_REQUIRE(s.group_size == 32 || s.group_size == 64 || s.group_size == 128, UNSUPPORTED,
             "group_size %lld not in {32,64,128}", ll(s.group_size));
  MC_REQUIRE(s.k % s.group_size == 0, UNSUPPORTED, "K=%lld is not a multiple of group_size %lld",
             ll(s.k), ll(s.group_size));
  MC_REQUIRE(s.n % 8 == 0, UNSUPPORTED, "N=%lld not a multiple of 8", ll(s.n));
  MC_REQUIRE(s.n <= kMaxN, UNSUPPORTED, "N=%lld > %lld (grid limit)", ll(s.n), ll(kMaxN));
  MC_REQUIRE(s.k <= kInt32Max, UNSUPPORTED, "K=%lld exceeds int32", ll(s.k));
  MC_REQUIRE(s.num_experts <= kInt32Max, UNSUPPORTED, "num_experts=%lld exceeds int32",
             ll(s.num_experts));
  MC_REQUIRE(s.lda % 8 == 0, UNSUPPORTED, "lda %lld not a multiple of 8 (16-byte loads)",
             ll(s.lda));
  MC_REQUIRE(aligned(a, 16), UNSUPPORTED, "a is not 16-byte aligned (16-byte loads)");
  MC_REQUIRE(s.numel <= kInt32Max, UNSUPPORTED, "numel=%lld exceeds the int32 route ids",
             ll(s.numel));
  MC_REQUIRE(s.sorted_len <= kInt32Max, UNSUPPORTED, "sorted_len=%lld exceeds int32",
             ll(s.sorted_len));
  MC_REQUIRE(s.sorted_len % s.block_m == 0, INVALID_ARGUMENT,
             "sorted_len %lld not a multiple of block_m %lld", ll(s.sorted_len), ll(s.block_m));
  return MC_OK;
}

#define MC_TRY(expr)              \
  do {                            \
    const mc_status st_ = (expr); \
    if (st_ != MC_OK) return st_; \
  } while (0)

}  // namespace

mc_status check_align(const mc_align_args* a, char* reason) {
  MC_REQUIRE(a != nullptr, INVALID_ARGUMENT, "args is NULL");
  const int64_t numel = a->numel, num_experts = a->num_experts, block_m = a->block_m;
  const int64_t sorted_capacity = a->sorted_capacity;
  MC_REQUIRE_NONNEGATIVE(numel, "numel");
  MC_REQUIRE_POSITIVE(num_experts, "num_experts");
  MC_REQUIRE_POSITIVE(block_m, "block_m");
  MC_REQUIRE_NONNEGATIVE(sorted_capacity, "sorted_capacity");
  MC_REQUIRE(num_experts <= 1024, UNSUPPORTED, "num_experts=%lld > 1024", ll(num_experts));
  MC_REQUIRE(numel <= kInt32Max, UNSUPPORTED, "numel=%lld exceeds the int32 route ids", ll(numel));
  MC_REQUIRE(block_m <= kInt32Max, UNSUPPORTED, "block_m=%lld exceeds int32", ll(block_m));
  const int64_t padded = numel + num_experts * (block_m - 1);
  const int64_t max_padded = (padded + block_m - 1) / block_m * block_m;
  MC_REQUIRE(sorted_capacity >= max_padded, INVALID_ARGUMENT,
             "sorted_capacity %lld < max_padded %lld", ll(sorted_capacity), ll(max_padded));
  MC_REQUIRE(sorted_capacity <= kInt32Max, UNSUPPORTED,
             "sorted_capacity=%lld exceeds the int32 slot positions", ll(sorted_capacity));
  MC_REQUIRE_PTR(a, topk_ids, numel > 0);
  MC_REQUIRE_PTR(a, sorted_token_ids, sorted_capacity > 0);
  MC_REQUIRE_PTR(a, expert_ids, sorted_capacity / block_m > 0);
  MC_REQUIRE_PTR(a, num_tokens_post_padded, true);
  MC_REQUIRE_PTR(a, workspace, true);
  return ok(reason);
}

// What both GEMM families check alike (their argument structs share these field names): the
// dtype, the shape, and the pointers a launch reads or writes.
template <class Args>
mc_status check_gemm_common(const Args* a, const GemmShape& s, char* reason) {
  MC_TRY(check_dtype(a->dtype, reason));
  MC_TRY(check_gemm_shape(s, reason));
  const bool active = a->numel > 0 && a->sorted_len > 0;
  MC_REQUIRE_PTR(a, a, active);
  MC_REQUIRE_PTR(a, qweight, active);
  MC_REQUIRE_PTR(a, scales, active);
  MC_REQUIRE_PTR(a, sorted_token_ids, active);
  MC_REQUIRE_PTR(a, expert_ids, active);
  MC_REQUIRE_PTR(a, num_tokens_post_padded, active);
  MC_REQUIRE_PTR(a, c, active);
  MC_REQUIRE(!active || !a->mul_routed_weight || a->topk_weights != nullptr, INVALID_ARGUMENT,
             "topk_weights is NULL with mul_routed_weight");
  return ok(reason);
}

template <class Args>
GemmShape gemm_shape(const Args* a) {
  return {a->num_experts, a->n,          a->k,       a->group_size, a->lda,
          a->a_route_div, a->sorted_len, a->block_m, a->numel,      a->ldc};
}

mc_status check_tiled_gemm(const mc_tiled_gemm_args* a, char* reason) {
  MC_REQUIRE(a != nullptr, INVALID_ARGUMENT, "args is NULL");
  const GemmShape s = gemm_shape(a);
  MC_TRY(check_gemm_common(a, s, reason));
  MC_REQUIRE(a->ldw >= (a->k + 7) / 8, INVALID_ARGUMENT, "ldw %lld < K/8 (K=%lld)", ll(a->ldw),
             ll(a->k));
  MC_REQUIRE(a->block_m == 16 || a->block_m == 32 || a->block_m == 64, UNSUPPORTED,
             "block_m %lld not in {16,32,64}", ll(a->block_m));
  MC_TRY(check_gemm_support(s, a->a, reason));
  return ok(reason);
}

int64_t fused_workspace_bytes(const mc_fused_gemm_args* a) {
  if (a == nullptr || !a->output_topk || a->numel <= 0 || a->n <= 0) return 0;
  if (a->numel > kInt32Max || a->n > kMaxN) return 0;  // unsupported anyway; avoids overflow
  return a->numel * a->n * static_cast<int64_t>(sizeof(float));
}

mc_status check_fused_gemm(const mc_fused_gemm_args* a, char* reason) {
  MC_REQUIRE(a != nullptr, INVALID_ARGUMENT, "args is NULL");
  const GemmShape s = gemm_shape(a);
  MC_TRY(check_gemm_common(a, s, reason));
  const int64_t top_k = a->top_k;
  MC_REQUIRE_POSITIVE(top_k, "top_k");
  MC_REQUIRE(a->zeros_v1 == 0 || a->zeros_v1 == 1, INVALID_ARGUMENT, "zeros_v1=%d is not 0 or 1",
             a->zeros_v1);
  MC_REQUIRE(a->output_topk == 0 || a->output_topk == 1, INVALID_ARGUMENT,
             "output_topk=%d is not 0 or 1", a->output_topk);
  MC_REQUIRE(!a->output_topk || a->numel % top_k == 0, INVALID_ARGUMENT,
             "output_topk: numel %lld not a multiple of top_k %lld", ll(a->numel), ll(top_k));
  const bool active = a->numel > 0 && a->sorted_len > 0;
  MC_REQUIRE_PTR(a, zeros, active);
  MC_REQUIRE(a->block_m == 1 || a->block_m == 2 || a->block_m == 4 || a->block_m == 8, UNSUPPORTED,
             "block_m %lld not in {1,2,4,8}", ll(a->block_m));
  MC_TRY(check_gemm_support(s, a->a, reason));
  const int64_t need = fused_workspace_bytes(a);  // no overflow: numel and N are bounded now
  MC_REQUIRE(a->workspace_bytes >= need, INVALID_ARGUMENT,
             "workspace_bytes %lld < %lld (mc_fused_workspace_bytes)", ll(a->workspace_bytes),
             ll(need));
  MC_REQUIRE_PTR(a, workspace, active && need > 0);
  MC_REQUIRE(aligned(a->qweight, 16), UNSUPPORTED, "qweight is not 16-byte aligned");
  MC_REQUIRE(aligned(a->scales, 8), UNSUPPORTED, "scales is not 8-byte aligned");
  MC_REQUIRE(aligned(a->workspace, 16), UNSUPPORTED, "workspace is not 16-byte aligned");
  return ok(reason);
}

mc_status check_silu_and_mul(const mc_silu_and_mul_args* a, char* reason) {
  MC_REQUIRE(a != nullptr, INVALID_ARGUMENT, "args is NULL");
  MC_TRY(check_dtype(a->dtype, reason));
  const int64_t rows = a->rows, inter = a->inter, ldx = a->ldx, ldo = a->ldo;
  MC_REQUIRE_NONNEGATIVE(rows, "rows");
  MC_REQUIRE_NONNEGATIVE(inter, "inter");
  MC_REQUIRE(ldx >= 2 * inter, INVALID_ARGUMENT, "ldx %lld < 2*inter=%lld", ll(ldx), ll(2 * inter));
  MC_REQUIRE(ldo >= inter, INVALID_ARGUMENT, "ldo %lld < inter=%lld", ll(ldo), ll(inter));
  const bool active = rows > 0 && inter > 0;
  MC_REQUIRE_PTR(a, x, active);
  MC_REQUIRE_PTR(a, out, active);
  return ok(reason);
}

mc_status check_moe_sum(const mc_moe_sum_args* a, char* reason) {
  MC_REQUIRE(a != nullptr, INVALID_ARGUMENT, "args is NULL");
  MC_TRY(check_dtype(a->dtype, reason));
  const int64_t tokens = a->tokens, top_k = a->top_k, n = a->n, ldx = a->ldx, ldo = a->ldo;
  MC_REQUIRE_NONNEGATIVE(tokens, "tokens");
  MC_REQUIRE_POSITIVE(top_k, "top_k");
  MC_REQUIRE_NONNEGATIVE(n, "N");
  MC_REQUIRE(ldx >= n, INVALID_ARGUMENT, "ldx %lld < n=%lld", ll(ldx), ll(n));
  MC_REQUIRE(ldo >= n, INVALID_ARGUMENT, "ldo %lld < n=%lld", ll(ldo), ll(n));
  const bool active = tokens > 0 && n > 0;
  MC_REQUIRE_PTR(a, x, active);
  MC_REQUIRE_PTR(a, out, active);
  return ok(reason);
}

}  // namespace mc

MC_API int mc_supports_align(const mc_align_args* args, char* reason) {
  return mc::check_align(args, reason) == MC_OK;
}
MC_API int mc_supports_tiled_gemm(const mc_tiled_gemm_args* args, char* reason) {
  return mc::check_tiled_gemm(args, reason) == MC_OK;
}
MC_API int mc_supports_fused_gemm(const mc_fused_gemm_args* args, char* reason) {
  return mc::check_fused_gemm(args, reason) == MC_OK;
}
MC_API int mc_supports_silu_and_mul(const mc_silu_and_mul_args* args, char* reason) {
  return mc::check_silu_and_mul(args, reason) == MC_OK;
}
MC_API int mc_supports_moe_sum(const mc_moe_sum_args* args, char* reason) {
  return mc::check_moe_sum(args, reason) == MC_OK;
}
MC_API int64_t mc_align_workspace_bytes(int64_t num_experts) {
  return num_experts > 0 ? 2 * num_experts * static_cast<int64_t>(sizeof(int32_t)) : 0;
}
MC_API int64_t mc_fused_workspace_bytes(const mc_fused_gemm_args* args) {
  return mc::fused_workspace_bytes(args);
}
