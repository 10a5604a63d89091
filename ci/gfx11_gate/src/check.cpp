#include "check.hpp"

#include <fmt/format.h>

#include "names.hpp"

namespace moecheck::gate {

std::vector<std::string> GateResult::all_violations() const {
  std::vector<std::string> out = object_violations;
  for (const Row& r : rows) {
    for (const std::string& v : r.violations) {
      out.push_back(fmt::format("{} on {} ({}): {}", r.kernel, r.target, r.object, v));
    }
  }
  return out;
}

namespace {

void check_kernel(const Budgets& budgets, Row& r) {
  auto& v = r.violations;
  const KernelMeta& m = r.meta;
  if (m.vgpr_spill_count != 0)
    v.push_back(fmt::format("{} VGPR spills (.vgpr_spill_count)", m.vgpr_spill_count));
  if (m.sgpr_spill_count != 0)
    v.push_back(fmt::format("{} SGPR spills (.sgpr_spill_count)", m.sgpr_spill_count));
  if (m.private_segment_fixed_size != 0) {
    v.push_back(fmt::format("uses scratch: .private_segment_fixed_size = {} bytes",
                            m.private_segment_fixed_size));
  }
  if (m.uses_dynamic_stack) v.push_back("uses a dynamic stack (.uses_dynamic_stack: true)");
  if (m.group_segment_fixed_size > budgets.lds_max_bytes) {
    v.push_back(fmt::format("LDS {} bytes (.group_segment_fixed_size) exceeds {} bytes",
                            m.group_segment_fixed_size, budgets.lds_max_bytes));
  }
  if (m.wavefront_size != budgets.wavefront_size) {
    v.push_back(fmt::format("wave{} (.wavefront_size = {}), must be wave{}", m.wavefront_size,
                            m.wavefront_size, budgets.wavefront_size));
  }
  if (!r.isa) {
    v.push_back(fmt::format("symbol {} not found in the disassembly: its ISA cannot be checked",
                            r.mangled));
  } else if (r.isa->scratch != 0) {
    v.push_back(fmt::format("{} scratch_* instructions in its ISA", r.isa->scratch));
  }
  if (!r.budget) {
    v.push_back(fmt::format("no budget entry matches '{}': add one to {}", r.kernel, budgets.file));
    return;
  }
  const KernelBudget& b = *r.budget;
  const std::string why = b.why.empty() ? "" : " (" + b.why + ")";
  if (m.vgpr_count > b.vgpr_max) {
    v.push_back(fmt::format("{} VGPRs (.vgpr_count) exceed the budget of {} for '{}'", m.vgpr_count,
                            b.vgpr_max, b.match));
  }
  if (b.wmma && r.isa && r.isa->wmma == 0) {
    v.push_back(
        "no v_wmma_ instruction, but the budget requires WMMA: the atom compiled to "
        "nothing" +
        why);
  }
  if (b.load_b128 && r.isa && r.isa->load_b128 == 0) {
    v.push_back("no 16-byte global load (global_load_b128), but the budget requires them" + why);
  }
}

}  // namespace

void check_object(const Budgets& budgets, const std::string& object,
                  const std::string& expected_processor, const CodeObjectMeta& meta,
                  const std::map<std::string, FunctionIsa>& isa, GateResult& result) {
  const std::string processor = processor_of(meta.target);
  if (!expected_processor.empty() && processor != expected_processor) {
    result.object_violations.push_back(
        fmt::format("{}: built for {} but its metadata says amdhsa.target '{}'", object,
                    expected_processor, meta.target));
  }
  for (const KernelMeta& k : meta.kernels) {
    Row r;
    r.object = object;
    r.target = processor.empty() ? meta.target : processor;
    r.kernel = short_kernel_name(k.name);
    r.mangled = k.name;
    r.meta = k;
    if (auto it = isa.find(k.name); it != isa.end()) r.isa = it->second;
    if (const KernelBudget* b = budgets.find(r.kernel)) r.budget = *b;
    check_kernel(budgets, r);
    result.rows.push_back(std::move(r));
  }
  // Functions that are not kernels: the kernels call them, so their ISA (and their stack) is not
  // attributed to any kernel above; the kernels are meant to inline everything.
  for (const auto& [name, counts] : isa) {
    bool is_kernel = false;
    for (const KernelMeta& k : meta.kernels) is_kernel = is_kernel || k.name == name;
    if (!is_kernel) {
      result.object_violations.push_back(fmt::format(
          "{}: function {} is not a kernel (a call the kernels do not inline; its ISA is not "
          "checked)",
          object, demangle(name)));
    }
  }
}

}  // namespace moecheck::gate
