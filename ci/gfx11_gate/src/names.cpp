#include "names.hpp"

#include <cxxabi.h>

#include <cctype>
#include <cstdlib>
#include <memory>

namespace moecheck::gate {

std::string demangle(const std::string& mangled) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> out(
      abi::__cxa_demangle(mangled.c_str(), nullptr, nullptr, &status), std::free);
  return status == 0 && out ? std::string(out.get()) : mangled;
}

namespace {

// Drops every "name::" and "(anonymous namespace)::" qualifier.
std::string drop_qualifiers(const std::string& s) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    if (s.compare(i, 23, "(anonymous namespace)::") == 0) {
      i += 23;
      continue;
    }
    size_t j = i;
    while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
    if (j > i && s.compare(j, 2, "::") == 0) {
      i = j + 2;  // an identifier followed by "::" is a qualifier
    } else if (j > i) {
      out.append(s, i, j - i);
      i = j;
    } else {
      out += s[i++];
    }
  }
  return out;
}

}  // namespace

std::string short_kernel_name(const std::string& mangled) {
  const std::string s = drop_qualifiers(demangle(mangled));
  // Cut the parameter list (the first '(' outside template brackets) and the return type (what
  // precedes the last space outside template brackets: "void f<A, 1>").
  int depth = 0;
  size_t name_begin = 0;
  size_t name_end = s.size();
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '<') ++depth;
    if (c == '>') --depth;
    if (depth != 0) continue;
    if (c == '(') {
      name_end = i;
      break;
    }
    if (c == ' ') name_begin = i + 1;
  }
  return s.substr(name_begin, name_end - name_begin);
}

}  // namespace moecheck::gate
