#include "registry.hpp"

namespace moecheck {

std::map<std::string, CaseBody>& suite_table() {
  static std::map<std::string, CaseBody> table;
  return table;
}

}  // namespace moecheck
