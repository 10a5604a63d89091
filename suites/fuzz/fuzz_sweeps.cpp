// libFuzzer: the catalog's YAML loader (suites/catalog/catalog.hpp) on arbitrary text, as a
// sweeps file and as a models file. It must either refuse the text with CatalogError
// ("file:line:column: key: problem") or return cases that each have a name and labels; any other
// exception escaping the loader (it would reach a testbed as an error without file and line), a
// crash or a sanitizer report is a finding.
#include <cstddef>
#include <cstdint>
#include <string>

#include "catalog.hpp"

namespace {

const std::vector<moecheck::Model>& models() {
  // Two models, so that `model: all` expands and group sizes are chosen per model.
  static const std::vector<moecheck::Model> m = moecheck::load_models(
      "models:\n"
      "  - {name: a, hf: x/a, experts: 8, top_k: 2, hidden: 256, moe_intermediate: 64,"
      " group_sizes: [32, 64]}\n"
      "  - {name: b, hf: x/b, experts: 4, top_k: 1, hidden: 128, moe_intermediate: 32,"
      " group_sizes: [32]}\n",
      "models.yaml");
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace moecheck;
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    for (const Case& c : load_sweeps(text, "fuzz.yaml", models())) {
      (void)c.name();
      (void)c.labels(false);
    }
  } catch (const CatalogError&) {
  }
  try {
    load_models(text, "fuzz_models.yaml");
  } catch (const CatalogError&) {
  }
  return 0;
}
