// Catalog-driven suites: a suite is a name and a body; every catalog case whose `suite` field
// names it becomes one GoogleTest test `<suite>.<case name>` (registered at start-up with
// testing::RegisterTest, DESIGN.md section 7). A suite file is small and only says what to do
// with one case:
//
//   MOECHECK_SUITE(roundtrip, [](const moecheck::Case& c) { ... EXPECT_... });
//
// Suites are linked into one binary per testbed (cpu, gpu); suites/testbed/main.cpp loads the
// catalog and registers them.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "case.hpp"

namespace moecheck {

using CaseBody = std::function<void(const Case&)>;

// Name -> body of every suite linked into this binary.
std::map<std::string, CaseBody>& suite_table();

struct SuiteRegistrar {
  SuiteRegistrar(const char* name, CaseBody body) { suite_table().emplace(name, std::move(body)); }
};

}  // namespace moecheck

#define MOECHECK_SUITE(name, body) \
  static const ::moecheck::SuiteRegistrar moecheck_suite_registrar_##name(#name, body)
