#include "failures.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <set>

#include "bundle_paths.hpp"
#include "dump.hpp"
#include "options.hpp"

#ifndef MOECHECK_BINARY_DIR
#define MOECHECK_BINARY_DIR "build"
#endif

namespace moecheck {

namespace fs = std::filesystem;

namespace {

std::string test_name(const Case& c) {
  return c.suite + "." + c.name();
}

fs::path dump_dir(const std::string& test) {
  return fs::path(testbed_options().dump_failures) / test;
}

// Writes the case's inputs and case.json into its folder, once per process: a folder left by an
// earlier run is replaced, so that its arrays never mix with this run's. A stage without a dump
// (align, dequant, ...) still gets its case.json. Returns the folder, or "" when nothing could be
// written.
fs::path prepare(const Case& c) {
  static std::map<std::string, fs::path> prepared;
  const std::string test = test_name(c);
  const auto it = prepared.find(test);
  if (it != prepared.end()) return it->second;
  const fs::path dir = dump_dir(test);
  fs::path result;
  try {
    fs::remove_all(dir);
    if (stage_has_dump(c.stage)) {
      dump_case(c, test, dir);
    } else {
      fs::create_directories(dir);
      write_manifest(dir, case_manifest(c, test));
    }
    result = dir;
  } catch (const std::exception& e) {
    std::cerr << "[moecheck] could not dump " << test << " into " << dir.string() << ": "
              << e.what() << "\n";
  }
  prepared[test] = result;
  return result;
}

class FailureReporter : public testing::EmptyTestEventListener {
 public:
  explicit FailureReporter(const std::vector<const Case*>& cases) {
    for (const Case* c : cases) cases_[test_name(*c)] = c;
  }

  void OnTestEnd(const testing::TestInfo& info) override {
    if (!info.result()->Failed()) return;
    const std::string test = std::string(info.test_suite_name()) + "." + info.name();
    // Case names are [A-Za-z0-9_] only: the dot is the one character to escape in a regex.
    std::string regex = test;
    regex.replace(regex.find('.'), 1, "\\.");
    std::error_code ec;
    const fs::path exe = fs::canonical("/proc/self/exe", ec);
    const fs::path catalog = fs::absolute(testbed_options().catalog_dir, ec);
    // In a bundle (ci/bundle/) ctest runs in the bundle's root.
    const auto bundle = bundle_root();
    std::cout << "[moecheck] " << test << " failed; rerun it alone with either of:\n"
              << "  ctest --test-dir " << (bundle ? bundle->string() : MOECHECK_BINARY_DIR)
              << " -R '^" << regex << "$' --output-on-failure\n"
              << "  " << exe.string() << " --catalog " << catalog.string() << " --gtest_filter='"
              << test << "'\n";
    const auto it = cases_.find(test);
    if (testbed_options().dump_failures.empty() || it == cases_.end()) return;
    const fs::path dir = prepare(*it->second);
    if (dir.empty()) return;
    std::cout << "[moecheck] its inputs and case.json are in " << dir.string() << "/";
    const auto stages = verifiable_stages(it->second->stage);
    if (!stages.empty()) {
      std::cout << " (an output is judged with: moecheck verify --dir " << dir.string()
                << " --stage " << stages.front() << " --output OUT.npy)";
    }
    std::cout << "\n" << std::flush;
  }

 private:
  std::map<std::string, const Case*> cases_;
};

}  // namespace

void install_failure_reporter(const std::vector<const Case*>& cases) {
  testing::UnitTest::GetInstance()->listeners().Append(new FailureReporter(cases));
}

void dump_failed_comparison(const Case& c, const std::string& stage,
                            const std::vector<uint16_t>& actual, int64_t ldc, const RefOutput& ref,
                            const Tolerance& tol, const Comparison& cmp) {
  if (testbed_options().dump_failures.empty()) return;
  const fs::path dir = prepare(c);
  if (dir.empty()) return;
  try {
    dump_comparison(dir, stage, ref, tol, actual, ldc, cmp);
  } catch (const std::exception& e) {
    std::cerr << "[moecheck] could not write the " << stage << " comparison of " << test_name(c)
              << " into " << dir.string() << ": " << e.what() << "\n";
  }
}

}  // namespace moecheck
