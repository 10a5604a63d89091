// The example workflow ci/examples/gfx11-gate.yml, read as YAML (ctest: examples.gfx11_workflow):
// a job builds the bundle of the hip preset and uploads it; a matrix job over every gfx11 SKU (the
// hip preset's CMAKE_HIP_ARCHITECTURES in CMakePresets.json, which are DESIGN.md's) runs on
// self-hosted runners of that SKU, downloads the bundle, runs its gate with --require-arch and
// uploads the reports with `if: always()`.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

// DESIGN.md's gfx11 targets; the hip preset must build for each of them too.
const std::set<std::string> kDesignSkus = {"gfx1100", "gfx1101", "gfx1102",
                                           "gfx1103", "gfx1150", "gfx1151"};

std::set<std::string> hip_preset_archs() {
  std::ifstream in(MOECHECK_PRESETS);
  const nlohmann::json presets = nlohmann::json::parse(in);
  for (const auto& p : presets.at("configurePresets")) {
    if (p.at("name") != "hip") continue;
    std::set<std::string> archs;
    std::stringstream list(p.at("cacheVariables").at("CMAKE_HIP_ARCHITECTURES").get<std::string>());
    for (std::string a; std::getline(list, a, ';');) archs.insert(a);
    return archs;
  }
  return {};
}

// n[key], or an undefined node when n is no map or lacks key (yaml-cpp throws on indexing the
// missing node of a missing key: a chain of lookups goes through this).
YAML::Node get(const YAML::Node& n, const std::string& key) {
  if (!n || !n.IsMap() || !n[key]) return YAML::Node(YAML::NodeType::Undefined);
  return n[key];
}

std::string text(const YAML::Node& n) {
  return n && n.IsScalar() ? n.as<std::string>() : "";
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

bool always(const YAML::Node& step) {
  const std::string cond = text(get(step, "if"));
  return cond == "always()" || cond == "${{ always() }}";
}

// The steps of `job` that use `action` (e.g. actions/upload-artifact@v4).
std::vector<YAML::Node> steps_using(const YAML::Node& job, const std::string& action) {
  std::vector<YAML::Node> out;
  for (const auto& step : get(job, "steps")) {
    if (text(get(step, "uses")).rfind(action + "@", 0) == 0) out.push_back(step);
  }
  return out;
}

std::string all_runs(const YAML::Node& job) {
  std::string runs;
  for (const auto& step : get(job, "steps")) runs += text(get(step, "run")) + "\n";
  return runs;
}

class GateWorkflow : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_THROW(doc_ = YAML::LoadFile(MOECHECK_WORKFLOW)) << MOECHECK_WORKFLOW;
    ASSERT_TRUE(get(doc_, "jobs").IsMap()) << "no jobs";
    for (const auto& j : get(doc_, "jobs")) {
      const std::string runs = all_runs(j.second);
      if (contains(runs, "--target bundle")) build_ = j.first.as<std::string>();
      if (get(get(j.second, "strategy"), "matrix")) gate_ = j.first.as<std::string>();
    }
    ASSERT_FALSE(build_.empty()) << "no job builds with --target bundle";
    ASSERT_FALSE(gate_.empty()) << "no matrix job";
    // The matrix variable that runs-on names: [self-hosted, linux, "${{ matrix.<key> }}"].
    const std::regex key(R"(^\$\{\{ *matrix\.([A-Za-z_][A-Za-z0-9_-]*) *\}\}$)");
    for (const auto& label : get(job(gate_), "runs-on")) {
      std::smatch m;
      const std::string l = text(label);
      if (std::regex_match(l, m, key)) sku_key_ = m[1];
    }
  }
  YAML::Node job(const std::string& name) { return get(get(doc_, "jobs"), name); }

  YAML::Node doc_;
  std::string build_, gate_, sku_key_;
};

TEST_F(GateWorkflow, BuildJobPacksTheHipBundleAndUploadsIt) {
  const YAML::Node build = job(build_);
  const std::string runs = all_runs(build);
  EXPECT_TRUE(contains(runs, "cmake --preset hip")) << runs;
  EXPECT_TRUE(contains(runs, "--target bundle")) << runs;
  EXPECT_TRUE(contains(text(get(build, "container")) + text(get(get(build, "container"), "image")),
                       "rocm/"))
      << "the build job runs in no ROCm container";
  const auto uploads = steps_using(build, "actions/upload-artifact");
  ASSERT_EQ(uploads.size(), 1u) << "the build job must upload the bundle";
  EXPECT_TRUE(contains(text(get(get(uploads[0], "with"), "path")), "moecheck-bundle-hip.tar.gz"));
}

TEST_F(GateWorkflow, MatrixNamesEveryGfx11Sku) {
  ASSERT_FALSE(sku_key_.empty()) << "runs-on of " << gate_ << " names no ${{ matrix.<key> }}";
  std::set<std::string> skus;
  for (const auto& s : get(get(get(job(gate_), "strategy"), "matrix"), sku_key_))
    skus.insert(text(s));
  const std::set<std::string> preset = hip_preset_archs();
  ASSERT_FALSE(preset.empty()) << "CMakePresets.json has no hip preset architectures";
  EXPECT_EQ(skus, preset) << "the matrix must be the hip preset's CMAKE_HIP_ARCHITECTURES";
  for (const auto& s : kDesignSkus) EXPECT_TRUE(skus.count(s)) << s << " is missing";
  EXPECT_EQ(text(get(get(job(gate_), "strategy"), "fail-fast")), "false")
      << "one SKU's failure must not cancel the others";
}

TEST_F(GateWorkflow, RunsOnSelfHostedRunnersOfItsSku) {
  std::set<std::string> labels;
  for (const auto& l : get(job(gate_), "runs-on")) labels.insert(text(l));
  EXPECT_TRUE(labels.count("self-hosted"));
  EXPECT_TRUE(labels.count("linux"));
  EXPECT_TRUE(labels.count("${{ matrix." + sku_key_ + " }}"));
  const YAML::Node needs = get(job(gate_), "needs");
  EXPECT_EQ(needs.IsSequence() && needs.size() == 1 ? text(needs[0]) : text(needs), build_);
}

TEST_F(GateWorkflow, GatesTheDownloadedBundleWithRequireArch) {
  const YAML::Node gate = job(gate_);
  EXPECT_EQ(steps_using(gate, "actions/checkout").size(), 0u) << "runners need no source tree";
  EXPECT_EQ(steps_using(gate, "actions/download-artifact").size(), 1u);
  const std::string runs = all_runs(gate);
  EXPECT_TRUE(contains(runs, "moecheck-bundle/gate")) << runs;
  EXPECT_TRUE(contains(runs, "--labels gpu,quick")) << runs;
  EXPECT_TRUE(contains(runs, "--require-arch ${{ matrix." + sku_key_ + " }}")) << runs;
}

TEST_F(GateWorkflow, UploadsTheReportsAlways) {
  const YAML::Node gate = job(gate_);
  std::smatch m;
  const std::string runs = all_runs(gate);
  ASSERT_TRUE(
      std::regex_search(runs, m, std::regex(R"(moecheck-bundle/gate [^\n]*--out ([^ \n]+))")))
      << "the gate step names no --out";
  const std::string out = m[1];
  const auto uploads = steps_using(gate, "actions/upload-artifact");
  ASSERT_EQ(uploads.size(), 1u);
  EXPECT_TRUE(always(uploads[0])) << "the reports must be uploaded when the gate fails too";
  const std::string path = text(get(get(uploads[0], "with"), "path"));
  EXPECT_TRUE(path == out || path == out + "/" || path == out + "/**")
      << "upload path '" << path << "' is not the gate's --out '" << out << "'";
  bool summary = false;
  for (const auto& step : get(gate, "steps")) {
    const std::string run = text(get(step, "run"));
    if (contains(run, "GITHUB_STEP_SUMMARY")) {
      summary = true;
      EXPECT_TRUE(always(step)) << "the job summary must be written when the gate fails too";
      EXPECT_TRUE(contains(run, out + "/coverage.md"));
    }
  }
  EXPECT_TRUE(summary) << "no step writes coverage.md into $GITHUB_STEP_SUMMARY";
}

}  // namespace
