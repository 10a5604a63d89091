// The AMDGPU code-object metadata (the NT_AMDGPU_METADATA note, msgpack in the ELF, printed as
// YAML by `llvm-readelf --notes`): the target and, per kernel, the resource fields the gate checks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace moecheck::gate {

struct KernelMeta {
  std::string name;    // .name: the kernel function's (mangled) symbol
  std::string symbol;  // .symbol: its kernel descriptor, "<name>.kd"
  int64_t vgpr_count = 0;
  int64_t sgpr_count = 0;
  int64_t vgpr_spill_count = 0;
  int64_t sgpr_spill_count = 0;
  int64_t private_segment_fixed_size = 0;  // scratch bytes per work-item
  int64_t group_segment_fixed_size = 0;    // static LDS bytes per work-group
  bool uses_dynamic_stack = false;
  int64_t wavefront_size = 0;
};

struct CodeObjectMeta {
  std::string target;  // amdhsa.target, e.g. "amdgcn-amd-amdhsa--gfx1100"
  std::vector<KernelMeta> kernels;
};

// Parses the whole stdout of `llvm-readelf --notes <object>`. Throws GateError, prefixed by
// `origin`, when the output holds no (or more than one) metadata note, the YAML does not parse,
// or any field above is missing or malformed; a field's message names the kernel and the field.
CodeObjectMeta parse_notes(const std::string& readelf_output, const std::string& origin);

// "gfx1100" from "amdgcn-amd-amdhsa--gfx1100" (target features after a colon dropped); empty
// when the triple has no processor.
std::string processor_of(const std::string& target);

}  // namespace moecheck::gate
