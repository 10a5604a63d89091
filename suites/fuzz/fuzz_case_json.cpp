// libFuzzer: case.json (suites/exchange/case_json.hpp) on arbitrary text. It must either refuse
// it with InputError or return a manifest that writes back to JSON which reads again into the
// same JSON (a fixed point after one round). Anything else is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "case_json.hpp"
#include "moecheck/reference/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace moecheck;
  const std::string text(reinterpret_cast<const char*>(data), size);
  DumpManifest m;
  try {
    m = manifest_from_json(text, "case.json");
  } catch (const InputError&) {
    return 0;
  }
  (void)m.c.name();  // every accepted case has a name
  const std::string once = manifest_to_json(m);
  if (manifest_to_json(manifest_from_json(once, "again.json")) != once) std::abort();
  return 0;
}
