// The catalog loader's own tests: every deliberately broken file in cases/negative/loader/ is
// rejected with the error its first line announces ("# expect: <file>:<line>:<col>: <key>: ...")
// and the real catalog loads and covers every dimension the CPU suites promise.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "catalog.hpp"

namespace moecheck {
namespace {

namespace fs = std::filesystem;

const fs::path kCatalog = MOECHECK_CATALOG_SOURCE;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> broken_files() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(kCatalog / "negative" / "loader")) {
    out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class BrokenCaseFile : public testing::TestWithParam<std::string> {};

TEST_P(BrokenCaseFile, IsRejectedNamingFileLineAndKey) {
  const fs::path path = kCatalog / "negative" / "loader" / GetParam();
  const std::string text = slurp(path);
  const std::string marker = "# expect: ";
  ASSERT_EQ(text.rfind(marker, 0), 0u) << path << " must start with '" << marker << "...'";
  const std::string expected = text.substr(marker.size(), text.find('\n') - marker.size());
  const std::vector<Model> models = load_models(slurp(kCatalog / "models.yaml"), "models.yaml");
  try {
    if (GetParam().rfind("models_", 0) == 0) {
      load_models(text, path.string());
    } else if (GetParam().rfind("known_bugs_", 0) == 0) {
      load_known_bugs(text, path.string());
    } else {
      load_sweeps(text, path.string(), models);
    }
    FAIL() << "accepted a broken file";
  } catch (const CatalogError& e) {
    EXPECT_NE(std::string(e.what()).find(expected), std::string::npos)
        << "got:      " << e.what() << "\nexpected: ..." << expected << "...";
  }
}

INSTANTIATE_TEST_SUITE_P(Loader, BrokenCaseFile, testing::ValuesIn(broken_files()),
                         [](const testing::TestParamInfo<std::string>& i) {
                           std::string n = i.param.substr(0, i.param.find('.'));
                           return n;
                         });

// The real catalog: loads, de-duplicates, and the CPU suites' quick tier covers every model and
// every dimension that issue 2 names (so "covered on CPU" is checked, not claimed).
TEST(Catalog, QuickTierCoversEveryDimensionOnCpu) {
  const Catalog cat = load_catalog(kCatalog);
  const std::set<std::string> cpu_suites = {"roundtrip",    "exact_tier",  "routing",   "align",
                                            "ref_vs_naive", "metamorphic", "tolerance", "negative"};
  std::set<std::string> models, stages, routings, formats, dtypes;
  std::set<int64_t> groups, block_ms, top_ks;
  std::set<std::string> names;
  for (const auto& c : cat.cases) {
    EXPECT_TRUE(names.insert(c.suite + "." + c.name()).second) << "duplicate " << c.name();
    if (!cpu_suites.count(c.suite) || c.tier == "nightly") continue;
    if (!c.model.empty()) models.insert(c.model + "/G" + std::to_string(c.group));
    stages.insert(c.stage);
    routings.insert(to_string(c.routing.kind));
    formats.insert(to_string(c.format));
    dtypes.insert(to_string(c.dtype));
    groups.insert(c.group);
    if (c.suite == "align") {
      block_ms.insert(c.block_m);
      top_ks.insert(c.top_k);
    }
  }
  for (const auto& m : cat.models) {
    for (int64_t g : m.groups) {
      EXPECT_TRUE(models.count(m.name + "/G" + std::to_string(g)))
          << "model " << m.name << " with G=" << g << " has no quick CPU case";
    }
  }
  for (const char* s : {"dequant", "align", "gemm1", "act", "gemm2", "sum", "e2e"}) {
    EXPECT_TRUE(stages.count(s)) << "stage " << s;
  }
  for (const char* r : {"uniform", "zipf", "hot", "empty", "single", "block_edge", "ep", "repeated",
                        "out_of_range"}) {
    EXPECT_TRUE(routings.count(r)) << "routing " << r;
  }
  for (const char* f : {"exllama_nk", "gptq_kn", "triton_nk_u8"}) EXPECT_TRUE(formats.count(f));
  EXPECT_EQ(dtypes, (std::set<std::string>{"bf16", "fp16"}));
  for (int64_t g : {32, 64, 128}) EXPECT_TRUE(groups.count(g)) << "G=" << g;
  for (int64_t b : {1, 2, 4, 8, 16, 32, 64}) EXPECT_TRUE(block_ms.count(b)) << "block_m " << b;
  for (int64_t k : {1, 2, 4, 6, 8, 10}) EXPECT_TRUE(top_ks.count(k)) << "top_k " << k;
}

// ---- cases/known_bugs.yaml -----------------------------------------------------------------

Case gpu_case(const std::string& stage, const std::string& kernel, DType dtype, int64_t group) {
  Case c;
  c.suite = "gpu_kernel";
  c.stage = stage;
  c.kernel = kernel;
  c.dtype = dtype;
  c.group = group;
  return c;
}

// A synthetic list against hand-made cases: every field must match, a list value is any of its
// values, the name regex is searched in "<suite>.<name>", and the arch list decides where.
// `block_m: auto` resolves per case from its expected routes per expert (tokens x top_k /
// experts): 16 below 16, 32 below 32, else 64; the resolved value is in the case and its name.
TEST(Catalog, BlockMAutoFollowsRoutesPerExpert) {
  const std::string text = R"(sweeps:
  - suite: gpu_kernel
    stage: gemm1
    kernel: tiled
    fixed: {experts: 64, top_k: 4, hidden: 256, inter: 64, block_m: auto}
    zip: {tokens: [1, 160, 256, 511, 512, 4096]}
)";
  const std::vector<Case> cases = load_sweeps(text, "auto.yaml", {});
  const std::vector<int64_t> want = {16, 16, 32, 32, 64, 64};  // routes per expert 0.06 .. 256
  ASSERT_EQ(cases.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(cases[i].block_m, want[i]) << "tokens " << cases[i].tokens;
    EXPECT_NE(cases[i].name().find("_bm" + std::to_string(want[i])), std::string::npos)
        << cases[i].name();
  }
  EXPECT_EQ(preferred_tiled_block_m(15, 1), 16);
  EXPECT_EQ(preferred_tiled_block_m(16, 1), 32);
  EXPECT_EQ(preferred_tiled_block_m(31, 1), 32);
  EXPECT_EQ(preferred_tiled_block_m(32, 1), 64);
}

TEST(KnownBugs, SyntheticEntryMatchesTheRightCases) {
  const std::vector<KnownBug> bugs = load_known_bugs(R"(known_bugs:
  - issue: https://example.invalid/issues/7
    reason: fp16 tiled gemm2 drops the last scale group
    arch: [gfx1151, sm_9*]
    match: {suite: gpu_kernel, stage: gemm2, kernel: tiled, dtype: fp16, group: [64, 128]}
  - issue: https://example.invalid/issues/8
    reason: fused gemm1 with block_m 8
    arch: "*"
    name: "^gpu_kernel\\.gemm1_fused_.*_bm8_"
)",
                                                     "synthetic.yaml");
  ASSERT_EQ(bugs.size(), 2u);
  EXPECT_EQ(bugs[0].source, "synthetic.yaml:2");
  EXPECT_EQ(bugs[0].reason, "fp16 tiled gemm2 drops the last scale group");

  const Case hit = gpu_case("gemm2", "tiled", DType::fp16, 128);
  EXPECT_TRUE(bugs[0].matches_case(hit));
  EXPECT_TRUE(bugs[0].matches_case(gpu_case("gemm2", "tiled", DType::fp16, 64)));
  EXPECT_FALSE(bugs[0].matches_case(gpu_case("gemm2", "tiled", DType::fp16, 32)));   // group
  EXPECT_FALSE(bugs[0].matches_case(gpu_case("gemm2", "tiled", DType::bf16, 128)));  // dtype
  EXPECT_FALSE(bugs[0].matches_case(gpu_case("gemm1", "tiled", DType::fp16, 128)));  // stage
  EXPECT_FALSE(bugs[0].matches_case(gpu_case("gemm2", "fused", DType::fp16, 128)));  // kernel
  Case other_suite = hit;
  other_suite.suite = "gpu_e2e";
  EXPECT_FALSE(bugs[0].matches_case(other_suite));

  EXPECT_TRUE(bugs[0].matches_arch("gfx1151"));
  EXPECT_TRUE(bugs[0].matches_arch("sm_90"));  // prefix
  EXPECT_FALSE(bugs[0].matches_arch("gfx1100"));
  EXPECT_FALSE(bugs[0].matches_arch("sm_80"));
  EXPECT_FALSE(bugs[0].matches_arch("cpu"));
  EXPECT_EQ(find_known_bug(bugs, hit, "gfx1151"), &bugs[0]);
  EXPECT_EQ(find_known_bug(bugs, hit, "gfx1100"), nullptr);

  Case fused = gpu_case("gemm1", "fused", DType::bf16, 32);
  fused.block_m = 8;
  EXPECT_EQ(find_known_bug(bugs, fused, "gfx1100"), &bugs[1]);
  EXPECT_EQ(find_known_bug(bugs, fused, "cpu"), &bugs[1]);  // "*"
  fused.block_m = 4;
  EXPECT_EQ(find_known_bug(bugs, fused, "gfx1100"), nullptr);
}

// On the real catalog: a synthetic entry selects exactly the cases its fields describe, and
// every entry of cases/known_bugs.yaml names at least one case (a stale entry would hide
// nothing and claim a bug that no case shows).
TEST(KnownBugs, EntriesSelectRealCatalogCases) {
  const Catalog cat = load_catalog(kCatalog);
  const std::vector<KnownBug> synthetic = load_known_bugs(R"(known_bugs:
  - {issue: x/1, reason: r, arch: "*", match: {suite: gpu_kernel, stage: gemm1, kernel: fused,
     block_m: 8, dtype: fp16}}
)",
                                                          "synthetic.yaml");
  size_t matched = 0;
  for (const auto& c : cat.cases) {
    const bool expected = c.suite == "gpu_kernel" && c.stage == "gemm1" && c.kernel == "fused" &&
                          c.block_m == 8 && c.dtype == DType::fp16;
    EXPECT_EQ(synthetic[0].matches_case(c), expected) << c.suite << "." << c.name();
    matched += expected;
  }
  EXPECT_GT(matched, 0u) << "the catalog has no fp16 fused gemm1 case with block_m 8";

  for (const auto& b : cat.known_bugs) {
    const bool names_a_case = std::any_of(cat.cases.begin(), cat.cases.end(),
                                          [&](const Case& c) { return b.matches_case(c); });
    EXPECT_TRUE(names_a_case) << b.source << " (" << b.issue << ") matches no catalog case";
  }
}

}  // namespace
}  // namespace moecheck
