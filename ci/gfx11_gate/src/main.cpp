// moecheck_gfx11_gate: the gfx11 static gate (DESIGN.md section 9, ci/gfx11_gate/README.md).
//
//   moecheck_gfx11_gate --budgets budgets.yaml --readelf llvm-readelf-19 --objdump llvm-objdump-19
//                       [--json out.json] [TARGET=]OBJECT...
//
// For every device-only code object: reads its metadata (llvm-readelf --notes) and ISA
// (llvm-objdump -d), checks every kernel against the rules and the budget table, prints a table
// per kernel and target, and writes it as JSON. TARGET= (e.g. gfx1100=tiled_gemm-gfx1100.o) also
// checks that the object was built for that processor.
// Exit status: 0 every check passed; 1 a violation (each one listed); 2 the gate could not check
// (bad arguments, a tool failed, unreadable output or budget table), never a pass.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "budgets.hpp"
#include "check.hpp"
#include "disasm.hpp"
#include "gate_error.hpp"
#include "notes.hpp"
#include "report.hpp"
#include "run_tool.hpp"

namespace gate = moecheck::gate;

namespace {

struct Options {
  std::string budgets, readelf, objdump, json;
  std::vector<std::pair<std::string, std::string>> objects;  // (expected processor, path)
};

const char* const kUsage =
    "usage: moecheck_gfx11_gate --budgets FILE --readelf EXE --objdump EXE [--json FILE] "
    "[TARGET=]OBJECT...\n";

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw gate::GateError(a + ": missing its value");
      return argv[++i];
    };
    if (a == "--budgets") {
      o.budgets = value();
    } else if (a == "--readelf") {
      o.readelf = value();
    } else if (a == "--objdump") {
      o.objdump = value();
    } else if (a == "--json") {
      o.json = value();
    } else if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      std::exit(0);
    } else if (a.rfind("-", 0) == 0) {
      throw gate::GateError("unknown option " + a);
    } else {
      const size_t eq = a.find('=');
      if (eq == std::string::npos) {
        o.objects.emplace_back("", a);
      } else {
        o.objects.emplace_back(a.substr(0, eq), a.substr(eq + 1));
      }
    }
  }
  if (o.budgets.empty()) throw gate::GateError("--budgets is required");
  if (o.readelf.empty()) throw gate::GateError("--readelf is required");
  if (o.objdump.empty()) throw gate::GateError("--objdump is required");
  if (o.objects.empty()) throw gate::GateError("no code object given");
  // The build deletes an object before compiling it (CMakeLists.txt gate_object), so a missing one
  // is most often a compile that failed: say so here rather than through the tools' errors.
  for (const auto& [target, path] : o.objects) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
      throw gate::GateError(path + ": no such code object (did its compile fail?)");
    }
  }
  return o;
}

std::string base_name(const std::string& path) {
  return path.substr(path.find_last_of('/') + 1);
}

struct ToolOutput {
  std::string notes, disasm;
  std::exception_ptr error;
};

// llvm-readelf and llvm-objdump for every object, on a few threads: the tools' start-up dominates
// (a tenth of a second each, two per object), and the gate runs on every CI build.
std::vector<ToolOutput> run_tools(const Options& opt) {
  std::vector<ToolOutput> out(opt.objects.size());
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i; (i = next++) < out.size();) {
      try {
        const std::string& path = opt.objects[i].second;
        out[i].notes = gate::run_tool({opt.readelf, "--notes", path});
        out[i].disasm = gate::run_tool({opt.objdump, "-d", path});
      } catch (...) {
        out[i].error = std::current_exception();
      }
    }
  };
  const size_t n = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 8);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < std::min(n, out.size()); ++t) threads.emplace_back(worker);
  for (std::thread& t : threads) t.join();
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  try {
    opt = parse_args(argc, argv);
  } catch (const gate::GateError& e) {
    std::cerr << "gfx11 gate: error: " << e.what() << "\n" << kUsage;
    return 2;
  }
  gate::GateResult result;
  gate::Budgets budgets;
  bool have_budgets = false;
  try {
    budgets = gate::load_budgets(opt.budgets);
    have_budgets = true;
    const std::vector<ToolOutput> outputs = run_tools(opt);
    for (size_t i = 0; i < outputs.size(); ++i) {
      if (outputs[i].error) std::rethrow_exception(outputs[i].error);
      const auto& [processor, path] = opt.objects[i];
      const std::string name = base_name(path);
      gate::check_object(budgets, name, processor,
                         gate::parse_notes(outputs[i].notes, name + " (llvm-readelf --notes)"),
                         gate::parse_disassembly(outputs[i].disasm, name + " (llvm-objdump -d)"),
                         result);
    }
  } catch (const std::exception& e) {
    // GateError names the input; anything else (a YAML type error, no memory) still must not
    // read as a pass.
    std::cerr << "gfx11 gate: error: " << e.what() << "\n";
    try {
      if (!opt.json.empty())
        gate::write_json(opt.json, have_budgets ? &budgets : nullptr, result, e.what());
    } catch (const gate::GateError& e2) {
      std::cerr << "gfx11 gate: error: " << e2.what() << "\n";
    }
    return 2;
  }
  gate::print_table(std::cout, result);
  const std::vector<std::string> violations = result.all_violations();
  try {
    if (!opt.json.empty()) {
      gate::write_json(opt.json, &budgets, result, "");
      std::cout << "JSON: " << opt.json << "\n";
    }
  } catch (const gate::GateError& e) {
    std::cerr << "gfx11 gate: error: " << e.what() << "\n";
    return 2;
  }
  if (!violations.empty()) {
    std::cout << "gfx11 gate: FAILED, " << violations.size() << " violation(s):\n";
    for (const std::string& v : violations) std::cout << "  " << v << "\n";
    return 1;
  }
  std::cout << "gfx11 gate: passed (" << result.rows.size() << " kernels x targets, "
            << opt.objects.size() << " code objects)\n";
  return 0;
}
