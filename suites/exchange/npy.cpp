#include "npy.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "moecheck/reference/error.hpp"

// The data sections are copied to and from memory as they are: the host must be little-endian,
// like every machine moecheck runs on (x86-64, aarch64).
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "moecheck's .npy I/O assumes a little-endian host");

namespace moecheck {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;

[[noreturn]] void fail(const std::string& name, const std::string& what) {
  throw InputError(name + ": " + what);
}

// The header dict of a .npy file, a Python literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
// parsed by hand: exactly the three keys, each once; strings in single or double quotes without
// escapes; True/False; a tuple of non-negative decimal integers.
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& name) : s_(text), name_(name) {}

  NpyArray parse() {
    NpyArray a;
    bool have_descr = false, have_order = false, have_shape = false;
    skip_space();
    expect('{', "the header must start with '{'");
    while (true) {
      skip_space();
      if (peek() == '}') {
        ++i_;
        break;
      }
      const std::string key = quoted("a quoted key");
      skip_space();
      expect(':', "expected ':' after '" + key + "'");
      skip_space();
      if (key == "descr") {
        if (have_descr) bad("'descr' appears twice");
        have_descr = true;
        a.descr = quoted("the dtype string of 'descr'");
      } else if (key == "fortran_order") {
        if (have_order) bad("'fortran_order' appears twice");
        have_order = true;
        if (word("True")) {
          fail(name_,
               "fortran_order is True: only C-order arrays are accepted (save with "
               "numpy.ascontiguousarray)");
        }
        if (!word("False")) bad("fortran_order must be True or False");
      } else if (key == "shape") {
        if (have_shape) bad("'shape' appears twice");
        have_shape = true;
        a.shape = tuple();
      } else {
        bad("unknown key '" + key + "' (expected descr, fortran_order, shape)");
      }
      skip_space();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      skip_space();
      if (peek() != '}') bad("expected ',' or '}' after the value of '" + key + "'");
    }
    // numpy pads the dict with spaces and ends the header with a newline.
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\r')) ++i_;
    if (i_ + 1 != s_.size() || s_[i_] != '\n') {
      bad("the header must end with '}', padding spaces and one newline");
    }
    if (!have_descr) bad("'descr' is missing");
    if (!have_order) bad("'fortran_order' is missing");
    if (!have_shape) bad("'shape' is missing");
    return a;
  }

 private:
  [[noreturn]] void bad(const std::string& what) const {
    fail(name_, "malformed header at byte " + std::to_string(i_) + ": " + what);
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
      ++i_;
  }
  void expect(char c, const std::string& what) {
    if (peek() != c) bad(what);
    ++i_;
  }
  bool word(const char* w) {
    const size_t n = std::strlen(w);
    if (s_.compare(i_, n, w) != 0) return false;
    i_ += n;
    return true;
  }
  std::string quoted(const std::string& what) {
    const char q = peek();
    if (q != '\'' && q != '"') bad("expected " + what);
    const size_t end = s_.find(q, i_ + 1);
    if (end == std::string::npos) bad("unterminated string");
    std::string out = s_.substr(i_ + 1, end - i_ - 1);
    if (out.find('\\') != std::string::npos) bad("escapes in strings are not supported");
    i_ = end + 1;
    return out;
  }
  std::vector<int64_t> tuple() {
    expect('(', "shape must be a tuple such as (3, 4)");
    std::vector<int64_t> dims;
    bool comma_after_last = false;
    while (true) {
      skip_space();
      if (peek() == ')') {
        ++i_;
        break;
      }
      if (peek() < '0' || peek() > '9') bad("shape dimensions must be non-negative integers");
      int64_t v = 0;
      while (peek() >= '0' && peek() <= '9') {
        const int d = peek() - '0';
        if (v > (std::numeric_limits<int64_t>::max() - d) / 10) {
          fail(name_,
               "shape dimension " + std::to_string(dims.size()) + " does not fit in 64 bits");
        }
        v = v * 10 + d;
        ++i_;
      }
      if (dims.size() == static_cast<size_t>(kMaxNpyDims)) {
        fail(name_, "more than " + std::to_string(kMaxNpyDims) + " dimensions");
      }
      dims.push_back(v);
      skip_space();
      comma_after_last = false;
      if (peek() == ',') {
        ++i_;
        comma_after_last = true;
      } else if (peek() != ')') {
        bad("expected ',' or ')' in shape");
      }
    }
    // (3) is the integer 3 in Python, not a tuple: numpy never writes it.
    if (dims.size() == 1 && !comma_after_last) bad("a 1-d shape is written (n,)");
    return dims;
  }

  const std::string& s_;
  const std::string& name_;
  size_t i_ = 0;
};

uint32_t read_le(const uint8_t* p, int bytes) {
  uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Elements of a shape, with the overflow and size checks every reader and writer applies.
int64_t checked_count(const std::vector<int64_t>& shape, int item, const std::string& name) {
  int64_t n = 1;
  for (const int64_t d : shape) {
    if (d < 0) fail(name, "negative dimension in shape " + shape_string(shape));
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d) {
      fail(name, "shape " + shape_string(shape) + " has more elements than fit in 64 bits");
    }
    n *= d;
  }
  if (n > kMaxNpyBytes / item) {
    fail(name, "shape " + shape_string(shape) + " is " + std::to_string(n) +
                   " elements, over the " + std::to_string(kMaxNpyBytes) +
                   "-byte limit of an exchanged array");
  }
  return n;
}

}  // namespace

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

int npy_item_size(const std::string& descr) {
  if (descr == kNpyU8) return 1;
  if (descr == kNpyU16 || descr == kNpyF16) return 2;
  if (descr == kNpyI32 || descr == kNpyF32) return 4;
  if (descr == kNpyI64 || descr == kNpyF64) return 8;
  if (!descr.empty() && descr[0] == '>') {
    throw InputError("dtype '" + descr + "' is big-endian; save little-endian data ('<' dtypes)");
  }
  throw InputError("dtype '" + descr + "' is not supported (|u1, <u2, <i4, <i8, <f2, <f4, <f8)");
}

int64_t NpyArray::count() const {
  return checked_count(shape, item_size(), "array");
}
int NpyArray::item_size() const {
  return npy_item_size(descr);
}

NpyArray parse_npy(const uint8_t* bytes, size_t size, const std::string& name) {
  if (size < kMagicLen + 2 || std::memcmp(bytes, kMagic, kMagicLen) != 0) {
    fail(name, "not a .npy file (the magic string \\x93NUMPY is missing)");
  }
  const int major = bytes[6], minor = bytes[7];
  if (!((major == 1 || major == 2) && minor == 0)) {
    fail(name, "format version " + std::to_string(major) + "." + std::to_string(minor) +
                   " is not supported (1.0 and 2.0 are)");
  }
  const size_t len_bytes = major == 1 ? 2 : 4;
  const size_t prefix = kMagicLen + 2 + len_bytes;
  if (size < prefix) fail(name, "truncated before the header length");
  const uint32_t header_len = read_le(bytes + kMagicLen + 2, static_cast<int>(len_bytes));
  if (header_len > kMaxNpyHeader) {
    fail(name, "header of " + std::to_string(header_len) + " bytes exceeds the limit of " +
                   std::to_string(kMaxNpyHeader));
  }
  if (size - prefix < header_len) {
    fail(name, "truncated header: " + std::to_string(header_len) + " bytes announced, " +
                   std::to_string(size - prefix) + " present");
  }
  const std::string header(reinterpret_cast<const char*>(bytes + prefix), header_len);
  NpyArray a = HeaderParser(header, name).parse();
  int item = 0;
  try {
    item = npy_item_size(a.descr);
  } catch (const InputError& e) {
    fail(name, e.what());
  }
  const int64_t count = checked_count(a.shape, item, name);
  const uint64_t want = static_cast<uint64_t>(count) * item;
  const uint64_t have = size - prefix - header_len;
  if (have < want) {
    fail(name, "data is truncated: shape " + shape_string(a.shape) + " of " + a.descr + " needs " +
                   std::to_string(want) + " bytes, the file has " + std::to_string(have));
  }
  if (have > want) {
    fail(name, std::to_string(have - want) + " bytes after the data of shape " +
                   shape_string(a.shape) + " (" + a.descr + ")");
  }
  a.data.assign(bytes + prefix + header_len, bytes + size);
  return a;
}

std::string format_npy(const NpyArray& a) {
  const int item = npy_item_size(a.descr);
  const int64_t count = checked_count(a.shape, item, "format_npy");
  if (static_cast<int64_t>(a.data.size()) != count * item) {
    throw InputError("format_npy: " + std::to_string(a.data.size()) + " data bytes for shape " +
                     shape_string(a.shape) + " of " + a.descr);
  }
  std::string dict = "{'descr': '" + a.descr + "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < a.shape.size(); ++i) dict += (i ? ", " : "") + std::to_string(a.shape[i]);
  dict += a.shape.size() == 1 ? ",), }" : "), }";
  // Written as numpy.save (1.x) writes it, byte for byte: room for the first dimension to grow
  // to 21 digits, then spaces up to the next multiple of 64 bytes (at least one) and a newline.
  if (!a.shape.empty()) dict.append(21 - std::to_string(a.shape[0]).size(), ' ');
  size_t prefix = kMagicLen + 2 + 2;
  int major = 1;
  if (dict.size() + 1 + 64 > 65535) {
    prefix = kMagicLen + 2 + 4;
    major = 2;
  }
  dict.append(64 - (prefix + dict.size() + 1) % 64, ' ');
  dict += '\n';
  std::string out(kMagic, kMagicLen);
  out += static_cast<char>(major);
  out += '\0';
  const uint32_t len = static_cast<uint32_t>(dict.size());
  for (size_t i = 0; i < prefix - kMagicLen - 2; ++i)
    out += static_cast<char>((len >> (8 * i)) & 0xff);
  out += dict;
  out.append(reinterpret_cast<const char*>(a.data.data()), a.data.size());
  return out;
}

NpyArray read_npy(const std::filesystem::path& file) {
  const std::string name = file.string();
  std::error_code ec;
  const auto size = std::filesystem::file_size(file, ec);
  if (ec) fail(name, "cannot read: " + ec.message());
  // Refused before reading: no allocation follows a size that no valid file can have.
  if (size > static_cast<uintmax_t>(kMaxNpyBytes + kMaxNpyHeader + 12)) {
    fail(name,
         "file of " + std::to_string(size) + " bytes exceeds the size limit of an exchanged array");
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) fail(name, std::string("cannot open: ") + std::strerror(errno));
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  if (static_cast<uintmax_t>(in.gcount()) != size) fail(name, "read error");
  return parse_npy(bytes.data(), bytes.size(), name);
}

void write_npy(const std::filesystem::path& file, const NpyArray& a) {
  const std::string bytes = format_npy(a);
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (!out) fail(file.string(), std::string("cannot write: ") + std::strerror(errno));
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) fail(file.string(), "write error");
}

template <class T>
NpyArray make_npy(const char* descr, std::vector<int64_t> shape, const std::vector<T>& values) {
  NpyArray a;
  a.descr = descr;
  a.shape = std::move(shape);
  if (npy_item_size(a.descr) != static_cast<int>(sizeof(T))) {
    throw InputError(std::string("make_npy: dtype ") + descr + " does not hold " +
                     std::to_string(sizeof(T)) + "-byte values");
  }
  const int64_t count = checked_count(a.shape, sizeof(T), "make_npy");
  if (count != static_cast<int64_t>(values.size())) {
    throw InputError("make_npy: " + std::to_string(values.size()) + " values for shape " +
                     shape_string(a.shape));
  }
  a.data.resize(values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(a.data.data(), values.data(), a.data.size());
  return a;
}

template <class T>
std::vector<T> npy_values(const NpyArray& a, const std::string& name, const char* descr,
                          const std::vector<int64_t>& shape) {
  if (a.descr != descr) {
    fail(name, "dtype " + a.descr + ", expected " + descr);
  }
  if (!shape.empty() && a.shape != shape) {
    fail(name, "shape " + shape_string(a.shape) + ", expected " + shape_string(shape));
  }
  if (npy_item_size(a.descr) != static_cast<int>(sizeof(T)) || a.data.size() % sizeof(T) != 0) {
    fail(name, "element size does not match " + a.descr);
  }
  std::vector<T> out(a.data.size() / sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), a.data.data(), a.data.size());
  return out;
}

#define MOECHECK_NPY_TYPE(T)                                                               \
  template NpyArray make_npy<T>(const char*, std::vector<int64_t>, const std::vector<T>&); \
  template std::vector<T> npy_values<T>(const NpyArray&, const std::string&, const char*,  \
                                        const std::vector<int64_t>&);
MOECHECK_NPY_TYPE(uint8_t)
MOECHECK_NPY_TYPE(uint16_t)
MOECHECK_NPY_TYPE(int32_t)
MOECHECK_NPY_TYPE(int64_t)
MOECHECK_NPY_TYPE(float)
MOECHECK_NPY_TYPE(double)
#undef MOECHECK_NPY_TYPE

}  // namespace moecheck
