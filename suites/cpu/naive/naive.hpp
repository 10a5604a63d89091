// An independently written naive MoE layer, the second opinion the ref_vs_naive suite holds the
// Eigen reference to. It is written from DESIGN.md sections 2-4 alone and shares no helper with
// the reference: its own bf16/fp16 decoding and rounding, its own reading of every packed weight
// format straight from the packed words, its own moe_align_block_size and alignment walk, and
// plain long double loops for the GEMMs, the activation and the reduction.
//
// From moecheck_reference it takes data structs only (Activations, Routing, Alignment, the packed
// format structs, WeightShape, DType, Format) as containers, and InputError as the one error type
// of the CPU side; it never calls a reference function (not even the inline accessors such as
// Activations::at, which decode through the reference's dtype code).
//
// Long double is the x87 80-bit type on x86-64 (64-bit significand): a K-term sum of exact
// products then carries a relative error of about K * 2^-64 of its magnitude, far below the
// reference's double error (K * 2^-53), so a difference between the two is the reference's.
#pragma once

#include <cstdint>
#include <vector>

#include "moecheck/reference/activations.hpp"
#include "moecheck/reference/align.hpp"
#include "moecheck/reference/dtype.hpp"
#include "moecheck/reference/formats.hpp"
#include "moecheck/reference/routing.hpp"
#include "moecheck/reference/weights.hpp"

namespace moecheck::naive {

// ---- numbers --------------------------------------------------------------------------------

// The exact value of a bf16/fp16 bit pattern (NaN patterns give a NaN, infinities infinity).
long double decode(uint16_t bits, DType t);
// x rounded to nearest, ties to even, as a bit pattern of `t`: found by a binary search over the
// ordered finite patterns and a comparison with the exact midpoint (no bit tricks). Overflow
// gives infinity, NaN the canonical quiet NaN.
uint16_t round_to_bits(long double x, DType t);
// Activation element (r, c), decoded from its bits at r * lda + c.
long double activation(const Activations& a, int64_t r, int64_t c);

// ---- packed weights (DESIGN.md section 2) ---------------------------------------------------

// One packed weight tensor as a kernel receives it: the format tag says which member is used.
struct PackedWeights {
  Format format = Format::exllama_nk;
  WeightShape shape;          // E, N, K, G
  DType dtype = DType::bf16;  // of the scales
  ExllamaNK exllama;          // format == exllama_nk (zeros empty: symmetric, z = 8)
  GptqKN gptq;                // format == gptq_kn (zeros always present)
  TritonNKU8 triton;          // format == triton_nk_u8 (zeros empty: z = 8)
};

// Throws InputError when the packed arrays do not have the sizes the shape implies.
void validate(const PackedWeights& w);

// The logical q, z and s of element (e, n, k) / group (e, n, g), read from the packed words.
int nibble(const PackedWeights& w, int64_t e, int64_t n, int64_t k);
int zero_point(const PackedWeights& w, int64_t e, int64_t n, int64_t g);
long double scale(const PackedWeights& w, int64_t e, int64_t n, int64_t g);
// w = (q - z) * s, exact in long double.
long double weight(const PackedWeights& w, int64_t e, int64_t n, int64_t k);

// ---- routing and alignment (DESIGN.md section 3) --------------------------------------------

// moe_align_block_size, written from the contract: counts per expert, padded ranges at prefix
// sums of the padded counts, flat ids in ascending order inside an expert, sentinel numel
// elsewhere, one expert id per block (the local id through expert_map, -1 past the end).
// Throws InputError for ids outside [0, E), an expert_map of the wrong size, or block_m < 1.
Alignment align(const Routing& r, int64_t block_m);

// The routes an alignment makes a kernel compute: for each block b < num_tokens_post_padded /
// block_m with expert_ids[b] >= 0, each slot holding an id < numel. expert[i] is the (local)
// expert of route i, or -1 when no valid block holds it. Throws InputError when a block names an
// expert >= `experts` (the weights' expert count) or the alignment's sizes are inconsistent.
struct RouteSet {
  std::vector<int32_t> expert;  // [numel]
  bool computed(int64_t i) const { return expert[i] >= 0; }
};
RouteSet walk(const Alignment& al, int64_t numel, int64_t experts);

// ---- the layer (DESIGN.md section 4) --------------------------------------------------------

// A naive result [rows, cols]: value and magnitude M = sum |a_k w_k| (times |topk weight|),
// both in long double; `written[r]` marks the rows the contract writes.
struct Result {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<long double> value;      // rows * cols (0 where not written or not evaluated)
  std::vector<long double> magnitude;  // rows * cols
  std::vector<uint8_t> written;        // rows
  long double at(int64_t r, int64_t c) const { return value[r * cols + c]; }
};

// C[id, :] = A[id / route_div, :] . W[e]^T for every computed route id (e its block's expert),
// times topk_weights[id] when mul_routed_weight. route_div is top_k for gemm1 (A [T, K]) and 1
// for gemm2 and for gemm1 with the weight applied on the input (A [numel, K]).
// `only_rows` (optional): evaluate just these rows (others stay 0 but `written` is complete),
// so a huge case can check a sample.
Result gemm(const Activations& a, int64_t route_div, const PackedWeights& w, const Routing& r,
            const Alignment& al, bool mul_routed_weight,
            const std::vector<int64_t>& only_rows = {});

// silu(x) = x / (1 + exp(-x)); act[i, c] = silu(x[i, c]) * x[i, I + c] for written rows.
long double silu(long double x);
Result silu_and_mul(const Result& x);

// out[t, :] = sum over j of x[t * top_k + j, :] over written routes; every token row is written.
Result moe_sum(const Result& x, int64_t top_k);

// A'[i, :] = A[i / top_k, :] * topk_weights[i], rounded to A's dtype (lda = K).
Activations apply_router_weight_on_input(const Activations& a, const Routing& r);

// x rounded to `dtype` as a kernel's next stage reads it: [rows, cols], lda = cols; rows not
// written hold zero.
Activations round_rows(const Result& x, DType dtype);

}  // namespace moecheck::naive
