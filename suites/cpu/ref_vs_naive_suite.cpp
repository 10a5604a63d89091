// ref_vs_naive: the Eigen reference against an independently written naive layer
// (suites/cpu/naive), stage by stage. Both compute exact products of the same bf16/fp16 inputs
// and exact dequantised weights and sum them in high precision, so they must agree to the
// reference's own double rounding; the naive side reads the weights from the case's PACKED format,
// so the comparison also covers the reference's packers and every format's nibble, scale and
// zero layout.
//
// Stages (the case's `stage`):
//   dequant  the naive reading of every packed element (q, z, s, w) equals the logical weights,
//            and the reference's unpacking of the same words gives them back
//   align    reference align_block_size vs the naive one: expert_ids and num_tokens_post_padded
//            exactly, each expert's slot range as a set, the sentinel tail, and the walk
//            (which routes are computed); `expect: input_error` cases must be refused by both
//   gemm1/2  routed_gemm vs the naive triple loop: values and magnitudes M, written rows; with
//            apply_router_weight_on_input (gemm1) the scaled input A' bit for bit first; exact
//            cases additionally check that every reference result is representable in the dtype
//   act      silu_and_mul on the reference's c1 (same input on both sides)
//   sum      moe_sum on the reference's c2 (same input on both sides)
//   e2e      reference_layer vs the naive chain, every intermediate compared: the naive chain
//            runs on its own alignment, A', c1 and act; the reference rounds act to the dtype
//            before gemm2 and so does the naive chain, with its own rounding: the two roundings
//            must agree bit for bit except where the exact act lies (within the comparison
//            bound) on a rounding tie, and gemm2 of both sides is then fed the same rounded act
//
// Tolerance. The naive side sums in long double (64-bit significand, error ~ K 2^-64 M); the
// reference sums in double, which for a K-term sum of exact products is within (K - 1) 2^-53 M of
// the exact value, plus one rounding for a routing-weight multiply. So a value passes when
// |ref - naive| <= (K + 2) 2^-53 M (M the naive magnitude) — 1e-14 relative for K = 256 and
// honest for K = 14336 — and exact-tier values must be equal.
//
// Model shapes. make_gemm_problem generates every expert's weights: E * N * K elements, 7.5e9
// for DeepSeek-V3's gemm1, which no CPU job can hold. A case whose weights exceed kWeightBudget
// is therefore restricted, and its log says so: the routing is generated for the case's E, top_k
// and T, then its experts are renumbered to the ones it routes to (unrouted experts' weights are
// never read); if the routed experts' weights still exceed the budget, N is cut to a multiple of
// 8 that fits. K, G, the dtype, the format, top_k and T stay the model's. Where numel * N * K is
// beyond kNaiveBudget, the naive side evaluates only a seeded sample of the computed routes that
// always includes the first and the last; `written` is still compared for every route. The layer
// stages (act, sum, e2e) cannot cut N (act is gemm2's K): a case whose reached experts' weights
// exceed 4 * kWeightBudget is refused with an error before anything is generated.
//
// Result lines. Every comparison against a bound reports one result line (testbed/results.hpp
// report_stage_result, the line of the GPU suites and `moecheck verify`): stage gemm1 / gemm2 /
// act / sum / out for values (e2e: all four), `<stage>_magnitude` for the magnitudes M; margin =
// max |ref - naive| / bound, rel_l1 = sum |ref - naive| / sum |naive|, outcome Passed or
// Incorrect. The coverage report (suites/report) reads them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "inputs.hpp"
#include "moecheck/reference/align.hpp"
#include "moecheck/reference/error.hpp"
#include "moecheck/reference/formats.hpp"
#include "moecheck/reference/layer.hpp"
#include "moecheck/reference/moe.hpp"
#include "naive.hpp"
#include "registry.hpp"
#include "results.hpp"

namespace moecheck {
namespace {

constexpr int64_t kWeightBudget = int64_t{1} << 21;  // weight elements generated per case
constexpr int64_t kNaiveBudget = int64_t{1} << 22;   // naive multiply-adds per compared tensor
constexpr int64_t kSampleRows = 8;                   // routes compared when sampling
constexpr double kU = 0x1p-53;                       // unit roundoff of double
constexpr int kMaxReports = 5;                       // mismatches reported per comparison

// ---- inputs --------------------------------------------------------------------------------

naive::PackedWeights pack(const Case& c, const QuantWeights& w) {
  naive::PackedWeights p;
  p.format = c.format;
  p.shape = w.shape;
  p.dtype = w.dtype;
  switch (c.format) {
    case Format::exllama_nk:
      p.exllama = pack_exllama_nk(w, w.shape.k / 8 + c.pad_kw);
      break;
    case Format::gptq_kn:
      p.gptq = pack_gptq_kn(w, c.shuffled, c.zero_format);
      break;
    case Format::triton_nk_u8:
      p.triton = pack_triton_nk_u8(w);
      break;
  }
  return p;
}

// A GEMM stage's inputs as make_gemm_problem builds them (weights for the reached experts only,
// the routing in experts.routing indexing them), with N cut to fit kWeightBudget where the
// reached experts' weights exceed it (see the file comment). `note` says what was cut.
struct Stage {
  GemmProblem p;
  std::string note;
  const Routing& routing() const { return p.experts.routing; }
};

Stage make_stage(const Case& c) {
  Stage s;
  GemmProblem& p = s.p;
  p.routing = make_routing(c);
  p.experts = reached_experts(p.routing);
  p.mul_routed_weight = c.mul_routed_weight;
  WeightShape shape = gemm_weight_shape(c, p.experts.routing);
  if (shape.experts * shape.n * shape.k > kWeightBudget) {
    const int64_t fit = kWeightBudget / (shape.experts * shape.k) / 8 * 8;
    const int64_t n = std::min(shape.n, std::max<int64_t>(8, fit));
    s.note = "N cut from " + std::to_string(shape.n) + " to " + std::to_string(n) + " for " +
             std::to_string(shape.experts) + " reached experts of K = " + std::to_string(shape.k);
    shape.n = n;
  }
  const bool gemm2 = c.stage == "gemm2";
  p.a_route_div = gemm2 ? 1 : c.top_k;
  // The routing's T, not the case's: block_edge routing derives its own T.
  p.a = make_activations(c, gemm2 ? p.routing.numel() : p.routing.tokens, c.gemm_k());
  p.w = make_weights(c, shape);
  return s;
}

// The layer stages need every reached expert's full weights (act feeds gemm2's K): a case beyond
// the budget is refused before anything is generated (gemm1/gemm2 cover the model shapes).
LayerProblem layer_problem(const Case& c) {
  const int64_t experts = reached_experts(make_routing(c)).count();
  const int64_t weights = experts * 3 * c.hidden * c.inter;
  if (weights > 4 * kWeightBudget) {
    throw InputError("ref_vs_naive " + c.stage + ": " + std::to_string(weights) +
                     " weights of the reached experts exceed the CPU budget of " +
                     std::to_string(4 * kWeightBudget) + "; use a synthetic shape");
  }
  return make_layer_case(c).problem;
}

// Routes the naive side evaluates: all computed ones, or a seeded sample with the first and last.
std::vector<int64_t> rows_to_compare(const std::vector<uint8_t>& written, int64_t n, int64_t k,
                                     uint64_t seed) {
  std::vector<int64_t> computed;
  for (int64_t i = 0; i < static_cast<int64_t>(written.size()); ++i) {
    if (written[i]) computed.push_back(i);
  }
  if (static_cast<int64_t>(computed.size()) * n * k <= kNaiveBudget ||
      static_cast<int64_t>(computed.size()) <= kSampleRows) {
    return computed;
  }
  std::vector<int64_t> middle(computed.begin() + 1, computed.end() - 1);
  std::mt19937_64 rng(seed);
  for (size_t i = 0; i + 1 < middle.size(); ++i) {
    std::swap(middle[i], middle[i + rng() % (middle.size() - i)]);
  }
  std::vector<int64_t> rows = {computed.front(), computed.back()};
  rows.insert(rows.end(), middle.begin(), middle.begin() + (kSampleRows - 2));
  std::sort(rows.begin(), rows.end());
  return rows;
}

// ---- comparisons ---------------------------------------------------------------------------

// Element (r, c) of ref and naive, with its allowed difference `bound`. `stage` names the result
// line (see the file comment).
struct Tally {
  const char* what;
  std::string stage;
  int64_t compared = 0;
  int64_t beyond = 0;
  double worst = 0;  // max |diff| / bound
  long double diff_sum = 0, naive_sum = 0;
  void check(int64_t r, int64_t c, double ref, long double nv, long double bound) {
    ++compared;
    const long double diff = std::fabs(static_cast<long double>(ref) - nv);
    diff_sum += diff;
    naive_sum += std::fabs(nv);
    if (bound > 0) worst = std::max(worst, static_cast<double>(diff / bound));
    if (diff <= bound && !std::isnan(static_cast<double>(diff))) return;
    if (++beyond <= kMaxReports) {
      ADD_FAILURE() << what << " at row " << r << ", column " << c << ": reference " << ref
                    << ", naive " << static_cast<double>(nv) << ", |diff| "
                    << static_cast<double>(diff) << " > allowed " << static_cast<double>(bound);
    }
  }
  void finish() {
    EXPECT_EQ(beyond, 0) << what << ": " << beyond << " of " << compared << " elements differ";
    testing::Test::RecordProperty(std::string(what) + "_worst_ratio", std::to_string(worst));
    Comparison cmp;
    cmp.outcome = beyond == 0 ? Outcome::Passed : Outcome::Incorrect;
    cmp.worst_margin = worst;
    cmp.rel_l1 = naive_sum > 0 ? static_cast<double>(diff_sum / naive_sum) : 0.0;
    cmp.compared = compared;
    const testing::TestInfo* test = testing::UnitTest::GetInstance()->current_test_info();
    report_stage_result(std::string(test->test_suite_name()) + "." + test->name(), stage, cmp);
  }
};

void expect_same_written(const std::vector<uint8_t>& ref, const std::vector<uint8_t>& nv,
                         const char* what) {
  ASSERT_EQ(ref.size(), nv.size()) << what;
  for (size_t i = 0; i < ref.size(); ++i) {
    ASSERT_EQ(ref[i] != 0, nv[i] != 0)
        << what << ": route " << i << " is " << (ref[i] ? "" : "not ")
        << "written by the reference but " << (nv[i] ? "" : "not ") << "computed by the naive walk";
  }
}

// A GEMM output: values within (K + 2) 2^-53 M, magnitudes likewise (exact: equal).
void expect_gemm_agrees(const RefOutput& ref, const naive::Result& nv,
                        const std::vector<int64_t>& rows, int64_t k, bool exact,
                        const std::string& what, const std::string& stage) {
  expect_same_written(ref.written, nv.written, what.c_str());
  ASSERT_EQ(ref.cols, nv.cols) << what;
  const long double rel = exact ? 0.0L : (k + 2) * static_cast<long double>(kU);
  const std::string vname = what + "_value", mname = what + "_magnitude";
  Tally values{vname.c_str(), stage}, magnitudes{mname.c_str(), stage + "_magnitude"};
  for (const int64_t r : rows) {
    for (int64_t c = 0; c < ref.cols; ++c) {
      const int64_t i = r * ref.cols + c;
      const long double m = nv.magnitude[i];
      values.check(r, c, ref.value[i], nv.value[i], rel * m);
      magnitudes.check(r, c, ref.magnitude[i], m, rel * m);
    }
  }
  values.finish();
  magnitudes.finish();
  EXPECT_GT(values.compared, 0) << what << ": nothing compared (no computed route)";
}

// Exact tier: every reference result is a value of the dtype (so a kernel can match it bit for
// bit), judged with the naive side's own rounding.
void expect_representable(const RefOutput& ref, DType dtype) {
  int64_t bad = 0;
  for (int64_t r = 0; r < ref.rows; ++r) {
    if (!ref.written[r]) continue;
    for (int64_t c = 0; c < ref.cols; ++c) {
      const double v = ref.at(r, c);
      if (naive::decode(naive::round_to_bits(v, dtype), dtype) == v) continue;
      if (++bad <= kMaxReports) {
        ADD_FAILURE() << "exact tier: reference result (" << r << ", " << c << ") = " << v
                      << " is not representable in " << to_string(dtype);
      }
    }
  }
  EXPECT_EQ(bad, 0);
}

void expect_same_bits(const Activations& ref, const Activations& nv, const char* what) {
  ASSERT_EQ(ref.rows, nv.rows) << what;
  ASSERT_EQ(ref.k, nv.k) << what;
  for (int64_t r = 0; r < ref.rows; ++r) {
    for (int64_t c = 0; c < ref.k; ++c) {
      ASSERT_EQ(ref.bits[r * ref.lda + c], nv.bits[r * nv.lda + c])
          << what << " differs at row " << r << ", column " << c;
    }
  }
}

naive::Result as_naive(const RefOutput& x) {
  naive::Result r;
  r.rows = x.rows;
  r.cols = x.cols;
  r.value.assign(x.value.begin(), x.value.end());
  r.magnitude.assign(x.magnitude.begin(), x.magnitude.end());
  r.written = x.written;
  return r;
}

// ---- stages --------------------------------------------------------------------------------

void dequant_stage(const Case& c) {
  const WeightShape shape{c.experts, c.gemm_n(), c.gemm_k(), c.group};
  ASSERT_LE(shape.experts * shape.n * shape.k, kWeightBudget)
      << "dequant cases must use a synthetic shape within the CPU budget";
  const QuantWeights w = make_weights(c, shape);
  const naive::PackedWeights p = pack(c, w);
  naive::validate(p);
  std::set<int> qs, zs;
  int64_t bad = 0;
  for (int64_t e = 0; e < shape.experts; ++e) {
    for (int64_t n = 0; n < shape.n; ++n) {
      for (int64_t g = 0; g < shape.groups(); ++g) {
        const int z = naive::zero_point(p, e, n, g);
        zs.insert(z);
        if (z != w.zero[w.g_index(e, n, g)] ||
            naive::scale(p, e, n, g) != naive::decode(w.scale[w.g_index(e, n, g)], w.dtype)) {
          if (++bad <= kMaxReports)
            ADD_FAILURE() << "zero or scale of (" << e << ", " << n << ", g " << g << ")";
        }
      }
      for (int64_t k = 0; k < shape.k; ++k) {
        qs.insert(naive::nibble(p, e, n, k));
        if (naive::nibble(p, e, n, k) != w.q[w.q_index(e, n, k)] ||
            naive::weight(p, e, n, k) != w.dequant(e, n, k)) {
          if (++bad <= kMaxReports)
            ADD_FAILURE() << "q or w of (" << e << ", " << n << ", " << k << ")";
        }
      }
    }
  }
  EXPECT_EQ(bad, 0) << "the naive reading of " << to_string(c.format) << " disagrees";
  // Weights that could hide a layout bug (all nibbles equal) make the case meaningless.
  EXPECT_GE(qs.size(), 3u) << "too few distinct nibbles to tell layouts apart";
  if (!c.symmetric) {
    EXPECT_GE(zs.size(), 2u) << "too few distinct zeros to tell layouts apart";
  }

  QuantWeights back;
  switch (c.format) {
    case Format::exllama_nk:
      back = unpack_exllama_nk(p.exllama, shape, c.dtype);
      break;
    case Format::gptq_kn:
      back = unpack_gptq_kn(p.gptq, shape, c.dtype, c.symmetric);
      break;
    case Format::triton_nk_u8:
      back = unpack_triton_nk_u8(p.triton, shape, c.dtype);
      break;
  }
  EXPECT_TRUE(back == w) << "the reference's unpacking of the packed words differs from the "
                            "logical weights the naive side read from them";
}

// Alignment: exact fields exactly, each expert's range as a set (DESIGN.md section 3).
void expect_same_alignment(const Alignment& ref, const Alignment& nv, const Routing& r) {
  ASSERT_EQ(ref.sorted_token_ids.size(), nv.sorted_token_ids.size()) << "max_padded";
  ASSERT_EQ(ref.sorted_token_ids.size(),
            static_cast<size_t>(max_padded_length(r.numel(), r.experts, ref.block_m)));
  ASSERT_EQ(ref.num_tokens_post_padded, nv.num_tokens_post_padded);
  ASSERT_EQ(ref.expert_ids, nv.expert_ids);
  // The naive layout puts expert e's range at the prefix sum of the padded counts.
  int64_t start = 0;
  for (int32_t e = 0; e < r.experts; ++e) {
    const int64_t count = std::count(r.ids.begin(), r.ids.end(), e);
    const int64_t end = start + (count + ref.block_m - 1) / ref.block_m * ref.block_m;
    std::multiset<int32_t> a(ref.sorted_token_ids.begin() + start,
                             ref.sorted_token_ids.begin() + end);
    std::multiset<int32_t> b(nv.sorted_token_ids.begin() + start,
                             nv.sorted_token_ids.begin() + end);
    ASSERT_EQ(a, b) << "the slots of expert " << e << " [" << start << ", " << end << ")";
    start = end;
  }
  for (size_t s = start; s < ref.sorted_token_ids.size(); ++s) {
    ASSERT_EQ(ref.sorted_token_ids[s], r.numel()) << "slot " << s << " past the end";
  }
}

void align_stage(const Case& c) {
  const Routing r = make_routing(c);
  if (c.expect == "input_error") {
    try {
      align_block_size(r, c.block_m);
      ADD_FAILURE() << "the reference accepted a routing it must refuse";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(c.error), std::string::npos) << e.what();
    }
    EXPECT_THROW(naive::align(r, c.block_m), InputError) << "the naive side accepted it";
    return;
  }
  const Alignment ref = align_block_size(r, c.block_m);
  const Alignment nv = naive::align(r, c.block_m);
  expect_same_alignment(ref, nv, r);
  const naive::RouteSet walked = naive::walk(ref, r.numel(), r.local_experts());
  const std::vector<uint8_t> computed = computed_routes(r, ref);
  int64_t count = 0;
  for (int64_t i = 0; i < r.numel(); ++i) {
    ASSERT_EQ(computed[i] != 0, walked.computed(i)) << "route " << i;
    count += walked.computed(i);
  }
  EXPECT_GT(count, 0) << "the routing computes no route";
  if (!r.expert_map.empty()) {
    EXPECT_LT(count, r.numel()) << "an EP map must drop some routes";
  }
}

void gemm_stage(const Case& c) {
  const Stage st = make_stage(c);
  const GemmProblem& p = st.p;
  const Routing& r = st.routing();
  if (!st.note.empty()) testing::Test::RecordProperty("restricted", st.note);
  const bool on_input = c.stage == "gemm1" && c.apply_router_weight_on_input;
  const Activations ref_in = on_input ? apply_router_weight_on_input(p.a, r) : p.a;
  const Activations nv_in = on_input ? naive::apply_router_weight_on_input(p.a, r) : p.a;
  if (on_input) expect_same_bits(ref_in, nv_in, "A' (routing weight on the input)");
  const int64_t div = on_input ? 1 : p.a_route_div;

  GemmOptions opt;
  opt.mul_routed_weight = p.mul_routed_weight;
  const RefOutput ref = routed_gemm(ref_in, div, p.w, r, align_block_size(r, c.block_m), opt);
  const auto rows = rows_to_compare(ref.written, ref.cols, p.w.shape.k, c.seed);
  testing::Test::RecordProperty("compared_routes", std::to_string(rows.size()));
  const naive::Result nv = naive::gemm(nv_in, div, pack(c, p.w), r, naive::align(r, c.block_m),
                                       p.mul_routed_weight, rows);
  expect_gemm_agrees(ref, nv, rows, p.w.shape.k, c.exact, c.stage, c.stage);
  if (c.exact) expect_representable(ref, c.dtype);
}

void act_stage(const Case& c) {
  const LayerReference ref = reference_layer(layer_problem(c), case_tolerance(c));
  const naive::Result nv = naive::silu_and_mul(as_naive(ref.c1));
  expect_same_written(ref.act.written, nv.written, "act");
  // exp, add, divide, multiply in double: a few roundings of |act|.
  Tally t{"act", "act"};
  for (int64_t i = 0; i < ref.act.rows * ref.act.cols; ++i) {
    if (!nv.written[i / nv.cols]) continue;
    t.check(i / nv.cols, i % nv.cols, ref.act.value[i], nv.value[i],
            8 * kU * nv.magnitude[i] + 1e-300L);
  }
  t.finish();
  EXPECT_GT(t.compared, 0);
}

void sum_stage(const Case& c) {
  const LayerReference ref = reference_layer(layer_problem(c), case_tolerance(c));
  const naive::Result nv = naive::moe_sum(as_naive(ref.c2), c.top_k);
  Tally t{"sum", "sum"};
  for (int64_t i = 0; i < ref.out.rows * ref.out.cols; ++i) {
    t.check(i / nv.cols, i % nv.cols, ref.out.value[i], nv.value[i],
            (c.top_k + 1) * kU * nv.magnitude[i] + 1e-300L);
  }
  t.finish();
  // A non-local route must contribute nothing: the EP cases have some.
  if (!ref.c2.written.empty() && c.routing.kind == RoutingKind::ep) {
    EXPECT_NE(std::count(ref.c2.written.begin(), ref.c2.written.end(), 0), 0);
  }
}

// e2e: the naive chain, each intermediate against the reference's (see the file comment).
void e2e_stage(const Case& c) {
  const LayerProblem p = layer_problem(c);
  const LayerReference ref = reference_layer(p, case_tolerance(c));
  const Routing& r = p.routing;

  const Alignment al = naive::align(r, c.block_m);
  expect_same_alignment(ref.alignment, al, r);
  const Activations in =
      p.apply_router_weight_on_input ? naive::apply_router_weight_on_input(p.a, r) : p.a;
  expect_same_bits(ref.gemm1_input, in, "gemm1 input");
  const int64_t div = p.apply_router_weight_on_input ? 1 : r.top_k;
  const naive::Result c1 = naive::gemm(in, div, pack(c, p.w1), r, al, false);
  std::vector<int64_t> rows;  // every computed route: e2e shapes are small
  for (int64_t i = 0; i < r.numel(); ++i) {
    if (c1.written[i]) rows.push_back(i);
  }
  expect_gemm_agrees(ref.c1, c1, rows, c.hidden, false, "c1", "gemm1");

  // act from the naive c1; the reference's act differs by c1's double rounding carried through
  // silu(g) * u (slope of silu <= 1.1) plus its own few roundings.
  const naive::Result act = naive::silu_and_mul(c1);
  const long double rel1 = (c.hidden + 2) * static_cast<long double>(kU);
  std::vector<long double> act_bound(act.value.size(), 0.0L);
  Tally ta{"act", "act"};
  for (const int64_t i : rows) {
    for (int64_t j = 0; j < c.inter; ++j) {
      const long double g = c1.at(i, j), u = c1.at(i, c.inter + j);
      const long double dg = rel1 * c1.magnitude[i * c1.cols + j];
      const long double du = rel1 * c1.magnitude[i * c1.cols + c.inter + j];
      const int64_t x = i * c.inter + j;
      act_bound[x] = 8 * kU * std::fabs(act.value[x]) + 1.1L * dg * (std::fabs(u) + du) +
                     std::fabs(naive::silu(g)) * du + 1e-300L;
      ta.check(i, j, ref.act.value[x], act.value[x], act_bound[x]);
    }
  }
  ta.finish();

  // Rounding act to the dtype: equal bits, except on a tie within the act bound.
  const Activations act_bits = naive::round_rows(act, c.dtype);
  int64_t ties = 0;
  for (const int64_t i : rows) {
    for (int64_t j = 0; j < c.inter; ++j) {
      const int64_t x = i * c.inter + j;
      const uint16_t mine = act_bits.bits[x], theirs = ref.act_input.bits[x];
      if (mine == theirs) continue;
      const long double a = naive::decode(mine, c.dtype), b = naive::decode(theirs, c.dtype);
      const long double mid = (a + b) / 2;
      const bool adjacent = naive::round_to_bits(mid, c.dtype) == mine ||
                            naive::round_to_bits(mid, c.dtype) == theirs;
      ASSERT_TRUE(adjacent && std::fabs(act.value[x] - mid) <= act_bound[x])
          << "act (" << i << ", " << j << ") rounds to " << static_cast<double>(a) << " here and "
          << static_cast<double>(b) << " in the reference, exact value "
          << static_cast<double>(act.value[x]) << " is not near a tie";
      ++ties;
    }
  }
  testing::Test::RecordProperty("act_rounding_ties", std::to_string(ties));

  const naive::Result c2 =
      naive::gemm(ref.act_input, 1, pack(c, p.w2), r, al, !p.apply_router_weight_on_input);
  expect_gemm_agrees(ref.c2, c2, rows, c.inter, false, "c2", "gemm2");

  const naive::Result out = naive::moe_sum(c2, r.top_k);
  // Sum of the top_k c2 errors plus the sum's own roundings.
  Tally to{"out", "out"};
  for (int64_t t = 0; t < out.rows; ++t) {
    for (int64_t n = 0; n < out.cols; ++n) {
      long double bound = (r.top_k + 1) * kU * out.magnitude[t * out.cols + n] + 1e-300L;
      for (int64_t j = 0; j < r.top_k; ++j) {
        bound += (c.inter + 2) * kU * c2.magnitude[(t * r.top_k + j) * c2.cols + n];
      }
      to.check(t, n, ref.out.value[t * out.cols + n], out.value[t * out.cols + n], bound);
    }
  }
  to.finish();
}

void ref_vs_naive_case(const Case& c) {
  if (c.expect != "pass" && !(c.expect == "input_error" && c.stage == "align")) {
    FAIL() << "ref_vs_naive supports expect: input_error only at stage align (got expect "
           << c.expect << " at stage " << c.stage << ")";
  }
  if (c.stage == "dequant") return dequant_stage(c);
  if (c.stage == "align") return align_stage(c);
  if (c.stage == "gemm1" || c.stage == "gemm2") return gemm_stage(c);
  if (c.stage == "act") return act_stage(c);
  if (c.stage == "sum") return sum_stage(c);
  if (c.stage == "e2e") return e2e_stage(c);
  FAIL() << "ref_vs_naive has no stage '" << c.stage
         << "' (dequant, align, gemm1, gemm2, act, sum, e2e)";
}

MOECHECK_SUITE(ref_vs_naive, ref_vs_naive_case);

}  // namespace
}  // namespace moecheck
