/* moecheck kernels: the C ABI that is the conformance target (DESIGN.md section 6).
 *
 * Plain structs of pointers, int64 sizes and strides, and a stream. Every launcher returns a
 * status and never aborts. For each launcher, mc_supports_* says whether a shape is supported
 * and, if not, why (into `reason`, NUL-terminated, may be NULL); a launcher given an unsupported
 * shape returns that status and touches no memory.
 *
 * Pointers are device pointers. Element types: activations, scales and outputs are 16-bit
 * (bf16 or fp16, `dtype`); ids are int32; routing weights fp32; packed weights int32.
 * An implementation that lives elsewhere exports these same symbols (all 14, extern "C",
 * visible) from a shared library, with mc_abi_version() == MC_ABI_VERSION; the GPU testbed loads
 * it with --impl PATH or $MOECHECK_IMPL (suites/gpu/kernel_api.hpp), and loads the built-in
 * libmoecheck_kernels.so the same way.
 *
 * Built-in implementation (kernels/src): mc_supports_* look at the arguments only, never at the
 * device, so they answer the same on a machine without a GPU. Launchers check in this order:
 * MC_INVALID_ARGUMENT, MC_UNSUPPORTED (both with the predicate's reason), then MC_NO_DEVICE (no
 * current device, or, for the tiled family, one without a matrix atom: NVIDIA below sm_80, AMD
 * other than gfx11), then MC_LAUNCH_FAILED. A call with nothing to compute (numel == 0, ...)
 * returns MC_OK without a launch. A data pointer may be NULL when its buffer has no element.
 */
#ifndef MOECHECK_KERNELS_H
#define MOECHECK_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MC_ABI_VERSION 1

typedef enum {
  MC_OK = 0,
  MC_UNSUPPORTED = 1,      /* the shape/config is outside what the kernel supports */
  MC_INVALID_ARGUMENT = 2, /* null pointer, negative size, inconsistent strides */
  MC_LAUNCH_FAILED = 3,    /* the runtime reported an error at launch */
  MC_NO_DEVICE = 4         /* no usable device, or built for an architecture without an atom */
} mc_status;

typedef enum { MC_BF16 = 0, MC_FP16 = 1 } mc_dtype;

/* Reason buffers passed to mc_supports_* are at least this long. */
#define MC_REASON_LEN 256

int mc_abi_version(void);
/* A short name of the implementation and of the device architecture it was built for.
 * Built-in: "moecheck-builtin (cuda sm_90)", "moecheck-builtin (hip gfx1100)", with
 * ", no device" / ", no matrix atom" when the current device cannot run the kernels. */
const char* mc_implementation_name(void);

/* ---- moe_align_block_size (DESIGN.md section 3) ------------------------------------------ */
typedef struct {
  const int32_t* topk_ids;       /* [numel] */
  int64_t numel;                 /* T * top_k */
  int64_t num_experts;           /* E (global), 1..1024 */
  int64_t block_m;               /* >= 1 */
  const int32_t* expert_map;     /* [E] global -> local id or -1; NULL for none */
  int32_t* sorted_token_ids;     /* [sorted_capacity] */
  int64_t sorted_capacity;       /* >= max_padded = roundup(numel + E*(block_m-1), block_m) */
  int32_t* expert_ids;           /* [sorted_capacity / block_m] */
  int32_t* num_tokens_post_padded; /* [1] */
  void* workspace;               /* mc_align_workspace_bytes() bytes, contents ignored */
  void* stream;
} mc_align_args;
/* Built-in: 8 * E bytes (per-expert counts and cursors). Ids outside [0, E) are ignored (no slot,
 * no access out of bounds). */
int64_t mc_align_workspace_bytes(int64_t num_experts);
int mc_supports_align(const mc_align_args* args, char* reason);
mc_status mc_align(const mc_align_args* args);

/* ---- routed GEMM, tiled family (exllama_nk weights) --------------------------------------- */
/* For every block b < num_tokens_post_padded / block_m with e = expert_ids[b] >= 0 and every
 * slot with id = sorted_token_ids[slot] < numel:
 *   c[id, :] = a[id / a_route_div, :] . W[e]^T  (* topk_weights[id] when mul_routed_weight)
 * gemm1: a is [T, K], a_route_div = top_k; gemm2: a is [numel, K], a_route_div = 1.
 * Rows of c never named by a valid slot are not written.
 * The alignment is moe_align_block_size's (DESIGN.md section 3): an expert with no route has no
 * block, so num_tokens_post_padded / block_m <= numel. The built-in GEMMs (both families) start
 * min(sorted_len / block_m, numel) blocks' CTAs and rely on it: blocks past numel are not
 * computed, and nothing is read or written out of bounds either way. */
typedef struct {
  mc_dtype dtype;
  const void* a; int64_t lda;       /* activations, row stride in elements (lda >= K) */
  int64_t a_route_div;              /* top_k for gemm1, 1 for gemm2 */
  const int32_t* qweight;           /* exllama_nk [E, N, ldw] */
  int64_t ldw;                      /* int32 words per weight row, >= K/8 */
  const void* scales;               /* [E, N, K/G], dtype */
  const int32_t* zeros;             /* [E, N/8, K/G] packed 4-bit raw zeros; NULL = symmetric (8) */
  int64_t num_experts, n, k, group_size;
  const int32_t* sorted_token_ids;  /* [sorted_len] */
  const int32_t* expert_ids;        /* [sorted_len / block_m] */
  const int32_t* num_tokens_post_padded; /* [1], device */
  int64_t sorted_len;               /* length of sorted_token_ids (max_padded) */
  int64_t block_m;
  int64_t numel;                    /* T * top_k: the sentinel value */
  const float* topk_weights;        /* [numel]; read only when mul_routed_weight */
  int mul_routed_weight;
  void* c; int64_t ldc;             /* output [numel, ldc], dtype */
  void* stream;
} mc_tiled_gemm_args;
int mc_supports_tiled_gemm(const mc_tiled_gemm_args* args, char* reason);
mc_status mc_tiled_gemm(const mc_tiled_gemm_args* args);

/* ---- fused gather/dequant/dot, decode path (gptq_kn weights with zeros) -------------------- */
/* Same routing contract as the tiled gemm, on gptq_kn weights (shuffled nibble order) with
 * zeros [E, K/G, N/8] in format v1 (stores z - 1) or v2 (stores z). block_m in {1, 2, 4, 8}.
 * output_topk = 0: writes c[id, :] like the tiled gemm.
 * output_topk = 1: out[t, :] = sum_j c[t*top_k + j, :], fused; `c` is then [T, ldc] and must be
 *   zeroed by the caller; the reduction is deterministic (bitwise repeatable).
 * Built-in: zeros_v1 decodes z = (stored + 1) mod 16 (GPTQ v1's +1, modulo 16 so that z = 0..15
 *   round-trips). output_topk = 1 writes fp32 per-route partials into the workspace
 *   ([numel, N] fp32, zeroed by the launcher; routes not computed stay 0), then a second launch
 *   computes c[t, n] = round(c[t, n] + p[t*top_k + 0, n] + p[t*top_k + 1, n] + ...) in fp32, in
 *   that order, rounded once: no atomics, independent of scheduling. */
typedef struct {
  mc_dtype dtype;
  const void* a; int64_t lda; int64_t a_route_div;
  const int32_t* qweight;           /* [E, K/8, N] */
  const void* scales;               /* [E, K/G, N] */
  const int32_t* zeros;             /* [E, K/G, N/8] */
  int zeros_v1;                     /* 1: stored z - 1 (GPTQ v1); 0: stored z (v2) */
  int64_t num_experts, n, k, group_size;
  const int32_t* sorted_token_ids;
  const int32_t* expert_ids;
  const int32_t* num_tokens_post_padded;
  int64_t sorted_len, block_m, numel, top_k;
  const float* topk_weights; int mul_routed_weight;
  int output_topk;
  void* c; int64_t ldc;
  void* workspace; int64_t workspace_bytes;  /* see mc_fused_workspace_bytes */
  void* stream;
} mc_fused_gemm_args;
int64_t mc_fused_workspace_bytes(const mc_fused_gemm_args* args);
int mc_supports_fused_gemm(const mc_fused_gemm_args* args, char* reason);
mc_status mc_fused_gemm(const mc_fused_gemm_args* args);

/* ---- activation and reduction ------------------------------------------------------------- */
/* out[i, c] = silu(x[i, c]) * x[i, I + c] for every row, silu(v) = v / (1 + exp(-v)), in fp32,
 * rounded once; x [rows, 2I] (ldx), out [rows, I] (ldo). */
typedef struct {
  mc_dtype dtype;
  const void* x; int64_t ldx;
  void* out; int64_t ldo;
  int64_t rows, inter;
  void* stream;
} mc_silu_and_mul_args;
int mc_supports_silu_and_mul(const mc_silu_and_mul_args* args, char* reason);
mc_status mc_silu_and_mul(const mc_silu_and_mul_args* args);

/* out[t, :] = sum_{j < top_k} x[t*top_k + j, :] in fp32, in order j = 0.., rounded once.
 * With expert parallelism the caller zeroes the rows of non-local routes first. */
typedef struct {
  mc_dtype dtype;
  const void* x; int64_t ldx;
  void* out; int64_t ldo;
  int64_t tokens, top_k, n;
  void* stream;
} mc_moe_sum_args;
int mc_supports_moe_sum(const mc_moe_sum_args* args, char* reason);
mc_status mc_moe_sum(const mc_moe_sum_args* args);

#ifdef __cplusplus
}
#endif

#endif /* MOECHECK_KERNELS_H */
