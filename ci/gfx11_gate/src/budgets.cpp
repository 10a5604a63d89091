#include "budgets.hpp"

#include <fnmatch.h>
#include <yaml-cpp/yaml.h>

#include <set>

#include "gate_error.hpp"
#include "yaml_fields.hpp"

namespace moecheck::gate {

namespace {

void only_keys(const std::string& where, const YAML::Node& m, const std::set<std::string>& keys) {
  for (const auto& kv : m) {
    const std::string key = to_string(where, kv.first, "key");
    if (keys.count(key) == 0) fail_at(where, kv.first, key, "unknown key");
  }
}

}  // namespace

const KernelBudget* Budgets::find(const std::string& short_name) const {
  for (const KernelBudget& b : kernels) {
    if (fnmatch(b.match.c_str(), short_name.c_str(), 0) == 0) return &b;
  }
  return nullptr;
}

Budgets load_budgets(const std::string& file) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(file);
  } catch (const YAML::BadFile&) {
    throw GateError(file + ": cannot read the budget table");
  } catch (const YAML::Exception& e) {
    throw GateError(file + ": does not parse: " + e.what());
  }
  if (!root.IsMap()) throw GateError(file + ": expected a map at the top level");
  only_keys(file, root, {"lds_max_bytes", "wavefront_size", "kernels"});
  Budgets b;
  b.file = file;
  b.lds_max_bytes = to_uint(file, required(file, root, "lds_max_bytes"), "lds_max_bytes");
  b.wavefront_size = to_uint(file, required(file, root, "wavefront_size"), "wavefront_size");
  const YAML::Node list = required(file, root, "kernels");
  if (!list.IsSequence() || list.size() == 0) {
    fail_at(file, list, "kernels", "expected a non-empty list");
  }
  for (const YAML::Node& k : list) {
    if (!k.IsMap()) fail_at(file, k, "kernels", "expected a map per entry");
    only_keys(file, k, {"match", "vgpr_max", "wmma", "load_b128", "why"});
    KernelBudget e;
    e.match = to_string(file, required(file, k, "match"), "match");
    e.vgpr_max = to_uint(file, required(file, k, "vgpr_max"), "vgpr_max");
    // 256 VGPRs is the most a gfx11 wave32 kernel can address: a larger budget checks nothing.
    if (e.vgpr_max < 1 || e.vgpr_max > 256) {
      fail_at(file, k["vgpr_max"], "vgpr_max", "must be in 1..256");
    }
    if (k["wmma"]) e.wmma = to_bool(file, k["wmma"], "wmma");
    if (k["load_b128"]) e.load_b128 = to_bool(file, k["load_b128"], "load_b128");
    if (k["why"]) e.why = to_string(file, k["why"], "why");
    b.kernels.push_back(e);
  }
  return b;
}

}  // namespace moecheck::gate
