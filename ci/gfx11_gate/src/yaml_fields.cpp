#include "yaml_fields.hpp"

#include <sstream>

#include "gate_error.hpp"

namespace moecheck::gate {

void fail_at(const std::string& where, const YAML::Node& at, const std::string& key,
             const std::string& what) {
  std::ostringstream os;
  os << where;
  // yaml-cpp marks are zero-based; a node built by hand (or absent) has line -1.
  if (at.IsDefined() && at.Mark().line >= 0) {
    os << ":" << at.Mark().line + 1 << ":" << at.Mark().column + 1;
  }
  os << ": " << key << ": " << what;
  throw GateError(os.str());
}

YAML::Node required(const std::string& where, const YAML::Node& m, const std::string& key) {
  if (!m.IsMap()) fail_at(where, m, key, "expected a map holding it");
  const YAML::Node n = m[key];
  if (!n.IsDefined() || n.IsNull()) fail_at(where, m, key, "missing");
  return n;
}

std::string to_string(const std::string& where, const YAML::Node& n, const std::string& key) {
  if (!n.IsScalar()) fail_at(where, n, key, "expected a scalar value");
  return n.Scalar();
}

int64_t to_uint(const std::string& where, const YAML::Node& n, const std::string& key) {
  const std::string s = to_string(where, n, key);
  bool digits = !s.empty() && s.size() <= 18;  // 18 decimal digits always fit in int64
  for (char c : s) digits = digits && c >= '0' && c <= '9';
  if (!digits) fail_at(where, n, key, "expected an unsigned integer, got '" + s + "'");
  return std::stoll(s);
}

bool to_bool(const std::string& where, const YAML::Node& n, const std::string& key) {
  const std::string s = to_string(where, n, key);
  if (s == "true") return true;
  if (s == "false") return false;
  fail_at(where, n, key, "expected true or false, got '" + s + "'");
}

}  // namespace moecheck::gate
