// The gate's two outputs: a table per kernel and target for people (the CI log), and JSON for
// the report (every field the checks looked at, the budget, and the violations).
#pragma once

#include <ostream>
#include <string>

#include "check.hpp"

namespace moecheck::gate {

void print_table(std::ostream& os, const GateResult& result);

// Writes the JSON document to `path`; `error` (when not empty) records why the gate could not
// check, in which case `result` may be partial. Throws GateError when the file cannot be written.
void write_json(const std::string& path, const Budgets* budgets, const GateResult& result,
                const std::string& error);

}  // namespace moecheck::gate
