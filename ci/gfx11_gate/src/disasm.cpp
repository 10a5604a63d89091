#include "disasm.hpp"

#include <cctype>
#include <sstream>

#include "gate_error.hpp"

namespace moecheck::gate {

namespace {

bool starts_with(const std::string& s, const char* prefix) {
  return s.rfind(prefix, 0) == 0;
}

// "0000000000002800 <name>:" -> name; empty when the line is not a label.
std::string label_of(const std::string& line) {
  const size_t open = line.find(" <");
  if (open == std::string::npos || open == 0 || line.size() < open + 4) return "";
  if (line.compare(line.size() - 2, 2, ">:") != 0) return "";
  for (size_t i = 0; i < open; ++i) {
    if (!std::isxdigit(static_cast<unsigned char>(line[i]))) return "";
  }
  return line.substr(open + 2, line.size() - open - 4);
}

}  // namespace

std::map<std::string, FunctionIsa> parse_disassembly(const std::string& objdump_output,
                                                     const std::string& origin) {
  std::map<std::string, FunctionIsa> functions;
  std::istringstream in(objdump_output);
  std::string line;
  bool saw_section = false;
  FunctionIsa* current = nullptr;
  bool in_pseudo = false;  // inside a '.'-label (padding), whose instructions are not counted
  while (std::getline(in, line)) {
    if (starts_with(line, "Disassembly of section")) {
      saw_section = true;
      current = nullptr;
      in_pseudo = false;
      continue;
    }
    const std::string label = label_of(line);
    if (!label.empty()) {
      in_pseudo = label[0] == '.';
      current = in_pseudo ? nullptr : &functions[label];
      continue;
    }
    // Instruction lines start with a tab: "\tv_wmma_f32_16x16x16_f16 v[0:7], ...  // addr: enc".
    if (line.empty() || line[0] != '\t') continue;
    std::istringstream fields(line);
    std::string mnemonic;
    fields >> mnemonic;
    if (mnemonic.empty() || starts_with(mnemonic, "//")) continue;
    if (in_pseudo) continue;
    if (current == nullptr) {
      throw GateError(origin + ": unparsable llvm-objdump output: instruction '" + mnemonic +
                      "' before any function label");
    }
    ++current->instructions;
    if (starts_with(mnemonic, "v_wmma_")) ++current->wmma;
    if (mnemonic == "global_load_b128" || mnemonic == "global_load_dwordx4") ++current->load_b128;
    if (starts_with(mnemonic, "scratch_")) ++current->scratch;
  }
  if (!saw_section) {
    throw GateError(origin + ": unparsable llvm-objdump output: no 'Disassembly of section' line");
  }
  return functions;
}

}  // namespace moecheck::gate
