#include "moecheck/reference/result.hpp"

#include <stdexcept>

namespace moecheck {

namespace {
constexpr struct {
  Outcome outcome;
  const char* name;
} kNames[] = {
    {Outcome::Passed, "Passed"},   {Outcome::Incorrect, "Incorrect"},
    {Outcome::Failed, "Failed"},   {Outcome::NotSupported, "NotSupported"},
    {Outcome::Skipped, "Skipped"}, {Outcome::KnownBug, "KnownBug"},
};
}  // namespace

const char* to_string(Outcome o) {
  for (const auto& n : kNames) {
    if (n.outcome == o) return n.name;
  }
  return "?";
}

Outcome parse_outcome(const std::string& s) {
  for (const auto& n : kNames) {
    if (s == n.name) return n.outcome;
  }
  throw std::invalid_argument("unknown outcome '" + s + "'");
}

}  // namespace moecheck
