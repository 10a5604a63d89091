#include "case_json.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>
#include <set>

#include "catalog.hpp"
#include "moecheck/reference/error.hpp"
#include "npy.hpp"

namespace moecheck {

namespace {

using nlohmann::json;
using nlohmann::ordered_json;

// Dimensions of a case are sizes a kernel ABI passes; anything beyond int32 is not a real layer
// and would only let a hostile file ask for absurd allocations further on.
constexpr int64_t kMaxDim = std::numeric_limits<int32_t>::max();

const std::set<std::string> kStages = {"dequant", "routing", "align", "gemm1",    "act",
                                       "gemm2",   "sum",     "e2e",   "tolerance"};
const std::set<std::string> kTiers = {"smoke", "quick", "nightly"};
const std::set<std::string> kKernels = {"", "tiled", "fused", "align", "silu", "sum", "layer"};
const std::set<std::string> kExpects = {"pass", "not_supported", "input_error"};
const std::set<std::string> kArrayDtypes = {"bf16",  "fp16",    "int32",  "int64",
                                            "uint8", "float32", "float64"};

std::string join(const std::set<std::string>& s) {
  std::string out;
  for (const auto& v : s) out += (out.empty() ? "" : ", ") + (v.empty() ? "\"\"" : v);
  return out;
}

// Reads one JSON document with the checks of the file comment; `path` arguments are the dotted
// key path used in messages.
class Reader {
 public:
  explicit Reader(const std::string& file) : file_(file) {}

  [[noreturn]] void bad(const std::string& path, const std::string& what) const {
    throw InputError(file_ + ": " + path + ": " + what);
  }

  static std::string got(const json& v) {
    if (v.is_number_float()) return "a number with a fraction (" + v.dump() + ")";
    return v.type_name();
  }

  // Every key of `obj` must be in `keys`, and every one of `keys` must be present.
  // Every key of `allowed` must be there; those of `optional` may be; any other is refused.
  void keys(const json& obj, const std::string& path, const std::set<std::string>& allowed,
            const std::set<std::string>& optional = {}) const {
    if (!obj.is_object()) bad(path, std::string("expected an object, got ") + got(obj));
    for (const auto& kv : obj.items()) {
      if (!allowed.count(kv.key()) && !optional.count(kv.key())) {
        bad(sub(path, kv.key()), "unknown key");
      }
    }
    for (const auto& k : allowed) {
      if (!obj.contains(k)) bad(sub(path, k), "missing");
    }
  }

  static std::string sub(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

  int64_t integer(const json& v, const std::string& path, int64_t min, int64_t max) const {
    if (!v.is_number_integer()) bad(path, "expected an integer, got " + got(v));
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(max)) {
      bad(path,
          v.dump() + " is out of range [" + std::to_string(min) + ", " + std::to_string(max) + "]");
    }
    const int64_t x = v.get<int64_t>();
    if (x < min || x > max) {
      bad(path, std::to_string(x) + " is out of range [" + std::to_string(min) + ", " +
                    std::to_string(max) + "]");
    }
    return x;
  }
  uint64_t unsigned_integer(const json& v, const std::string& path) const {
    if (!v.is_number_unsigned()) {
      bad(path,
          "expected a non-negative integer, got " + (v.is_number_integer() ? v.dump() : got(v)));
    }
    return v.get<uint64_t>();
  }
  bool boolean(const json& v, const std::string& path) const {
    if (!v.is_boolean()) bad(path, "expected true or false, got " + got(v));
    return v.get<bool>();
  }
  std::string string(const json& v, const std::string& path) const {
    if (!v.is_string()) bad(path, "expected a string, got " + got(v));
    return v.get<std::string>();
  }
  std::string one_of(const json& v, const std::string& path, const std::set<std::string>& s) const {
    const std::string x = string(v, path);
    if (!s.count(x)) bad(path, "'" + x + "' is not one of: " + join(s));
    return x;
  }
  double number(const json& v, const std::string& path) const {
    if (!v.is_number()) bad(path, "expected a number, got " + got(v));
    const double x = v.get<double>();
    if (!std::isfinite(x)) bad(path, "not a finite number");
    return x;
  }

 private:
  const std::string& file_;
};

Case case_from_json(const Reader& r, const json& j, const std::string& path) {
  r.keys(j, path,
         {"suite",
          "stage",
          "tier",
          "kernel",
          "expect",
          "error",
          "bug",
          "model",
          "experts",
          "top_k",
          "hidden",
          "inter",
          "tokens",
          "group",
          "dtype",
          "format",
          "symmetric",
          "shuffled",
          "zero_format",
          "pad_kw",
          "pad_lda",
          "exact",
          "routing",
          "block_m",
          "mul_routed_weight",
          "apply_router_weight_on_input",
          "output_topk",
          "seed",
          "source"},
         {"zeros_include_0"});
  auto at = [&](const char* key) -> const json& { return j.at(key); };
  auto p = [&](const char* key) { return Reader::sub(path, key); };
  Case c;
  const auto& suites = known_suites();
  c.suite = r.one_of(at("suite"), p("suite"), std::set<std::string>(suites.begin(), suites.end()));
  c.stage = r.one_of(at("stage"), p("stage"), kStages);
  c.tier = r.one_of(at("tier"), p("tier"), kTiers);
  c.kernel = r.one_of(at("kernel"), p("kernel"), kKernels);
  c.expect = r.one_of(at("expect"), p("expect"), kExpects);
  c.error = r.string(at("error"), p("error"));
  std::set<std::string> bugs(known_bug_classes().begin(), known_bug_classes().end());
  bugs.insert("");
  c.bug = r.one_of(at("bug"), p("bug"), bugs);
  c.model = r.string(at("model"), p("model"));
  c.experts = r.integer(at("experts"), p("experts"), 1, kMaxDim);
  c.top_k = r.integer(at("top_k"), p("top_k"), 1, kMaxDim);
  c.hidden = r.integer(at("hidden"), p("hidden"), 1, kMaxDim);
  c.inter = r.integer(at("inter"), p("inter"), 1, kMaxDim);
  c.tokens = r.integer(at("tokens"), p("tokens"), 1, kMaxDim);
  c.group = r.integer(at("group"), p("group"), 1, kMaxDim);
  c.dtype = parse_dtype(r.one_of(at("dtype"), p("dtype"), {"bf16", "fp16"}));
  c.format =
      parse_format(r.one_of(at("format"), p("format"), {"exllama_nk", "gptq_kn", "triton_nk_u8"}));
  c.symmetric = r.boolean(at("symmetric"), p("symmetric"));
  c.shuffled = r.boolean(at("shuffled"), p("shuffled"));
  c.zero_format = r.one_of(at("zero_format"), p("zero_format"), {"v1", "v2"}) == "v1"
                      ? GptqZeros::v1
                      : GptqZeros::v2;
  c.pad_kw = r.integer(at("pad_kw"), p("pad_kw"), 0, kMaxDim);
  c.pad_lda = r.integer(at("pad_lda"), p("pad_lda"), 0, kMaxDim);
  c.exact = r.boolean(at("exact"), p("exact"));
  // Optional (below): the key came after dump version 1, whose earlier dumps never drew z = 0.
  c.zeros_include_0 =
      j.contains("zeros_include_0") && r.boolean(at("zeros_include_0"), p("zeros_include_0"));
  const json& routing = at("routing");
  const std::string rp = p("routing");
  r.keys(routing, rp, {"kind", "param", "seed"});
  const std::string kind = r.string(routing.at("kind"), Reader::sub(rp, "kind"));
  try {
    c.routing.kind = parse_routing_kind(kind);
  } catch (const std::exception& e) {
    r.bad(Reader::sub(rp, "kind"), e.what());
  }
  c.routing.param = r.number(routing.at("param"), Reader::sub(rp, "param"));
  c.routing.seed = r.unsigned_integer(routing.at("seed"), Reader::sub(rp, "seed"));
  c.block_m = r.integer(at("block_m"), p("block_m"), 1, kMaxDim);
  c.mul_routed_weight = r.boolean(at("mul_routed_weight"), p("mul_routed_weight"));
  c.apply_router_weight_on_input =
      r.boolean(at("apply_router_weight_on_input"), p("apply_router_weight_on_input"));
  c.output_topk = r.boolean(at("output_topk"), p("output_topk"));
  c.seed = r.unsigned_integer(at("seed"), p("seed"));
  c.source = r.string(at("source"), p("source"));
  return c;
}

// A file name of the dump folder: no path separators, no way out of the folder.
bool plain_npy_name(const std::string& s) {
  return s.size() > 4 && s.size() <= 128 && s.compare(s.size() - 4, 4, ".npy") == 0 &&
         s.find('/') == std::string::npos && s.find('\\') == std::string::npos && s[0] != '.';
}

}  // namespace

nlohmann::ordered_json case_to_json(const Case& c) {
  ordered_json j;
  j["suite"] = c.suite;
  j["stage"] = c.stage;
  j["tier"] = c.tier;
  j["kernel"] = c.kernel;
  j["expect"] = c.expect;
  j["error"] = c.error;
  j["bug"] = c.bug;
  j["model"] = c.model;
  j["experts"] = c.experts;
  j["top_k"] = c.top_k;
  j["hidden"] = c.hidden;
  j["inter"] = c.inter;
  j["tokens"] = c.tokens;
  j["group"] = c.group;
  j["dtype"] = to_string(c.dtype);
  j["format"] = to_string(c.format);
  j["symmetric"] = c.symmetric;
  j["shuffled"] = c.shuffled;
  j["zero_format"] = c.zero_format == GptqZeros::v1 ? "v1" : "v2";
  j["pad_kw"] = c.pad_kw;
  j["pad_lda"] = c.pad_lda;
  j["exact"] = c.exact;
  j["zeros_include_0"] = c.zeros_include_0;
  j["routing"] = {
      {"kind", to_string(c.routing.kind)}, {"param", c.routing.param}, {"seed", c.routing.seed}};
  j["block_m"] = c.block_m;
  j["mul_routed_weight"] = c.mul_routed_weight;
  j["apply_router_weight_on_input"] = c.apply_router_weight_on_input;
  j["output_topk"] = c.output_topk;
  j["seed"] = c.seed;
  j["source"] = c.source;
  return j;
}

std::string manifest_to_json(const DumpManifest& m) {
  ordered_json j;
  j["moecheck_dump"] = kDumpVersion;
  j["test"] = m.test;
  j["case"] = case_to_json(m.c);
  j["tolerance"] = {{"alpha", m.tolerance.alpha},
                    {"weight_dtype", to_string(m.tolerance.weight_dtype)},
                    {"out_dtype", to_string(m.tolerance.out_dtype)},
                    {"exact", m.tolerance.exact},
                    {"poison", m.poison}};
  ordered_json arrays = ordered_json::object();
  for (const auto& [file, a] : m.arrays) {
    arrays[file] = {{"dtype", a.dtype}, {"npy", a.npy}, {"shape", a.shape}, {"about", a.about}};
  }
  j["arrays"] = arrays;
  return j.dump(2) + "\n";
}

DumpManifest manifest_from_json(const std::string& text, const std::string& name) {
  const Reader r(name);
  // nlohmann keeps the last of repeated keys silently; a manifest with one key twice is refused.
  std::vector<std::set<std::string>> open;
  const json::parser_callback_t no_duplicates = [&](int, json::parse_event_t ev, json& parsed) {
    if (ev == json::parse_event_t::object_start) open.emplace_back();
    if (ev == json::parse_event_t::object_end && !open.empty()) open.pop_back();
    if (ev == json::parse_event_t::key && !open.empty() &&
        !open.back().insert(parsed.get<std::string>()).second) {
      throw InputError(name + ": " + parsed.get<std::string>() + ": key given twice");
    }
    return true;
  };
  json j;
  try {
    j = json::parse(text, no_duplicates);
  } catch (const json::exception& e) {
    throw InputError(name + ": not valid JSON: " + e.what());
  }
  r.keys(j, "", {"moecheck_dump", "test", "case", "tolerance", "arrays"});
  const json& version = j.at("moecheck_dump");
  if (!version.is_number_integer() || version.get<int64_t>() != kDumpVersion) {
    r.bad("moecheck_dump", "dump version " + version.dump() +
                               " is not supported (this moecheck reads " +
                               std::to_string(kDumpVersion) + ")");
  }
  DumpManifest m;
  m.test = r.string(j.at("test"), "test");
  m.c = case_from_json(r, j.at("case"), "case");

  const json& t = j.at("tolerance");
  r.keys(t, "tolerance", {"alpha", "weight_dtype", "out_dtype", "exact", "poison"});
  m.tolerance.alpha = r.number(t.at("alpha"), "tolerance.alpha");
  if (!(m.tolerance.alpha > 0)) r.bad("tolerance.alpha", "must be positive");
  m.tolerance.weight_dtype =
      parse_dtype(r.one_of(t.at("weight_dtype"), "tolerance.weight_dtype", {"bf16", "fp16"}));
  m.tolerance.out_dtype =
      parse_dtype(r.one_of(t.at("out_dtype"), "tolerance.out_dtype", {"bf16", "fp16"}));
  m.tolerance.exact = r.boolean(t.at("exact"), "tolerance.exact");
  m.poison = static_cast<uint16_t>(r.integer(t.at("poison"), "tolerance.poison", 0, 0xffff));

  const json& arrays = j.at("arrays");
  if (!arrays.is_object()) r.bad("arrays", "expected an object, got " + Reader::got(arrays));
  for (const auto& kv : arrays.items()) {
    const std::string path = "arrays." + kv.key();
    if (!plain_npy_name(kv.key())) r.bad(path, "not a plain file name ending in .npy");
    r.keys(kv.value(), path, {"dtype", "npy", "shape", "about"});
    DumpArrayInfo a;
    a.dtype = r.one_of(kv.value().at("dtype"), path + ".dtype", kArrayDtypes);
    a.npy = r.string(kv.value().at("npy"), path + ".npy");
    try {
      npy_item_size(a.npy);
    } catch (const InputError& e) {
      r.bad(path + ".npy", e.what());
    }
    const json& shape = kv.value().at("shape");
    if (!shape.is_array())
      r.bad(path + ".shape", "expected an array of integers, got " + Reader::got(shape));
    if (shape.size() > static_cast<size_t>(kMaxNpyDims))
      r.bad(path + ".shape", "too many dimensions");
    for (size_t i = 0; i < shape.size(); ++i) {
      a.shape.push_back(r.integer(shape[i], path + ".shape[" + std::to_string(i) + "]", 0,
                                  std::numeric_limits<int64_t>::max()));
    }
    a.about = r.string(kv.value().at("about"), path + ".about");
    m.arrays[kv.key()] = a;
  }
  return m;
}

}  // namespace moecheck
