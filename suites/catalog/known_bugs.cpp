#include "known_bugs.hpp"

#include <algorithm>

#include "catalog.hpp"
#include "catalog_yaml.hpp"

namespace moecheck {

namespace {

// Two cases are the same test when suite and name agree (the name carries every parameter a
// testbed reads); tier and error are not in the name, so they are compared too.
bool same_case(const Case& a, const Case& b) {
  return a.suite == b.suite && a.tier == b.tier && a.error == b.error && a.name() == b.name();
}

std::vector<YAML::Node> values_of(const std::string& file, const std::string& key,
                                  const YAML::Node& n) {
  if (!n.IsSequence()) return {n};
  if (n.size() == 0) catalog_fail(file, n, key, "empty list");
  return std::vector<YAML::Node>(n.begin(), n.end());
}

std::string text_of(const std::string& file, const std::string& key, const YAML::Node& n) {
  if (!n.IsScalar() || n.Scalar().empty()) catalog_fail(file, n, key, "expected a non-empty text");
  return n.Scalar();
}

// A `match` field: the case matches when it is unchanged by setting the field to one of the
// values. Setting goes through the sweeps' own parser, so a known bug accepts exactly the keys
// and values a case file does, with the same errors; the values are checked here, at load time.
std::function<bool(const Case&)> field_predicate(const std::string& file, const std::string& key,
                                                 const YAML::Node& value) {
  const std::vector<YAML::Node> values = values_of(file, key, value);
  if (key == "model") {  // a model expands to dimensions in a sweep; here it is a plain name
    std::vector<std::string> names;
    for (const auto& v : values) names.push_back(text_of(file, key, v));
    return [names](const Case& c) {
      return std::find(names.begin(), names.end(), c.model) != names.end();
    };
  }
  for (const auto& v : values) {
    Case probe;
    apply_case_key(probe, file, key, v);
  }
  return [file, key, values](const Case& c) {
    for (const auto& v : values) {
      Case probe = c;
      apply_case_key(probe, file, key, v);
      if (same_case(probe, c)) return true;
    }
    return false;
  };
}

KnownBug parse_entry(const std::string& file, const YAML::Node& n) {
  if (!n.IsMap()) catalog_fail(file, n, "known_bugs", "each known bug must be a mapping");
  KnownBug b;
  b.source = file + ":" + std::to_string(n.Mark().line + 1);
  bool has_name = false, has_match = false, has_arch = false;
  for (const auto& kv : n) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    if (key == "issue") {
      b.issue = text_of(file, key, v);
    } else if (key == "reason") {
      b.reason = text_of(file, key, v);
    } else if (key == "arch") {
      has_arch = true;
      // "*", a name, or a name ending in * (prefix): anything else is a typo that would
      // silently match nothing.
      static const std::regex kArch("\\*|[A-Za-z0-9_]+\\*?");
      for (const auto& a : values_of(file, key, v)) {
        const std::string s = text_of(file, key, a);
        if (!std::regex_match(s, kArch)) {
          catalog_fail(file, a, key,
                       "'" + s + "' is not an architecture (gfx1151, sm_90, gfx11*, or *)");
        }
        b.arch.push_back(s);
      }
    } else if (key == "name") {
      has_name = true;
      b.name_pattern = text_of(file, key, v);
      try {
        b.name_regex = std::regex(b.name_pattern, std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        catalog_fail(file, v, key,
                     "invalid regular expression '" + b.name_pattern + "': " + e.what());
      }
    } else if (key == "match") {
      has_match = true;
      if (!v.IsMap() || v.size() == 0) {
        catalog_fail(file, v, key, "expected a mapping of case keys (field: value or [values])");
      }
      for (const auto& f : v)
        b.fields.push_back(field_predicate(file, f.first.as<std::string>(), f.second));
    } else {
      catalog_fail(file, kv.first, key, "unknown key (expected issue, reason, arch, name, match)");
    }
  }
  if (b.issue.empty()) catalog_fail(file, n, "issue", "missing: every known bug names its issue");
  if (b.reason.empty()) catalog_fail(file, n, "reason", "missing: every known bug says what fails");
  if (!has_arch) catalog_fail(file, n, "arch", "missing: list the architectures, or \"*\"");
  if (!has_name && !has_match) {
    catalog_fail(file, n, "match", "missing: an entry needs `match` or `name` (or both)");
  }
  return b;
}

}  // namespace

bool KnownBug::matches_case(const Case& c) const {
  if (!name_pattern.empty() && !std::regex_search(c.suite + "." + c.name(), name_regex)) {
    return false;
  }
  for (const auto& f : fields) {
    if (!f(c)) return false;
  }
  return true;
}

bool KnownBug::matches_arch(const std::string& a) const {
  for (const auto& pattern : arch) {
    if (pattern == "*") return true;
    if (pattern.back() == '*') {
      if (a.rfind(pattern.substr(0, pattern.size() - 1), 0) == 0) return true;
    } else if (pattern == a) {
      return true;
    }
  }
  return false;
}

std::vector<KnownBug> load_known_bugs(const std::string& text, const std::string& file) {
  const YAML::Node root = parse_catalog_yaml(text, file);
  if (!root.IsMap()) {
    catalog_fail(file, root, "known_bugs", "expected a mapping with a 'known_bugs' list");
  }
  for (const auto& kv : root) {
    const std::string key = kv.first.as<std::string>();
    if (key != "known_bugs") {
      catalog_fail(file, kv.first, key, "unknown top-level key (expected 'known_bugs')");
    }
  }
  const YAML::Node list = root["known_bugs"];
  std::vector<KnownBug> out;
  if (list.IsNull()) return out;  // `known_bugs:` with nothing under it
  if (!list.IsSequence()) catalog_fail(file, list, "known_bugs", "expected a list of entries");
  for (const auto& entry : list) out.push_back(parse_entry(file, entry));
  return out;
}

const KnownBug* find_known_bug(const std::vector<KnownBug>& bugs, const Case& c,
                               const std::string& arch) {
  for (const auto& b : bugs) {
    if (b.matches_arch(arch) && b.matches_case(c)) return &b;
  }
  return nullptr;
}

}  // namespace moecheck
