// What a testbed does when a case fails, so that the failure travels: it prints the commands that
// rerun that case alone (ctest and the binary itself), and with --dump-failures DIR (or
// $MOECHECK_DUMP_FAILURES) it writes the case's inputs as .npy plus case.json into
// DIR/<suite>.<name>/ (suites/exchange/dump.hpp), beside every failed comparison's reference,
// bound and actual output. `moecheck verify` judges such a folder again without the catalog.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "case.hpp"
#include "moecheck/reference/tolerance.hpp"

namespace moecheck {

// Appends the GoogleTest listener that does the above for every failing test of `cases`.
void install_failure_reporter(const std::vector<const Case*>& cases);

// A judged stage that did not pass: with --dump-failures, writes the case's inputs (once per
// process) and the comparison's arrays; without it, does nothing. Never throws: a dump that
// cannot be written is reported on stderr and the test's own verdict stands.
void dump_failed_comparison(const Case& c, const std::string& stage,
                            const std::vector<uint16_t>& actual, int64_t ldc, const RefOutput& ref,
                            const Tolerance& tol, const Comparison& cmp);

}  // namespace moecheck
