// coverage.md: the summary a CI job posts as a pull-request comment. At most about 60 lines
// whatever the run's size: totals per outcome, one table row per heatmap (kernel, stage, arch:
// counts and worst margin; at most kMaxMaps rows), the failures and the known bugs (capped), and
// a pointer to coverage.html for the rest.
#include <fmt/format.h>

#include "coverage.hpp"

namespace moecheck::report {

namespace {

constexpr size_t kMaxMaps = 20;
constexpr size_t kMaxFailures = 10;
constexpr size_t kMaxKnownBugs = 5;

std::string margin_text(const std::optional<double>& m) {
  return m ? fmt::format("{:.3g}", *m) : "-";
}

// Names are [A-Za-z0-9_.] in practice; backticks keep a stray '*' or '_' literal.
std::string code(const std::string& s) {
  return "`" + s + "`";
}

}  // namespace

std::string coverage_markdown(const Coverage& cov, const std::string& html_name) {
  std::string md;
  md += fmt::format("## moecheck shape coverage: {} ({}){}\n\n", cov.device, cov.arch,
                    cov.implementation.empty() ? "" : ", " + cov.implementation);
  const auto totals = cov.totals();
  std::string line;
  for (const CaseOutcome o : all_outcomes()) {
    const int64_t n = totals.at(to_string(o));
    if (n > 0) line += fmt::format("{}{} {}", line.empty() ? "" : ", ", n, to_string(o));
  }
  int64_t other_failed = 0;
  for (const OtherTest& t : cov.other_tests) other_failed += is_failure(t.outcome);
  md += fmt::format("**{} cases**{}{}; {} other tests ({} failed){}\n\n", cov.cases.size(),
                    line.empty() ? "" : ": ", line, cov.other_tests.size(), other_failed,
                    cov.labels.empty() ? "" : fmt::format(", labels `{}`", cov.labels));

  md +=
      "| kernel | stage | arch | cases | passed | failed | known bug | not supported | skipped "
      "| not run | worst margin |\n";
  md += "| --- | --- | --- | --: | --: | --: | --: | --: | --: | --: | --: |\n";
  for (size_t i = 0; i < cov.heatmaps.size() && i < kMaxMaps; ++i) {
    const Heatmap& h = cov.heatmaps[i];
    std::map<CaseOutcome, int64_t> n;
    int64_t count = 0;
    std::optional<double> worst;
    for (const HeatCell& c : h.cells) {
      for (const int k : c.cases) {
        const CaseCoverage& cc = cov.cases[k];
        ++n[cc.outcome];
        ++count;
        if (cc.margin && (!worst || *cc.margin > *worst)) worst = cc.margin;
      }
    }
    md += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", h.kernel,
                      h.stage, h.arch, count, n[CaseOutcome::Passed],
                      n[CaseOutcome::Incorrect] + n[CaseOutcome::Failed], n[CaseOutcome::KnownBug],
                      n[CaseOutcome::NotSupported], n[CaseOutcome::Skipped], n[CaseOutcome::NotRun],
                      margin_text(worst));
  }
  if (cov.heatmaps.size() > kMaxMaps) {
    md += fmt::format("\n... and {} more kernel/stage/arch groups in {}\n",
                      cov.heatmaps.size() - kMaxMaps, html_name);
  }

  std::vector<std::string> failures, bugs;
  for (const CaseCoverage& c : cov.cases) {
    if (is_failure(c.outcome)) {
      failures.push_back(fmt::format("- {}: {}, worst margin {}", code(c.test),
                                     to_string(c.outcome), margin_text(c.margin)));
    } else if (c.outcome == CaseOutcome::KnownBug) {
      bugs.push_back(fmt::format("- {}: {}", code(c.test), c.reason.substr(0, 160)));
    }
  }
  for (const OtherTest& t : cov.other_tests) {
    if (is_failure(t.outcome)) {
      failures.push_back(fmt::format("- {}: {}", code(t.name), to_string(t.outcome)));
    }
  }
  const auto list = [&](const char* title, const std::vector<std::string>& items, size_t cap) {
    if (items.empty()) return;
    md += fmt::format("\n### {} ({})\n\n", title, items.size());
    for (size_t i = 0; i < items.size() && i < cap; ++i) md += items[i] + "\n";
    if (items.size() > cap) md += fmt::format("- ... {} more\n", items.size() - cap);
  };
  list("Failures", failures, kMaxFailures);
  list("Known bugs", bugs, kMaxKnownBugs);
  md += fmt::format(
      "\nMargin: worst |error| / bound (1 = at the bound). Heatmaps per kernel, stage and arch, "
      "with every case's parameters, routing histograms and margins: {} "
      "(one self-contained file; open it in a browser).\n",
      html_name);
  return md;
}

}  // namespace moecheck::report
