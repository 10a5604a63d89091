#include "catalog.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "catalog_yaml.hpp"

namespace moecheck {

const std::vector<std::string>& known_suites() {
  // CPU suites (suites/cpu) and GPU suites (suites/gpu). Kept here so that a typo in a case file
  // is an error instead of a case that no binary runs.
  static const std::vector<std::string> names = {
      "roundtrip", "exact_tier", "routing",   "align",   "ref_vs_naive", "metamorphic", "tolerance",
      "negative",  "gpu_kernel", "gpu_align", "gpu_e2e", "gpu_negative", "bug_class",
  };
  return names;
}

namespace {

// "<file>:<line>:<col>: <key>: <what>" with yaml-cpp's zero-based marks made one-based.
[[noreturn]] void fail(const std::string& file, const YAML::Node& at, const std::string& key,
                       const std::string& what) {
  std::ostringstream os;
  os << file;
  if (at.IsDefined() && at.Mark().line >= 0) {
    os << ":" << at.Mark().line + 1 << ":" << at.Mark().column + 1;
  }
  os << ": " << key << ": " << what;
  throw CatalogError(os.str());
}

std::string scalar(const std::string& file, const YAML::Node& n, const std::string& key) {
  if (!n.IsScalar()) fail(file, n, key, "expected a scalar value");
  return n.Scalar();
}

int64_t to_int(const std::string& file, const YAML::Node& n, const std::string& key) {
  const std::string s = scalar(file, n, key);
  try {
    size_t used = 0;
    const long long v = std::stoll(s, &used, 10);
    if (used == s.size()) return v;
  } catch (const std::exception&) {
  }
  fail(file, n, key, "expected an integer, got '" + s + "'");
}

bool to_bool(const std::string& file, const YAML::Node& n, const std::string& key) {
  const std::string s = scalar(file, n, key);
  if (s == "true") return true;
  if (s == "false") return false;
  fail(file, n, key, "expected true or false, got '" + s + "'");
}

std::string one_of(const std::string& file, const YAML::Node& n, const std::string& key,
                   const std::set<std::string>& allowed) {
  const std::string s = scalar(file, n, key);
  if (allowed.count(s)) return s;
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  fail(file, n, key, "'" + s + "' is not one of: " + list);
}

// `block_m: auto` until expand_sweep resolves it (every other block_m is >= 1).
constexpr int64_t kBlockMAuto = 0;

// How each case key is read into a Case. A table, so the set of keys, their parsing and the
// error messages live in one place.
using Setter =
    std::function<void(Case&, const std::string& file, const std::string& key, const YAML::Node&)>;

const std::map<std::string, Setter>& setters() {
  static const std::map<std::string, Setter> table = [] {
    std::map<std::string, Setter> t;
    auto int_field = [](int64_t Case::*field, int64_t min) {
      return
          [field, min](Case& c, const std::string& f, const std::string& key, const YAML::Node& n) {
            const int64_t v = to_int(f, n, key);
            if (v < min) fail(f, n, key, "must be >= " + std::to_string(min));
            c.*field = v;
          };
    };
    auto bool_field = [](bool Case::*field) {
      return [field](Case& c, const std::string& f, const std::string& key, const YAML::Node& n) {
        c.*field = to_bool(f, n, key);
      };
    };
    t["suite"] = [](Case& c, const std::string& f, const std::string& key, const YAML::Node& n) {
      const auto& k = known_suites();
      c.suite = one_of(f, n, key, std::set<std::string>(k.begin(), k.end()));
    };
    t["stage"] = [](Case& c, const std::string& f, const std::string& key, const YAML::Node& n) {
      c.stage = one_of(
          f, n, key,
          {"dequant", "routing", "align", "gemm1", "act", "gemm2", "sum", "e2e", "tolerance"});
    };
    t["tier"] = [](Case& c, const std::string& f, const std::string& key, const YAML::Node& n) {
      c.tier = one_of(f, n, key, {"smoke", "quick", "nightly"});
    };
    t["kernel"] = [](Case& c, const std::string& f, const std::string& key, const YAML::Node& n) {
      c.kernel = one_of(f, n, key, {"tiled", "fused", "align", "silu", "sum", "layer"});
    };
    t["expect"] = [](Case& c, const std::string& f, const std::string& key, const YAML::Node& n) {
      c.expect = one_of(f, n, key, {"pass", "not_supported", "input_error"});
    };
    t["error"] = [](Case& c, const std::string& f, const std::string& key, const YAML::Node& n) {
      c.error = scalar(f, n, key);
    };
    t["bug"] = [](Case& c, const std::string& f, const std::string& key, const YAML::Node& n) {
      const auto& k = known_bug_classes();
      c.bug = one_of(f, n, key, std::set<std::string>(k.begin(), k.end()));
    };
    t["experts"] = int_field(&Case::experts, 1);
    t["top_k"] = int_field(&Case::top_k, 1);
    t["hidden"] = int_field(&Case::hidden, 1);
    t["inter"] = int_field(&Case::inter, 1);
    t["tokens"] = int_field(&Case::tokens, 1);
    t["group"] = int_field(&Case::group, 1);
    t["pad_kw"] = int_field(&Case::pad_kw, 0);
    t["pad_lda"] = int_field(&Case::pad_lda, 0);
    t["block_m"] = [int_field](Case& c, const std::string& f, const std::string& key,
                               const YAML::Node& n) {
      if (n.IsScalar() && n.Scalar() == "auto") {
        c.block_m = kBlockMAuto;  // resolved once the case's routes are known
      } else {
        int_field(&Case::block_m, 1)(c, f, key, n);
      }
    };
    t["dtype"] = [](Case& c, const std::string& f, const std::string& key, const YAML::Node& n) {
      c.dtype = parse_dtype(one_of(f, n, key, {"bf16", "fp16"}));
    };
    t["format"] = [](Case& c, const std::string& f, const std::string& key, const YAML::Node& n) {
      c.format = parse_format(one_of(f, n, key, {"exllama_nk", "gptq_kn", "triton_nk_u8"}));
    };
    t["zero_format"] = [](Case& c, const std::string& f, const std::string& key,
                          const YAML::Node& n) {
      c.zero_format = one_of(f, n, key, {"v1", "v2"}) == "v1" ? GptqZeros::v1 : GptqZeros::v2;
    };
    t["symmetric"] = bool_field(&Case::symmetric);
    t["shuffled"] = bool_field(&Case::shuffled);
    t["exact"] = bool_field(&Case::exact);
    t["zeros_include_0"] = bool_field(&Case::zeros_include_0);
    t["mul_routed_weight"] = bool_field(&Case::mul_routed_weight);
    t["apply_router_weight_on_input"] = bool_field(&Case::apply_router_weight_on_input);
    t["output_topk"] = bool_field(&Case::output_topk);
    t["routing"] = [](Case& c, const std::string& f, const std::string& key, const YAML::Node& n) {
      const std::string s = scalar(f, n, key);
      const auto colon = s.find(':');
      try {
        c.routing.kind = parse_routing_kind(s.substr(0, colon));
      } catch (const std::exception& e) {
        fail(f, n, key, e.what());
      }
      c.routing.param = 0;
      if (colon != std::string::npos) {
        try {
          size_t used = 0;
          const std::string p = s.substr(colon + 1);
          c.routing.param = std::stod(p, &used);
          if (used != p.size()) throw std::invalid_argument(p);
        } catch (const std::exception&) {
          fail(f, n, key, "routing parameter in '" + s + "' is not a number");
        }
      }
    };
    t["routing_seed"] = [](Case& c, const std::string& f, const std::string& key,
                           const YAML::Node& n) {
      c.routing.seed = static_cast<uint64_t>(to_int(f, n, key));
    };
    t["seed"] = [](Case& c, const std::string& f, const std::string& key, const YAML::Node& n) {
      c.seed = static_cast<uint64_t>(to_int(f, n, key));
    };
    return t;
  }();
  return table;
}

// Applies `key: value` to a case (`model` is expanded by the caller, before the other keys).
void apply(Case& c, const std::string& file, const std::string& key, const YAML::Node& value) {
  if (key == "model") return;
  const auto it = setters().find(key);
  if (it == setters().end()) fail(file, value, key, "unknown key");
  it->second(c, file, key, value);
}

const Model& find_model(const std::string& file, const YAML::Node& n,
                        const std::vector<Model>& models) {
  const std::string name = scalar(file, n, "model");
  for (const auto& m : models) {
    if (m.name == name) return m;
  }
  fail(file, n, "model", "unknown model '" + name + "' (see cases/models.yaml)");
}

// One assignment of a key to a value node, remembered with its node for error marks.
struct Assignment {
  std::string key;
  YAML::Node value;
};

// The value of the assignment of `key` that took effect (the last: a case applies them in
// order), where an error about the finished case points. The caller knows `key` was assigned.
const YAML::Node& value_in_effect(const std::vector<Assignment>& as, const std::string& key) {
  const auto it =
      std::find_if(as.rbegin(), as.rend(), [&](const Assignment& a) { return a.key == key; });
  return it->value;
}

std::vector<Assignment> mapping(const std::string& file, const YAML::Node& n,
                                const std::string& what) {
  std::vector<Assignment> out;
  if (!n.IsDefined() || n.IsNull()) return out;
  if (!n.IsMap()) fail(file, n, what, "expected a mapping of case keys");
  for (const auto& kv : n) out.push_back({kv.first.as<std::string>(), kv.second});
  return out;
}

std::vector<YAML::Node> list_of(const std::string& file, const YAML::Node& n,
                                const std::string& key) {
  if (!n.IsSequence()) fail(file, n, key, "expected a list of values");
  if (n.size() == 0) fail(file, n, key, "empty list");
  std::vector<YAML::Node> out;
  for (const auto& v : n) out.push_back(v);
  return out;
}

// A case that expects to pass must have K % G == 0 for every GEMM it runs (a case about that
// error says expect: input_error or not_supported): caught here, at the line of the sweep,
// instead of as an exception inside one test.
void check_shape(const std::string& file, const YAML::Node& sweep, const Case& c) {
  if (c.expect != "pass") return;
  const bool gemm1 =
      c.stage == "gemm1" || c.stage == "e2e" || c.stage == "dequant" || c.stage == "tolerance";
  const bool gemm2 = c.stage == "gemm2" || c.stage == "e2e";
  if (gemm1 && c.hidden % c.group != 0) {
    fail(file, sweep, "group",
         fmt::format("hidden {} is not a multiple of group {} (case {})", c.hidden, c.group,
                     c.name()));
  }
  if (gemm2 && c.inter % c.group != 0) {
    fail(file, sweep, "group",
         fmt::format("inter {} is not a multiple of group {} (case {})", c.inter, c.group,
                     c.name()));
  }
}

// Expands one sweep entry: fixed, then the cartesian product of grid, in lock-step with zip.
// `model` (in any section) expands to the model's dimensions and, unless `group` is given, one
// case per group size the model ships; the value `all` means every model.
void expand_sweep(const std::string& file, const YAML::Node& sweep,
                  const std::vector<Model>& models, std::vector<Case>& out) {
  if (!sweep.IsMap()) fail(file, sweep, "sweeps", "each sweep must be a mapping");
  std::vector<Assignment> fixed;
  std::vector<std::pair<std::string, std::vector<YAML::Node>>> grid, zip;
  for (const auto& kv : sweep) {
    const std::string section = kv.first.as<std::string>();
    if (section == "fixed") {
      auto m = mapping(file, kv.second, "fixed");
      fixed.insert(fixed.end(), m.begin(), m.end());
    } else if (section == "grid" || section == "zip") {
      if (!kv.second.IsMap()) fail(file, kv.second, section, "expected a mapping of lists");
      for (const auto& g : kv.second) {
        const std::string key = g.first.as<std::string>();
        (section == "grid" ? grid : zip).push_back({key, list_of(file, g.second, key)});
      }
    } else if (section == "name" || section == "about") {
      continue;  // documentation only
    } else {
      fixed.push_back({section, kv.second});  // a plain key at sweep level is a fixed value
    }
  }
  size_t zip_len = 1;
  if (!zip.empty()) {
    zip_len = zip.front().second.size();
    for (const auto& [key, values] : zip) {
      if (values.size() != zip_len) {
        fail(file, sweep["zip"][key], key,
             "zip lists must have equal lengths (" + std::to_string(values.size()) + " vs " +
                 std::to_string(zip_len) + ")");
      }
    }
  }
  size_t grid_count = 1;
  for (const auto& g : grid) grid_count *= g.second.size();
  if (grid_count * zip_len > 100000) fail(file, sweep, "grid", "sweep expands to too many cases");

  for (size_t gi = 0; gi < grid_count; ++gi) {
    for (size_t zi = 0; zi < zip_len; ++zi) {
      std::vector<Assignment> as = fixed;
      size_t rest = gi;
      for (const auto& [key, values] : grid) {
        as.push_back({key, values[rest % values.size()]});
        rest /= values.size();
      }
      for (const auto& [key, values] : zip) as.push_back({key, values[zi]});

      // The model first (it sets dimensions), then every other key overrides.
      std::vector<const Model*> chosen = {nullptr};
      bool group_given = false;
      for (const auto& a : as) {
        if (a.key == "group") group_given = true;
        if (a.key != "model") continue;
        chosen.clear();
        if (a.value.IsScalar() && a.value.Scalar() == "all") {
          for (const auto& m : models) chosen.push_back(&m);
        } else {
          chosen.push_back(&find_model(file, a.value, models));
        }
      }
      for (const Model* m : chosen) {
        std::vector<int64_t> groups = {0};
        if (m && !group_given) groups = m->groups;
        for (int64_t g : groups) {
          Case c;
          if (m) {
            c.model = m->name;
            c.experts = m->experts;
            c.top_k = m->top_k;
            c.hidden = m->hidden;
            c.inter = m->inter;
            if (g) c.group = g;
          }
          for (const auto& a : as) apply(c, file, a.key, a.value);
          if (c.block_m == kBlockMAuto) {
            if (c.kernel != "tiled") {
              fail(file, value_in_effect(as, "block_m"), "block_m",
                   "'auto' picks the tiled family's block_m; this sweep's kernel is '" + c.kernel +
                       "'");
            }
            c.block_m = preferred_tiled_block_m(c.tokens * c.top_k, c.experts);
          }
          if (c.suite.empty()) fail(file, sweep, "suite", "every sweep must name its suite");
          if (c.stage.empty()) fail(file, sweep, "stage", "every sweep must name its stage");
          if (c.zeros_include_0 && (!c.exact || c.symmetric)) {
            fail(file, value_in_effect(as, "zeros_include_0"), "zeros_include_0",
                 "needs exact: true and symmetric: false (it widens the exact tier's zeros to "
                 "0..15)");
          }
          check_shape(file, sweep, c);
          c.source = file + ":" + std::to_string(sweep.Mark().line + 1);
          out.push_back(std::move(c));
        }
      }
    }
  }
}

YAML::Node parse(const std::string& text, const std::string& file) {
  try {
    return YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    std::ostringstream os;
    os << file << ":" << e.mark.line + 1 << ":" << e.mark.column + 1 << ": yaml: " << e.msg;
    throw CatalogError(os.str());
  }
}

// Any other yaml-cpp exception (a non-scalar key converted to a string, a subscript of a scalar)
// as the loader's own error: found by fuzzing (suites/fuzz/fuzz_sweeps.cpp), where it escaped
// load_models and load_sweeps without the file's name.
[[noreturn]] void yaml_fail(const std::string& file, const YAML::Exception& e) {
  std::ostringstream os;
  os << file;
  if (!e.mark.is_null()) os << ":" << e.mark.line + 1 << ":" << e.mark.column + 1;
  os << ": yaml: " << e.msg;
  throw CatalogError(os.str());
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw CatalogError(p.string() + ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

int64_t preferred_tiled_block_m(int64_t routes, int64_t experts) {
  if (routes < 16 * experts) return 16;
  if (routes < 32 * experts) return 32;
  return 64;
}

std::vector<std::string> case_keys() {
  std::vector<std::string> keys = {"model"};
  for (const auto& [key, setter] : setters()) keys.push_back(key);
  return keys;
}

void apply_case_key(Case& c, const std::string& file, const std::string& key,
                    const YAML::Node& value) {
  apply(c, file, key, value);
}

void catalog_fail(const std::string& file, const YAML::Node& at, const std::string& key,
                  const std::string& what) {
  fail(file, at, key, what);
}

YAML::Node parse_catalog_yaml(const std::string& text, const std::string& file) {
  return parse(text, file);
}

std::vector<Model> load_models(const std::string& text, const std::string& file) try {
  const YAML::Node root = parse(text, file);
  if (!root.IsMap()) fail(file, root, "models", "a models file is a mapping with a 'models' list");
  const YAML::Node list = root["models"];
  if (!list.IsDefined() || !list.IsSequence()) fail(file, root, "models", "expected a list");
  std::vector<Model> out;
  for (const auto& n : list) {
    if (!n.IsMap()) fail(file, n, "models", "each model must be a mapping");
    Model m;
    for (const auto& kv : n) {
      const std::string key = kv.first.as<std::string>();
      const YAML::Node v = kv.second;
      if (key == "name")
        m.name = scalar(file, v, key);
      else if (key == "hf")
        m.hf_id = scalar(file, v, key);
      else if (key == "experts")
        m.experts = to_int(file, v, key);
      else if (key == "top_k")
        m.top_k = to_int(file, v, key);
      else if (key == "hidden")
        m.hidden = to_int(file, v, key);
      else if (key == "moe_intermediate")
        m.inter = to_int(file, v, key);
      else if (key == "group_sizes") {
        for (const auto& g : list_of(file, v, key)) m.groups.push_back(to_int(file, g, key));
      } else
        fail(file, v, key, "unknown key");
    }
    const auto need = [&](bool ok, const char* key, const char* what) {
      if (!ok) fail(file, n, key, what);
    };
    need(!m.name.empty(), "name", "missing");
    need(m.experts > 0 && m.top_k > 0 && m.top_k <= m.experts, "top_k",
         "experts and top_k must be positive with top_k <= experts");
    need(m.hidden > 0 && m.inter > 0, "hidden", "hidden and moe_intermediate must be positive");
    need(!m.groups.empty(), "group_sizes", "missing");
    for (int64_t g : m.groups) {
      need(g > 0 && m.hidden % g == 0 && m.inter % g == 0, "group_sizes",
           "every group size must divide hidden and moe_intermediate");
    }
    for (const auto& o : out) need(o.name != m.name, "name", "duplicate model name");
    out.push_back(m);
  }
  return out;
} catch (const YAML::Exception& e) {
  yaml_fail(file, e);
}

std::vector<Case> load_sweeps(const std::string& text, const std::string& file,
                              const std::vector<Model>& models) try {
  const YAML::Node root = parse(text, file);
  if (!root.IsMap()) fail(file, root, "sweeps", "a case file is a mapping with a 'sweeps' list");
  for (const auto& kv : root) {
    const std::string key = kv.first.as<std::string>();
    if (key != "sweeps") fail(file, kv.first, key, "unknown top-level key (expected 'sweeps')");
  }
  const YAML::Node list = root["sweeps"];
  if (!list.IsSequence()) fail(file, list, "sweeps", "expected a list of sweeps");
  std::vector<Case> out;
  for (const auto& sweep : list) expand_sweep(file, sweep, models, out);
  return out;
} catch (const YAML::Exception& e) {
  yaml_fail(file, e);
}

Catalog load_catalog(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(dir)) throw CatalogError(dir.string() + ": catalog folder not found");
  Catalog cat;
  const fs::path models = dir / "models.yaml";
  cat.models = load_models(read_file(models), models.string());

  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file() || e.path().extension() != ".yaml") continue;
    const auto name = e.path().filename();
    if (name == "models.yaml" || name == "known_bugs.yaml") continue;
    // cases/negative/loader/ holds deliberately broken files for the loader's own tests.
    if (e.path().parent_path().filename() == "loader") continue;
    files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  std::set<std::string> seen;
  for (const auto& f : files) {
    for (auto& c : load_sweeps(read_file(f), f.string(), cat.models)) {
      if (seen.insert(c.suite + "." + c.name()).second) cat.cases.push_back(std::move(c));
    }
  }
  const fs::path bugs = dir / "known_bugs.yaml";
  if (fs::exists(bugs)) cat.known_bugs = load_known_bugs(read_file(bugs), bugs.string());
  return cat;
}

}  // namespace moecheck
