// The coverage model: inputs, outcome per case, routing statistics, heatmaps (coverage.hpp).
#include "coverage.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <tuple>

#include "case_json.hpp"
#include "inputs.hpp"
#include "moecheck/reference/align.hpp"

namespace moecheck::report {

namespace {

using nlohmann::json;

// Worst first: the order a case's several result lines are merged in.
int severity(CaseOutcome o) {
  switch (o) {
    case CaseOutcome::Failed:
      return 6;
    case CaseOutcome::Incorrect:
      return 5;
    case CaseOutcome::KnownBug:
      return 4;
    case CaseOutcome::NotSupported:
      return 3;
    case CaseOutcome::Passed:
      return 2;
    case CaseOutcome::Skipped:
      return 1;
    case CaseOutcome::NotRun:
      return 0;
  }
  return 0;
}

std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ReportError(file.string() + ": cannot read");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

template <class Json = json>
Json parse_text(const std::string& text, const std::string& where) {
  try {
    return Json::parse(text);
  } catch (const typename Json::exception& e) {
    throw ReportError(where + ": not valid JSON: " + e.what());
  }
}

std::optional<double> number(const json& o, const char* key) {
  const auto it = o.find(key);
  if (it == o.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

std::string text(const json& o, const char* key) {
  const auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

void keep_worst(std::optional<double>& worst, std::optional<double> v) {
  if (v && (!worst || *v > *worst)) worst = v;
}

// Every parameter (case.json's "case" object), the routing as its catalog name.
nlohmann::ordered_json case_params(const Case& c) {
  nlohmann::ordered_json p = case_to_json(c);
  p["routing"] = c.routing.name();
  return p;
}

// The case's outcome from its ctest status and its result lines (coverage.hpp).
CaseOutcome merge_outcome(const std::optional<CaseOutcome>& status,
                          const std::vector<CaseOutcome>& lines) {
  const auto has = [&](CaseOutcome o) {
    return std::find(lines.begin(), lines.end(), o) != lines.end();
  };
  if (!status) {
    CaseOutcome worst = CaseOutcome::NotRun;
    for (const CaseOutcome o : lines) {
      if (severity(o) > severity(worst)) worst = o;
    }
    return worst;
  }
  if (*status != CaseOutcome::Passed && has(CaseOutcome::KnownBug)) return CaseOutcome::KnownBug;
  if (*status == CaseOutcome::Failed) {
    return has(CaseOutcome::Incorrect) && !has(CaseOutcome::Failed) ? CaseOutcome::Incorrect
                                                                    : CaseOutcome::Failed;
  }
  if (*status == CaseOutcome::Passed && has(CaseOutcome::NotSupported)) {
    return CaseOutcome::NotSupported;
  }
  return *status;
}

CellState cell_state(const std::vector<CaseCoverage>& cases, const std::vector<int>& in,
                     std::optional<double>& margin) {
  bool any[7] = {};
  for (const int i : in) {
    const CaseCoverage& c = cases[i];
    keep_worst(margin, c.margin);
    any[static_cast<int>(c.outcome)] = true;
  }
  const auto is = [&](CaseOutcome o) { return any[static_cast<int>(o)]; };
  if (is(CaseOutcome::Failed) || is(CaseOutcome::Incorrect)) return CellState::failed;
  if (is(CaseOutcome::KnownBug)) return CellState::known_bug;
  if (is(CaseOutcome::Passed)) return margin ? CellState::pass : CellState::pass_nomargin;
  if (is(CaseOutcome::NotSupported)) return CellState::not_supported;
  if (is(CaseOutcome::Skipped)) return CellState::skipped;
  return CellState::not_run;
}

// Rows: models by name, then synthetic shapes by E, H, I; columns by T, then routing.
bool row_less(const std::string& a, const std::string& b) {
  const auto key = [](const std::string& s) {
    long long e = 0, h = 0, i = 0;
    const bool synthetic = std::sscanf(s.c_str(), "E%lld H%lld I%lld", &e, &h, &i) == 3;
    return std::make_tuple(synthetic, e, h, i, s);
  };
  return key(a) < key(b);
}
bool column_less(const std::string& a, const std::string& b) {
  const auto key = [](const std::string& s) {
    long long t = 0;
    std::sscanf(s.c_str(), "T%lld", &t);
    return std::make_tuple(t, s);
  };
  return key(a) < key(b);
}

}  // namespace

const char* to_string(CaseOutcome o) {
  switch (o) {
    case CaseOutcome::Passed:
      return "Passed";
    case CaseOutcome::Incorrect:
      return "Incorrect";
    case CaseOutcome::Failed:
      return "Failed";
    case CaseOutcome::NotSupported:
      return "NotSupported";
    case CaseOutcome::Skipped:
      return "Skipped";
    case CaseOutcome::KnownBug:
      return "KnownBug";
    case CaseOutcome::NotRun:
      return "NotRun";
  }
  return "?";
}

const std::vector<CaseOutcome>& all_outcomes() {
  static const std::vector<CaseOutcome> all = {
      CaseOutcome::Passed,  CaseOutcome::Incorrect, CaseOutcome::Failed, CaseOutcome::NotSupported,
      CaseOutcome::Skipped, CaseOutcome::KnownBug,  CaseOutcome::NotRun};
  return all;
}

std::optional<CaseOutcome> parse_case_outcome(const std::string& s) {
  for (const CaseOutcome o : all_outcomes()) {
    if (s == to_string(o)) return o;
  }
  return std::nullopt;
}

bool is_failure(CaseOutcome o) {
  return o == CaseOutcome::Incorrect || o == CaseOutcome::Failed;
}
bool ran(CaseOutcome o) {
  return o == CaseOutcome::Passed || is_failure(o) || o == CaseOutcome::KnownBug;
}

const char* to_string(CellState s) {
  switch (s) {
    case CellState::failed:
      return "failed";
    case CellState::known_bug:
      return "known_bug";
    case CellState::pass:
      return "pass";
    case CellState::pass_nomargin:
      return "pass_nomargin";
    case CellState::not_supported:
      return "not_supported";
    case CellState::skipped:
      return "skipped";
    case CellState::not_run:
      return "not_run";
  }
  return "?";
}

std::map<std::string, int64_t> Coverage::totals() const {
  std::map<std::string, int64_t> t;
  for (const CaseOutcome o : all_outcomes()) t[to_string(o)] = 0;
  for (const CaseCoverage& c : cases) ++t[to_string(c.outcome)];
  return t;
}

int64_t Coverage::cell_count() const {
  int64_t n = 0;
  for (const Heatmap& h : heatmaps) n += static_cast<int64_t>(h.cells.size());
  return n;
}

template <class Json>
Json load_json_file(const std::filesystem::path& file) {
  return parse_text<Json>(read_text(file), file.string());
}
template json load_json_file<json>(const std::filesystem::path& file);
template nlohmann::ordered_json load_json_file<nlohmann::ordered_json>(
    const std::filesystem::path& file);

// fmt prints a non-finite margin as nan or inf, which JSON lacks: null (unknown) and the largest
// double (beyond any bound) stand in for them.
static std::string finite_numbers(std::string s) {
  for (const auto& [from, to] : {std::pair<std::string, std::string>{":-nan", ":null"},
                                 {":nan", ":null"},
                                 {":-inf", ":-1.7976931348623157e308"},
                                 {":inf", ":1.7976931348623157e308"}}) {
    for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
      s.replace(at, from.size(), to);
    }
  }
  return s;
}

std::vector<json> load_results(const std::filesystem::path& file) {
  const std::string all = finite_numbers(read_text(file));
  std::vector<json> lines;
  const size_t first = all.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && all[first] == '[') {
    const json a = parse_text(all, file.string());
    for (const json& o : a) lines.push_back(o);
  } else {
    std::istringstream in(all);
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      const std::string prefix = "moecheck-result ";
      if (line.rfind(prefix, 0) == 0) line = line.substr(prefix.size());
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      lines.push_back(parse_text(line, file.string() + ":" + std::to_string(n)));
    }
  }
  for (size_t i = 0; i < lines.size(); ++i) {
    const json& o = lines[i];
    if (!o.is_object() || !o.contains("test") || !o["test"].is_string() || !o.contains("outcome") ||
        !o["outcome"].is_string()) {
      throw ReportError(file.string() + ": result " + std::to_string(i + 1) +
                        " is not an object with string fields \"test\" and \"outcome\"");
    }
    if (!parse_case_outcome(o["outcome"].get<std::string>())) {
      throw ReportError(file.string() + ": result " + std::to_string(i + 1) +
                        ": unknown outcome '" + o["outcome"].get<std::string>() + "'");
    }
  }
  return lines;
}

std::vector<TestStatus> load_tests(const std::filesystem::path& file) {
  const json a = load_json_file(file);
  if (!a.is_array()) throw ReportError(file.string() + ": expected a JSON array of tests");
  std::vector<TestStatus> tests;
  for (size_t i = 0; i < a.size(); ++i) {
    const json& o = a[i];
    const std::string where = file.string() + ": test " + std::to_string(i + 1);
    if (!o.is_object() || !o.contains("name") || !o["name"].is_string() || !o.contains("status") ||
        !o["status"].is_string()) {
      throw ReportError(where + " is not an object with string fields \"name\" and \"status\"");
    }
    const std::string s = o["status"].get<std::string>();
    TestStatus t{o["name"].get<std::string>(), CaseOutcome::NotRun};
    if (s == "run") {
      t.outcome = CaseOutcome::Passed;
    } else if (s == "fail") {
      t.outcome = CaseOutcome::Failed;
    } else if (s == "notrun") {
      t.outcome = CaseOutcome::Skipped;
    } else if (s == "disabled") {
      t.outcome = CaseOutcome::NotRun;
    } else if (const auto parsed = parse_case_outcome(s)) {
      t.outcome = *parsed;
    } else {
      throw ReportError(where + " (" + t.name + "): unknown status '" + s +
                        "' (run, fail, notrun, disabled or an outcome)");
    }
    tests.push_back(t);
  }
  return tests;
}

std::string shape_row(const Case& c) {
  if (!c.model.empty()) return c.model;
  return fmt::format("E{} H{} I{}", c.experts, c.hidden, c.inter);
}

std::string shape_column(const Case& c) {
  RoutingSpec r = c.routing;
  std::string name = r.name();
  const size_t s = name.rfind("_s");
  if (s != std::string::npos) name.resize(s);  // the seed: not a shape
  return fmt::format("T{} {}", c.tokens, name);
}

RoutingStats routing_stats(const Case& c) {
  RoutingStats st;
  try {
    const Routing r = make_routing(c);
    st.routes = r.numel();
    const RoutingHistogram h = histogram(r, c.block_m);
    st.routes_per_expert = h.routes;
    st.padded_per_expert = h.padded;
    st.used_experts = h.used_experts;
    for (const int32_t id : r.ids) {
      if (r.expert_map.empty() || r.expert_map[id] >= 0) ++st.routed;
    }
    const Alignment al = align_block_size(r, c.block_m);
    st.blocks = al.num_blocks();
    for (int64_t b = 0; b < st.blocks && b < static_cast<int64_t>(al.expert_ids.size()); ++b) {
      if (al.expert_ids[b] >= 0) ++st.valid_blocks;
    }
  } catch (const std::exception& e) {
    st.error = e.what();  // a negative case's routing: the refusal is the statistic
  }
  return st;
}

std::vector<Heatmap> make_heatmaps(const std::vector<CaseCoverage>& cases) {
  std::map<std::tuple<std::string, std::string, std::string>, std::vector<int>> groups;
  for (int i = 0; i < static_cast<int>(cases.size()); ++i) {
    groups[{cases[i].kernel, cases[i].stage, cases[i].arch}].push_back(i);
  }
  std::vector<Heatmap> maps;
  for (const auto& [key, members] : groups) {
    Heatmap h;
    std::tie(h.kernel, h.stage, h.arch) = key;
    for (const int i : members) {
      h.rows.push_back(cases[i].row);
      h.columns.push_back(cases[i].column);
    }
    std::sort(h.rows.begin(), h.rows.end(), row_less);
    h.rows.erase(std::unique(h.rows.begin(), h.rows.end()), h.rows.end());
    std::sort(h.columns.begin(), h.columns.end(), column_less);
    h.columns.erase(std::unique(h.columns.begin(), h.columns.end()), h.columns.end());
    std::map<std::pair<int, int>, std::vector<int>> in;
    for (const int i : members) {
      const int r = static_cast<int>(
          std::lower_bound(h.rows.begin(), h.rows.end(), cases[i].row, row_less) - h.rows.begin());
      const int c = static_cast<int>(
          std::lower_bound(h.columns.begin(), h.columns.end(), cases[i].column, column_less) -
          h.columns.begin());
      in[{r, c}].push_back(i);
    }
    for (const auto& [rc, list] : in) {
      HeatCell cell;
      cell.row = rc.first;
      cell.column = rc.second;
      cell.cases = list;
      cell.state = cell_state(cases, list, cell.margin);
      h.cells.push_back(cell);
    }
    maps.push_back(std::move(h));
  }
  return maps;
}

Coverage build_coverage(const Catalog& catalog, const RunInputs& run) {
  Coverage cov;
  const json& s = run.summary;
  if (s.is_object()) {
    if (!text(s, "device").empty()) cov.device = text(s, "device");
    if (!text(s, "arch").empty()) cov.arch = text(s, "arch");
    cov.implementation = text(s, "implementation");
    cov.labels = text(s, "labels");
  }
  if (cov.arch == "none") cov.arch = "cpu";

  std::map<std::string, const Case*> by_test;
  for (const Case& c : catalog.cases) by_test.emplace(c.suite + "." + c.name(), &c);

  // Every test named by ctest or by a result line, with what is known of it.
  struct Seen {
    std::optional<CaseOutcome> status;
    std::vector<const json*> lines;
  };
  std::map<std::string, Seen> seen;
  for (const TestStatus& t : run.tests) seen[t.name].status = t.outcome;
  for (const json& line : run.results) seen[line["test"].get<std::string>()].lines.push_back(&line);

  for (const auto& [test, what] : seen) {
    std::vector<CaseOutcome> outcomes;
    for (const json* l : what.lines) outcomes.push_back(*parse_case_outcome(text(*l, "outcome")));
    const CaseOutcome outcome = merge_outcome(what.status, outcomes);
    const auto found = by_test.find(test);
    if (found == by_test.end()) {
      cov.other_tests.push_back({test, outcome});
      continue;
    }
    const Case& c = *found->second;
    CaseCoverage cc;
    cc.test = test;
    cc.outcome = outcome;
    cc.kernel = c.kernel.empty() ? c.suite : c.kernel;
    cc.stage = c.stage;
    cc.arch = cov.arch;
    cc.row = shape_row(c);
    cc.column = shape_column(c);
    cc.params = case_params(c);
    for (const json* l : what.lines) {
      const json& line = *l;
      if (line.contains("known_bug") && line["known_bug"].is_object() && cc.reason.empty()) {
        cc.reason = "KnownBug " + text(line["known_bug"], "issue") + ": " +
                    text(line["known_bug"], "reason");
      }
      if (text(line, "outcome") == "NotSupported" && cc.reason.empty()) {
        cc.reason = "NotSupported: " + text(line, "reason");
      }
      // Lines of the whole case (stage "case": known-bug markers) carry no comparison.
      if (text(line, "stage") == "case" && !line.contains("margin")) continue;
      StageResult r;
      r.stage = text(line, "stage");
      r.outcome = text(line, "outcome");
      r.margin = number(line, "margin");
      r.rel_l1 = number(line, "rel_l1");
      if (const auto n = number(line, "compared")) r.compared = static_cast<int64_t>(*n);
      keep_worst(cc.margin, r.margin);
      keep_worst(cc.rel_l1, r.rel_l1);
      cc.stages.push_back(r);
    }
    cc.routing = routing_stats(c);
    cov.cases.push_back(std::move(cc));
  }
  cov.heatmaps = make_heatmaps(cov.cases);
  return cov;
}

}  // namespace moecheck::report
