// moecheck diff (coverage_diff.hpp).
#include "coverage_diff.hpp"

#include <fmt/format.h>

#include <map>

namespace moecheck::report {

namespace {

std::string margin_text(const std::optional<double>& m) {
  return m ? fmt::format("{:.4g}", *m) : "-";
}

// Worst margin per stage of a case (a stage may have several lines).
std::map<std::string, double> stage_margins(const CaseCoverage& c) {
  std::map<std::string, double> m;
  for (const StageResult& s : c.stages) {
    if (!s.margin) continue;
    const auto it = m.find(s.stage);
    if (it == m.end() || *s.margin > it->second) m[s.stage] = *s.margin;
  }
  return m;
}

// The three lists as (title, lines) for either output.
std::vector<std::pair<std::string, std::vector<std::string>>> sections(const CoverageDiff& d,
                                                                       const DiffOptions& opt,
                                                                       bool markdown) {
  const auto name = [&](const std::string& t) { return markdown ? "`" + t + "`" : t; };
  std::vector<std::string> failures, grew, lost;
  for (const NewFailure& f : d.new_failures) {
    failures.push_back(fmt::format("{}: {} -> {}{}", name(f.test), f.before, f.now,
                                   f.margin ? ", worst margin " + margin_text(f.margin) : ""));
  }
  for (const MarginGrowth& g : d.margins_grew) {
    grew.push_back(
        fmt::format("{} {}: margin {:.4g} -> {:.4g}", name(g.test), g.stage, g.before, g.now));
  }
  for (const LostCoverage& l : d.coverage_lost) {
    lost.push_back(fmt::format("{}: {} -> {}", name(l.test), l.before, l.now));
  }
  return {{"new failures", failures},
          {fmt::format("margins that grew (by more than {:g} and more than {:g} %)",
                       opt.margin_growth_abs, opt.margin_growth_rel * 100),
           grew},
          {"coverage lost (ran before; now missing, skipped, not supported or not run)", lost}};
}

size_t count(const CoverageDiff& d) {
  return d.new_failures.size() + d.margins_grew.size() + d.coverage_lost.size();
}

}  // namespace

CoverageDiff diff_coverage(const Coverage& before, const Coverage& now, const DiffOptions& opt) {
  CoverageDiff d;
  std::map<std::string, const CaseCoverage*> old_cases, new_cases;
  for (const CaseCoverage& c : before.cases) old_cases[c.test] = &c;
  for (const CaseCoverage& c : now.cases) new_cases[c.test] = &c;

  for (const auto& [test, c] : new_cases) {
    const auto was = old_cases.find(test);
    const CaseCoverage* o = was == old_cases.end() ? nullptr : was->second;
    if (is_failure(c->outcome)) {
      if (o == nullptr || !is_failure(o->outcome)) {
        d.new_failures.push_back(
            {test, o ? to_string(o->outcome) : "absent", to_string(c->outcome), c->margin});
      }
      continue;
    }
    if (o == nullptr) continue;
    const auto old_m = stage_margins(*o);
    for (const auto& [stage, m] : stage_margins(*c)) {
      const auto it = old_m.find(stage);
      if (it == old_m.end()) continue;
      const double b = it->second;
      if (m - b > opt.margin_growth_abs && m > b * (1 + opt.margin_growth_rel)) {
        d.margins_grew.push_back({test, stage, b, m});
      }
    }
  }
  std::map<std::string, CaseOutcome> old_other;
  for (const OtherTest& t : before.other_tests) old_other[t.name] = t.outcome;
  for (const OtherTest& t : now.other_tests) {
    if (!is_failure(t.outcome)) continue;
    const auto was = old_other.find(t.name);
    if (was == old_other.end() || !is_failure(was->second)) {
      d.new_failures.push_back({t.name, was == old_other.end() ? "absent" : to_string(was->second),
                                to_string(t.outcome), std::nullopt});
    }
  }
  for (const auto& [test, o] : old_cases) {
    if (!ran(o->outcome)) continue;
    const auto is = new_cases.find(test);
    if (is == new_cases.end()) {
      d.coverage_lost.push_back({test, to_string(o->outcome), "missing"});
    } else if (!ran(is->second->outcome)) {
      d.coverage_lost.push_back({test, to_string(o->outcome), to_string(is->second->outcome)});
    }
  }
  return d;
}

std::string diff_text(const CoverageDiff& d, const std::string& old_name,
                      const std::string& new_name, const DiffOptions& opt) {
  std::string s = fmt::format("moecheck diff: {} -> {}\n", old_name, new_name);
  for (const auto& [title, lines] : sections(d, opt, false)) {
    if (lines.empty()) continue;
    s += fmt::format("{} ({}):\n", title, lines.size());
    for (const std::string& l : lines) s += "  " + l + "\n";
  }
  s += d.any() ? fmt::format("moecheck diff: {} regression(s)\n", count(d))
               : "moecheck diff: no regression (no new failure, no margin grew, no coverage "
                 "lost)\n";
  return s;
}

std::string diff_markdown(const CoverageDiff& d, const std::string& old_name,
                          const std::string& new_name, const DiffOptions& opt) {
  std::string s = fmt::format("## moecheck diff\n\n`{}` -> `{}`: ", old_name, new_name);
  s += d.any() ? fmt::format("**{} regression(s)**\n", count(d)) : "no regression\n";
  for (const auto& [title, lines] : sections(d, opt, true)) {
    if (lines.empty()) continue;
    s += fmt::format("\n### {} ({})\n\n", title, lines.size());
    for (const std::string& l : lines) s += "- " + l + "\n";
  }
  return s;
}

}  // namespace moecheck::report
