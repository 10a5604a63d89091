#include "dump.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "inputs.hpp"
#include "moecheck/reference/align.hpp"
#include "moecheck/reference/error.hpp"
#include "moecheck/reference/formats.hpp"
#include "moecheck/reference/layer.hpp"
#include "npy.hpp"

namespace moecheck {

namespace fs = std::filesystem;

namespace {

constexpr const char* kManifest = "case.json";
// case.json is a page of text; anything far larger is not one.
constexpr uintmax_t kMaxManifestBytes = 1 << 20;

const char* dtype_descr(DType t) {
  return t == DType::bf16 ? kNpyU16 : kNpyF16;
}

// ---- writing -------------------------------------------------------------------------------

class DumpWriter {
 public:
  DumpWriter(const fs::path& dir, DumpManifest& m) : dir_(dir), m_(m) {}

  template <class T>
  void add(const std::string& file, const char* descr, const std::string& dtype,
           std::vector<int64_t> shape, const std::vector<T>& values, const std::string& about) {
    const NpyArray a = make_npy(descr, shape, values);
    write_npy(dir_ / file, a);
    m_.arrays[file] = {dtype, descr, a.shape, about};
  }
  void bits(const std::string& file, DType t, std::vector<int64_t> shape,
            const std::vector<uint16_t>& values, const std::string& about) {
    add(file, dtype_descr(t), to_string(t), std::move(shape), values, about);
  }
  void int32(const std::string& file, std::vector<int64_t> shape, const std::vector<int32_t>& v,
             const std::string& about) {
    add(file, kNpyI32, "int32", std::move(shape), v, about);
  }

 private:
  fs::path dir_;
  DumpManifest& m_;
};

void write_activations(DumpWriter& w, const Activations& a, const std::string& about) {
  w.bits("activations.npy", a.dtype, {a.rows, a.lda}, a.bits,
         a.lda == a.k ? about
                      : about + fmt::format("; row stride lda = {}: columns {}..{} are padding "
                                            "(NaN poison)",
                                            a.lda, a.k, a.lda - 1));
}

void write_routing(DumpWriter& w, const Routing& r, int64_t block_m) {
  w.int32("topk_ids.npy", {r.tokens, r.top_k}, r.ids, "expert of route t * top_k + j");
  w.add("topk_weights.npy", kNpyF32, "float32", {r.tokens, r.top_k}, r.weights,
        "routing weight of route t * top_k + j");
  if (!r.expert_map.empty()) {
    w.int32("expert_map.npy", {r.experts}, r.expert_map,
            "global expert -> index into the weight tensors, -1 for experts not computed");
  }
  const Alignment al = align_block_size(r, block_m);
  w.int32("sorted_token_ids.npy", {static_cast<int64_t>(al.sorted_token_ids.size())},
          al.sorted_token_ids,
          fmt::format("moe_align_block_size (block_m {}): flat route ids grouped by expert, each "
                      "expert padded to a multiple of block_m with the sentinel T * top_k = {}",
                      block_m, r.numel()));
  w.int32("expert_ids.npy", {static_cast<int64_t>(al.expert_ids.size())}, al.expert_ids,
          "expert (index into the weight tensors) of each block of block_m slots; -1: none");
  w.int32("num_tokens_post_padded.npy", {1}, {al.num_tokens_post_padded},
          "slots in use: the sum of the padded counts");
}

// Where a case's weights go in the dump. Cases build weights for the experts their routing
// reaches only (inputs.hpp); a dump, like the GPU testbed, normally gives the implementation
// full-size tensors of every local expert with the unreached ones poisoned (q = 15, NaN scales)
// and the case's own routing. Beyond a budget of weights (dump_case) it writes the reached experts
// only, with an expert_map onto them.
struct Placement {
  const ExpertSubset* experts = nullptr;
  bool full = true;
  int64_t count() const { return full ? experts->local_experts : experts->count(); }
};

// The packed tensor of the compact experts placed at their local ids; the other experts get
// `poison` in every element, except that words past `row_words` of every `row` words (the
// exllama_nk row padding, which must stay zero) are zero.
template <class T>
std::vector<T> place(const std::vector<T>& packed, const Placement& pl, T poison, int64_t row = 0,
                     int64_t row_words = 0) {
  if (!pl.full || pl.experts->count() == 0) return packed;
  const size_t per = packed.size() / pl.experts->count();
  std::vector<T> out(per * pl.experts->local_experts, poison);
  if (row > row_words) {
    for (size_t i = 0; i < out.size(); ++i) {
      if (static_cast<int64_t>(i % row) >= row_words) out[i] = 0;
    }
  }
  for (int64_t i = 0; i < pl.experts->count(); ++i) {
    std::copy_n(packed.data() + i * per, per, out.data() + pl.experts->local_of_compact[i] * per);
  }
  return out;
}

void write_weights(DumpWriter& w, const std::string& prefix, const Case& c, const QuantWeights& q,
                   const Placement& pl) {
  const WeightShape& s = q.shape;
  const int64_t e = pl.count(), n = s.n, k = s.k, g = s.groups();
  std::string what =
      fmt::format("{} weights (E = {}, N = {}, K = {}, G = {}", prefix, e, n, k, s.group);
  if (pl.full && pl.experts->count() < pl.experts->local_experts) {
    what += "; experts no route reaches are poisoned: q = 15, NaN scales";
  } else if (!pl.full) {
    what += "; the experts the routing reaches only, see expert_map.npy";
  }
  what += ")";
  // Poisoned zeros must still be zeros of the format: a symmetric gptq_kn tensor stores 8 (v2) or
  // 7 (v1) everywhere, and so do its unreached experts.
  const int32_t gptq_zero_poison = !c.symmetric ? -1
                                   : c.zero_format == GptqZeros::v1
                                       ? 0x77777777
                                       : static_cast<int32_t>(0x88888888u);
  switch (dump_format(c)) {
    case Format::exllama_nk: {
      const ExllamaNK p = pack_exllama_nk(q, k / 8 + c.pad_kw);
      w.int32(prefix + "_qweight.npy", {e, n, p.kw}, place(p.qweight, pl, -1, p.kw, k / 8),
              what +
                  ", exllama_nk: word j of row n holds k = 8j + [0,2,4,6,1,3,5,7][p] at nibble "
                  "p; words past K/8 are padding (zero)");
      w.bits(prefix + "_scales.npy", q.dtype, {e, n, g}, place<uint16_t>(p.scales, pl, 0xffff),
             what + ": scale of group k / G");
      if (!p.zeros.empty()) {
        w.int32(prefix + "_zeros.npy", {e, n / 8, g}, place(p.zeros, pl, -1),
                what + ": zero of (n, group) at nibble n % 8 of word n / 8");
      }
      break;
    }
    case Format::gptq_kn: {
      const GptqKN p = pack_gptq_kn(q, c.shuffled, c.zero_format);
      w.int32(prefix + "_qweight.npy", {e, k / 8, n}, place(p.qweight, pl, -1),
              what + ", gptq_kn: word (j, n) holds k = 8j + " +
                  (c.shuffled ? "[0,2,4,6,1,3,5,7][p]" : "p") + " at nibble p");
      w.bits(prefix + "_scales.npy", q.dtype, {e, g, n}, place<uint16_t>(p.scales, pl, 0xffff),
             what + ": scale of (group, n)");
      w.int32(prefix + "_zeros.npy", {e, g, n / 8}, place(p.zeros, pl, gptq_zero_poison),
              what + ": zero of (group, n = 8c + p) at nibble p of word c" +
                  (c.zero_format == GptqZeros::v1 ? ", stored as z - 1 (GPTQ v1)" : " (GPTQ v2)"));
      break;
    }
    case Format::triton_nk_u8: {
      const TritonNKU8 p = pack_triton_nk_u8(q);
      w.add(prefix + "_qweight.npy", kNpyU8, "uint8", {e, n, k / 2},
            place<uint8_t>(p.qweight, pl, 0xff),
            what + ", triton_nk_u8: byte j of row n holds k = 2j (low nibble), 2j + 1 (high)");
      w.bits(prefix + "_scales.npy", q.dtype, {e, n, g}, place<uint16_t>(p.scales, pl, 0xffff),
             what + ": scale of group k / G");
      if (!p.zeros.empty()) {
        w.add(prefix + "_zeros.npy", kNpyU8, "uint8", {e, n / 2, g},
              place<uint8_t>(p.zeros, pl, 0xff),
              what + ": zero of (n, group) at nibble n % 2 of byte n / 2");
      }
      break;
    }
  }
}

// Full-size tensors unless they would pass the budget (see Placement).
Placement placement(const ExpertSubset& experts, const std::vector<const QuantWeights*>& ws,
                    int64_t budget) {
  int64_t per_expert = 0;
  for (const QuantWeights* q : ws) per_expert += q->shape.n * q->shape.k;
  Placement pl;
  pl.experts = &experts;
  pl.full = experts.local_experts <= budget / std::max<int64_t>(per_expert, 1);
  return pl;
}

// ---- reading -------------------------------------------------------------------------------

NpyArray load(const fs::path& dir, const std::string& file) {
  if (!fs::exists(dir / file)) {
    throw InputError((dir / file).string() + ": missing (the dump's case needs it)");
  }
  return read_npy(dir / file);
}

template <class T>
std::vector<T> load_values(const fs::path& dir, const std::string& file, const char* descr,
                           const std::vector<int64_t>& shape) {
  return npy_values<T>(load(dir, file), (dir / file).string(), descr, shape);
}

Activations read_activations(const fs::path& dir, const Case& c, int64_t rows, int64_t k) {
  Activations a;
  a.dtype = c.dtype;
  a.rows = rows;
  a.k = k;
  a.lda = k + c.pad_lda;
  a.bits = load_values<uint16_t>(dir, "activations.npy", dtype_descr(c.dtype), {rows, a.lda});
  return a;
}

Routing read_routing(const fs::path& dir, const Case& c) {
  const NpyArray ids = load(dir, "topk_ids.npy");
  const std::string ids_name = (dir / "topk_ids.npy").string();
  if (ids.shape.size() != 2 || ids.shape[1] != c.top_k) {
    throw InputError(ids_name + ": shape " + shape_string(ids.shape) + ", expected [T, " +
                     std::to_string(c.top_k) + "] (top_k of case.json)");
  }
  Routing r;
  r.tokens = ids.shape[0];
  r.top_k = c.top_k;
  r.experts = c.experts;
  r.ids = npy_values<int32_t>(ids, ids_name, kNpyI32);
  r.weights = load_values<float>(dir, "topk_weights.npy", kNpyF32, {r.tokens, r.top_k});
  if (fs::exists(dir / "expert_map.npy")) {
    r.expert_map = load_values<int32_t>(dir, "expert_map.npy", kNpyI32, {c.experts});
  }
  try {
    validate(r);
  } catch (const InputError& e) {
    throw InputError((dir / "topk_ids.npy").string() + ": " + e.what());
  }
  return r;
}

// The dump's alignment must be the routing's: the reference walks its own, and an implementation
// given a different one would be judged against routes it was not asked for.
Alignment read_alignment(const fs::path& dir, const Routing& r, int64_t block_m) {
  const Alignment want = align_block_size(r, block_m);
  const auto check = [&](const std::string& file, const std::vector<int32_t>& expect) {
    const auto got =
        load_values<int32_t>(dir, file, kNpyI32, {static_cast<int64_t>(expect.size())});
    for (size_t i = 0; i < got.size(); ++i) {
      if (got[i] != expect[i]) {
        throw InputError(fmt::format(
            "{}: element {} is {}, but moe_align_block_size of topk_ids.npy (block_m {}) gives {}: "
            "the alignment must be the routing's",
            (dir / file).string(), i, got[i], block_m, expect[i]));
      }
    }
  };
  check("sorted_token_ids.npy", want.sorted_token_ids);
  check("expert_ids.npy", want.expert_ids);
  check("num_tokens_post_padded.npy", {want.num_tokens_post_padded});
  return want;
}

QuantWeights read_weights(const fs::path& dir, const std::string& prefix, const Case& c,
                          const WeightShape& s) {
  validate(s, (prefix + " weights").c_str());
  const int64_t e = s.experts, n = s.n, k = s.k, g = s.groups();
  const std::string qf = prefix + "_qweight.npy", sf = prefix + "_scales.npy",
                    zf = prefix + "_zeros.npy";
  const bool has_zeros = fs::exists(dir / zf);
  const Format f = dump_format(c);
  if (f != Format::gptq_kn && has_zeros == c.symmetric) {
    throw InputError((dir / zf).string() + (c.symmetric
                                                ? ": present, but case.json says symmetric"
                                                : ": missing, but case.json says asymmetric"));
  }
  try {
    switch (f) {
      case Format::exllama_nk: {
        ExllamaNK p;
        p.kw = k / 8 + c.pad_kw;
        p.qweight = load_values<int32_t>(dir, qf, kNpyI32, {e, n, p.kw});
        p.scales = load_values<uint16_t>(dir, sf, dtype_descr(c.dtype), {e, n, g});
        if (has_zeros) p.zeros = load_values<int32_t>(dir, zf, kNpyI32, {e, n / 8, g});
        return unpack_exllama_nk(p, s, c.dtype);
      }
      case Format::gptq_kn: {
        GptqKN p;
        p.shuffled = c.shuffled;
        p.zero_format = c.zero_format;
        p.qweight = load_values<int32_t>(dir, qf, kNpyI32, {e, k / 8, n});
        p.scales = load_values<uint16_t>(dir, sf, dtype_descr(c.dtype), {e, g, n});
        p.zeros = load_values<int32_t>(dir, zf, kNpyI32, {e, g, n / 8});
        return unpack_gptq_kn(p, s, c.dtype, c.symmetric);
      }
      case Format::triton_nk_u8: {
        TritonNKU8 p;
        p.qweight = load_values<uint8_t>(dir, qf, kNpyU8, {e, n, k / 2});
        p.scales = load_values<uint16_t>(dir, sf, dtype_descr(c.dtype), {e, n, g});
        if (has_zeros) p.zeros = load_values<uint8_t>(dir, zf, kNpyU8, {e, n / 2, g});
        return unpack_triton_nk_u8(p, s, c.dtype);
      }
    }
  } catch (const InputError& err) {
    const std::string m = err.what();
    // Errors of the unpacker name the array but not the file.
    if (m.rfind(dir.string(), 0) == 0) throw;
    throw InputError((dir / (prefix + "_*.npy")).string() + ": " + m);
  }
  throw InputError("unknown format");
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

}  // namespace

bool stage_has_dump(const std::string& stage) {
  return stage == "gemm1" || stage == "gemm2" || stage == "act" || stage == "sum" || stage == "e2e";
}

std::vector<std::string> verifiable_stages(const std::string& stage) {
  if (stage == "e2e") return {"gemm1", "act", "gemm2", "out", "sum", "e2e"};
  if (stage_has_dump(stage)) return {stage};
  return {};
}

Format dump_format(const Case& c) {
  if (c.kernel == "fused") return Format::gptq_kn;
  if (c.kernel == "tiled") return Format::exllama_nk;
  return c.format;
}

DumpManifest case_manifest(const Case& c, const std::string& test) {
  DumpManifest m;
  m.test = test;
  m.c = c;
  m.c.format = dump_format(c);  // the format the files are in, whatever the case file said
  m.tolerance = case_tolerance(c);
  m.poison = poison_bits(c.dtype);
  return m;
}

DumpManifest dump_case(const Case& case_in, const std::string& test, const fs::path& dir,
                       int64_t full_weights_budget) {
  if (!stage_has_dump(case_in.stage)) {
    throw InputError("stage " + case_in.stage +
                     " has no dump (dumps are of gemm1, gemm2, act, sum and e2e cases)");
  }
  Case c = case_in;
  c.format = dump_format(case_in);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) {
    throw InputError(dir.string() + ": cannot create the dump folder" +
                     (ec ? ": " + ec.message() : std::string()));
  }
  DumpManifest m = case_manifest(c, test);
  DumpWriter w(dir, m);
  if (c.stage == "gemm1" || c.stage == "gemm2") {
    const GemmProblem p = make_gemm_problem(c);
    const Placement pl = placement(p.experts, {&p.w}, full_weights_budget);
    write_activations(
        w, p.a,
        c.stage == "gemm1" ? "A [T, K]: row t is token t" : "A [T * top_k, K]: row i is route i");
    write_routing(w, pl.full ? p.routing : p.experts.routing, c.block_m);
    write_weights(w, c.stage == "gemm1" ? "w1" : "w2", c, p.w, pl);
  } else if (c.stage == "e2e") {
    const LayerCase lc = make_layer_case(c);
    const Placement pl =
        placement(lc.experts, {&lc.problem.w1, &lc.problem.w2}, full_weights_budget);
    write_activations(w, lc.problem.a, "A [T, hidden]: row t is token t");
    write_routing(w, pl.full ? lc.routing : lc.problem.routing, c.block_m);
    write_weights(w, "w1", c, lc.problem.w1, pl);
    write_weights(w, "w2", c, lc.problem.w2, pl);
  } else {
    const bool act = c.stage == "act";
    const Activations x = make_activations(c, c.numel(), act ? 2 * c.inter : c.hidden);
    write_activations(w, x,
                      act ? "silu_and_mul input [T * top_k, 2I]: gate | up"
                          : "moe_sum input [T * top_k, H]: row t * top_k + j");
  }
  write_manifest(dir, m);
  return m;
}

void write_manifest(const fs::path& dir, const DumpManifest& m) {
  std::ofstream out(dir / kManifest, std::ios::trunc);
  out << manifest_to_json(m);
  out.close();
  if (!out) throw InputError((dir / kManifest).string() + ": cannot write");
}

DumpManifest read_manifest(const fs::path& dir) {
  const fs::path file = dir / kManifest;
  std::error_code ec;
  const uintmax_t size = fs::file_size(file, ec);
  if (ec) throw InputError(file.string() + ": cannot read: " + ec.message());
  if (size > kMaxManifestBytes) throw InputError(file.string() + ": too large for a case.json");
  std::ifstream in(file, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return manifest_from_json(ss.str(), file.string());
}

StageReference reference_from_dump(const fs::path& dir, const std::string& stage_in) {
  const DumpManifest m = read_manifest(dir);
  const Case& c = m.c;
  const std::vector<std::string> stages = verifiable_stages(c.stage);
  if (std::find(stages.begin(), stages.end(), stage_in) == stages.end()) {
    throw InputError("the dump in " + dir.string() + " is of a " + c.stage + " case: --stage " +
                     (stages.empty() ? "(none)" : join(stages)) + ", not " + stage_in);
  }
  StageReference s;
  s.test = m.test;
  s.stage = stage_in;
  s.tol = m.tolerance;
  s.poison = m.poison;
  s.dtype = m.tolerance.out_dtype;
  if (m.tolerance.weight_dtype != c.dtype || m.tolerance.out_dtype != c.dtype) {
    throw InputError((dir / kManifest).string() + ": tolerance dtypes differ from case.dtype " +
                     to_string(c.dtype));
  }

  if (c.stage == "act" || c.stage == "sum") {
    const bool act = c.stage == "act";
    const Activations x = read_activations(dir, c, c.numel(), act ? 2 * c.inter : c.hidden);
    const RefOutput in = given_values(x);
    const std::vector<double> no_error(in.value.size(), 0.0);
    s.ref = act ? silu_and_mul(in, no_error) : moe_sum(in, c.top_k, no_error);
    return s;
  }

  const Routing r = read_routing(dir, c);
  const Alignment al = read_alignment(dir, r, c.block_m);
  if (c.stage == "gemm1" || c.stage == "gemm2") {
    const bool gemm1 = c.stage == "gemm1";
    const Activations a = read_activations(dir, c, gemm1 ? r.tokens : r.numel(), c.gemm_k());
    const QuantWeights w = read_weights(dir, gemm1 ? "w1" : "w2", c,
                                        {r.local_experts(), c.gemm_n(), c.gemm_k(), c.group});
    GemmOptions opt;
    opt.mul_routed_weight = c.mul_routed_weight;
    const bool on_input = gemm1 && c.apply_router_weight_on_input;
    s.ref = routed_gemm(on_input ? apply_router_weight_on_input(a, r) : a,
                        gemm1 && !on_input ? c.top_k : 1, w, r, al, opt);
    if (c.output_topk) s.ref = moe_sum(s.ref, c.top_k, element_bounds(s.ref, s.tol));
    return s;
  }

  // e2e: the layer, each stage's bound composed into the next (reference/layer.hpp).
  LayerProblem p;
  p.a = read_activations(dir, c, r.tokens, c.hidden);
  p.w1 = read_weights(dir, "w1", c, {r.local_experts(), 2 * c.inter, c.hidden, c.group});
  p.w2 = read_weights(dir, "w2", c, {r.local_experts(), c.hidden, c.inter, c.group});
  p.routing = r;
  p.block_m = c.block_m;
  p.apply_router_weight_on_input = c.apply_router_weight_on_input;
  const LayerReference ref = reference_layer(p, s.tol);
  if (stage_in == "gemm1") {
    s.ref = ref.c1;
  } else if (stage_in == "act") {
    s.ref = ref.act;
    for (int64_t i = 0; i < ref.act.rows; ++i) {
      if (ref.act.written[i]) s.only_rows.push_back(i);
    }
  } else if (stage_in == "gemm2" && !c.output_topk) {
    s.ref = ref.c2;
  } else {
    s.ref = ref.out;
  }
  return s;
}

std::vector<uint16_t> read_output(const fs::path& file, const StageReference& s) {
  const NpyArray a = read_npy(file);
  const std::string name = file.string();
  const std::vector<int64_t> shape = {s.ref.rows, s.ref.cols};
  if (a.shape != shape) {
    throw InputError(name + ": shape " + shape_string(a.shape) + ", expected " +
                     shape_string(shape) + " (the " + s.stage + " output of the dump's case)");
  }
  if (a.descr == dtype_descr(s.dtype)) return npy_values<uint16_t>(a, name, a.descr.c_str());
  if (a.descr != kNpyF32) {
    throw InputError(name + ": dtype " + a.descr + "; a " + to_string(s.dtype) + " output is " +
                     dtype_descr(s.dtype) + (s.dtype == DType::bf16 ? " (its bit patterns)" : "") +
                     " or float32 holding " + to_string(s.dtype) + " values");
  }
  const std::vector<float> v = npy_values<float>(a, name, kNpyF32);
  std::vector<uint16_t> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    if (std::isnan(v[i])) {
      out[i] = s.poison;
      continue;
    }
    out[i] = float_to_bits(v[i], s.dtype);
    if (bits_to_float(out[i], s.dtype) != v[i]) {
      throw InputError(fmt::format(
          "{}: element (row {}, column {}) = {} is not a {} value: hand over the output in its own "
          "dtype ({}{}), not values computed in float32",
          name, static_cast<int64_t>(i) / s.ref.cols, static_cast<int64_t>(i) % s.ref.cols, v[i],
          to_string(s.dtype), dtype_descr(s.dtype),
          s.dtype == DType::bf16 ? ", bit patterns" : ""));
    }
  }
  return out;
}

std::string result_json(const std::string& test, const std::string& stage, const Comparison& cmp) {
  return fmt::format(
      "{{\"test\":\"{}\",\"stage\":\"{}\",\"outcome\":\"{}\",\"margin\":{:.6g},"
      "\"rel_l1\":{:.6g},\"compared\":{}}}",
      test, stage, to_string(cmp.outcome), cmp.worst_margin, cmp.rel_l1, cmp.compared);
}

std::string result_text(const Comparison& cmp) {
  std::string s = fmt::format("{}: worst margin {:.6g}, rel L1 {:.6g}, {} elements compared",
                              to_string(cmp.outcome), cmp.worst_margin, cmp.rel_l1, cmp.compared);
  if (cmp.beyond) s += fmt::format(", {} beyond bound", cmp.beyond);
  if (!cmp.message.empty()) s += "\n  first problem: " + cmp.message;
  return s;
}

void dump_comparison(const fs::path& dir, const std::string& stage, const RefOutput& ref,
                     const Tolerance& tol, const std::vector<uint16_t>& actual, int64_t ldc,
                     const Comparison& cmp) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  DumpManifest m = read_manifest(dir);
  DumpWriter w(dir, m);
  const std::vector<int64_t> shape = {ref.rows, ref.cols};
  w.add(stage + "_reference.npy", kNpyF64, "float64", shape, ref.value,
        "the reference's " + stage + " output in double (the rows the comparison covered)");
  w.add(stage + "_bound.npy", kNpyF64, "float64", shape, element_bounds(ref, tol),
        "the tolerance of each element (absolute)");
  std::vector<uint16_t> got(ref.rows * ref.cols, 0);
  for (int64_t r = 0; r < ref.rows; ++r) {
    for (int64_t c = 0; c < ref.cols; ++c) {
      const size_t at = static_cast<size_t>(r * ldc + c);
      if (at < actual.size()) got[r * ref.cols + c] = actual[at];
    }
  }
  w.bits(stage + "_actual.npy", tol.out_dtype, shape, got,
         "the implementation's " + stage + " output that failed");
  std::ofstream(dir / (stage + "_result.txt")) << result_text(cmp) << "\n";
  write_manifest(dir, m);
}

}  // namespace moecheck
