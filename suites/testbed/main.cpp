// The one main of every testbed binary: reads the catalog, registers each case of the suites
// linked into this binary as its own GoogleTest test, then runs GoogleTest. With
// --moecheck-ctest-file it instead writes one ctest entry per case (each its own process, with
// its labels), which cmake/MoecheckTests.cmake includes. Before any case runs it loads the
// implementation under test (GPU testbed: --impl / $MOECHECK_IMPL or the built-in kernels) and
// marks the cases that cases/known_bugs.yaml lists for this device's arch (--moecheck-device-info
// prints both and exits).
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <vector>

#include "bundle_paths.hpp"
#include "catalog.hpp"
#include "device.hpp"
#include "failures.hpp"
#include "options.hpp"
#include "registry.hpp"
#include "results.hpp"

#ifndef MOECHECK_DEFAULT_CATALOG
#define MOECHECK_DEFAULT_CATALOG "cases"
#endif

namespace moecheck {
namespace {

TestbedOptions g_options;

class CaseTest : public testing::Test {
 public:
  // `bug`: the cases/known_bugs.yaml entry this case matches on `arch`, or null.
  CaseTest(const CaseBody* body, Case c, const KnownBug* bug, std::string arch)
      : body_(body), case_(std::move(c)), bug_(bug), arch_(std::move(arch)) {}
  void TestBody() override {
    RecordProperty("source", case_.source);
    if (bug_ == nullptr) {
      (*body_)(case_);
    } else {
      run_known_bug();
    }
  }

 private:
  // A known bug still runs (DESIGN.md section 7), with its failures intercepted: it failed ->
  // printed, reported KnownBug and the test marked skipped with the reason (never a pass, never
  // a failure of the gate); it was skipped -> the same skip; it passed -> the test fails with
  // "KnownBug fixed?", since a stale entry would hide a case that works. cases/known_bugs.yaml
  // documents this for its readers. While intercepted, failures are not in the test's result:
  // a suite body must not rely on HasFailure()/HasFatalFailure() (none does).
  void run_known_bug() {
    testing::TestPartResultArray results;
    std::string thrown;
    {
      testing::ScopedFakeTestPartResultReporter intercept(
          testing::ScopedFakeTestPartResultReporter::INTERCEPT_ALL_THREADS, &results);
      set_current_known_bug(bug_);
      try {
        (*body_)(case_);
      } catch (const std::exception& e) {
        thrown = e.what();
      } catch (...) {
        thrown = "an exception that is not a std::exception";
      }
      set_current_known_bug(nullptr);
    }
    std::vector<std::string> failures;
    std::string skip;
    for (int i = 0; i < results.size(); ++i) {
      const testing::TestPartResult& r = results.GetTestPartResult(i);
      const std::string at =
          r.file_name() ? std::string(r.file_name()) + ":" + std::to_string(r.line_number()) + ": "
                        : "";
      if (r.skipped()) skip = r.message();
      if (r.failed()) failures.push_back(at + r.message());
    }
    if (!thrown.empty()) failures.push_back("uncaught exception: " + thrown);
    const std::string entry = bug_->reason + " (" + bug_->issue + "; " + bug_->source + ")";
    const std::string test = case_.suite + "." + case_.name();
    if (!failures.empty()) {
      for (const auto& f : failures) std::cout << "KnownBug reproduced: " << f << "\n";
      report_result_line("{\"test\":" + json_quote(test) +
                         ",\"stage\":\"case\",\"outcome\":\"KnownBug\",\"arch\":" +
                         json_quote(arch_) + ",\"failures\":" + std::to_string(failures.size()) +
                         ",\"first_failure\":" + json_quote(failures.front().substr(0, 1000)) +
                         ",\"known_bug\":" + known_bug_json(*bug_) + "}\n");
      RecordProperty("outcome", "KnownBug");
      GTEST_SKIP() << "KnownBug on " << arch_ << ": " << entry << ": " << failures.size()
                   << " failure(s) reproduced, printed above";
    }
    if (!skip.empty()) GTEST_SKIP() << skip;
    report_result_line("{\"test\":" + json_quote(test) +
                       ",\"stage\":\"case\",\"outcome\":\"Passed\",\"arch\":" + json_quote(arch_) +
                       ",\"known_bug_fixed\":true,\"known_bug\":" + known_bug_json(*bug_) + "}\n");
    ADD_FAILURE() << "KnownBug fixed? case passed on " << arch_ << ": the known bug at "
                  << bug_->source << " (" << bug_->issue << ": " << bug_->reason
                  << ") did not reproduce; remove or narrow that entry";
  }

  const CaseBody* body_;
  Case case_;
  const KnownBug* bug_;
  std::string arch_;
};

// Removes our own flags from argv (GoogleTest rejects none, but keeps them out of its way).
TestbedOptions parse_options(int& argc, char** argv) {
  TestbedOptions o;
  if (const char* e = std::getenv("MOECHECK_CATALOG")) o.catalog_dir = e;
  if (const char* e = std::getenv("MOECHECK_REQUIRE_GPU")) o.require_gpu = std::string(e) == "1";
  if (const char* e = std::getenv("MOECHECK_REQUIRE_ARCH")) o.require_arch = e;
  if (const char* e = std::getenv("MOECHECK_IMPL")) o.impl = e;
  if (const char* e = std::getenv("MOECHECK_DUMP_FAILURES")) o.dump_failures = e;
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
    else if (const char* v = value("--dump-failures"))
      o.dump_failures = v;
    else if (const char* v = value("--impl"); v && *v)
      o.impl = v;
    else if (a == "--impl" || a.rfind("--impl=", 0) == 0 || a == "--require-arch")
      // A flag without its value must not quietly mean "the built-in kernels" or "any arch".
      throw std::invalid_argument(a + " needs a value");
    else if (a == "--require-gpu")
      o.require_gpu = true;
    else if (a == "--moecheck-device-info")
      o.device_info = true;
    else
      rest.push_back(argv[i]);
  }
  // In a bundle (ci/bundle/) its own cases/, else the source tree's catalog.
  if (o.catalog_dir.empty()) o.catalog_dir = bundle_path_or("cases", MOECHECK_DEFAULT_CATALOG);
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

// --moecheck-device-info (what ci/gate asks first): the implementation, then device 0's name and
// arch. Exit 0; 3 without a usable device; 2 when the implementation does not load.
int print_device_info() {
  std::string impl;
  try {
    impl = load_implementation(g_options.impl);
  } catch (const std::exception& e) {
    std::cerr << "moecheck: " << e.what() << "\n";
    return 2;
  }
  if (!impl.empty()) std::cout << "implementation: " << impl << "\n";
  const DeviceInfo d = detect_device();
  if (!d.available) {
    std::cout << "device: none\nreason: " << d.reason << "\n";
    return 3;
  }
  std::cout << "device: " << d.name << "\narch: " << d.arch << "\n";
  return 0;
}

// The architecture that known bugs are matched against: device 0's in the GPU testbed ("none"
// without one: only "*" entries match, and those cases skip anyway), "cpu" in the CPU testbed;
// "" when no entry names a case of this binary, so that the device is not asked for nothing.
std::string known_bug_arch(const Catalog& cat, const std::vector<const Case*>& cases) {
  const bool named = std::any_of(cases.begin(), cases.end(), [&](const Case* c) {
    return std::any_of(cat.known_bugs.begin(), cat.known_bugs.end(),
                       [&](const KnownBug& b) { return b.matches_case(*c); });
  });
  if (!named) return "";
  if (!testbed_uses_device()) return "cpu";
  const DeviceInfo d = detect_device();
  return d.available ? d.arch : "none";
}

}  // namespace

}  // namespace moecheck

int main(int argc, char** argv) {
  using namespace moecheck;
  try {
    g_options = parse_options(argc, argv);
    set_testbed_options(g_options);
  } catch (const std::invalid_argument& e) {
    std::cerr << "moecheck: " << e.what() << "\n";
    return 2;
  }
  if (g_options.device_info) return print_device_info();
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

  // The implementation under test, loaded and named before any case runs: a library that does
  // not load stops the run here (never a crash later, never the built-in kernels instead).
  try {
    const std::string impl = load_implementation(g_options.impl);
    if (!impl.empty()) std::cerr << "moecheck: implementation: " << impl << "\n";
  } catch (const std::exception& e) {
    std::cerr << "moecheck: " << e.what() << "\n";
    return 2;
  }

  const std::string arch = known_bug_arch(catalog, cases);
  for (const Case* c : cases) {
    const CaseBody* body = &suite_table().at(c->suite);
    const KnownBug* bug = arch.empty() ? nullptr : find_known_bug(catalog.known_bugs, *c, arch);
    Case copy = *c;
    testing::RegisterTest(c->suite.c_str(), c->name().c_str(), nullptr, nullptr, c->source.c_str(),
                          0, [body, copy, bug, arch]() -> testing::Test* {
                            return new CaseTest(body, copy, bug, arch);
                          });
  }
  bool listing = false;
  for (int i = 1; i < argc; ++i) listing |= std::strcmp(argv[i], "--gtest_list_tests") == 0;
  testing::InitGoogleTest(&argc, argv);
  // Every failing case prints how to rerun it alone (and, with --dump-failures, dumps itself).
  install_failure_reporter(cases);
  const int rc = RUN_ALL_TESTS();
  // A run that selected cases and ran none fails (DESIGN.md section 7): an empty filter match
  // must not look like a pass.
  if (!listing && testing::UnitTest::GetInstance()->test_to_run_count() == 0) {
    std::cerr << "moecheck: no case was selected to run (check --gtest_filter)\n";
    return 4;
  }
  return rc;
}
