#include "notes.hpp"

#include <yaml-cpp/yaml.h>

#include <sstream>

#include "gate_error.hpp"
#include "yaml_fields.hpp"

namespace moecheck::gate {

namespace {

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

// The YAML document of the metadata note. llvm-readelf prints the note's header line (with
// "NT_AMDGPU_METADATA"), then the document from "---" to "..."; only the "---" line is indented.
std::string metadata_document(const std::string& out, const std::string& origin) {
  std::istringstream in(out);
  std::string line;
  std::string doc;
  int notes = 0;
  enum { kOutside, kHeader, kDocument } state = kOutside;
  while (std::getline(in, line)) {
    const std::string t = trim(line);
    if (state == kDocument) {
      if (t == "...") {
        state = kOutside;
        continue;
      }
      doc += line + "\n";
    } else if (line.find("NT_AMDGPU_METADATA") != std::string::npos) {
      ++notes;
      state = kHeader;
    } else if (state == kHeader && t == "---") {
      state = kDocument;
      doc += "---\n";
    }
  }
  if (notes == 0) {
    throw GateError(origin + ": no NT_AMDGPU_METADATA note in the output (not an AMDGPU code " +
                    "object, or not llvm-readelf --notes output)");
  }
  if (notes > 1)
    throw GateError(origin + ": " + std::to_string(notes) + " metadata notes, expected 1");
  if (state == kHeader || doc.empty()) {
    throw GateError(origin + ": the metadata note has no YAML document (no '---' line)");
  }
  if (state == kDocument)
    throw GateError(origin + ": the metadata YAML is not terminated by '...'");
  return doc;
}

KernelMeta parse_kernel(const std::string& where_object, const YAML::Node& k, size_t index) {
  // Name the kernel in every message: by its .name once that is known, else by position.
  std::string where = where_object + ": kernel #" + std::to_string(index);
  if (!k.IsMap()) fail_at(where, k, "amdhsa.kernels", "expected a map per kernel");
  KernelMeta m;
  m.name = to_string(where, required(where, k, ".name"), ".name");
  where = where_object + ": kernel " + m.name;
  auto uint_field = [&](const char* key) { return to_uint(where, required(where, k, key), key); };
  m.symbol = to_string(where, required(where, k, ".symbol"), ".symbol");
  m.vgpr_count = uint_field(".vgpr_count");
  m.sgpr_count = uint_field(".sgpr_count");
  m.vgpr_spill_count = uint_field(".vgpr_spill_count");
  m.sgpr_spill_count = uint_field(".sgpr_spill_count");
  m.private_segment_fixed_size = uint_field(".private_segment_fixed_size");
  m.group_segment_fixed_size = uint_field(".group_segment_fixed_size");
  m.uses_dynamic_stack =
      to_bool(where, required(where, k, ".uses_dynamic_stack"), ".uses_dynamic_stack");
  m.wavefront_size = uint_field(".wavefront_size");
  return m;
}

}  // namespace

CodeObjectMeta parse_notes(const std::string& readelf_output, const std::string& origin) {
  const std::string doc = metadata_document(readelf_output, origin);
  YAML::Node root;
  try {
    root = YAML::Load(doc);
  } catch (const YAML::Exception& e) {
    throw GateError(origin + ": the metadata YAML does not parse: " + e.what());
  }
  const std::string where = origin + " metadata";
  CodeObjectMeta meta;
  meta.target = to_string(where, required(where, root, "amdhsa.target"), "amdhsa.target");
  const YAML::Node kernels = required(where, root, "amdhsa.kernels");
  if (!kernels.IsSequence()) fail_at(where, kernels, "amdhsa.kernels", "expected a list");
  if (kernels.size() == 0) fail_at(where, kernels, "amdhsa.kernels", "no kernel in the object");
  for (size_t i = 0; i < kernels.size(); ++i) {
    meta.kernels.push_back(parse_kernel(where, kernels[i], i));
  }
  return meta;
}

std::string processor_of(const std::string& target) {
  const size_t dashes = target.rfind("--");
  if (dashes == std::string::npos) return "";
  std::string p = target.substr(dashes + 2);
  return p.substr(0, p.find(':'));
}

}  // namespace moecheck::gate
