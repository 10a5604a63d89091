// libFuzzer: the .npy reader (suites/exchange/npy.hpp) on arbitrary bytes. It must either refuse
// them with InputError or return an array that writes back to a file it reads again identically
// (descr, shape, data). Anything else (a crash, another exception, a sanitizer report) is a
// finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "moecheck/reference/error.hpp"
#include "npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace moecheck;
  NpyArray a;
  try {
    a = parse_npy(data, size, "fuzz.npy");
  } catch (const InputError&) {
    return 0;  // refused, as it should be
  }
  const std::string again = format_npy(a);
  const NpyArray b =
      parse_npy(reinterpret_cast<const uint8_t*>(again.data()), again.size(), "again.npy");
  if (b.descr != a.descr || b.shape != a.shape || b.data != a.data) std::abort();
  return 0;
}
