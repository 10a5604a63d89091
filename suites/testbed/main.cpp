// The one main of every testbed binary: reads the catalog, registers each case of the suites
// linked into this binary as its own GoogleTest test, then runs GoogleTest. With
// --moecheck-ctest-file it instead writes one ctest entry per case (each its own process, with
// its labels), which cmake/MoecheckTests.cmake includes.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <vector>

#include "catalog.hpp"
#include "device.hpp"
#include "options.hpp"
#include "registry.hpp"

#ifndef MOECHECK_DEFAULT_CATALOG
#define MOECHECK_DEFAULT_CATALOG "cases"
#endif

namespace moecheck {
namespace {

TestbedOptions g_options;

class CaseTest : public testing::Test {
 public:
  CaseTest(const CaseBody* body, Case c) : body_(body), case_(std::move(c)) {}
  void TestBody() override {
    RecordProperty("source", case_.source);
    (*body_)(case_);
  }

 private:
  const CaseBody* body_;
  Case case_;
};

// Removes our own flags from argv (GoogleTest rejects none, but keeps them out of its way).
TestbedOptions parse_options(int& argc, char** argv) {
  TestbedOptions o;
  if (const char* e = std::getenv("MOECHECK_CATALOG")) o.catalog_dir = e;
  if (const char* e = std::getenv("MOECHECK_REQUIRE_GPU")) o.require_gpu = std::string(e) == "1";
  if (const char* e = std::getenv("MOECHECK_REQUIRE_ARCH")) o.require_arch = e;
  std::vector<char*> rest = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const char* flag) -> const char* {
      const std::string f = flag;
      if (a == f && i + 1 < argc) return argv[++i];
      if (a.rfind(f + "=", 0) == 0) return argv[i] + f.size() + 1;
      return nullptr;
    };
    if (const char* v = value("--catalog"))
      o.catalog_dir = v;
    else if (const char* v = value("--moecheck-ctest-file"))
      o.ctest_file = v;
    else if (const char* v = value("--require-arch"))
      o.require_arch = v;
    else if (a == "--require-gpu")
      o.require_gpu = true;
    else
      rest.push_back(argv[i]);
  }
  if (o.catalog_dir.empty()) o.catalog_dir = MOECHECK_DEFAULT_CATALOG;
  if (!o.require_arch.empty()) o.require_gpu = true;
  argc = static_cast<int>(rest.size());
  for (int i = 0; i < argc; ++i) argv[i] = rest[i];
  return o;
}

std::vector<const Case*> runnable(const Catalog& cat) {
  std::vector<const Case*> out;
  for (const auto& c : cat.cases) {
    if (suite_table().count(c.suite)) out.push_back(&c);
  }
  return out;
}

int write_ctest_file(const std::vector<const Case*>& cases, const char* argv0) {
  namespace fs = std::filesystem;
  const fs::path exe = fs::canonical("/proc/self/exe");
  const fs::path catalog = fs::absolute(g_options.catalog_dir);
  std::ofstream out(g_options.ctest_file);
  if (!out) {
    std::cerr << argv0 << ": cannot write " << g_options.ctest_file << "\n";
    return 2;
  }
  for (const Case* c : cases) {
    const std::string test = c->suite + "." + c->name();
    std::string labels;
    for (const auto& l : c->labels(testbed_uses_device()))
      labels += (labels.empty() ? "" : ";") + l;
    out << "add_test([==[" << test << "]==] [==[" << exe.string() << "]==] --catalog [==["
        << catalog.string() << "]==] [==[--gtest_filter=" << test << "]==])\n"
        << "set_tests_properties([==[" << test << "]==] PROPERTIES LABELS [==[" << labels
        << "]==] SKIP_REGULAR_EXPRESSION [==[\\[  SKIPPED \\]]==] TIMEOUT 1800)\n";
  }
  return 0;
}

}  // namespace

const TestbedOptions& testbed_options() {
  return g_options;
}

}  // namespace moecheck

int main(int argc, char** argv) {
  using namespace moecheck;
  g_options = parse_options(argc, argv);
  Catalog catalog;
  try {
    catalog = load_catalog(g_options.catalog_dir);
  } catch (const std::exception& e) {
    std::cerr << "moecheck: catalog error: " << e.what() << "\n";
    return 2;
  }
  const auto cases = runnable(catalog);
  if (!g_options.ctest_file.empty()) return write_ctest_file(cases, argv[0]);

  if (testbed_uses_device() && g_options.require_gpu) {
    const DeviceInfo d = detect_device();
    if (!d.available) {
      std::cerr << "moecheck: a GPU was required (--require-gpu / MOECHECK_REQUIRE_GPU) but none "
                   "is usable: "
                << d.reason << "\n";
      return 3;
    }
    if (!g_options.require_arch.empty() && d.arch != g_options.require_arch) {
      std::cerr << "moecheck: arch " << g_options.require_arch
                << " was required (--require-arch / MOECHECK_REQUIRE_ARCH) but the device is "
                << d.name << " (" << d.arch << ")\n";
      return 3;
    }
  }

  for (const Case* c : cases) {
    const CaseBody* body = &suite_table().at(c->suite);
    Case copy = *c;
    testing::RegisterTest(c->suite.c_str(), c->name().c_str(), nullptr, nullptr, c->source.c_str(),
                          0, [body, copy]() -> testing::Test* { return new CaseTest(body, copy); });
  }
  bool listing = false;
  for (int i = 1; i < argc; ++i) listing |= std::strcmp(argv[i], "--gtest_list_tests") == 0;
  testing::InitGoogleTest(&argc, argv);
  const int rc = RUN_ALL_TESTS();
  // A run that selected cases and ran none fails (DESIGN.md section 7): an empty filter match
  // must not look like a pass.
  if (!listing && testing::UnitTest::GetInstance()->test_to_run_count() == 0) {
    std::cerr << "moecheck: no case was selected to run (check --gtest_filter)\n";
    return 4;
  }
  return rc;
}
