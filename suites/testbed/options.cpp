#include "options.hpp"

namespace moecheck {

namespace {
// Set once by the binary's main (the testbeds' main.cpp, or a tool like the bench) before any
// test runs; kept apart from main.cpp so a library asking for it does not pull a main in.
TestbedOptions g_testbed_options;
}  // namespace

const TestbedOptions& testbed_options() {
  return g_testbed_options;
}
void set_testbed_options(const TestbedOptions& o) {
  g_testbed_options = o;
}

}  // namespace moecheck
