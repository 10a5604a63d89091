#include "report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "gate_error.hpp"

namespace moecheck::gate {

namespace {

// Rows grouped by kernel, targets in order within a kernel ("gfx1100" < "gfx1151").
std::vector<const Row*> sorted(const GateResult& result) {
  std::vector<const Row*> rows;
  for (const Row& r : result.rows) rows.push_back(&r);
  std::stable_sort(rows.begin(), rows.end(), [](const Row* a, const Row* b) {
    return std::tie(a->kernel, a->target) < std::tie(b->kernel, b->target);
  });
  return rows;
}

std::string count_or_dash(const std::optional<FunctionIsa>& isa, int64_t FunctionIsa::*field) {
  return isa ? std::to_string((*isa).*field) : "-";
}

}  // namespace

void print_table(std::ostream& os, const GateResult& result) {
  size_t width = 6;
  for (const Row& r : result.rows) width = std::max(width, r.kernel.size());
  const std::string header =
      fmt::format("{:<{}}  {:<8} {:>4} {:>6} {:>4} {:>9} {:>7} {:>5} {:>6} {:>4} {:>4} {:>4}  {}",
                  "kernel", width, "target", "VGPR", "budget", "SGPR", "spill v/s", "scratch",
                  "dyn", "LDS", "wave", "wmma", "b128", "result");
  os << header << "\n" << std::string(header.size(), '-') << "\n";
  for (const Row* r : sorted(result)) {
    const auto& m = r->meta;
    // A '*' marks a count the budget requires to be non-zero.
    const bool need_wmma = r->budget && r->budget->wmma;
    const bool need_b128 = r->budget && r->budget->load_b128;
    os << fmt::format(
        "{:<{}}  {:<8} {:>4} {:>6} {:>4} {:>9} {:>7} {:>5} {:>6} {:>4} {:>4} {:>4}  {}\n",
        r->kernel, width, r->target, m.vgpr_count,
        r->budget ? std::to_string(r->budget->vgpr_max) : "none", m.sgpr_count,
        fmt::format("{}/{}", m.vgpr_spill_count, m.sgpr_spill_count),
        fmt::format("{}/{}", m.private_segment_fixed_size,
                    count_or_dash(r->isa, &FunctionIsa::scratch)),
        m.uses_dynamic_stack ? "yes" : "no", m.group_segment_fixed_size, m.wavefront_size,
        count_or_dash(r->isa, &FunctionIsa::wmma) + (need_wmma ? "*" : ""),
        count_or_dash(r->isa, &FunctionIsa::load_b128) + (need_b128 ? "*" : ""),
        r->violations.empty() ? "ok" : fmt::format("FAIL ({})", r->violations.size()));
  }
  os << "scratch = .private_segment_fixed_size bytes / scratch_* instructions; wmma, b128 = "
        "v_wmma_* and 16-byte global loads in the kernel's ISA (* = required by the budget)\n";
}

void write_json(const std::string& path, const Budgets* budgets, const GateResult& result,
                const std::string& error) {
  using nlohmann::json;
  json doc;
  doc["schema"] = "moecheck.gfx11_gate/1";
  json rows = json::array();
  std::set<std::string> targets;
  for (const Row* r : sorted(result)) {
    const auto& m = r->meta;
    targets.insert(r->target);
    json row = {{"kernel", r->kernel},
                {"symbol", r->mangled},
                {"target", r->target},
                {"object", r->object},
                {"vgpr_count", m.vgpr_count},
                {"sgpr_count", m.sgpr_count},
                {"vgpr_spill_count", m.vgpr_spill_count},
                {"sgpr_spill_count", m.sgpr_spill_count},
                {"private_segment_fixed_size", m.private_segment_fixed_size},
                {"uses_dynamic_stack", m.uses_dynamic_stack},
                {"group_segment_fixed_size", m.group_segment_fixed_size},
                {"wavefront_size", m.wavefront_size},
                {"passed", r->violations.empty()},
                {"violations", r->violations}};
    row["isa"] = r->isa ? json{{"instructions", r->isa->instructions},
                               {"wmma", r->isa->wmma},
                               {"load_b128", r->isa->load_b128},
                               {"scratch", r->isa->scratch}}
                        : json(nullptr);
    row["budget"] = r->budget ? json{{"match", r->budget->match},
                                     {"vgpr_max", r->budget->vgpr_max},
                                     {"wmma", r->budget->wmma},
                                     {"load_b128", r->budget->load_b128}}
                              : json(nullptr);
    rows.push_back(std::move(row));
  }
  const std::vector<std::string> violations = result.all_violations();
  doc["passed"] = error.empty() && violations.empty();
  if (!error.empty()) doc["error"] = error;
  if (budgets != nullptr) {
    doc["budgets"] = budgets->file;
    doc["limits"] = {{"lds_max_bytes", budgets->lds_max_bytes},
                     {"wavefront_size", budgets->wavefront_size}};
  }
  doc["targets"] = targets;
  doc["kernels"] = rows;
  doc["violations"] = violations;
  std::ofstream out(path);
  out << doc.dump(2) << "\n";
  if (!out) throw GateError(path + ": cannot write the JSON report");
}

}  // namespace moecheck::gate
