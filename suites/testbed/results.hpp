// Machine-readable results: one JSON object per line, printed as "moecheck-result <json>" and
// appended to $MOECHECK_RESULTS when set (ctest keeps the output of passing tests nowhere; ci/gate
// and ci/gpu-tiers read the file). Also the known bug of the running case, which the lines of a
// case listed in cases/known_bugs.yaml carry.
#pragma once

#include <string>

#include "known_bugs.hpp"
#include "moecheck/reference/tolerance.hpp"

namespace moecheck {

// Writes one result line (`json_line` ends with '\n').
void report_result_line(const std::string& json_line);

// One judged stage of a case: the line `moecheck verify` prints (result_json of
// suites/exchange/dump.hpp: test, stage, outcome, margin, rel_l1, compared), reported as above.
// Inside a case of cases/known_bugs.yaml (current_known_bug()) a stage that did not pass says
// KnownBug, with the outcome it observed and the entry. Every suite with a margin reports
// through this: the GPU suites (report_stage) and the CPU suites that judge against a bound.
void report_stage_result(const std::string& test, const std::string& stage, const Comparison& cmp);

// `s` as a JSON string literal, quotes included.
std::string json_quote(const std::string& s);

// The cases/known_bugs.yaml entry the running case matches on this device, or null. Set by the
// testbed's main around the case body (main.cpp), read by the suites' result lines.
const KnownBug* current_known_bug();
void set_current_known_bug(const KnownBug* bug);

// {"issue":...,"reason":...,"source":...} of an entry, for result lines.
std::string known_bug_json(const KnownBug& bug);

}  // namespace moecheck
