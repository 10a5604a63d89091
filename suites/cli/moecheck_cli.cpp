// moecheck: checks an implementation that lives elsewhere (a PyTorch custom op, a Triton kernel)
// through files (suites/exchange/dump.hpp says what a dump holds).
//
//   moecheck list [--catalog DIR] [--filter TEXT]
//       the catalog cases that have a dump (gemm1, gemm2, act, sum, e2e), as <suite>.<name>
//   moecheck dump --case <suite.name | name> [--catalog DIR] --out DIR
//       writes the case's inputs as .npy files and case.json into DIR
//   moecheck verify --dir DIR --stage STAGE --output out.npy
//       recomputes the stage's reference from DIR's files alone (a dump can travel without the
//       catalog), judges out.npy with the suites' tolerance model and comparator and prints the
//       suites' result line (also appended to $MOECHECK_RESULTS when set)
//   moecheck coverage --results results.json --tests tests.json [--summary summary.json]
//                     [--catalog DIR] --out DIR
//       the shape-coverage report of a run (suites/report/coverage.hpp): coverage.json,
//       coverage.md, coverage.html in DIR; ci/gate calls it after every run
//   moecheck diff OLD/coverage.json NEW/coverage.json [--margin-growth X] [--out FILE]
//       new failures, margins that grew, coverage lost (suites/report/coverage_diff.hpp)
//
// Exit status: 0 Passed (dump, list, coverage: done; diff: no regression); 1 Incorrect or Failed
// (diff: a regression); 2 bad input (a malformed or inconsistent file, an unknown case, bad
// arguments).
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <new>

#include "bundle_paths.hpp"
#include "catalog.hpp"
#include "coverage.hpp"
#include "coverage_diff.hpp"
#include "dump.hpp"
#include "moecheck/reference/error.hpp"
#include "results.hpp"

#ifndef MOECHECK_DEFAULT_CATALOG
#define MOECHECK_DEFAULT_CATALOG "cases"
#endif

namespace moecheck {
namespace {

constexpr int kExitPassed = 0, kExitFailed = 1, kExitBadInput = 2;

std::string default_catalog() {
  if (const char* e = std::getenv("MOECHECK_CATALOG")) return e;
  return bundle_path_or("cases", MOECHECK_DEFAULT_CATALOG);  // a bundle's own cases/ (ci/bundle/)
}

// `spec` is "<suite>.<name>" or a bare name; a bare name in several suites is ambiguous.
const Case& find_case(const Catalog& cat, const std::string& spec, const std::string& dir) {
  const auto dot = spec.find('.');
  const std::string suite = dot == std::string::npos ? "" : spec.substr(0, dot);
  const std::string name = dot == std::string::npos ? spec : spec.substr(dot + 1);
  std::vector<const Case*> found;
  for (const Case& c : cat.cases) {
    if ((suite.empty() || c.suite == suite) && c.name() == name) found.push_back(&c);
  }
  if (found.empty()) {
    throw InputError("no case " + spec + " in the catalog " + dir +
                     " (moecheck list shows the cases that have a dump)");
  }
  if (found.size() > 1) {
    std::string suites;
    for (const Case* c : found) suites += " " + c->suite + "." + name;
    throw InputError("case " + name + " is in several suites; name one of:" + suites);
  }
  return *found.front();
}

int run_dump(const std::string& spec, const std::string& catalog, const std::string& out) {
  const Catalog cat = load_catalog(catalog);
  const Case& c = find_case(cat, spec, catalog);
  const std::string test = c.suite + "." + c.name();
  const DumpManifest m = dump_case(c, test, out);
  std::cout << "moecheck: wrote " << m.arrays.size() << " arrays and case.json of " << test
            << " to " << out << "\n";
  std::cout << "  verify an output with: moecheck verify --dir " << out << " --stage "
            << verifiable_stages(c.stage).front() << " --output out.npy\n";
  return kExitPassed;
}

int run_list(const std::string& catalog, const std::string& filter) {
  const Catalog cat = load_catalog(catalog);
  for (const Case& c : cat.cases) {
    const std::string test = c.suite + "." + c.name();
    if (stage_has_dump(c.stage) && test.find(filter) != std::string::npos)
      std::cout << test << "\n";
  }
  return kExitPassed;
}

int run_verify(const std::string& dir, const std::string& stage, const std::string& output) {
  const StageReference s = reference_from_dump(dir, stage);
  const std::vector<uint16_t> got = read_output(output, s);
  const Comparison cmp = compare(got, s.ref.cols, s.ref, s.tol, s.poison, s.only_rows);
  // Also appended to $MOECHECK_RESULTS when set, as the testbeds' lines (a run of verifies is
  // a results file for `moecheck coverage`).
  std::cout.flush();
  report_result_line(result_json(s.test, s.stage, cmp) + "\n");
  std::cout << s.test << " " << s.stage << ": " << result_text(cmp) << "\n";
  return cmp.outcome == Outcome::Passed ? kExitPassed : kExitFailed;
}

int run_coverage(const std::string& results, const std::string& tests, const std::string& summary,
                 const std::string& catalog, const std::string& out) {
  report::RunInputs run;
  run.results = report::load_results(results);
  run.tests = report::load_tests(tests);
  if (!summary.empty()) run.summary = report::load_json_file(summary);
  const Catalog cat = load_catalog(catalog);
  const report::Coverage cov = report::build_coverage(cat, run);
  report::write_coverage(cov, out);
  const auto totals = cov.totals();
  std::cout << "moecheck: coverage of " << cov.cases.size() << " cases (";
  bool first = true;
  for (const report::CaseOutcome o : report::all_outcomes()) {
    const int64_t n = totals.at(report::to_string(o));
    if (n == 0) continue;
    std::cout << (first ? "" : ", ") << n << " " << report::to_string(o);
    first = false;
  }
  std::cout << "), " << cov.heatmaps.size() << " heatmaps, " << cov.cell_count()
            << " cells: " << out << "/coverage.{json,md,html}\n";
  return kExitPassed;
}

int run_diff(const std::string& old_file, const std::string& new_file,
             const report::DiffOptions& opt, const std::string& out) {
  const report::Coverage before = report::load_coverage(old_file);
  const report::Coverage now = report::load_coverage(new_file);
  const report::CoverageDiff d = report::diff_coverage(before, now, opt);
  std::cout << report::diff_text(d, old_file, new_file, opt);
  if (!out.empty()) {
    std::ofstream f(out, std::ios::binary);
    f << report::diff_markdown(d, old_file, new_file, opt);
    f.close();
    if (!f) throw InputError(out + ": cannot write");
  }
  return d.any() ? kExitFailed : kExitPassed;
}

}  // namespace
}  // namespace moecheck

int main(int argc, char** argv) {
  using namespace moecheck;
  CLI::App app{"moecheck: check a W4A16 MoE implementation that lives elsewhere through files"};
  app.require_subcommand(1);

  std::string spec, catalog = default_catalog(), out, filter;
  CLI::App* list = app.add_subcommand("list", "the catalog cases that have a dump");
  list->add_option("--catalog", catalog, "the case catalog folder");
  list->add_option("--filter", filter, "only names containing this text");

  CLI::App* dump =
      app.add_subcommand("dump", "write a catalog case's inputs as .npy plus case.json");
  dump->add_option("--case", spec, "the case: <suite>.<name> or <name> (as ctest lists it)")
      ->required();
  dump->add_option(
      "--catalog", catalog,
      "the case catalog folder (default: $MOECHECK_CATALOG or the source tree's cases/)");
  dump->add_option("--out", out, "the folder to write (created)")->required();

  std::string dir, stage, output;
  CLI::App* verify =
      app.add_subcommand("verify", "judge an implementation's output against a dump's reference");
  verify->add_option("--dir", dir, "a folder written by moecheck dump")->required();
  verify
      ->add_option("--stage", stage,
                   "gemm1, gemm2, act, sum; of an e2e dump: gemm1, act, gemm2, out")
      ->required();
  verify->add_option("--output", output, "the implementation's output (.npy) for that stage")
      ->required();

  std::string results, tests, summary, cov_out;
  CLI::App* coverage = app.add_subcommand(
      "coverage", "write a run's shape-coverage report: coverage.json, coverage.md, coverage.html");
  coverage->add_option("--results", results, "the run's result lines (results.json or .jsonl)")
      ->required();
  coverage->add_option("--tests", tests, "ctest's verdict per entry: [{\"name\", \"status\"}]")
      ->required();
  coverage->add_option("--summary", summary, "ci/gate's summary.json (device, arch, ...)");
  coverage->add_option("--catalog", catalog,
                       "the case catalog folder (default: $MOECHECK_CATALOG or the source "
                       "tree's cases/)");
  coverage->add_option("--out", cov_out, "the folder to write (created)")->required();

  std::string old_cov, new_cov, diff_out;
  report::DiffOptions diff_opt;
  CLI::App* diff = app.add_subcommand(
      "diff", "compare two coverage.json: new failures, margins that grew, coverage lost");
  diff->add_option("old", old_cov, "the older run's coverage.json")->required();
  diff->add_option("new", new_cov, "the newer run's coverage.json")->required();
  diff->add_option("--margin-growth", diff_opt.margin_growth_abs,
                   "a margin grew when it rose by more than this (absolute, default 0.05) and "
                   "by more than --margin-growth-rel");
  diff->add_option("--margin-growth-rel", diff_opt.margin_growth_rel,
                   "... and by more than this fraction of the old margin (default 0.25)");
  diff->add_option("--out", diff_out, "also write the report as markdown to this file");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);  // prints the help, or the error and a hint
    return rc == 0 ? 0 : kExitBadInput;
  }
  try {
    if (*list) return run_list(catalog, filter);
    if (*dump) return run_dump(spec, catalog, out);
    if (*coverage) return run_coverage(results, tests, summary, catalog, cov_out);
    if (*diff) return run_diff(old_cov, new_cov, diff_opt, diff_out);
    return run_verify(dir, stage, output);
  } catch (const report::ReportError& e) {
    std::cerr << "moecheck: " << e.what() << "\n";
  } catch (const InputError& e) {
    std::cerr << "moecheck: " << e.what() << "\n";
  } catch (const CatalogError& e) {
    std::cerr << "moecheck: catalog error: " << e.what() << "\n";
  } catch (const std::bad_alloc&) {
    std::cerr << "moecheck: out of memory: the dump's sizes are beyond this machine\n";
  } catch (const std::exception& e) {
    std::cerr << "moecheck: " << e.what() << "\n";
  }
  return kExitBadInput;
}
