// coverage.json: the model, both ways. Its layout:
//   {"format": "moecheck-coverage", "version": 1, "device", "arch", "implementation", "labels",
//    "totals": {outcome: count},
//    "cases": [{"test", "outcome", "reason", "kernel", "stage", "arch", "row", "column",
//               "margin", "rel_l1" (null when none), "params": {...},
//               "stages": [{"stage", "outcome", "margin", "rel_l1", "compared"}],
//               "routing": {"routes", "routed", "used_experts", "blocks", "valid_blocks",
//                           "routes_per_expert", "padded_per_expert", "error"}}],
//    "other_tests": [{"name", "outcome"}],
//    "heatmaps": [{"kernel", "stage", "arch", "rows", "columns",
//                  "cells": [{"row", "column", "state", "margin", "cases": [case index]}]}]}
// The heatmaps are derived from the cases; a reader rebuilds them (make_heatmaps).
#include <fstream>

#include "coverage.hpp"

namespace moecheck::report {

namespace {

// Read as ordered_json too: a case's parameters keep their order through a round trip.
using nlohmann::ordered_json;
using json = nlohmann::ordered_json;

constexpr int kVersion = 1;

ordered_json opt(const std::optional<double>& v) {
  return v ? ordered_json(*v) : ordered_json(nullptr);
}

// Field readers naming the file and the place on a mismatch.
struct Reader {
  std::string file;
  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    throw ReportError(file + ": " + where + ": " + what);
  }
  const json& field(const json& o, const char* key, const std::string& where) const {
    if (!o.is_object()) fail(where, "expected an object");
    const auto it = o.find(key);
    if (it == o.end()) fail(where, std::string("missing \"") + key + "\"");
    return *it;
  }
  std::string str(const json& o, const char* key, const std::string& where) const {
    const json& v = field(o, key, where);
    if (!v.is_string()) fail(where, std::string("\"") + key + "\" must be a string");
    return v.get<std::string>();
  }
  std::string str_or(const json& o, const char* key) const {
    const auto it = o.find(key);
    return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
  }
  std::optional<double> num_or_null(const json& o, const char* key,
                                    const std::string& where) const {
    const auto it = o.find(key);
    if (it == o.end() || it->is_null()) return std::nullopt;
    if (!it->is_number()) fail(where, std::string("\"") + key + "\" must be a number or null");
    return it->get<double>();
  }
  int64_t int_or(const json& o, const char* key, const std::string& where) const {
    const auto it = o.find(key);
    if (it == o.end()) return 0;
    if (!it->is_number_integer()) fail(where, std::string("\"") + key + "\" must be an integer");
    return it->get<int64_t>();
  }
  std::vector<int64_t> ints(const json& o, const char* key, const std::string& where) const {
    const auto it = o.find(key);
    if (it == o.end()) return {};
    if (!it->is_array()) fail(where, std::string("\"") + key + "\" must be an array");
    std::vector<int64_t> v;
    for (const json& x : *it) {
      if (!x.is_number_integer()) fail(where, std::string("\"") + key + "\" holds a non-integer");
      v.push_back(x.get<int64_t>());
    }
    return v;
  }
  CaseOutcome outcome(const json& o, const char* key, const std::string& where) const {
    const std::string s = str(o, key, where);
    const auto parsed = parse_case_outcome(s);
    if (!parsed) fail(where, "unknown outcome '" + s + "'");
    return *parsed;
  }
};

}  // namespace

ordered_json to_json(const Coverage& cov) {
  ordered_json j;
  j["format"] = "moecheck-coverage";
  j["version"] = kVersion;
  j["device"] = cov.device;
  j["arch"] = cov.arch;
  j["implementation"] = cov.implementation;
  j["labels"] = cov.labels;
  ordered_json totals = ordered_json::object();
  const auto t = cov.totals();
  for (const CaseOutcome o : all_outcomes()) totals[to_string(o)] = t.at(to_string(o));
  j["totals"] = totals;
  ordered_json cases = ordered_json::array();
  for (const CaseCoverage& c : cov.cases) {
    ordered_json o;
    o["test"] = c.test;
    o["outcome"] = to_string(c.outcome);
    o["reason"] = c.reason;
    o["kernel"] = c.kernel;
    o["stage"] = c.stage;
    o["arch"] = c.arch;
    o["row"] = c.row;
    o["column"] = c.column;
    o["margin"] = opt(c.margin);
    o["rel_l1"] = opt(c.rel_l1);
    o["params"] = c.params;
    ordered_json stages = ordered_json::array();
    for (const StageResult& s : c.stages) {
      stages.push_back({{"stage", s.stage},
                        {"outcome", s.outcome},
                        {"margin", opt(s.margin)},
                        {"rel_l1", opt(s.rel_l1)},
                        {"compared", s.compared}});
    }
    o["stages"] = stages;
    const RoutingStats& r = c.routing;
    o["routing"] = {{"routes", r.routes},
                    {"routed", r.routed},
                    {"used_experts", r.used_experts},
                    {"blocks", r.blocks},
                    {"valid_blocks", r.valid_blocks},
                    {"routes_per_expert", r.routes_per_expert},
                    {"padded_per_expert", r.padded_per_expert},
                    {"error", r.error}};
    cases.push_back(o);
  }
  j["cases"] = cases;
  ordered_json other = ordered_json::array();
  for (const OtherTest& o : cov.other_tests) {
    other.push_back({{"name", o.name}, {"outcome", to_string(o.outcome)}});
  }
  j["other_tests"] = other;
  ordered_json maps = ordered_json::array();
  for (const Heatmap& h : cov.heatmaps) {
    ordered_json cells = ordered_json::array();
    for (const HeatCell& c : h.cells) {
      cells.push_back({{"row", c.row},
                       {"column", c.column},
                       {"state", to_string(c.state)},
                       {"margin", opt(c.margin)},
                       {"cases", c.cases}});
    }
    maps.push_back({{"kernel", h.kernel},
                    {"stage", h.stage},
                    {"arch", h.arch},
                    {"rows", h.rows},
                    {"columns", h.columns},
                    {"cells", cells}});
  }
  j["heatmaps"] = maps;
  return j;
}

Coverage coverage_from_json(const nlohmann::ordered_json& j, const std::string& file) {
  const Reader rd{file};
  if (!j.is_object()) rd.fail("top level", "expected a JSON object (a coverage.json)");
  if (rd.str_or(j, "format") != "moecheck-coverage") {
    rd.fail("top level", "\"format\" is not \"moecheck-coverage\": not a coverage.json");
  }
  if (rd.int_or(j, "version", "top level") != kVersion) {
    rd.fail("top level",
            "unsupported \"version\" (this moecheck reads " + std::to_string(kVersion) + ")");
  }
  Coverage cov;
  cov.device = rd.str_or(j, "device");
  cov.arch = rd.str_or(j, "arch");
  cov.implementation = rd.str_or(j, "implementation");
  cov.labels = rd.str_or(j, "labels");
  const json& cases = rd.field(j, "cases", "top level");
  if (!cases.is_array()) rd.fail("top level", "\"cases\" must be an array");
  for (size_t i = 0; i < cases.size(); ++i) {
    const json& o = cases[i];
    const std::string where = "cases[" + std::to_string(i) + "]";
    CaseCoverage c;
    c.test = rd.str(o, "test", where);
    c.outcome = rd.outcome(o, "outcome", where + " (" + c.test + ")");
    c.reason = rd.str_or(o, "reason");
    c.kernel = rd.str_or(o, "kernel");
    c.stage = rd.str_or(o, "stage");
    c.arch = rd.str_or(o, "arch");
    c.row = rd.str_or(o, "row");
    c.column = rd.str_or(o, "column");
    c.margin = rd.num_or_null(o, "margin", where);
    c.rel_l1 = rd.num_or_null(o, "rel_l1", where);
    if (o.contains("params")) c.params = o["params"];
    if (o.contains("stages")) {
      const json& st = o["stages"];
      if (!st.is_array()) rd.fail(where, "\"stages\" must be an array");
      for (size_t k = 0; k < st.size(); ++k) {
        const std::string w = where + ".stages[" + std::to_string(k) + "]";
        StageResult s;
        s.stage = rd.str(st[k], "stage", w);
        s.outcome = rd.str(st[k], "outcome", w);
        s.margin = rd.num_or_null(st[k], "margin", w);
        s.rel_l1 = rd.num_or_null(st[k], "rel_l1", w);
        s.compared = rd.int_or(st[k], "compared", w);
        c.stages.push_back(s);
      }
    }
    if (o.contains("routing")) {
      const json& r = o["routing"];
      const std::string w = where + ".routing";
      if (!r.is_object()) rd.fail(w, "expected an object");
      c.routing.routes = rd.int_or(r, "routes", w);
      c.routing.routed = rd.int_or(r, "routed", w);
      c.routing.used_experts = rd.int_or(r, "used_experts", w);
      c.routing.blocks = rd.int_or(r, "blocks", w);
      c.routing.valid_blocks = rd.int_or(r, "valid_blocks", w);
      c.routing.routes_per_expert = rd.ints(r, "routes_per_expert", w);
      c.routing.padded_per_expert = rd.ints(r, "padded_per_expert", w);
      c.routing.error = rd.str_or(r, "error");
    }
    cov.cases.push_back(std::move(c));
  }
  if (j.contains("other_tests")) {
    const json& other = j["other_tests"];
    if (!other.is_array()) rd.fail("top level", "\"other_tests\" must be an array");
    for (size_t i = 0; i < other.size(); ++i) {
      const std::string where = "other_tests[" + std::to_string(i) + "]";
      cov.other_tests.push_back(
          {rd.str(other[i], "name", where), rd.outcome(other[i], "outcome", where)});
    }
  }
  cov.heatmaps = make_heatmaps(cov.cases);
  return cov;
}

Coverage load_coverage(const std::filesystem::path& file) {
  return coverage_from_json(load_json_file<ordered_json>(file), file.string());
}

void write_coverage(const Coverage& cov, const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const auto write = [&](const char* name, const std::string& text) {
    const std::filesystem::path p = dir / name;
    std::ofstream out(p, std::ios::binary);
    out << text;
    out.close();
    if (!out) throw ReportError(p.string() + ": cannot write");
  };
  write("coverage.json", to_json(cov).dump() + "\n");  // compact: histograms of 512 experts
  write("coverage.md", coverage_markdown(cov));
  write("coverage.html", coverage_html(cov));
}

}  // namespace moecheck::report
