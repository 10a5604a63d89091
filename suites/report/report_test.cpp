// The coverage report's own tests, on testdata/: a small catalog and a hand-written gate run
// (run/) holding every outcome. The model (outcomes, routing statistics, heatmaps), the JSON round
// trip, coverage.md's length, coverage.html's self-containment and tables, moecheck diff's rules.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "coverage.hpp"
#include "coverage_diff.hpp"

namespace moecheck::report {
namespace {

namespace fs = std::filesystem;
const fs::path kData = MOECHECK_REPORT_TESTDATA;

const Catalog& catalog() {
  static const Catalog c = load_catalog(kData / "catalog");
  return c;
}

RunInputs fixture_run() {
  RunInputs run;
  run.results = load_results(kData / "run" / "results.json");
  run.tests = load_tests(kData / "run" / "tests.json");
  run.summary = load_json_file(kData / "run" / "summary.json");
  return run;
}

const Coverage& fixture() {
  static const Coverage c = build_coverage(catalog(), fixture_run());
  return c;
}

// The look-ups take their names as string_view (by value): g++ 13 warns (-Wdangling-reference)
// when a function that returns a reference is passed a temporary std::string by reference.
const CaseCoverage& find(const Coverage& cov, std::string_view part) {
  const auto it = std::find_if(cov.cases.begin(), cov.cases.end(), [&](const CaseCoverage& c) {
    return c.test.find(part) != std::string::npos;
  });
  if (it == cov.cases.end()) throw std::runtime_error("no case " + std::string(part));
  return *it;
}

const Heatmap& map_of(const Coverage& cov, std::string_view kernel, std::string_view stage) {
  for (const Heatmap& h : cov.heatmaps) {
    if (h.kernel == kernel && h.stage == stage) return h;
  }
  throw std::runtime_error("no heatmap " + std::string(kernel) + " " + std::string(stage));
}

const HeatCell& cell_of(const Heatmap& h, std::string_view row, std::string_view column) {
  for (const HeatCell& c : h.cells) {
    if (h.rows[c.row] == row && h.columns[c.column] == column) return c;
  }
  throw std::runtime_error("no cell " + std::string(row) + " / " + std::string(column));
}

std::string write_temp(const std::string& name, const std::string& text) {
  const fs::path p = fs::temp_directory_path() / ("moecheck_report_test_" + name);
  std::ofstream(p, std::ios::binary) << text;
  return p.string();
}

TEST(Coverage, OutcomePerCase) {
  const Coverage& cov = fixture();
  EXPECT_EQ(cov.device, "AMD Radeon 8060S (fixture)");
  EXPECT_EQ(cov.arch, "gfx1151");
  const auto t = cov.totals();
  EXPECT_EQ(t.at("Passed"), 8);
  EXPECT_EQ(t.at("Incorrect"), 1);
  EXPECT_EQ(t.at("Failed"), 1);
  EXPECT_EQ(t.at("NotSupported"), 1);
  EXPECT_EQ(t.at("Skipped"), 2);
  EXPECT_EQ(t.at("KnownBug"), 1);
  EXPECT_EQ(t.at("NotRun"), 1);
  EXPECT_EQ(cov.cases.size(), 15u);
  ASSERT_EQ(cov.other_tests.size(), 2u);  // catalog.loader, exchange.io: no catalog case
  EXPECT_EQ(cov.other_tests[1].name, "exchange.io");
  EXPECT_EQ(cov.other_tests[1].outcome, CaseOutcome::Failed);

  const CaseCoverage& bug = find(cov, "tiny_moe_E16_k4_H256_I128_T37_");
  EXPECT_EQ(bug.outcome, CaseOutcome::KnownBug);
  EXPECT_NE(bug.reason.find("issues/7"), std::string::npos) << bug.reason;
  ASSERT_EQ(bug.stages.size(), 1u);  // the stage line; the "case" marker carries no comparison
  EXPECT_DOUBLE_EQ(*bug.margin, 3.5);
  EXPECT_EQ(find(cov, "H128_I64_T5_G32_bf16_exllama_nk_sym_uniform").outcome,
            CaseOutcome::Incorrect);
  EXPECT_EQ(find(cov, "tiled_E8_k2_H256_I96_T64_G32_bf16_exllama_nk_sym_uniform").outcome,
            CaseOutcome::NotSupported);
  EXPECT_EQ(find(cov, "tiled_E8_k2_H256_I96_T64_G32_bf16_exllama_nk_sym_hot").outcome,
            CaseOutcome::Failed);
  EXPECT_EQ(find(cov, "H128_I64_T5_G32_bf16_exllama_nk_sym_ep5").outcome, CaseOutcome::NotRun);
  const CaseCoverage& al =
      find(cov, "align_E8_k2_H128_I64_T37_G32_bf16_exllama_nk_sym_uniform_s1_bm64");
  EXPECT_EQ(al.outcome, CaseOutcome::Passed);
  EXPECT_FALSE(al.margin.has_value());
  EXPECT_EQ(al.kernel, "ref_vs_naive");  // CPU suites: the suite is the kernel
  EXPECT_EQ(al.params["block_m"], 64);
  EXPECT_EQ(find(cov, "gpu_kernel.gemm1_tiled_E8").kernel, "tiled");
}

TEST(Coverage, OutcomeFromResultLinesAlone) {
  RunInputs run;  // `moecheck verify` output: lines, no ctest entry
  run.results = {
      {{"test",
        "ref_vs_naive.gemm1_E8_k2_H128_I64_T1_G32_bf16_exllama_nk_sym_uniform_s1_bm16_seed1"},
       {"stage", "gemm1"},
       {"outcome", "Incorrect"},
       {"margin", 2.0}}};
  const Coverage cov = build_coverage(catalog(), run);
  ASSERT_EQ(cov.cases.size(), 1u);
  EXPECT_EQ(cov.cases[0].outcome, CaseOutcome::Incorrect);
  EXPECT_EQ(cov.arch, "cpu");  // no summary: the CPU
  EXPECT_EQ(cov.cases[0].arch, "cpu");
}

TEST(Coverage, RoutingStatistics) {
  const CaseCoverage& c = find(fixture(), "H128_I64_T5_G32_bf16_exllama_nk_sym_zipf1p2");
  const RoutingStats& r = c.routing;
  EXPECT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.routes, 10);
  EXPECT_EQ(r.routed, 10);
  ASSERT_EQ(r.routes_per_expert.size(), 8u);
  ASSERT_EQ(r.padded_per_expert.size(), 8u);
  int64_t routes = 0, used = 0;
  for (size_t e = 0; e < 8; ++e) {
    routes += r.routes_per_expert[e];
    used += r.routes_per_expert[e] > 0;
    // block_m 16 and at most 5 routes per expert: each used expert pads to one block.
    EXPECT_EQ(r.padded_per_expert[e], r.routes_per_expert[e] ? 16 - r.routes_per_expert[e] : 0);
  }
  EXPECT_EQ(routes, 10);
  EXPECT_EQ(r.used_experts, used);
  EXPECT_EQ(r.blocks, used);
  EXPECT_EQ(r.valid_blocks, used);

  // Expert parallelism: routes of non-local experts are not computed, their blocks not valid.
  const RoutingStats& ep = find(fixture(), "H128_I64_T5_G32_bf16_exllama_nk_sym_ep5").routing;
  EXPECT_EQ(ep.routes, 10);
  EXPECT_LT(ep.routed, ep.routes);
  EXPECT_LT(ep.valid_blocks, ep.blocks);

  // A model shape at T = 4096: routing and alignment only, quickly.
  const RoutingStats& big = find(fixture(), "T4096").routing;
  EXPECT_EQ(big.routes, 4096 * 4);
  EXPECT_EQ(big.routes_per_expert.size(), 16u);
}

TEST(Coverage, Heatmaps) {
  const Coverage& cov = fixture();
  ASSERT_EQ(cov.heatmaps.size(),
            3u);  // (ref_vs_naive, align), (ref_vs_naive, gemm1), (tiled, gemm1)
  const Heatmap& h = map_of(cov, "ref_vs_naive", "gemm1");
  EXPECT_EQ(h.arch, "gfx1151");
  EXPECT_EQ(h.rows, (std::vector<std::string>{"tiny_moe", "E8 H128 I64"}));
  EXPECT_EQ(h.columns, (std::vector<std::string>{"T1 ep5", "T1 uniform", "T1 zipf1p2", "T5 ep5",
                                                 "T5 uniform", "T5 zipf1p2", "T37 uniform"}));
  EXPECT_EQ(cell_of(h, "E8 H128 I64", "T1 ep5").state, CellState::pass);
  EXPECT_DOUBLE_EQ(*cell_of(h, "E8 H128 I64", "T1 ep5").margin, 0.93);
  EXPECT_EQ(cell_of(h, "E8 H128 I64", "T5 uniform").state, CellState::failed);
  EXPECT_EQ(cell_of(h, "E8 H128 I64", "T5 ep5").state, CellState::not_run);
  EXPECT_EQ(cell_of(h, "tiny_moe", "T37 uniform").state, CellState::known_bug);
  EXPECT_EQ(h.cells.size(), 8u);  // tiny_moe has no T5 cases: those cells are absent
  const Heatmap& g = map_of(cov, "tiled", "gemm1");
  EXPECT_EQ(cell_of(g, "E8 H256 I96", "T7 hot0p6").state, CellState::skipped);
  EXPECT_EQ(cell_of(g, "E8 H256 I96", "T64 uniform").state, CellState::not_supported);
  EXPECT_EQ(cell_of(g, "E8 H256 I96", "T64 hot0p6").state, CellState::failed);
  EXPECT_EQ(cell_of(map_of(cov, "ref_vs_naive", "align"), "E8 H128 I64", "T37 uniform").state,
            CellState::pass_nomargin);
  EXPECT_EQ(cov.cell_count(), 8 + 5 + 1);
}

TEST(CoverageJson, RoundTrip) {
  const auto first = to_json(fixture());
  const std::string path = write_temp("roundtrip.json", first.dump(1));
  const Coverage back = load_coverage(path);
  EXPECT_EQ(to_json(back), first);
  EXPECT_EQ(back.cases.size(), fixture().cases.size());
  EXPECT_EQ(back.cell_count(), fixture().cell_count());
}

TEST(CoverageJson, MalformedIsRefusedNamingTheFile) {
  const std::string bad = write_temp("bad.json", "{\"format\": \"moecheck-coverage\", \"ver");
  try {
    load_coverage(bad);
    FAIL() << "accepted";
  } catch (const ReportError& e) {
    EXPECT_NE(std::string(e.what()).find(bad + ": not valid JSON"), std::string::npos) << e.what();
  }
  const std::string wrong = write_temp(
      "wrong.json",
      R"({"format":"moecheck-coverage","version":1,"cases":[{"test":"x","outcome":"Great"}]})");
  try {
    load_coverage(wrong);
    FAIL() << "accepted";
  } catch (const ReportError& e) {
    EXPECT_NE(std::string(e.what()).find(wrong + ": cases[0] (x): unknown outcome 'Great'"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(load_coverage(write_temp("notcov.json", "[1, 2]")), ReportError);
  EXPECT_THROW(load_tests(write_temp("tests.json", R"([{"name":"a","status":"maybe"}])")),
               ReportError);
}

TEST(CoverageJson, ResultLinesAsJsonl) {
  // The form results.jsonl and a test's stdout have, with fmt's non-finite numbers.
  const std::string p =
      write_temp("results.jsonl",
                 "moecheck-result {\"test\":\"a.b\",\"stage\":\"gemm1\",\"outcome\":\"Failed\","
                 "\"margin\":inf,\"rel_l1\":nan,\"compared\":0}\n\n"
                 "{\"test\":\"a.c\",\"stage\":\"gemm1\",\"outcome\":\"Passed\",\"margin\":0.5}\n");
  const auto lines = load_results(p);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_GT(lines[0]["margin"].get<double>(), 1e300);
  EXPECT_TRUE(lines[0]["rel_l1"].is_null());
}

TEST(CoverageMarkdown, ShortEnoughForAComment) {
  const std::string md = coverage_markdown(fixture());
  EXPECT_LE(std::count(md.begin(), md.end(), '\n'), 60) << md;
  EXPECT_NE(md.find("8 Passed, 1 Incorrect, 1 Failed, 1 NotSupported, 2 Skipped, 1 KnownBug, "
                    "1 NotRun"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| ref_vs_naive | gemm1 | gfx1151 | 8 | 5 | 1 | 1 | 0 | 0 | 1 | 3.5 |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("`exchange.io`: Failed"), std::string::npos) << md;
  EXPECT_NE(md.find("coverage.html"), std::string::npos);

  // A large run keeps the same length: many groups and failures are capped.
  Coverage big = fixture();
  for (int i = 0; i < 200; ++i) {
    CaseCoverage c = big.cases[0];
    c.test += std::to_string(i);
    c.kernel = "k" + std::to_string(i % 50);
    c.outcome = i % 3 ? CaseOutcome::Incorrect : CaseOutcome::KnownBug;
    big.cases.push_back(c);
  }
  big.heatmaps = make_heatmaps(big.cases);
  const std::string long_md = coverage_markdown(big);
  EXPECT_LE(std::count(long_md.begin(), long_md.end(), '\n'), 60) << long_md;
  EXPECT_NE(long_md.find("more kernel/stage/arch groups"), std::string::npos);
}

TEST(CoverageHtml, SelfContainedWithATablePerHeatmap) {
  const std::string html = coverage_html(fixture());
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);  // the known bug's issue URL is escaped
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find(" src="), std::string::npos);
  EXPECT_EQ(html.find("@import"), std::string::npos);
  EXPECT_NE(html.find("issues\\/7"), std::string::npos);  // still in the data, "/" escaped
  for (const Heatmap& h : fixture().heatmaps) {
    const std::string head = "data-kernel=\"" + h.kernel + "\" data-stage=\"" + h.stage +
                             "\" data-arch=\"" + h.arch + "\">";
    const size_t at = html.find(head);
    ASSERT_NE(at, std::string::npos) << head;
    EXPECT_NE(html.find("<table class=\"heat\">", at), std::string::npos);
  }
  size_t cells = 0;
  // A cell's attribute (the script's selector has no '" ' before it).
  for (size_t at = html.find("\" data-cell=\""); at != std::string::npos;
       at = html.find("\" data-cell=\"", at + 1)) {
    ++cells;
  }
  EXPECT_EQ(cells, static_cast<size_t>(fixture().cell_count()));
  for (const char* state :
       {"td.skipped", "td.not_supported", "td.known_bug", "td.not_run", "class=\"c skipped\"",
        "class=\"c not_run\"", "class=\"c failed\"", "class=\"c known_bug\"",
        "class=\"c not_supported\"", "class=\"c pass b9\"", "class=\"c pass_nomargin\""}) {
    EXPECT_NE(html.find(state), std::string::npos) << state;
  }
  EXPECT_NE(html.find("document.body.dataset.ready"), std::string::npos);
}

TEST(CoverageDiff, PlantedRegressions) {
  const Coverage& before = fixture();
  Coverage now = fixture();
  auto& cases = now.cases;
  const auto at = [&](const std::string& part) -> CaseCoverage& {
    return const_cast<CaseCoverage&>(find(now, part));
  };
  at("H128_I64_T1_G32_bf16_exllama_nk_sym_zipf1p2").outcome = CaseOutcome::Incorrect;
  CaseCoverage& grew = at("H128_I64_T1_G32_bf16_exllama_nk_sym_uniform");  // 0.12 -> 0.5
  grew.stages[0].margin = 0.5;
  const std::string grown = grew.test;
  CaseCoverage& noise = at("tiny_moe_E16_k4_H256_I128_T1_");  // 0.3 -> 0.34: below 0.05
  noise.stages[0].margin = 0.34;
  at("H128_I64_T5_G32_bf16_exllama_nk_sym_zipf1p2").outcome = CaseOutcome::Skipped;
  const std::string gone =
      find(now, "gpu_kernel.gemm1_tiled_E8_k2_H256_I96_T7_G32_bf16_exllama_nk_sym_uniform").test;
  cases.erase(std::find_if(cases.begin(), cases.end(),
                           [&](const CaseCoverage& c) { return c.test == gone; }));
  const CoverageDiff d = diff_coverage(before, now, DiffOptions{});
  ASSERT_EQ(d.new_failures.size(), 1u);
  EXPECT_NE(d.new_failures[0].test.find("T1_G32_bf16_exllama_nk_sym_zipf1p2"), std::string::npos);
  ASSERT_EQ(d.margins_grew.size(), 1u);
  EXPECT_EQ(d.margins_grew[0].test, grown);
  EXPECT_DOUBLE_EQ(d.margins_grew[0].before, 0.12);
  ASSERT_EQ(d.coverage_lost.size(), 2u);
  EXPECT_EQ(d.coverage_lost[0].test, gone);
  EXPECT_EQ(d.coverage_lost[0].now, "missing");
  EXPECT_EQ(d.coverage_lost[1].now, "Skipped");
  const std::string text = diff_text(d, "old.json", "new.json", DiffOptions{});
  EXPECT_NE(text.find("4 regression(s)"), std::string::npos) << text;

  EXPECT_FALSE(diff_coverage(before, before, DiffOptions{}).any());
  // Already failing before: not new. KnownBug before and missing now: coverage lost.
  EXPECT_TRUE(diff_coverage(now, now, DiffOptions{}).new_failures.empty());
}

}  // namespace
}  // namespace moecheck::report
