// The one exception type the CPU side throws for bad input (DESIGN.md: "an input error the CPU
// side reports"). Messages name the input and what is wrong.
#pragma once

#include <stdexcept>
#include <string>

namespace moecheck {

struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace moecheck
