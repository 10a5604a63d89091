// Dumps: a case's inputs as .npy files plus case.json (case_json.hpp), so that an implementation
// living elsewhere (a PyTorch custom op, say) can be run on exactly the numbers the suites use,
// and its output judged by the same reference, tolerance model and comparator
// (reference/tolerance.hpp) with nothing but the folder: `moecheck dump` and `moecheck verify`
// (suites/cli), and the testbeds' --dump-failures.
//
// What a dump holds (case.json's "arrays" says the same for each file, with its shape):
//   activations.npy     the stage's input [rows, K + pad_lda] in the case's dtype (bf16 as '<u2'
//                       bit patterns, fp16 as '<f2'); columns K.. are padding (NaN poison);
//                       rows: gemm1 and e2e T, gemm2 T * top_k; act [T * top_k, 2I], sum
//                       [T * top_k, H]
//   topk_ids.npy        int32 [T, top_k]; topk_weights.npy float32 [T, top_k]
//   expert_map.npy      int32 [E] global expert -> local expert or -1, when there is one
//   sorted_token_ids.npy, expert_ids.npy, num_tokens_post_padded.npy
//                       moe_align_block_size of the routing for the case's block_m (int32)
//   w1_*.npy / w2_*.npy the weights of gemm1 / gemm2 in the case's packed format (DESIGN.md
//                       section 2): qweight, scales, and zeros where the format has them
// gemm1, gemm2 and e2e dumps hold the routing, alignment and weights; act and sum dumps only
// their input.
//
// Experts. As the GPU testbed does, a dump gives the implementation the case's own routing and
// full-size weight tensors of every local expert, in which the experts no route reaches (cases
// build weights only for the reached ones, inputs.hpp) are poisoned: q = 15 and NaN scales, so
// that an implementation reading one produces NaN. Where the full tensors would be huge (more
// than 2^31 weights: a real model's hundreds of experts), the tensors hold the reached experts
// only and expert_map.npy maps each global expert onto them (-1 for the rest); the routes
// computed, and so the expected output, are the same.
//
// Stages verify can judge: a gemm1, gemm2, act or sum dump its own stage; an e2e dump gemm1, act
// (computed routes only: silu_and_mul runs over every row), gemm2 (the per-route output, or the
// fused reduction's [T, H] output with output_topk) and out (the layer's output; also named sum
// or e2e). gemm1 with apply_router_weight_on_input multiplies the input by the routing weight
// (A'[i] = A[i / top_k] * w[i], rounded to the dtype), as the reference's layer does.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "case.hpp"
#include "case_json.hpp"
#include "moecheck/reference/moe.hpp"
#include "moecheck/reference/tolerance.hpp"

namespace moecheck {

// Stages with a dump: gemm1, gemm2, act, sum, e2e.
bool stage_has_dump(const std::string& stage);
// The stages verify can judge for a dump of a case of stage `stage`.
std::vector<std::string> verifiable_stages(const std::string& stage);

// The format the case's implementation is given its weights in: gptq_kn for the fused kernel
// family, exllama_nk for the tiled one, else the case's own format field.
Format dump_format(const Case& c);

// Writes `dir`/case.json and the case's inputs (created; existing files of the same names are
// replaced). `test` is "<suite>.<name>". Full-size weight tensors are written while all of them
// together hold at most `full_weights_budget` weights (see Experts above). Throws InputError for
// a stage without a dump or inputs the case cannot build; returns the manifest written.
inline constexpr int64_t kFullWeightsBudget = int64_t{1} << 31;
DumpManifest dump_case(const Case& c, const std::string& test, const std::filesystem::path& dir,
                       int64_t full_weights_budget = kFullWeightsBudget);

// The manifest of a case with no arrays yet (what dump_case starts from).
DumpManifest case_manifest(const Case& c, const std::string& test);
DumpManifest read_manifest(const std::filesystem::path& dir);
void write_manifest(const std::filesystem::path& dir, const DumpManifest& m);

// The reference of one stage, recomputed from the dump's files alone (not from the catalog).
struct StageReference {
  std::string test;
  std::string stage;
  RefOutput ref;
  Tolerance tol;
  uint16_t poison = 0xffff;
  DType dtype = DType::bf16;       // of the output
  std::vector<int64_t> only_rows;  // the rows compared; empty: all
};
// Throws InputError naming the file and the problem for anything malformed or inconsistent.
StageReference reference_from_dump(const std::filesystem::path& dir, const std::string& stage);

// An implementation's output [ref.rows, ref.cols] as dtype bit patterns. Accepted: bf16 as '<u2'
// bits or '<f4'; fp16 as '<f2' or '<f4'. float32 values must be values of the dtype (an output
// is the dtype); any float32 NaN reads as the poison pattern (a NaN cannot say which bits it
// had), so an untouched row may be handed over as NaN.
std::vector<uint16_t> read_output(const std::filesystem::path& file, const StageReference& s);

// The judged result as the testbeds report it: the machine-readable line ("moecheck-result"
// prefix left to the caller) and the human line.
std::string result_json(const std::string& test, const std::string& stage, const Comparison& cmp);
std::string result_text(const Comparison& cmp);

// A failed comparison, written beside a dump of its case: <stage>_reference.npy (float64
// [rows, cols]), <stage>_bound.npy (float64, the tolerance of each element), <stage>_actual.npy
// (the implementation's output, dtype bits [rows, cols]) and <stage>_result.txt; case.json lists
// them (`dir` must hold a manifest: dump_case or write_manifest first). When the comparison
// covered a sample of rows, the arrays are that sample's.
void dump_comparison(const std::filesystem::path& dir, const std::string& stage,
                     const RefOutput& ref, const Tolerance& tol,
                     const std::vector<uint16_t>& actual, int64_t ldc, const Comparison& cmp);

}  // namespace moecheck
