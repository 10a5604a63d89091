// The bug classes of DESIGN.md section 10, planted (issue 3). For the case's `bug`, a correct
// result or layout, the reference's, standing in for a correct kernel, is corrupted exactly the
// way that bug corrupts it, and judged by the code the GPU suites judge kernels with: `compare`
// (tolerance.hpp) with the case's tolerance and the poison 0xffff for outputs,
// `alignment_difference` (align_compare.hpp) for alignments, bitwise equality of two launches
// for repeatability. Every test checks both ways: the clean version passes, and the planted bug
// is reported with the expected outcome (Incorrect or Failed) and a message naming the right row,
// column, block or field. So a judge that goes blind to a bug class fails here, on the CPU, in
// the quick tier.
//
// A bug in an input layout (an alignment, packed weights) is fed to the reference as if it were
// the kernel: routed_gemm on the corrupted alignment, or on weights unpacked from corrupted words
// with the format's own reader, then judged against the reference on the correct layout.
//
// Some bugs cannot show on every input. Where the DESIGN.md tolerance model is too loose for a bug
// on zero-mean random inputs (bf16 split-K, fp16 dequant constants), the test builds the input
// that exposes it in the open (an activation row aligned with one weight row, so that nothing
// cancels), explains why, and prints what the random inputs give.
//
// Not here: "wrong results on one gfx11 part only" is no corruption the CPU can plant; the gfx11
// static gate (ci/gfx11_gate) and the per-SKU GPU runners (--require-arch) cover it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "inputs.hpp"
#include "moecheck/reference/align.hpp"
#include "moecheck/reference/align_compare.hpp"
#include "moecheck/reference/error.hpp"
#include "moecheck/reference/formats.hpp"
#include "moecheck/reference/tolerance.hpp"
#include "registry.hpp"

namespace moecheck {
namespace {

// ---- the correct result and the judges --------------------------------------------------------

// One routed GEMM of a case with its correct alignment and reference result. Everything runs on
// the compact routing (p.experts.routing), the one the weights p.w are indexed by.
struct Gemm {
  GemmProblem p;
  GemmOptions opt;
  Alignment al;
  RefOutput ref;
  Tolerance tol;
  DType dtype = DType::bf16;
  uint16_t poison = 0;

  const Routing& routing() const { return p.experts.routing; }
  int64_t numel() const { return routing().numel(); }
  // The reference run as the kernel would run on these inputs.
  RefOutput run(const Activations& a, const QuantWeights& w, const Alignment& al_used) const {
    return routed_gemm(a, p.a_route_div, w, routing(), al_used, opt);
  }
};

Gemm correct_gemm(const Case& c) {
  Gemm g;
  g.p = make_gemm_problem(c);
  g.opt.mul_routed_weight = g.p.mul_routed_weight;
  g.al = align_block_size(g.routing(), c.block_m);
  g.ref = g.run(g.p.a, g.p.w, g.al);
  g.tol = case_tolerance(c);
  g.dtype = c.dtype;
  g.poison = poison_bits(c.dtype);
  return g;
}

// What a kernel that computed `out` leaves in a poisoned [rows, ldc] output: each row it wrote,
// rounded once to the dtype; every other element still poison.
std::vector<uint16_t> render(const RefOutput& out, DType t, int64_t ldc, uint16_t poison) {
  std::vector<uint16_t> bits(static_cast<size_t>(out.rows * ldc), poison);
  for (int64_t r = 0; r < out.rows; ++r) {
    if (!out.written[r]) continue;
    for (int64_t n = 0; n < out.cols; ++n) bits[r * ldc + n] = double_to_bits(out.at(r, n), t);
  }
  return bits;
}
std::vector<uint16_t> render(const Gemm& g, const RefOutput& out) {
  return render(out, g.dtype, out.cols, g.poison);
}

Comparison judge(const Gemm& g, const std::vector<uint16_t>& out,
                 const std::vector<int64_t>& rows = {}) {
  return compare(out, g.ref.cols, g.ref, g.tol, g.poison, rows);
}

// The message of a bug the comparator must report: the outcome and every piece of `names`.
void expect_reported(const std::string& what, const Comparison& got, Outcome want,
                     const std::vector<std::string>& names) {
  std::printf("[ planted ] %s -> %s: %s\n", what.c_str(), to_string(got.outcome),
              got.message.c_str());
  EXPECT_EQ(got.outcome, want) << what << ": " << to_string(got.outcome) << ": " << got.message;
  for (const auto& n : names) {
    EXPECT_NE(got.message.find(n), std::string::npos)
        << what << ": the report does not name '" << n << "': " << got.message;
  }
}

void expect_passes(const std::string& what, const Comparison& got) {
  EXPECT_EQ(got.outcome, Outcome::Passed)
      << "the clean version (" << what << ") must pass: " << got.message;
}

// The same for an alignment (alignment_difference's text).
void expect_align_reported(const std::string& what, const std::string& diff,
                           const std::vector<std::string>& names) {
  std::printf("[ planted ] %s -> %s\n", what.c_str(),
              diff.empty() ? "(not reported)" : diff.c_str());
  EXPECT_FALSE(diff.empty()) << what << ": alignment_difference does not report it";
  for (const auto& n : names) {
    EXPECT_NE(diff.find(n), std::string::npos)
        << what << ": the report does not name '" << n << "': " << diff;
  }
}

std::string align_diff(const Alignment& ref, const Alignment& got) {
  return alignment_difference(ref, got.sorted_token_ids, got.expert_ids,
                              got.num_tokens_post_padded);
}

// The message a mismatch of the case's tier carries.
const char* mismatch(const Case& c) {
  return c.exact ? "exact-tier mismatch" : "beyond bound";
}

std::string at_row(int64_t r) {
  return "at row " + std::to_string(r) + ",";
}

// The first row the contract leaves alone that `out` writes (-1: none).
int64_t first_stray_row(const RefOutput& ref, const RefOutput& out) {
  for (int64_t r = 0; r < ref.rows; ++r) {
    if (!ref.written[r] && out.written[r]) return r;
  }
  return -1;
}

// The first row the contract writes that `out` leaves alone (-1: none).
int64_t first_missing_row(const RefOutput& ref, const RefOutput& out) {
  for (int64_t r = 0; r < ref.rows; ++r) {
    if (ref.written[r] && !out.written[r]) return r;
  }
  return -1;
}

// The output with one guard row before and one after, which the contract leaves untouched: the
// CPU model of the GPU testbed's guard bands (DESIGN.md section 8). A kernel row r is buffer row
// r + 1, so a write to row -1 shows as "untouched row written at row 0" and a write to row numel
// as one at row numel + 1.
RefOutput guarded(const RefOutput& r) {
  RefOutput g = r;
  g.rows = r.rows + 2;
  const auto pad = [&](std::vector<double>& v) {
    v.insert(v.begin(), static_cast<size_t>(r.cols), 0.0);
    v.insert(v.end(), static_cast<size_t>(r.cols), 0.0);
  };
  pad(g.value);
  pad(g.magnitude);
  pad(g.bound_extra);
  g.written.insert(g.written.begin(), 0);
  g.written.push_back(0);
  return g;
}

// Which compact expert computes each route under an alignment (-1: none).
std::vector<int32_t> route_experts(const Alignment& al, int64_t numel) {
  std::vector<int32_t> e(static_cast<size_t>(numel), -1);
  for (int64_t b = 0; b < al.num_blocks(); ++b) {
    if (al.expert_ids[b] < 0) continue;
    for (int64_t s = b * al.block_m; s < (b + 1) * al.block_m; ++s) {
      const int32_t id = al.sorted_token_ids[s];
      if (id >= 0 && id < numel) e[id] = al.expert_ids[b];
    }
  }
  return e;
}

// Weights as a kernel that takes element k's scale and zero from group `group_of(k)` sees them:
// the same q, with group size 1 so that every k carries its own scale and zero.
QuantWeights per_k(const QuantWeights& w, const std::function<int64_t(int64_t)>& group_of) {
  WeightShape s = w.shape;
  s.group = 1;
  QuantWeights out = QuantWeights::zeros_like(s, w.dtype, w.symmetric);
  out.q = w.q;
  for (int64_t e = 0; e < s.experts; ++e) {
    for (int64_t n = 0; n < s.n; ++n) {
      for (int64_t k = 0; k < s.k; ++k) {
        out.scale[out.g_index(e, n, k)] = w.scale[w.g_index(e, n, group_of(k))];
        out.zero[out.g_index(e, n, k)] = w.zero[w.g_index(e, n, group_of(k))];
      }
    }
  }
  return out;
}

// The clean per-k view (group_of = k / G) must pass, so that what fails below is the planted
// index and not the rewriting.
void expect_per_k_faithful(const Gemm& g) {
  const int64_t G = g.p.w.shape.group;
  const QuantWeights same = per_k(g.p.w, [G](int64_t k) { return k / G; });
  expect_passes("per-k weights with g = k / G", judge(g, render(g, g.run(g.p.a, same, g.al))));
}

// ---- alignment bugs ----------------------------------------------------------------------------

// Padding blocks (past num_tokens_post_padded) and blocks of non-local experts carry expert 0
// instead of -1. The alignment judge names the first such block; a GEMM that trusts expert_ids
// then computes the non-local experts' routes with local expert 0 and writes rows the contract
// leaves alone (the case must use an expert-parallel routing so that such rows exist).
void padding_expert0(const Case& c) {
  const Gemm g = correct_gemm(c);
  EXPECT_EQ(align_diff(g.al, g.al), "");
  expect_passes("reference output", judge(g, render(g, g.ref)));

  Alignment bad = g.al;
  int64_t first = -1;
  for (size_t b = 0; b < bad.expert_ids.size(); ++b) {
    if (bad.expert_ids[b] >= 0) continue;
    bad.expert_ids[b] = 0;
    if (first < 0) first = static_cast<int64_t>(b);
  }
  ASSERT_GE(first, 0) << "no block carries -1 in this case: nothing for the bug to corrupt";
  expect_align_reported("padding/non-local blocks carry expert 0", align_diff(g.al, bad),
                        {"expert_ids[" + std::to_string(first) + "] = 0, reference -1"});

  const RefOutput out = g.run(g.p.a, g.p.w, bad);
  const int64_t stray = first_stray_row(g.ref, out);
  ASSERT_GE(stray, 0) << "no non-local route in a valid block: the case needs an ep routing";
  expect_reported("GEMM on the expert-0 alignment", judge(g, render(g, out)), Outcome::Failed,
                  {"untouched row written " + at_row(stray)});
}

// An alignment that drops a route: its slot holds the sentinel. The judge names the expert's
// blocks; the GEMM leaves the route's row poisoned where a value was due.
void align_drops_route(const Case& c) {
  const Gemm g = correct_gemm(c);
  EXPECT_EQ(align_diff(g.al, g.al), "");
  expect_passes("reference output", judge(g, render(g, g.ref)));

  const auto numel = static_cast<int32_t>(g.numel());
  Alignment bad = g.al;
  int64_t slot = -1;
  for (int64_t b = 0; b < bad.num_blocks() && slot < 0; ++b) {
    if (bad.expert_ids[b] < 0) continue;
    for (int64_t s = b * bad.block_m; s < (b + 1) * bad.block_m && slot < 0; ++s) {
      if (bad.sorted_token_ids[s] < numel) slot = s;
    }
  }
  ASSERT_GE(slot, 0) << "the case computes no route";
  const int32_t dropped = bad.sorted_token_ids[slot];
  bad.sorted_token_ids[slot] = numel;
  expect_align_reported("route " + std::to_string(dropped) + " dropped", align_diff(g.al, bad),
                        {"route ids of blocks " + std::to_string(slot / bad.block_m) + "..",
                         "(expert " + std::to_string(g.al.expert_ids[slot / bad.block_m]) + ")"});
  expect_reported("GEMM on that alignment", judge(g, render(g, g.run(g.p.a, g.p.w, bad))),
                  Outcome::Failed, {"NaN (element never written?) " + at_row(dropped)});
}

// An alignment kernel and the -1 sentinel, two ways:
// (a) it writes -1 as the padding sentinel instead of numel: the judge compares each expert's
//     slots as a set, padding included, and names the blocks; a GEMM whose guard `id < numel`
//     lets -1 through writes row -1, before the output (guard row 0 here).
// (b) it trips on the -1 a non-local expert's block carries, taking it for the end of the list:
//     every block after it is lost, num_tokens_post_padded comes out short (named by the judge),
//     and the local experts after it are never computed (poison where values were due). The case
//     needs an ep routing in which a non-local expert precedes a local one.
void align_sentinel_minus1(const Case& c) {
  const Gemm g = correct_gemm(c);
  EXPECT_EQ(align_diff(g.al, g.al), "");
  const RefOutput guard_ref = guarded(g.ref);
  const std::vector<uint16_t> clean = render(guard_ref, g.dtype, g.ref.cols, g.poison);
  expect_passes("reference output inside guard rows",
                compare(clean, g.ref.cols, guard_ref, g.tol, g.poison));

  // (a)
  const auto numel = static_cast<int32_t>(g.numel());
  Alignment minus1 = g.al;
  int64_t padded_block = -1;
  for (int64_t s = 0; s < static_cast<int64_t>(minus1.sorted_token_ids.size()); ++s) {
    if (minus1.sorted_token_ids[s] != numel) continue;
    minus1.sorted_token_ids[s] = -1;
    const int64_t b = s / minus1.block_m;
    if (padded_block < 0 && b < minus1.num_blocks()) padded_block = b;
  }
  ASSERT_GE(padded_block, 0) << "no padding slot inside a valid block: use block_m > 1";
  bool computed_minus1 = false;
  expect_align_reported("-1 written as the sentinel", align_diff(g.al, minus1),
                        {"route ids of blocks", "differ from the reference's as a set"});
  std::vector<uint16_t> wrote_minus1 = clean;
  for (int64_t b = 0; b < minus1.num_blocks(); ++b) {
    if (minus1.expert_ids[b] < 0) continue;
    for (int64_t s = b * minus1.block_m; s < (b + 1) * minus1.block_m; ++s) {
      if (minus1.sorted_token_ids[s] != -1) continue;
      computed_minus1 = true;
      // Row -1 of the output is buffer row 0; whatever the kernel computes there, it writes.
      std::fill_n(wrote_minus1.begin(), g.ref.cols, float_to_bits(0.0f, g.dtype));
    }
  }
  ASSERT_TRUE(computed_minus1) << "no padding slot in a computed block";
  expect_reported("GEMM that takes the -1 sentinel for a route",
                  compare(wrote_minus1, g.ref.cols, guard_ref, g.tol, g.poison), Outcome::Failed,
                  {"untouched row written at row 0,"});

  // (b)
  int64_t stop = -1;
  for (int64_t b = 0; b < g.al.num_blocks() && stop < 0; ++b) {
    if (g.al.expert_ids[b] >= 0) continue;
    for (int64_t later = b + 1; later < g.al.num_blocks(); ++later) {
      if (g.al.expert_ids[later] >= 0) stop = b;
    }
  }
  ASSERT_GE(stop, 0) << "no non-local block before a local one: the case needs an ep routing";
  Alignment cut = g.al;
  cut.num_tokens_post_padded = static_cast<int32_t>(stop * cut.block_m);
  std::fill(cut.expert_ids.begin() + stop, cut.expert_ids.end(), -1);
  expect_align_reported("alignment stops at the first -1 block", align_diff(g.al, cut),
                        {"num_tokens_post_padded " + std::to_string(cut.num_tokens_post_padded) +
                         ", reference " + std::to_string(g.al.num_tokens_post_padded)});
  const RefOutput out = g.run(g.p.a, g.p.w, cut);
  const int64_t missing = first_missing_row(g.ref, out);
  ASSERT_GE(missing, 0) << "no route lost after the cut";
  expect_reported("GEMM on the cut alignment", judge(g, render(g, out)), Outcome::Failed,
                  {"NaN (element never written?) " + at_row(missing)});
}

// A missing barrier in the alignment: two routes of one expert read the same free slot, the
// second write wins, and the slot the second route should have had keeps its sentinel. The
// judge names the expert's blocks; the overwritten route's row stays poisoned.
void align_race(const Case& c) {
  const Gemm g = correct_gemm(c);
  EXPECT_EQ(align_diff(g.al, g.al), "");
  expect_passes("reference output", judge(g, render(g, g.ref)));

  const auto numel = static_cast<int32_t>(g.numel());
  int64_t slot_a = -1, slot_b = -1;
  for (int64_t b = 0; b < g.al.num_blocks() && slot_b < 0; ++b) {
    const int32_t e = g.al.expert_ids[b];
    if (e < 0) continue;
    // Two routes of expert e (its range may span blocks).
    for (int64_t s = b * g.al.block_m; s < g.al.num_tokens_post_padded; ++s) {
      if (g.al.expert_ids[s / g.al.block_m] != e) break;
      if (g.al.sorted_token_ids[s] >= numel) continue;
      if (slot_a < 0) {
        slot_a = s;
      } else {
        slot_b = s;
        break;
      }
    }
    if (slot_b < 0) slot_a = -1;
  }
  ASSERT_GE(slot_b, 0) << "no expert with two computed routes";
  Alignment raced = g.al;
  const int32_t lost = raced.sorted_token_ids[slot_a];
  raced.sorted_token_ids[slot_a] = raced.sorted_token_ids[slot_b];
  raced.sorted_token_ids[slot_b] = numel;
  expect_align_reported("routes " + std::to_string(lost) + " and " +
                            std::to_string(raced.sorted_token_ids[slot_a]) + " in one slot",
                        align_diff(g.al, raced),
                        {"route ids of blocks", "differ from the reference's as a set"});
  expect_reported("GEMM on the raced alignment", judge(g, render(g, g.run(g.p.a, g.p.w, raced))),
                  Outcome::Failed, {"NaN (element never written?) " + at_row(lost)});
}

// ---- output-index bugs -------------------------------------------------------------------------

// The element offset row * ldc + col computed in 32 bits. The real size (T * top_k * N past 2^31
// elements) runs on the GPU: cases/gpu/kernels.yaml's 65536 tokens x top_k 8 x N 4096 = 2^31
// case. Here the same arithmetic is simulated with a 16-bit offset so that a few hundred rows
// suffice: element (r, c) lands at (r * ldc + c) mod 2^16, as the 32-bit offset lands at its
// value mod 2^32 (an unsigned wrap; a signed one lands before the buffer, where the GPU testbed's
// guard bands catch it). Elements from offset 2^16 on are never written (NaN, Failed), and the
// low rows hold other rows' values (Incorrect).
void int32_overflow(const Case& c) {
  constexpr int64_t kWrap = int64_t{1} << 16;
  const Gemm g = correct_gemm(c);
  const int64_t ldc = g.ref.cols, total = g.ref.rows * ldc;
  ASSERT_GT(total, kWrap) << "the output must pass 2^16 elements (T * top_k * N)";
  const std::vector<uint16_t> good = render(g, g.ref);
  expect_passes("64-bit offsets", judge(g, good));

  std::vector<uint16_t> wrapped(static_cast<size_t>(total), g.poison);
  for (int64_t r = 0; r < g.ref.rows; ++r) {
    if (!g.ref.written[r]) continue;
    for (int64_t n = 0; n < ldc; ++n) wrapped[(r * ldc + n) % kWrap] = good[r * ldc + n];
  }
  const int64_t row = kWrap / ldc, col = kWrap % ldc;
  ASSERT_TRUE(g.ref.written[row]) << "the row at offset 2^16 must be computed (no ep routing)";
  expect_reported(
      "offsets wrapped at 2^16", judge(g, wrapped), Outcome::Failed,
      {"NaN (element never written?) " + at_row(row) + " column " + std::to_string(col) + ":"});
  std::vector<int64_t> low(static_cast<size_t>(row));
  for (int64_t r = 0; r < row; ++r) low[r] = r;
  const Comparison below = judge(g, wrapped, low);
  expect_reported("rows below the wrap", below, Outcome::Incorrect, {mismatch(c)});
  EXPECT_LT(below.worst_index / ldc, row);
}

// The last partial tile dropped. N: columns from N - (N mod 64) on are never written (Failed,
// NaN at the first of them). K: the last partial K-tile's products are never added (Incorrect).
// The production tiled kernel's N tile is 128 wide; 64 is the granularity the brief of this
// class names, and any tile width gives the same picture.
void partial_tile_dropped(const Case& c) {
  constexpr int64_t kTile = 64;
  const Gemm g = correct_gemm(c);
  const int64_t N = g.ref.cols, K = g.p.w.shape.k;
  ASSERT_NE(N % kTile, 0) << "N must leave a partial tile";
  ASSERT_NE(K % kTile, 0) << "K must leave a partial tile";
  const std::vector<uint16_t> good = render(g, g.ref);
  expect_passes("all tiles", judge(g, good));

  const int64_t n0 = N - N % kTile;
  std::vector<uint16_t> no_n_tail = good;
  int64_t first_row = -1;
  for (int64_t r = 0; r < g.ref.rows; ++r) {
    if (!g.ref.written[r]) continue;
    if (first_row < 0) first_row = r;
    std::fill(no_n_tail.begin() + r * N + n0, no_n_tail.begin() + (r + 1) * N, g.poison);
  }
  expect_reported("last partial N tile dropped", judge(g, no_n_tail), Outcome::Failed,
                  {"NaN (element never written?) " + at_row(first_row) + " column " +
                   std::to_string(n0) + ":"});

  const int64_t k0 = K - K % kTile;
  Activations no_k_tail = g.p.a;
  std::vector<uint8_t> used(static_cast<size_t>(no_k_tail.rows), 0);  // rows a computed route reads
  const std::vector<int32_t> expert = route_experts(g.al, g.numel());
  for (int64_t id = 0; id < g.numel(); ++id) {
    if (expert[id] >= 0) used[id / g.p.a_route_div] = 1;
  }
  bool hit = false;
  for (int64_t r = 0; r < no_k_tail.rows; ++r) {
    for (int64_t k = k0; k < K; ++k) {
      hit = hit || (used[r] && no_k_tail.at(r, k) != 0.0f);
      no_k_tail.set(r, k, 0.0f);
    }
  }
  ASSERT_TRUE(hit) << "no activation in the last K tile is nonzero: the drop cannot show";
  expect_reported("last partial K tile dropped", judge(g, render(g, g.run(no_k_tail, g.p.w, g.al))),
                  Outcome::Incorrect, {mismatch(c)});
}

// Writes into padded rows: a kernel that does not skip sentinel slots writes row `numel` (one
// past the compact output) for each of them. The guard row after the output (buffer row
// numel + 1) is no longer poison: Failed.
void padded_rows_written(const Case& c) {
  const Gemm g = correct_gemm(c);
  const RefOutput guard_ref = guarded(g.ref);
  const int64_t ldc = g.ref.cols;
  const std::vector<uint16_t> clean = render(guard_ref, g.dtype, ldc, g.poison);
  expect_passes("sentinel slots skipped", compare(clean, ldc, guard_ref, g.tol, g.poison));

  std::vector<uint16_t> out = clean;
  int64_t padded = 0;
  for (int64_t b = 0; b < g.al.num_blocks(); ++b) {
    if (g.al.expert_ids[b] < 0) continue;
    for (int64_t s = b * g.al.block_m; s < (b + 1) * g.al.block_m; ++s) {
      if (g.al.sorted_token_ids[s] != g.numel()) continue;
      ++padded;
      // Kernel row numel is buffer row numel + 1. Its activation row is out of range too; the
      // value does not matter, the write does.
      std::fill_n(out.begin() + (g.numel() + 1) * ldc, ldc, float_to_bits(0.0f, g.dtype));
    }
  }
  ASSERT_GT(padded, 0) << "no padding slot in a computed block: use block_m > 1";
  expect_reported("sentinel slots written", compare(out, ldc, guard_ref, g.tol, g.poison),
                  Outcome::Failed, {"untouched row written " + at_row(g.numel() + 1)});
}

// ---- weight-layout bugs ------------------------------------------------------------------------

// Wrong nibble order: words read in plain order (nibble p is k = 8j + p) where they hold the
// shuffled order (k = 8j + order[p]), or the other way for plain gptq_kn; for triton_nk_u8 the
// low and high nibble of a byte swapped. Each is planted in the packed words and read back with
// the format's own reader. Exact-tier inputs make the eight nibbles of every word distinct, so
// the weights differ and the output must differ bit for bit.
QuantWeights read_back(const Case& c, const QuantWeights& w, bool wrong_order) {
  switch (c.format) {
    case Format::exllama_nk: {
      ExllamaNK p = pack_exllama_nk(w, w.shape.k / 8 + c.pad_kw);
      if (wrong_order) {
        // So that the shuffled reader sees what a plain reader would: nibble p of the new word
        // is nibble order[p] of the old (the plain reader takes nibble m as k = 8j + m).
        for (int32_t& word : p.qweight) {
          const auto old = static_cast<uint32_t>(word);
          uint32_t now = 0;
          for (int n = 0; n < 8; ++n) now |= ((old >> (4 * kShuffledOrder[n])) & 0xFu) << (4 * n);
          word = static_cast<int32_t>(now);
        }
      }
      return unpack_exllama_nk(p, w.shape, w.dtype);
    }
    case Format::gptq_kn: {
      GptqKN p = pack_gptq_kn(w, c.shuffled, c.zero_format);
      if (wrong_order) p.shuffled = !p.shuffled;
      return unpack_gptq_kn(p, w.shape, w.dtype, w.symmetric);
    }
    case Format::triton_nk_u8: {
      TritonNKU8 p = pack_triton_nk_u8(w);
      if (wrong_order) {
        for (uint8_t& b : p.qweight) b = static_cast<uint8_t>((b >> 4) | (b << 4));
      }
      return unpack_triton_nk_u8(p, w.shape, w.dtype);
    }
  }
  return w;
}

void nibble_order(const Case& c) {
  const Gemm g = correct_gemm(c);
  const QuantWeights same = read_back(c, g.p.w, false);
  ASSERT_TRUE(same == g.p.w) << "the format's round trip is not the identity";
  expect_passes("right nibble order", judge(g, render(g, g.run(g.p.a, same, g.al))));

  const QuantWeights misread = read_back(c, g.p.w, true);
  ASSERT_FALSE(misread == g.p.w) << "the wrong order reads the same weights: the case's words "
                                    "do not hold distinct nibbles (use exact-tier inputs)";
  expect_reported(std::string("wrong nibble order in ") + to_string(c.format),
                  judge(g, render(g, g.run(g.p.a, misread, g.al))), Outcome::Incorrect,
                  {mismatch(c)});
}

// A zero point off by one: GPTQ v1 zeros (stored z - 1) read as v2 (stored z), or the other way.
// Planted in the packed gptq_kn zeros by reading them with the other convention; the weights are
// then asymmetric to the reader (a symmetric layer's v1 zeros 7 read as z = 7).
void zero_off_by_one(const Case& c) {
  ASSERT_EQ(c.format, Format::gptq_kn) << "GPTQ v1 vs v2 zeros live in the gptq_kn format";
  const Gemm g = correct_gemm(c);
  GptqKN p = pack_gptq_kn(g.p.w, c.shuffled, c.zero_format);
  const QuantWeights same = unpack_gptq_kn(p, g.p.w.shape, g.p.w.dtype, g.p.w.symmetric);
  ASSERT_TRUE(same == g.p.w);
  expect_passes("zeros read as written", judge(g, render(g, g.run(g.p.a, same, g.al))));

  const bool v1 = c.zero_format == GptqZeros::v1;
  p.zero_format = v1 ? GptqZeros::v2 : GptqZeros::v1;
  const QuantWeights misread = unpack_gptq_kn(p, g.p.w.shape, g.p.w.dtype, false);
  expect_reported(v1 ? "v1 zeros read as v2" : "v2 zeros read as v1",
                  judge(g, render(g, g.run(g.p.a, misread, g.al))), Outcome::Incorrect,
                  {mismatch(c)});
}

// A scale group index off by one, two ways: (a) every element takes the next group's scale
// (g + 1, the last group keeping its own); (b) k / G off by one at group edges: element k takes
// the scale of group (k + 1) / G, so only the last element of each group is wrong. Exact-tier
// scales are powers of two that differ between neighbouring groups, so both show bit for bit.
void scale_group_off_by_one(const Case& c) {
  const Gemm g = correct_gemm(c);
  const int64_t G = g.p.w.shape.group, groups = g.p.w.shape.groups();
  ASSERT_GE(groups, 2) << "K must hold at least two groups";
  expect_per_k_faithful(g);

  const QuantWeights shifted =
      per_k(g.p.w, [G, groups](int64_t k) { return std::min(k / G + 1, groups - 1); });
  // Only the scales move; zeros stay at their own group.
  QuantWeights shifted_scales = per_k(g.p.w, [G](int64_t k) { return k / G; });
  shifted_scales.scale = shifted.scale;
  expect_reported("scale of group g + 1", judge(g, render(g, g.run(g.p.a, shifted_scales, g.al))),
                  Outcome::Incorrect, {mismatch(c)});

  // The edge variant changes one k in G: exact-tier rows are sparse, so the input must hold a
  // nonzero activation at an edge where the two groups' scales differ (tokens >= K / nnz).
  const std::vector<int32_t> expert = route_experts(g.al, g.numel());
  bool edge_seen = false;
  for (int64_t id = 0; id < g.numel() && !edge_seen; ++id) {
    if (expert[id] < 0) continue;
    for (int64_t gi = 0; gi + 1 < groups && !edge_seen; ++gi) {
      const int64_t k = gi * G + G - 1;
      if (g.p.a.at(id / g.p.a_route_div, k) == 0.0f) continue;
      for (int64_t n = 0; n < g.p.w.shape.n && !edge_seen; ++n) {
        edge_seen = g.p.w.dequant(expert[id], n, k) != 0 &&
                    g.p.w.scale[g.p.w.g_index(expert[id], n, gi)] !=
                        g.p.w.scale[g.p.w.g_index(expert[id], n, gi + 1)];
      }
    }
  }
  ASSERT_TRUE(edge_seen) << "no computed route has a nonzero activation at a group edge whose "
                            "scales differ: the edge variant cannot show (add tokens)";
  QuantWeights edge = per_k(g.p.w, [G](int64_t k) { return k / G; });
  edge.scale =
      per_k(g.p.w, [G, groups](int64_t k) { return std::min((k + 1) / G, groups - 1); }).scale;
  expect_reported("scale group (k + 1) / G at group edges",
                  judge(g, render(g, g.run(g.p.a, edge, g.al))), Outcome::Incorrect, {mismatch(c)});
}

// Block-K not a multiple of the group size: a kernel that loads one scale and zero per K-block
// (here BK = 1.5 G: 48 for G = 32) uses the block's first group for the whole block, so the
// elements of the next group inside the block get the wrong scale and zero.
void blockk_not_group(const Case& c) {
  const Gemm g = correct_gemm(c);
  const int64_t G = g.p.w.shape.group, bk = G + G / 2;
  ASSERT_GT(g.p.w.shape.k, G) << "K must hold more than one group";
  expect_per_k_faithful(g);
  const QuantWeights blocked = per_k(g.p.w, [G, bk](int64_t k) { return k / bk * bk / G; });
  expect_reported("block-K " + std::to_string(bk) + " with G = " + std::to_string(G),
                  judge(g, render(g, g.run(g.p.a, blocked, g.al))), Outcome::Incorrect,
                  {mismatch(c)});
}

// K % G != 0 after tensor-parallel sharding (e.g. moe_intermediate 1408 / TP 4 = 352 with
// G = 128): a negative-input check. The CPU side must refuse the layer with an InputError naming
// K and G (the GPU negative suite checks that the kernels' supports() refuses it too); the same
// layer with K rounded up to a multiple of G is accepted.
void k_not_multiple_of_g(const Case& c) {
  ASSERT_EQ(c.expect, "input_error") << "this class is a negative case: expect: input_error";
  const int64_t k = c.gemm_k();
  ASSERT_NE(k % c.group, 0) << "the case's K is a multiple of G";
  try {
    make_gemm_problem(c);
    ADD_FAILURE() << "K=" << k << " with G=" << c.group << " was accepted";
  } catch (const InputError& e) {
    const std::string what = e.what();
    std::printf("[ planted ] K=%lld, G=%lld -> InputError: %s\n", static_cast<long long>(k),
                static_cast<long long>(c.group), what.c_str());
    for (const std::string& n :
         {"K=" + std::to_string(k), "G=" + std::to_string(c.group), c.error}) {
      EXPECT_NE(what.find(n), std::string::npos)
          << "the error does not name '" << n << "': " << what;
    }
  }
  Case fixed = c;
  (c.stage == "gemm2" ? fixed.inter : fixed.hidden) = (k + c.group - 1) / c.group * c.group;
  EXPECT_NO_THROW(make_gemm_problem(fixed)) << "K rounded up to a multiple of G must be accepted";
}

// ---- precision bugs ----------------------------------------------------------------------------

// The activation row, for route `route`, that exposes output column `col` with nothing to
// cancel: a_k = sign(w_k) over `ks`, 0 elsewhere, so that every product adds |a_k w_k|. It is the
// input that maximises that output, and the worst case the M-relative bound is built around
// (on zero-mean random inputs, errors of opposite signs cancel and stay inside it).
void align_row(Activations& a, int64_t row, const QuantWeights& w, int64_t e, int64_t col,
               int64_t k_begin, int64_t k_end) {
  for (int64_t k = 0; k < a.k; ++k) {
    const double wk = w.dequant(e, col, k);
    a.set(row, k, k < k_begin || k >= k_end ? 0.0f : (wk < 0 ? -1.0f : 1.0f));
  }
}

enum class Accumulate { fp32, bf16 };

// A split-K kernel: K cut into chunks of `chunk`, each chunk's dot product summed in fp32, the
// partials reduced in chunk order (or reversed, as atomics from another schedule would): in fp32
// and rounded once at the end (correct), or each partial rounded to bf16 and added to a bf16
// accumulator (the bug: bf16 atomics into a zeroed bf16 output).
std::vector<uint16_t> split_k(const Gemm& g, const Activations& a, int64_t chunk, Accumulate mode,
                              bool reverse) {
  const QuantWeights& w = g.p.w;
  const int64_t N = w.shape.n, K = w.shape.k, splits = (K + chunk - 1) / chunk;
  const std::vector<int32_t> expert = route_experts(g.al, g.numel());
  std::vector<uint16_t> out(static_cast<size_t>(g.numel() * N), g.poison);
  std::vector<float> partial(static_cast<size_t>(splits));
  for (int64_t id = 0; id < g.numel(); ++id) {
    const int32_t e = expert[id];
    if (e < 0) continue;
    const int64_t row = id / g.p.a_route_div;
    const float rw = g.opt.mul_routed_weight ? g.routing().weights[id] : 1.0f;
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t s = 0; s < splits; ++s) {
        float sum = 0;
        for (int64_t k = s * chunk; k < std::min(K, (s + 1) * chunk); ++k) {
          sum += a.at(row, k) * static_cast<float>(w.dequant(e, n, k));
        }
        partial[s] = sum * rw;
      }
      float acc = 0;
      for (int64_t i = 0; i < splits; ++i) {
        const float p = partial[reverse ? splits - 1 - i : i];
        acc = mode == Accumulate::fp32 ? acc + p
                                       : round_to(acc + round_to(p, DType::bf16), DType::bf16);
      }
      out[id * N + n] = float_to_bits(acc, g.dtype);
    }
  }
  return out;
}

// The repeatability check of the GPU suites (two launches bit for bit): "" or the first
// difference.
std::string bitwise_difference(const std::vector<uint16_t>& first,
                               const std::vector<uint16_t>& again, int64_t ldc) {
  if (first == again) return "";
  const auto at = std::mismatch(first.begin(), first.end(), again.begin()).first - first.begin();
  char buf[160];
  std::snprintf(
      buf, sizeof buf, "launch differs bitwise at row %lld, column %lld: 0x%04x vs 0x%04x",
      static_cast<long long>(at / ldc), static_cast<long long>(at % ldc), first[at], again[at]);
  return buf;
}

// Split-K (or atomic) reductions in bf16. The input: one route's activation row aligned with one
// weight row (align_row, so every partial is positive) and, at k = 0, one large activation (an
// outlier channel, as LLM activations have) so that the first partial P0 is >= 2^10 times the
// largest later one, p. Every later partial is then below half an ulp of the bf16 accumulator
// and is absorbed: the bf16 result loses their whole sum P, while the bound is about
// 3 u (P0 + P) with u = 2^-8, P0 ~ 2^10 p. With S splits of similar size P ~ (S - 1) p, caught
// for S of a few dozen: the cases use 64 splits of 32. The same bug in the other order (small
// partials first) comes out close: two launches differ bitwise, which the repeatability check
// reports. fp32 split-K in either order passes, so what is caught is the bf16 accumulator. On the
// case's own zero-mean random inputs the bf16 error is about u sqrt(S) |partial| against a bound
// of about 3 u M, smaller by about sqrt(K / S): it passes there (the run prints the margin), which
// is why the suite needs inputs like this one.
void bf16_split_k(const Case& c) {
  ASSERT_EQ(c.dtype, DType::bf16) << "the class is about bf16 accumulation";
  constexpr int64_t kChunk = 32;
  const Gemm g = correct_gemm(c);
  const QuantWeights& w = g.p.w;
  const int64_t N = w.shape.n, K = w.shape.k, ldc = N;
  ASSERT_GE(K / kChunk, 16) << "bf16 absorption needs >= 16 splits of " << kChunk;

  // Zero-mean random inputs, for the record.
  const Comparison random = judge(g, split_k(g, g.p.a, kChunk, Accumulate::bf16, false));
  std::printf("[ info ] bf16 split-K on the case's random inputs: %s, worst margin %.3g\n",
              to_string(random.outcome), random.worst_margin);

  // The outlier input on the first computed route and the column with the largest |w| at k = 0.
  const std::vector<int32_t> expert = route_experts(g.al, g.numel());
  const int64_t id =
      std::find_if(expert.begin(), expert.end(), [](int32_t e) { return e >= 0; }) - expert.begin();
  ASSERT_LT(id, g.numel()) << "the case computes no route";
  const int32_t e = expert[id];
  int64_t col = 0;
  for (int64_t n = 1; n < N; ++n) {
    if (std::fabs(w.dequant(e, n, 0)) > std::fabs(w.dequant(e, col, 0))) col = n;
  }
  const double w0 = w.dequant(e, col, 0);
  ASSERT_NE(w0, 0.0) << "expert " << e << " has no nonzero weight at k = 0";
  Activations a = g.p.a;
  const int64_t row = id / g.p.a_route_div;
  align_row(a, row, w, e, col, 0, K);
  double small = 0;
  for (int64_t s = 1; s < K / kChunk; ++s) {
    double sum = 0;
    for (int64_t k = s * kChunk; k < (s + 1) * kChunk; ++k) sum += std::fabs(w.dequant(e, col, k));
    small = std::max(small, sum);
  }
  const float outlier =
      std::ldexp(1.0f, static_cast<int>(std::ceil(std::log2(1024 * small / std::fabs(w0)))));
  a.set(row, 0, w0 < 0 ? -outlier : outlier);
  std::printf("[ info ] outlier activation %g at (token %lld, k 0), aligned with column %lld\n",
              static_cast<double>(outlier), static_cast<long long>(row),
              static_cast<long long>(col));

  Gemm h = g;  // the reference on the outlier input
  h.p.a = a;
  h.ref = h.run(a, w, h.al);
  expect_passes("reference output", judge(h, render(h, h.ref)));
  expect_passes("fp32 split-K", judge(h, split_k(h, a, kChunk, Accumulate::fp32, false)));
  expect_passes("fp32 split-K, reversed", judge(h, split_k(h, a, kChunk, Accumulate::fp32, true)));

  const std::vector<uint16_t> first = split_k(h, a, kChunk, Accumulate::bf16, false);
  expect_reported("bf16 split-K, outlier first", judge(h, first), Outcome::Incorrect,
                  {"beyond bound"});
  expect_reported("bf16 split-K, the aligned route", judge(h, first, {id}), Outcome::Incorrect,
                  {"beyond bound " + at_row(id)});
  const int64_t idx = id * N + col;
  EXPECT_GT(std::fabs(bits_to_float(first[idx], DType::bf16) - h.ref.value[idx]),
            element_bound(h.ref, idx, h.tol))
      << "the aligned element itself must be beyond its bound";

  // Nondeterminism: atomics from another schedule add the partials in another order.
  EXPECT_EQ(bitwise_difference(first, split_k(h, a, kChunk, Accumulate::bf16, false), ldc), "")
      << "one order, twice, must repeat";
  const std::string differs =
      bitwise_difference(first, split_k(h, a, kChunk, Accumulate::bf16, true), ldc);
  std::printf("[ planted ] bf16 atomics in two orders -> %s\n", differs.c_str());
  EXPECT_NE(differs, "") << "two summation orders of the bf16 reduction agree bit for bit";
}

// A dequant constant in fp16 for bf16 data: the kernel holds each bf16 scale in fp16 (or
// multiplies by it in fp16). A bf16 scale inside fp16's normal range [2^-14, 65504] converts
// exactly (8 significant bits into 11), so on the case's own weights (scales around 2^-7) the
// bug cannot show, and the test asserts that it passes there. It shows where bf16 scales leave
// that range: a layer with small weights (here every scale times a power of two, so that the
// largest is below 2^-20) has scales among fp16's subnormals with at most 4 significant bits,
// up to 2^-4 relative error per group. The input that exposes it without cancellation, and so
// provably: one route's activation row aligned with the weights of the group whose scale fp16
// rounds worst. (With scales that small the case's random inputs are caught too, but only
// because the errors happen not to cancel; the run prints that margin.)
void fp16_dequant_constant(const Case& c) {
  ASSERT_EQ(c.dtype, DType::bf16) << "the class is about fp16 constants for bf16 data";
  const Gemm g = correct_gemm(c);
  const auto fp16_scales = [](const QuantWeights& w) {
    QuantWeights out = w;
    out.dtype = DType::fp16;
    for (uint16_t& s : out.scale) s = float_to_bits(bits_to_float(s, w.dtype), DType::fp16);
    return out;
  };
  const auto rounding = [](const QuantWeights& w, size_t i) {
    const double s = bits_to_float(w.scale[i], DType::bf16);
    return std::fabs(bits_to_float(float_to_bits(static_cast<float>(s), DType::fp16), DType::fp16) -
                     s) /
           s;
  };

  // The case's weights: no scale changes, the output passes.
  expect_passes("fp16 constants, scales in fp16's normal range",
                judge(g, render(g, g.run(g.p.a, fp16_scales(g.p.w), g.al))));

  // A layer with small weights: every scale times 2^-d (exact in bf16).
  QuantWeights small = g.p.w;
  double largest = 0;
  for (uint16_t s : small.scale)
    largest = std::max(largest, std::fabs(double{bits_to_float(s, DType::bf16)}));
  ASSERT_GT(largest, 0.0);
  const int d = static_cast<int>(std::ceil(std::log2(largest))) + 20;
  for (uint16_t& s : small.scale) {
    s = float_to_bits(std::ldexp(bits_to_float(s, DType::bf16), -d), DType::bf16);
  }
  // The group (of a computed route's expert) whose scale fp16 rounds worst.
  const std::vector<int32_t> expert = route_experts(g.al, g.numel());
  const int64_t id =
      std::find_if(expert.begin(), expert.end(), [](int32_t e) { return e >= 0; }) - expert.begin();
  ASSERT_LT(id, g.numel()) << "the case computes no route";
  const int32_t e = expert[id];
  const WeightShape& s = small.shape;
  int64_t col = 0, group = 0;
  for (int64_t n = 0; n < s.n; ++n) {
    for (int64_t gi = 0; gi < s.groups(); ++gi) {
      if (rounding(small, small.g_index(e, n, gi)) >
          rounding(small, small.g_index(e, col, group))) {
        col = n;
        group = gi;
      }
    }
  }
  const double worst = rounding(small, small.g_index(e, col, group));
  std::printf(
      "[ info ] scales times 2^-%d; worst fp16 rounding %.3g (expert %d, column %lld, "
      "group %lld)\n",
      d, worst, e, static_cast<long long>(col), static_cast<long long>(group));
  // |diff| >= (worst - u) M against a bound of about 3 u M (u = 2^-8): worst must pass 4 u.
  ASSERT_GT(worst, 0x1p-6) << "no scale loses enough in fp16 for any input to show it";

  Gemm h = g;
  h.p.w = small;
  h.ref = h.run(h.p.a, small, h.al);
  const Comparison random = judge(h, render(h, h.run(h.p.a, fp16_scales(small), h.al)));
  std::printf("[ info ] fp16 scales on the case's random inputs: %s, worst margin %.3g\n",
              to_string(random.outcome), random.worst_margin);

  align_row(h.p.a, id / h.p.a_route_div, small, e, col, group * s.group, (group + 1) * s.group);
  h.ref = h.run(h.p.a, small, h.al);
  expect_passes("bf16 scales, small weights", judge(h, render(h, h.ref)));
  const std::vector<uint16_t> out = render(h, h.run(h.p.a, fp16_scales(small), h.al));
  expect_reported("fp16 scales, small weights, the aligned route", judge(h, out, {id}),
                  Outcome::Incorrect, {"beyond bound " + at_row(id)});
  const int64_t idx = id * s.n + col;
  EXPECT_GT(std::fabs(bits_to_float(out[idx], DType::bf16) - h.ref.value[idx]),
            element_bound(h.ref, idx, h.tol))
      << "the aligned element itself must be beyond its bound";
}

// ---- dispatch ----------------------------------------------------------------------------------

const std::map<std::string, void (*)(const Case&)>& bug_tests() {
  static const std::map<std::string, void (*)(const Case&)> table = {
      {"padding_expert0", padding_expert0},
      {"int32_overflow", int32_overflow},
      {"blockk_not_group", blockk_not_group},
      {"k_not_multiple_of_g", k_not_multiple_of_g},
      {"bf16_split_k", bf16_split_k},
      {"align_drops_route", align_drops_route},
      {"align_sentinel_minus1", align_sentinel_minus1},
      {"align_race", align_race},
      {"nibble_order", nibble_order},
      {"zero_off_by_one", zero_off_by_one},
      {"scale_group_off_by_one", scale_group_off_by_one},
      {"partial_tile_dropped", partial_tile_dropped},
      {"padded_rows_written", padded_rows_written},
      {"fp16_dequant_constant", fp16_dequant_constant},
  };
  return table;
}

void bug_class_case(const Case& c) {
  // Every class the catalog may name has its test, so a new id cannot go unplanted.
  for (const auto& id : known_bug_classes()) {
    ASSERT_TRUE(bug_tests().count(id)) << "bug class '" << id << "' has no test here";
  }
  ASSERT_FALSE(c.bug.empty()) << c.source << ": a bug_class case must name its `bug`";
  const auto it = bug_tests().find(c.bug);
  ASSERT_NE(it, bug_tests().end()) << "unknown bug class '" << c.bug << "'";
  ASSERT_TRUE(c.expect == "pass" || c.bug == "k_not_multiple_of_g")
      << c.source << ": only k_not_multiple_of_g is a negative-input case";
  it->second(c);
}

MOECHECK_SUITE(bug_class, bug_class_case);

}  // namespace
}  // namespace moecheck
