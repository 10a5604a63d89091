// The work model of moecheck_bench: FLOPs and the bytes that must move for one stage of an MoE
// layer. "Must move" is the traffic a perfect kernel cannot avoid: every input element read once
// from device memory and every output element written once; whatever a real kernel re-reads
// (weights of an expert once per block of routes, activations once per N tile, the fused
// family's fp32 partials) is its own overhead and shows up as a lower share of the copy
// bandwidth. All sizes in bytes; 16-bit activations, scales and outputs.
//
//   GEMM stage (gemm1: N = 2*I, K = H; gemm2: N = H, K = I), for the routes actually computed
//   (expert-parallel routes of non-local experts and padding slots excluded):
//     FLOPs   = 2 * routes * N * K
//     weights = touched_experts * (N*K/2            int4 qweight, row padding (pad_kw) excluded
//                                 + N*(K/G)*2      scales
//                                 + N*(K/G)/2)     4-bit zeros, when the format carries them
//                                                  (tiled asymmetric, fused always)
//     in      = a_rows * K * 2       gemm1: distinct tokens with a computed route (A is [T, K]);
//                                    gemm2 (and gemm1 with the router weight on the input):
//                                    one row per computed route
//     out     = out_rows * N * 2     one row per computed route; tokens with output_topk
//     ids     = 4 * (padded slots + blocks + 1)  sorted_token_ids up to num_tokens_post_padded,
//                                                expert_ids, num_tokens_post_padded
//             + 4 * routes           topk_weights, when the routing weight is multiplied
//   silu_and_mul:  in rows * 2I * 2, out rows * I * 2 (every row: the kernel runs over all rows)
//   moe_sum:       in T * top_k * H * 2, out T * H * 2
//   align:         in numel * 4 (topk_ids) + E * 4 (expert_map, when present),
//                  out 4 * (padded slots + blocks + 1)
//   layer (e2e):   the minimum of the whole layer: both GEMMs' touched weights, A in, the
//                  output [T, H] out, topk ids and weights (numel * 8); intermediates between
//                  stages (C1, act, C2) are not "must move".
#pragma once

#include <cstdint>

namespace moecheck::bench {

struct GemmWork {
  int64_t n = 0, k = 0, group = 0;
  bool has_zeros = false;       // the packed format carries 4-bit zeros
  int64_t routes = 0;           // computed routes
  int64_t touched_experts = 0;  // distinct experts of the computed routes
  int64_t a_rows = 0;           // activation rows read (see above)
  int64_t out_rows = 0;         // output rows written
  int64_t padded_slots = 0;     // num_tokens_post_padded
  int64_t blocks = 0;           // num_tokens_post_padded / block_m
  bool mul_routed_weight = false;
};

inline double gemm_flops(const GemmWork& w) {
  return 2.0 * static_cast<double>(w.routes) * static_cast<double>(w.n) * static_cast<double>(w.k);
}

// Packed int4 weights, scales and zeros of one expert of an N x K GEMM with group size G.
inline double expert_weight_bytes(int64_t n, int64_t k, int64_t group, bool has_zeros) {
  const double groups = static_cast<double>(k / group);
  const double nn = static_cast<double>(n);
  double b = nn * static_cast<double>(k) / 2.0 + nn * groups * 2.0;
  if (has_zeros) b += nn * groups / 2.0;
  return b;
}

inline double gemm_weight_bytes(const GemmWork& w) {
  return static_cast<double>(w.touched_experts) *
         expert_weight_bytes(w.n, w.k, w.group, w.has_zeros);
}

inline double ids_bytes(int64_t padded_slots, int64_t blocks) {
  return 4.0 * static_cast<double>(padded_slots + blocks + 1);
}

inline double gemm_bytes(const GemmWork& w) {
  double b = gemm_weight_bytes(w);
  b += static_cast<double>(w.a_rows) * static_cast<double>(w.k) * 2.0;
  b += static_cast<double>(w.out_rows) * static_cast<double>(w.n) * 2.0;
  b += ids_bytes(w.padded_slots, w.blocks);
  if (w.mul_routed_weight) b += 4.0 * static_cast<double>(w.routes);
  return b;
}

inline double silu_and_mul_bytes(int64_t rows, int64_t inter) {
  return static_cast<double>(rows) * static_cast<double>(inter) * (2.0 * 2.0 + 2.0);
}

inline double moe_sum_bytes(int64_t tokens, int64_t top_k, int64_t hidden) {
  const double t = static_cast<double>(tokens), h = static_cast<double>(hidden);
  return t * static_cast<double>(top_k) * h * 2.0 + t * h * 2.0;
}

inline double align_bytes(int64_t numel, int64_t experts_with_map, int64_t padded_slots,
                          int64_t blocks) {
  return 4.0 * static_cast<double>(numel) + 4.0 * static_cast<double>(experts_with_map) +
         ids_bytes(padded_slots, blocks);
}

// The whole layer's minimum: both GEMMs' touched weights, A [a_rows, H] in, out [T, H] out,
// topk ids and weights.
inline double layer_bytes(const GemmWork& g1, const GemmWork& g2, int64_t tokens, int64_t numel) {
  return gemm_weight_bytes(g1) + gemm_weight_bytes(g2) +
         static_cast<double>(g1.a_rows) * static_cast<double>(g1.k) * 2.0 +
         static_cast<double>(tokens) * static_cast<double>(g2.n) * 2.0 +
         8.0 * static_cast<double>(numel);
}

}  // namespace moecheck::bench
