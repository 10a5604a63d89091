// The ISA facts the gate checks, counted per function from `llvm-objdump -d` output.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace moecheck::gate {

struct FunctionIsa {
  int64_t instructions = 0;
  int64_t wmma = 0;       // v_wmma_* (the gfx11 matrix atom)
  int64_t load_b128 = 0;  // 16-byte global loads: global_load_b128 (gfx11 spelling) or
                          // global_load_dwordx4 (gfx9/10 spelling)
  int64_t scratch = 0;    // scratch_* (spill or stack traffic, which the metadata should also show)
};

// Function symbol -> its counts. Symbols starting with '.' (the section label objdump prints
// for padding before the first function) are not functions and are left out. Throws GateError,
// prefixed by `origin`, when the output has no "Disassembly of section" line or an instruction
// precedes every function label.
std::map<std::string, FunctionIsa> parse_disassembly(const std::string& objdump_output,
                                                     const std::string& origin);

}  // namespace moecheck::gate
