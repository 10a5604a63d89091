// The exchange's own tests: .npy and case.json round trips; hostile files (malformed, truncated,
// huge shapes, wrong dtypes, unknown or missing keys) refused with the file and the problem
// named; and dumps read back into exactly the reference the suites compute.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "case_json.hpp"
#include "catalog.hpp"
#include "dump.hpp"
#include "inputs.hpp"
#include "moecheck/reference/align.hpp"
#include "moecheck/reference/error.hpp"
#include "moecheck/reference/layer.hpp"
#include "npy.hpp"

namespace moecheck {
namespace {

namespace fs = std::filesystem;

// ---- helpers -------------------------------------------------------------------------------

// A fresh folder per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    const auto* info = testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() /
            ("moecheck_exchange_" + std::string(info->test_suite_name()) + "_" + info->name() +
             "_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
  static inline int counter_ = 0;
};

std::string from_hex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  }
  return out;
}

NpyArray parse(const std::string& bytes) {
  return parse_npy(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "t.npy");
}

// The InputError message of parsing `bytes`, or "" when it was accepted.
std::string npy_error(const std::string& bytes) {
  try {
    parse(bytes);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

// A v1.0 file with the given header dict (padded as numpy pads) and data.
std::string npy_with_header(const std::string& dict, const std::string& data) {
  std::string h = dict;
  h.append(64 - (10 + h.size() + 1) % 64, ' ');
  h += '\n';
  std::string out = std::string("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(h.size() & 0xff);
  out += static_cast<char>(h.size() >> 8);
  return out + h + data;
}

// numpy.save(np.arange(6, dtype='<i4').reshape(2, 3)) by numpy 1.24, byte for byte.
const char* kNumpyArange =
    "934e554d5059010076007b276465736372273a20273c6934272c2027666f727472616e5f6f72646572273a2046"
    "616c73652c20277368617065273a2028322c2033292c207d2020202020202020202020202020202020202020202020"
    "20202020202020202020202020202020202020202020202020202020202020202020200a0000000001000000020000"
    "00030000000400000005000000";

// ---- .npy ----------------------------------------------------------------------------------

TEST(Npy, WritesExactlyWhatNumpyWrites) {
  const NpyArray a = make_npy<int32_t>(kNpyI32, {2, 3}, {0, 1, 2, 3, 4, 5});
  EXPECT_EQ(format_npy(a), from_hex(kNumpyArange));
}

TEST(Npy, ReadsWhatNumpyWrites) {
  const NpyArray a = parse(from_hex(kNumpyArange));
  EXPECT_EQ(a.descr, "<i4");
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(npy_values<int32_t>(a, "t", kNpyI32, {2, 3}), (std::vector<int32_t>{0, 1, 2, 3, 4, 5}));
}

template <class T>
void expect_round_trip(const char* descr, std::vector<int64_t> shape, std::vector<T> values) {
  const NpyArray a = make_npy(descr, shape, values);
  const std::string bytes = format_npy(a);
  EXPECT_EQ((bytes.size() - a.data.size()) % 64, 0u) << "data starts at a multiple of 64";
  const NpyArray b = parse(bytes);
  EXPECT_EQ(b.descr, descr);
  EXPECT_EQ(b.shape, shape);
  EXPECT_EQ(npy_values<T>(b, "t", descr, shape.empty() ? std::vector<int64_t>{} : shape), values);
}

TEST(Npy, RoundTripsEveryDtypeAndRank) {
  expect_round_trip<uint8_t>(kNpyU8, {3}, {0, 7, 255});
  expect_round_trip<uint16_t>(kNpyU16, {2, 2}, {0x3f80, 0xffff, 0, 1});
  expect_round_trip<uint16_t>(kNpyF16, {1, 2, 1}, {0x3c00, 0x7bff});
  expect_round_trip<int32_t>(kNpyI32, {4}, {-1, 0, 1, INT32_MIN});
  expect_round_trip<int64_t>(kNpyI64, {1}, {INT64_MAX});
  expect_round_trip<float>(kNpyF32, {2, 1}, {1.5f, -0.0f});
  expect_round_trip<double>(kNpyF64, {}, {3.25});  // 0-d: one element
  expect_round_trip<double>(kNpyF64, {0, 5}, {});  // empty
  expect_round_trip<int32_t>(kNpyI32, {1, 1, 1, 1, 1, 1, 1, 2}, {5, 6});
}

TEST(Npy, WritesAndReadsFiles) {
  TempDir t;
  write_npy(t.path() / "x.npy", make_npy<float>(kNpyF32, {3}, {1, 2, 3}));
  const NpyArray a = read_npy(t.path() / "x.npy");
  EXPECT_EQ(npy_values<float>(a, "x", kNpyF32, {3}), (std::vector<float>{1, 2, 3}));
}

TEST(Npy, RefusesMalformedHeaders) {
  const std::string ok_data(8, '\0');  // 2 x int32
  const struct {
    std::string dict, expect;
  } cases[] = {
      {"{'descr': '<i4', 'fortran_order': True, 'shape': (2,), }", "fortran_order is True"},
      {"{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }", "big-endian"},
      {"{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", "'<c8' is not supported"},
      {"{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", "'|O' is not supported"},
      {"{'descr': '<i4', 'fortran_order': False, 'shape': (2), }", "a 1-d shape is written (n,)"},
      {"{'descr': '<i4', 'fortran_order': False, 'shape': (-2,), }", "non-negative integers"},
      {"{'descr': '<i4', 'fortran_order': False, 'shape': [2], }", "shape must be a tuple"},
      {"{'descr': '<i4', 'fortran_order': False, }", "'shape' is missing"},
      {"{'fortran_order': False, 'shape': (2,), }", "'descr' is missing"},
      {"{'descr': '<i4', 'shape': (2,), }", "'fortran_order' is missing"},
      {"{'descr': '<i4', 'descr': '<i4', 'fortran_order': False, 'shape': (2,)}",
       "'descr' appears twice"},
      {"{'descr': '<i4', 'fortran_order': False, 'shape': (2,), 'extra': 1}",
       "unknown key 'extra'"},
      {"{'descr': '<i4', 'fortran_order': 0, 'shape': (2,)}", "must be True or False"},
      {"{'descr': '<i4' 'fortran_order': False, 'shape': (2,)}", "expected ',' or '}'"},
      {"{'descr': '<i4, 'fortran_order': False, 'shape': (2,)}",
       "expected ',' or '}' after the value of 'descr'"},
      {"{'descr: '<i4', 'fortran_order': False, 'shape': (2,)}", "expected ':'"},
      {"{'descr': '<\\i4', 'fortran_order': False, 'shape': (2,)}", "escapes"},
      {"descr: <i4", "must start with '{'"},
      {"{'descr': '<i4', 'fortran_order': False, 'shape': (2,)} junk", "must end with '}'"},
      {"{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3 4)}", "expected ',' or ')'"},
  };
  for (const auto& c : cases) {
    const std::string e = npy_error(npy_with_header(c.dict, ok_data));
    EXPECT_NE(e.find(c.expect), std::string::npos) << c.dict << "\n  got: " << e;
    EXPECT_EQ(e.rfind("t.npy: ", 0), 0u) << "errors name the file: " << e;
  }
}

TEST(Npy, RefusesBadMagicVersionsAndTruncation) {
  const std::string good = from_hex(kNumpyArange);
  std::string bad_magic = good;
  bad_magic[1] = 'X';
  EXPECT_NE(npy_error(bad_magic).find("not a .npy file"), std::string::npos);
  EXPECT_NE(npy_error("PK\x03\x04 a zip file").find("not a .npy file"), std::string::npos);
  for (const auto& [major, minor] : {std::pair{3, 0}, {0, 0}, {1, 1}, {255, 255}}) {
    std::string v = good;
    v[6] = static_cast<char>(major);
    v[7] = static_cast<char>(minor);
    EXPECT_NE(npy_error(v).find("format version " + std::to_string(major) + "." +
                                std::to_string(minor) + " is not supported"),
              std::string::npos);
  }
  // Every proper prefix of a valid file is refused, none read out of bounds (ASan builds).
  for (size_t n = 0; n < good.size(); ++n) {
    const std::string e = npy_error(good.substr(0, n));
    EXPECT_FALSE(e.empty()) << "a file cut to " << n << " bytes was accepted";
  }
  EXPECT_NE(npy_error(good.substr(0, good.size() - 1)).find("data is truncated"),
            std::string::npos);
  EXPECT_NE(npy_error(good.substr(0, 50)).find("truncated header"), std::string::npos);
  EXPECT_NE(npy_error(good + "x").find("1 bytes after the data"), std::string::npos);
}

TEST(Npy, RefusesHugeAndOverflowingShapes) {
  const auto header = [](const std::string& shape) {
    return npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': " + shape + ", }",
                           std::string(8, '\0'));
  };
  EXPECT_NE(npy_error(header("(4611686018427387904, 4611686018427387904)"))
                .find("more elements than fit in 64 bits"),
            std::string::npos);
  EXPECT_NE(npy_error(header("(99999999999999999999999,)")).find("does not fit in 64 bits"),
            std::string::npos);
  EXPECT_NE(npy_error(header("(1099511627776,)")).find("-byte limit"), std::string::npos);
  // A zero dimension makes any other dimension harmless.
  EXPECT_NE(npy_error(header("(0, 4611686018427387904)")).find("8 bytes after"), std::string::npos);
  std::string many = "(";
  for (int i = 0; i < 40; ++i) many += "1, ";
  EXPECT_NE(npy_error(header(many + ")")).find("more than 32 dimensions"), std::string::npos);
  // A header length beyond the limit is refused before anything is read.
  std::string big = std::string("\x93NUMPY\x02\x00", 8) + std::string("\xff\xff\xff\x7f", 4);
  EXPECT_NE(npy_error(big).find("exceeds the limit"), std::string::npos);
}

TEST(Npy, TypedViewsCheckDtypeAndShape) {
  const NpyArray a = make_npy<float>(kNpyF32, {2, 2}, {1, 2, 3, 4});
  try {
    npy_values<int32_t>(a, "w.npy", kNpyI32, {2, 2});
    FAIL() << "read float32 as int32";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "w.npy: dtype <f4, expected <i4");
  }
  try {
    npy_values<float>(a, "w.npy", kNpyF32, {4});
    FAIL() << "accepted the wrong shape";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "w.npy: shape [2, 2], expected [4]");
  }
  EXPECT_THROW(make_npy<float>(kNpyF32, {3}, {1, 2}), InputError);
  EXPECT_THROW(make_npy<float>(kNpyF64, {2}, {1, 2}), InputError);
}

TEST(Npy, ReportsUnreadableFiles) {
  TempDir t;
  try {
    read_npy(t.path() / "absent.npy");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("absent.npy: cannot read"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_npy(t.path()), InputError);  // a folder
}

// ---- case.json -----------------------------------------------------------------------------

Case unusual_case() {
  Case c;
  c.suite = "gpu_kernel";
  c.stage = "gemm2";
  c.tier = "nightly";
  c.kernel = "fused";
  c.expect = "not_supported";
  c.error = "because";
  c.bug = "nibble_order";
  c.model = "qwen3_30b_a3b";
  c.experts = 16;
  c.top_k = 3;
  c.hidden = 320;
  c.inter = 96;
  c.tokens = 9;
  c.group = 32;
  c.dtype = DType::fp16;
  c.format = Format::gptq_kn;
  c.symmetric = false;
  c.shuffled = false;
  c.zero_format = GptqZeros::v1;
  c.pad_kw = 3;
  c.pad_lda = 8;
  c.exact = true;
  c.zeros_include_0 = true;
  c.routing = {RoutingKind::zipf, 1.25, 18446744073709551615ull};
  c.block_m = 8;
  c.mul_routed_weight = true;
  c.apply_router_weight_on_input = true;
  c.output_topk = true;
  c.seed = 1ull << 63;
  c.source = "cases/x.yaml:3";
  return c;
}

DumpManifest sample_manifest() {
  DumpManifest m;
  m.c = unusual_case();
  m.test = m.c.suite + "." + m.c.name();
  m.tolerance = case_tolerance(m.c);
  m.tolerance.alpha = 2.5;
  m.arrays["a.npy"] = {"fp16", "<f2", {9, 104}, "the input"};
  return m;
}

TEST(CaseJson, RoundTripsEveryField) {
  const DumpManifest m = sample_manifest();
  const DumpManifest b = manifest_from_json(manifest_to_json(m), "case.json");
  const Case &x = m.c, &y = b.c;
  EXPECT_EQ(b.test, m.test);
  EXPECT_EQ(y.name(), x.name());
  EXPECT_EQ(y.suite, x.suite);
  EXPECT_EQ(y.tier, x.tier);
  EXPECT_EQ(y.error, x.error);
  EXPECT_EQ(y.bug, x.bug);
  EXPECT_EQ(y.model, x.model);
  EXPECT_EQ(y.source, x.source);
  EXPECT_EQ(y.routing.param, x.routing.param);
  EXPECT_EQ(y.routing.seed, x.routing.seed);
  EXPECT_EQ(y.seed, x.seed);
  EXPECT_EQ(y.zero_format, x.zero_format);
  EXPECT_EQ(y.shuffled, x.shuffled);
  EXPECT_EQ(y.apply_router_weight_on_input, x.apply_router_weight_on_input);
  EXPECT_TRUE(y.zeros_include_0);
  EXPECT_EQ(b.tolerance.alpha, 2.5);
  EXPECT_EQ(b.tolerance.out_dtype, DType::fp16);
  EXPECT_TRUE(b.tolerance.exact);
  EXPECT_EQ(b.poison, 0xffff);
  ASSERT_EQ(b.arrays.count("a.npy"), 1u);
  EXPECT_EQ(b.arrays.at("a.npy").shape, (std::vector<int64_t>{9, 104}));
  EXPECT_EQ(manifest_to_json(b), manifest_to_json(m));
}

// zeros_include_0 came after dump version 1: a dump without it reads as false.
TEST(CaseJson, ReadsADumpWithoutZerosInclude0) {
  std::string text = manifest_to_json(sample_manifest());
  const std::string key = "\"zeros_include_0\": true,";
  const size_t at = text.find(key);
  ASSERT_NE(at, std::string::npos) << text;
  text.erase(at, key.size());
  EXPECT_FALSE(manifest_from_json(text, "d/case.json").c.zeros_include_0);
}

// The error of reading the sample manifest after replacing `from` (once) with `to`.
std::string json_error(const std::string& from, const std::string& to) {
  std::string text = manifest_to_json(sample_manifest());
  const size_t at = text.find(from);
  if (at == std::string::npos) return "test bug: '" + from + "' not in the manifest";
  text.replace(at, from.size(), to);
  try {
    manifest_from_json(text, "d/case.json");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

// case.json must carry every parameter a catalog case can have: each key a sweep may set is a key
// of case.json's "case" object (the catalog's routing_seed is its routing.seed). A parameter
// added to the catalog and not to suites/exchange/case_json.cpp fails here; the strict reader and
// the round trip above keep the writer and the reader in step.
TEST(CaseJson, KnowsEveryCatalogKey) {
  const nlohmann::ordered_json j = case_to_json(Case{});
  const std::vector<std::string> keys = case_keys();
  EXPECT_GT(keys.size(), 20u);
  for (const std::string& key : keys) {
    if (key == "routing_seed") {
      EXPECT_TRUE(j.at("routing").contains("seed"));
      continue;
    }
    EXPECT_TRUE(j.contains(key))
        << "the catalog key '" << key
        << "' is not in case.json: add it to suites/exchange/case_json.cpp";
  }
}

TEST(CaseJson, RefusesUnknownMissingAndMistypedKeys) {
  const struct {
    std::string from, to, expect;
  } cases[] = {
      {"\"top_k\": 3", "\"top_k\": \"3\"", "case.top_k: expected an integer, got string"},
      {"\"top_k\": 3", "\"top_k\": 3.5",
       "case.top_k: expected an integer, got a number with a fraction"},
      {"\"top_k\": 3", "\"top_k\": 0", "case.top_k: 0 is out of range"},
      {"\"top_k\": 3", "\"top_k\": 9223372036854775808",
       "case.top_k: 9223372036854775808 is out of range"},
      {"\"top_k\": 3,", "", "case.top_k: missing"},
      {"\"top_k\": 3", "\"top_k\": 3, \"topk\": 3", "case.topk: unknown key"},
      {"\"top_k\": 3", "\"top_k\": 3, \"top_k\": 4", "top_k: key given twice"},
      {"\"symmetric\": false", "\"symmetric\": 0",
       "case.symmetric: expected true or false, got number"},
      {"\"bug\": \"nibble_order\"", "\"bug\": \"nibble\"", "case.bug: 'nibble' is not one of"},
      {"\"dtype\": \"fp16\"", "\"dtype\": \"fp8\"", "case.dtype: 'fp8' is not one of: bf16, fp16"},
      {"\"stage\": \"gemm2\"", "\"stage\": null", "case.stage: expected a string, got null"},
      {"\"suite\": \"gpu_kernel\"", "\"suite\": \"nope\"", "case.suite: 'nope' is not one of"},
      {"\"kind\": \"zipf\"", "\"kind\": \"zap\"", "case.routing.kind:"},
      {"\"param\": 1.25", "\"param\": \"x\"", "case.routing.param: expected a number, got string"},
      {"\"seed\": 18446744073709551615", "\"seed\": -1",
       "case.routing.seed: expected a non-negative integer, got -1"},
      {"\"routing\": {", "\"routing\": {\"extra\": 1, ", "case.routing.extra: unknown key"},
      {"\"alpha\": 2.5", "\"alpha\": 0.0", "tolerance.alpha: must be positive"},
      {"\"alpha\": 2.5", "\"alpha\": true", "tolerance.alpha: expected a number, got boolean"},
      {"\"poison\": 65535", "\"poison\": 65536", "tolerance.poison: 65536 is out of range"},
      {"\"moecheck_dump\": 1", "\"moecheck_dump\": 2",
       "moecheck_dump: dump version 2 is not supported"},
      {"\"moecheck_dump\": 1,", "", "moecheck_dump: missing"},
      {"\"test\"", "\"tests\"", "tests: unknown key"},
      {"\"a.npy\"", "\"../a.npy\"", "arrays.../a.npy: not a plain file name"},
      {"\"npy\": \"<f2\"", "\"npy\": \">f2\"", "arrays.a.npy.npy: dtype '>f2' is big-endian"},
      {"\"shape\": [", "\"shape\": [-1, ", "arrays.a.npy.shape[0]: -1 is out of range"},
      {"\"about\": \"the input\"", "\"about\": 7", "arrays.a.npy.about: expected a string"},
      {"{", "[", "not valid JSON"},
      {"\"case\": {", "\"case\": [], \"x\": {", "x: unknown key"},
  };
  for (const auto& c : cases) {
    const std::string e = json_error(c.from, c.to);
    EXPECT_NE(e.find(c.expect), std::string::npos)
        << "replacing " << c.from << " by " << c.to << "\n  got: " << e;
    EXPECT_EQ(e.rfind("d/case.json: ", 0), 0u) << "errors name the file: " << e;
  }
}

TEST(CaseJson, RefusesEveryTruncation) {
  const std::string text = manifest_to_json(sample_manifest());
  for (size_t n = 0; n + 2 < text.size(); n += 7) {
    EXPECT_THROW(manifest_from_json(text.substr(0, n), "case.json"), InputError) << n;
  }
  EXPECT_THROW(manifest_from_json("", "case.json"), InputError);
  EXPECT_THROW(manifest_from_json(std::string(100000, '['), "case.json"), InputError);
}

// ---- dumps ---------------------------------------------------------------------------------

Case small_case(const std::string& stage) {
  Case c;
  c.suite = "ref_vs_naive";
  c.stage = stage;
  c.experts = 8;
  c.top_k = 2;
  c.hidden = 128;
  c.inter = 64;
  c.tokens = 5;
  c.group = 32;
  return c;
}

// The reference rounded once to the dtype: an implementation that is exactly right.
std::vector<uint16_t> rounded(const StageReference& s) {
  std::vector<uint16_t> out(s.ref.value.size(), s.poison);
  for (int64_t r = 0; r < s.ref.rows; ++r) {
    if (!s.ref.written[r]) continue;
    for (int64_t c = 0; c < s.ref.cols; ++c) {
      out[r * s.ref.cols + c] = double_to_bits(s.ref.at(r, c), s.dtype);
    }
  }
  return out;
}

void write_output(const fs::path& file, const StageReference& s, const std::vector<uint16_t>& v) {
  write_npy(file,
            make_npy(s.dtype == DType::bf16 ? kNpyU16 : kNpyF16, {s.ref.rows, s.ref.cols}, v));
}

Comparison verify(const fs::path& dir, const std::string& stage, const std::vector<uint16_t>& v) {
  const StageReference s = reference_from_dump(dir, stage);
  write_output(dir / "out.npy", s, v);
  return compare(read_output(dir / "out.npy", s), s.ref.cols, s.ref, s.tol, s.poison, s.only_rows);
}

// A dump read back gives the reference the suites compute from the case itself, and the
// reference's own rounded output passes while a corrupted element fails at its row and column.
TEST(Dump, GemmDumpsReadBackToTheCasesReference) {
  struct Variant {
    const char* stage;
    Format format;
    bool symmetric;
    GptqZeros zeros;
    const char* routing;
  };
  for (const Variant v :
       {Variant{"gemm1", Format::exllama_nk, false, GptqZeros::v2, "uniform"},
        Variant{"gemm2", Format::gptq_kn, false, GptqZeros::v1, "ep"},
        Variant{"gemm1", Format::triton_nk_u8, true, GptqZeros::v2, "empty"},
        Variant{"gemm2", Format::exllama_nk, true, GptqZeros::v2, "block_edge"}}) {
    TempDir t;
    Case c = small_case(v.stage);
    c.format = v.format;
    c.symmetric = v.symmetric;
    c.zero_format = v.zeros;
    c.routing.kind = parse_routing_kind(v.routing);
    c.routing.param =
        std::string(v.routing) == "uniform" || std::string(v.routing) == "block_edge" ? 0 : 4;
    c.pad_kw = v.format == Format::exllama_nk ? 2 : 0;
    c.pad_lda = 8;
    c.mul_routed_weight = c.stage == "gemm2";
    SCOPED_TRACE(c.name());
    dump_case(c, "ref_vs_naive." + c.name(), t.path());

    const GemmProblem p = make_gemm_problem(c);
    GemmOptions opt;
    opt.mul_routed_weight = c.mul_routed_weight;
    const Routing& r = p.experts.routing;
    const RefOutput want =
        routed_gemm(p.a, p.a_route_div, p.w, r, align_block_size(r, c.block_m), opt);
    const StageReference s = reference_from_dump(t.path(), c.stage);
    EXPECT_EQ(s.ref.value, want.value);
    EXPECT_EQ(s.ref.magnitude, want.magnitude);
    EXPECT_EQ(s.ref.written, want.written);

    std::vector<uint16_t> out = rounded(s);
    EXPECT_EQ(verify(t.path(), c.stage, out).outcome, Outcome::Passed);
    int64_t row = 0;
    while (!s.ref.written[row]) ++row;
    const int64_t col = s.ref.cols - 1;
    out[row * s.ref.cols + col] = double_to_bits(s.ref.at(row, col) + 100, s.dtype);
    const Comparison bad = verify(t.path(), c.stage, out);
    EXPECT_EQ(bad.outcome, Outcome::Incorrect);
    EXPECT_NE(bad.message.find("row " + std::to_string(row) + ", column " + std::to_string(col)),
              std::string::npos)
        << bad.message;
  }
}

TEST(Dump, E2eDumpVerifiesEveryStage) {
  TempDir t;
  Case c = small_case("e2e");
  c.routing.kind = RoutingKind::ep;
  c.routing.param = 5;
  c.symmetric = false;
  c.mul_routed_weight = true;
  dump_case(c, "x." + c.name(), t.path());
  const LayerCase lc = make_layer_case(c);
  const LayerReference want = reference_layer(lc.problem, case_tolerance(c));
  for (const char* stage : {"gemm1", "act", "gemm2", "out"}) {
    SCOPED_TRACE(stage);
    const StageReference s = reference_from_dump(t.path(), stage);
    const RefOutput& expect = std::string(stage) == "gemm1"   ? want.c1
                              : std::string(stage) == "act"   ? want.act
                              : std::string(stage) == "gemm2" ? want.c2
                                                              : want.out;
    EXPECT_EQ(s.ref.value, expect.value);
    EXPECT_EQ(verify(t.path(), stage, rounded(s)).outcome, Outcome::Passed);
  }
  // Routes of non-local experts keep their poison; writing one is a failure.
  const StageReference s = reference_from_dump(t.path(), "gemm1");
  std::vector<uint16_t> out = rounded(s);
  const auto unwritten = std::find(s.ref.written.begin(), s.ref.written.end(), 0);
  ASSERT_NE(unwritten, s.ref.written.end()) << "the EP case must leave some route uncomputed";
  const int64_t skipped = unwritten - s.ref.written.begin();
  out[skipped * s.ref.cols] = 0;
  const Comparison bad = verify(t.path(), "gemm1", out);
  EXPECT_EQ(bad.outcome, Outcome::Failed);
  EXPECT_NE(bad.message.find("untouched row written"), std::string::npos) << bad.message;
}

// Unreached experts are poisoned in full-size tensors (the case's routing, no expert map); past
// the weight budget the tensors hold the reached experts only, with an expert map onto them.
// Both read back to the same reference.
TEST(Dump, UnreachedExpertsArePoisonedOrLeftOut) {
  Case c = small_case("gemm1");
  c.routing.kind = RoutingKind::empty;
  c.routing.param = 3;  // three of the eight experts get routes
  c.format = Format::gptq_kn;
  TempDir full, compact;
  dump_case(c, "x", full.path());
  dump_case(c, "x", compact.path(), /*full_weights_budget=*/0);
  EXPECT_FALSE(fs::exists(full.path() / "expert_map.npy")) << "the case has no expert map";
  const auto map = npy_values<int32_t>(read_npy(compact.path() / "expert_map.npy"), "", kNpyI32);
  const auto scales = read_npy(full.path() / "w1_scales.npy");
  ASSERT_EQ(scales.shape[0], c.experts);
  const auto bits = npy_values<uint16_t>(scales, "", kNpyU16);
  const int64_t per = static_cast<int64_t>(bits.size()) / c.experts;
  int64_t poisoned = 0;
  for (int64_t e = 0; e < c.experts; ++e) {
    const bool reached = map[e] >= 0;
    poisoned += !reached;
    EXPECT_EQ(bits[e * per] == 0xffff, !reached) << "expert " << e;
  }
  EXPECT_EQ(poisoned, c.experts - 3);
  EXPECT_EQ(read_npy(compact.path() / "w1_qweight.npy").shape[0], 3);
  const StageReference a = reference_from_dump(full.path(), "gemm1");
  const StageReference b = reference_from_dump(compact.path(), "gemm1");
  EXPECT_EQ(a.ref.value, b.ref.value);
  EXPECT_EQ(a.ref.written, b.ref.written);
}

TEST(Dump, ElementwiseDumps) {
  for (const char* stage : {"act", "sum"}) {
    TempDir t;
    Case c = small_case(stage);
    c.dtype = DType::fp16;
    dump_case(c, "x", t.path());
    const StageReference s = reference_from_dump(t.path(), stage);
    EXPECT_EQ(s.ref.rows, std::string(stage) == "act" ? c.numel() : c.tokens);
    EXPECT_EQ(verify(t.path(), stage, rounded(s)).outcome, Outcome::Passed);
  }
}

// The error of verifying `stage` of the dump in `dir` with `out.npy` as it is.
std::string verify_error(const fs::path& dir, const std::string& stage) {
  try {
    const StageReference s = reference_from_dump(dir, stage);
    read_output(dir / "out.npy", s);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(Dump, RefusesInconsistentDumpsNamingTheFile) {
  TempDir t;
  Case c = small_case("gemm1");
  c.symmetric = false;
  dump_case(c, "x", t.path());
  const StageReference s = reference_from_dump(t.path(), "gemm1");
  write_output(t.path() / "out.npy", s, rounded(s));
  ASSERT_EQ(verify_error(t.path(), "gemm1"), "");
  const auto expect_error = [&](const std::string& stage, const std::string& text) {
    const std::string e = verify_error(t.path(), stage);
    EXPECT_NE(e.find(text), std::string::npos) << "expected '" << text << "', got: " << e;
  };

  expect_error("gemm2", "is of a gemm1 case: --stage gemm1, not gemm2");

  // Output: wrong shape, wrong dtype, float32 values that are not bf16 values.
  write_npy(t.path() / "out.npy",
            make_npy<uint16_t>(kNpyU16, {s.ref.rows + 1, s.ref.cols},
                               std::vector<uint16_t>((s.ref.rows + 1) * s.ref.cols)));
  expect_error("gemm1", "out.npy: shape [11, 128], expected [10, 128]");
  write_npy(t.path() / "out.npy", make_npy<double>(kNpyF64, {s.ref.rows, s.ref.cols},
                                                   std::vector<double>(s.ref.value.size())));
  expect_error("gemm1", "out.npy: dtype <f8; a bf16 output is <u2");
  std::vector<float> f(s.ref.value.size(), 1.0f);
  f[3] = 1.0f + 0x1p-20f;
  write_npy(t.path() / "out.npy", make_npy<float>(kNpyF32, {s.ref.rows, s.ref.cols}, f));
  expect_error("gemm1", "element (row 0, column 3) = 1.000001 is not a bf16 value");
  f[3] = NAN;  // NaN: the poison
  write_npy(t.path() / "out.npy", make_npy<float>(kNpyF32, {s.ref.rows, s.ref.cols}, f));
  EXPECT_EQ(read_output(t.path() / "out.npy", s)[3], 0xffff);

  // Inputs: an alignment that is not the routing's, a missing file, a zeros file the case does
  // not have, a weight of the wrong shape, an id out of range.
  const fs::path d = t.path();
  auto ids = npy_values<int32_t>(read_npy(d / "sorted_token_ids.npy"), "", kNpyI32);
  std::swap(ids[0], ids[ids.size() - 1]);
  write_npy(d / "sorted_token_ids.npy", make_npy(kNpyI32, {static_cast<int64_t>(ids.size())}, ids));
  expect_error("gemm1", "sorted_token_ids.npy: element 0 is");
  std::swap(ids[0], ids[ids.size() - 1]);
  write_npy(d / "sorted_token_ids.npy", make_npy(kNpyI32, {static_cast<int64_t>(ids.size())}, ids));

  fs::rename(d / "w1_scales.npy", d / "saved.npy");
  expect_error("gemm1", "w1_scales.npy: missing");
  fs::rename(d / "saved.npy", d / "w1_scales.npy");

  fs::rename(d / "w1_zeros.npy", d / "saved.npy");
  expect_error("gemm1", "w1_zeros.npy: missing, but case.json says asymmetric");
  fs::rename(d / "saved.npy", d / "w1_zeros.npy");

  const NpyArray q = read_npy(d / "w1_qweight.npy");
  NpyArray q2 = q;
  q2.shape = {q.shape[0], q.shape[1] * q.shape[2]};
  write_npy(d / "w1_qweight.npy", q2);
  expect_error("gemm1", "w1_qweight.npy: shape " + shape_string(q2.shape) + ", expected " +
                            shape_string(q.shape));
  write_npy(d / "w1_qweight.npy", q);

  auto topk = npy_values<int32_t>(read_npy(d / "topk_ids.npy"), "", kNpyI32);
  const int32_t saved = topk[1];
  topk[1] = 99;
  write_npy(d / "topk_ids.npy", make_npy(kNpyI32, {c.tokens, c.top_k}, topk));
  expect_error("gemm1", "topk_ids.npy: ");
  topk[1] = saved;
  write_npy(d / "topk_ids.npy", make_npy(kNpyI32, {c.tokens, c.top_k}, topk));

  std::ofstream(d / "case.json") << "{\"moecheck_dump\": 1}";
  expect_error("gemm1", "case.json: arrays: missing");
  EXPECT_EQ(verify_error(t.path() / "absent", "gemm1").find((t.path() / "absent").string()), 0u);
}

TEST(Dump, StagesWithoutADumpAreRefused) {
  TempDir t;
  try {
    dump_case(small_case("align"), "x", t.path());
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("stage align has no dump"), std::string::npos);
  }
}

TEST(Dump, FailedComparisonsAreWrittenBesideTheInputs) {
  TempDir t;
  const Case c = small_case("gemm1");
  dump_case(c, "x", t.path());
  const StageReference s = reference_from_dump(t.path(), "gemm1");
  std::vector<uint16_t> out = rounded(s);
  // A padded output stride: only the first cols of each row are the output.
  const int64_t ldc = s.ref.cols + 2;
  std::vector<uint16_t> padded(s.ref.rows * ldc, 0);
  for (int64_t r = 0; r < s.ref.rows; ++r) {
    std::copy_n(&out[r * s.ref.cols], s.ref.cols, &padded[r * ldc]);
  }
  padded[ldc + 1] ^= 0x4000;
  const Comparison cmp = compare(padded, ldc, s.ref, s.tol, s.poison);
  ASSERT_NE(cmp.outcome, Outcome::Passed);
  dump_comparison(t.path(), "gemm1", s.ref, s.tol, padded, ldc, cmp);
  const DumpManifest m = read_manifest(t.path());
  for (const char* f : {"gemm1_reference.npy", "gemm1_bound.npy", "gemm1_actual.npy"}) {
    EXPECT_EQ(m.arrays.count(f), 1u) << f;
  }
  // The actual output, as dumped, is judged the same by verify.
  const std::vector<uint16_t> got = read_output(t.path() / "gemm1_actual.npy", s);
  const Comparison again = compare(got, s.ref.cols, s.ref, s.tol, s.poison);
  EXPECT_EQ(again.outcome, cmp.outcome);
  EXPECT_EQ(again.message, cmp.message);
  const auto ref = npy_values<double>(read_npy(t.path() / "gemm1_reference.npy"), "", kNpyF64);
  EXPECT_EQ(ref, s.ref.value);
}

}  // namespace
}  // namespace moecheck
