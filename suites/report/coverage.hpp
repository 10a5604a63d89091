// The shape-coverage model (DESIGN.md section 1: "read its shape-coverage report in a pull
// request"): what a gate run covered, case by case, built from the catalog, the run's result lines
// (results.json) and ctest's verdict per entry (tests.json), and grouped into heatmaps.
//
//   coverage.cpp           the model and its heatmaps (this header)
//   coverage_json.cpp      coverage.json, both ways (to_json, coverage_from_json)
//   coverage_markdown.cpp  coverage.md, short enough for a pull-request comment
//   coverage_html.cpp      coverage.html, one self-contained page
//   coverage_diff.hpp      two coverage.json files compared (moecheck diff)
//
// A case's outcome (the taxonomy of DESIGN.md section 7 plus NotRun):
//   - its ctest status (tests.json): run -> Passed, fail -> Failed, notrun -> Skipped,
//     disabled -> NotRun;
//   - refined by its result lines: a KnownBug line on a test that did not pass -> KnownBug; a
//     failed test with an Incorrect line (and none Failed) -> Incorrect; a passed test with a
//     NotSupported line -> NotSupported (the case expected the refusal);
//   - a case with result lines but no ctest entry (e.g. `moecheck verify` runs) takes the worst
//     outcome of its lines (Failed > Incorrect > KnownBug > NotSupported > Passed).
// Only cases the run selected (a ctest entry or a result line) are in the model: a catalog case
// outside the labels is not "not run", it was not asked for. Entries that are no catalog case
// (catalog.loader, exchange.io, ...) are kept as `other_tests` with their outcome.
//
// Heatmaps: one per (kernel, stage, arch). kernel is the case's GPU kernel (tiled, fused, align,
// ...) or, for CPU suites, the suite name (ref_vs_naive, ...); arch is summary.json's arch, "cpu"
// when there is none. Rows are model shapes (the model's name, or "E8 H128 I64" for a synthetic
// shape), columns token count x routing ("T5 zipf1p2"; the routing's seed is left out). A cell
// holds every case of that row and column; its state is, first that applies: failed (an
// Incorrect or Failed case), known_bug, pass (the worst margin of the cases that reported one),
// pass_nomargin (passed without a margin: the suite reports none), not_supported, skipped,
// not_run.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "catalog.hpp"

namespace moecheck::report {

// Bad input: the message names the file and what is wrong with it.
struct ReportError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class CaseOutcome { Passed, Incorrect, Failed, NotSupported, Skipped, KnownBug, NotRun };
const char* to_string(CaseOutcome o);
std::optional<CaseOutcome> parse_case_outcome(const std::string& s);
const std::vector<CaseOutcome>& all_outcomes();
bool is_failure(CaseOutcome o);  // Incorrect or Failed
bool ran(CaseOutcome o);         // Passed, Incorrect, Failed or KnownBug: the case executed

// One judged stage of a case (a result line).
struct StageResult {
  std::string stage;
  std::string outcome;
  std::optional<double> margin;
  std::optional<double> rel_l1;
  int64_t compared = 0;
};

// Routing and alignment of the case as the testbeds make them (suites/testbed/inputs.cpp
// make_routing, reference align_block_size): never weights, so cheap for any shape.
struct RoutingStats {
  std::vector<int64_t> routes_per_expert;  // [E]
  std::vector<int64_t> padded_per_expert;  // [E] padding slots of the expert's block_m range
  int64_t routes = 0;                      // T * top_k
  int64_t routed = 0;        // routes that reach a local expert (the ones a kernel computes)
  int64_t used_experts = 0;  // experts with at least one route
  int64_t blocks = 0;        // num_tokens_post_padded / block_m
  int64_t valid_blocks = 0;  // of those, blocks of a local expert (expert_ids >= 0)
  std::string error;         // the generator's or the alignment's refusal (negative cases)
};

struct CaseCoverage {
  std::string test;  // <suite>.<name>
  CaseOutcome outcome = CaseOutcome::NotRun;
  std::string reason;  // KnownBug: issue and reason; NotSupported: the predicate's reason
  std::string kernel, stage, arch, row, column;
  nlohmann::ordered_json params;  // every parameter of the catalog case, by field name
  std::vector<StageResult> stages;
  std::optional<double> margin;  // worst over the stages
  std::optional<double> rel_l1;  // worst over the stages
  RoutingStats routing;
};

struct OtherTest {
  std::string name;
  CaseOutcome outcome = CaseOutcome::NotRun;
};

enum class CellState { failed, known_bug, pass, pass_nomargin, not_supported, skipped, not_run };
const char* to_string(CellState s);

struct HeatCell {
  int row = 0, column = 0;
  CellState state = CellState::not_run;
  std::optional<double> margin;  // worst margin among the cases that reported one
  std::vector<int> cases;        // indices into Coverage::cases
};

struct Heatmap {
  std::string kernel, stage, arch;
  std::vector<std::string> rows, columns;
  std::vector<HeatCell> cells;  // only (row, column) pairs that hold a case
};

struct Coverage {
  std::string device = "none", arch = "cpu", implementation, labels;
  std::vector<CaseCoverage> cases;  // sorted by test name
  std::vector<OtherTest> other_tests;
  std::vector<Heatmap> heatmaps;                  // sorted by kernel, stage, arch
  std::map<std::string, int64_t> totals() const;  // cases per outcome, every outcome present
  int64_t cell_count() const;
};

// Inputs as the gate writes them. Each loader throws ReportError naming the file.
struct TestStatus {
  std::string name;
  CaseOutcome outcome = CaseOutcome::NotRun;
};
// results.json (a JSON array) or results.jsonl (one object per line; a "moecheck-result "
// prefix is accepted, so a test's captured stdout works too).
std::vector<nlohmann::json> load_results(const std::filesystem::path& file);
// tests.json: [{"name": ..., "status": ...}], status a ctest word (run, fail, notrun, disabled)
// or an outcome name.
std::vector<TestStatus> load_tests(const std::filesystem::path& file);
// A JSON file, parsed: ReportError "<file>: cannot read" or "<file>: not valid JSON: ...".
// Json is nlohmann::json or nlohmann::ordered_json (coverage.json keeps its key order).
template <class Json = nlohmann::json>
Json load_json_file(const std::filesystem::path& file);

struct RunInputs {
  std::vector<nlohmann::json> results;
  std::vector<TestStatus> tests;
  nlohmann::json summary = nlohmann::json::object();  // device, arch, implementation, labels
};

Coverage build_coverage(const Catalog& catalog, const RunInputs& run);

// The routing statistics of a case (exposed for the tests).
RoutingStats routing_stats(const Case& c);
// "qwen3_30b_a3b" or "E8 H128 I64"; "T5 zipf1p2".
std::string shape_row(const Case& c);
std::string shape_column(const Case& c);

// Groups the cases into heatmaps (build_coverage calls it; coverage_from_json too).
std::vector<Heatmap> make_heatmaps(const std::vector<CaseCoverage>& cases);

// coverage_json.cpp
nlohmann::ordered_json to_json(const Coverage& cov);
Coverage coverage_from_json(const nlohmann::ordered_json& j, const std::string& file);
Coverage load_coverage(const std::filesystem::path& file);

// coverage_markdown.cpp; `html_name` is the page it points to.
std::string coverage_markdown(const Coverage& cov, const std::string& html_name = "coverage.html");

// coverage_html.cpp
std::string coverage_html(const Coverage& cov);

// Writes coverage.json, coverage.md and coverage.html into dir (created).
void write_coverage(const Coverage& cov, const std::filesystem::path& dir);

}  // namespace moecheck::report
