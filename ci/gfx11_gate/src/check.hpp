// The gate's rules (DESIGN.md section 9), applied per kernel and target: no VGPR or SGPR spills,
// no scratch (metadata and ISA), no dynamic stack, LDS within the limit, the required wave size,
// VGPRs within the kernel's budget, v_wmma_* and 16-byte global loads where the budget requires
// them. A kernel that no budget entry matches is a violation: every kernel gets a budget.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "budgets.hpp"
#include "disasm.hpp"
#include "notes.hpp"

namespace moecheck::gate {

struct Row {
  std::string object;   // the code object's file name
  std::string target;   // processor, from the metadata ("gfx1100")
  std::string kernel;   // short name (names.hpp)
  std::string mangled;  // .name
  KernelMeta meta;
  std::optional<FunctionIsa> isa;       // absent when the symbol is not in the disassembly
  std::optional<KernelBudget> budget;   // absent when no entry matches
  std::vector<std::string> violations;  // each a complete sentence about this kernel
};

struct GateResult {
  std::vector<Row> rows;
  std::vector<std::string> object_violations;       // problems of an object as a whole
  std::vector<std::string> all_violations() const;  // "<kernel> on <target> (<object>): ..."
  bool passed() const { return all_violations().empty(); }
};

// Checks one code object. `expected_processor` (may be empty) is the target the build asked
// for; the metadata must name the same one.
void check_object(const Budgets& budgets, const std::string& object,
                  const std::string& expected_processor, const CodeObjectMeta& meta,
                  const std::map<std::string, FunctionIsa>& isa, GateResult& result);

}  // namespace moecheck::gate
