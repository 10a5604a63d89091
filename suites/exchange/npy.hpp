// NumPy .npy files (format versions 1.0 and 2.0), the interchange with implementations that live
// elsewhere (a PyTorch custom op, a Triton kernel): `moecheck dump` writes a case's inputs as
// .npy, `moecheck verify` reads an implementation's output back (suites/exchange/dump.hpp).
//
// What is written: little-endian, C order, one of the dtypes below; the header padded with
// spaces to a multiple of 64 bytes, as numpy.save does. bf16 has no NumPy dtype: its 16-bit
// patterns are stored as '<u2' and case.json names the logical dtype.
//
// The reader is strict, because its input is whatever a user or another program handed over:
// wrong magic, a version other than 1.0 / 2.0, a header that is truncated, not a dict literal
// of exactly 'descr', 'fortran_order' and 'shape', a big-endian or unsupported dtype,
// fortran_order True, a shape whose element count overflows or exceeds kMaxNpyBytes, and data
// shorter or longer than the header says are all refused with InputError "<name>: <problem>".
// It never reads past the bytes it was given and never allocates more than the data it has.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace moecheck {

// The dtypes the exchange uses ('descr' strings as numpy writes them).
inline constexpr const char* kNpyU8 = "|u1";
inline constexpr const char* kNpyU16 = "<u2";
inline constexpr const char* kNpyI32 = "<i4";
inline constexpr const char* kNpyI64 = "<i8";
inline constexpr const char* kNpyF16 = "<f2";
inline constexpr const char* kNpyF32 = "<f4";
inline constexpr const char* kNpyF64 = "<f8";

// Largest data section read or written (16 GiB): beyond any case of the catalog, small enough
// that a hostile shape cannot ask for an absurd allocation.
inline constexpr int64_t kMaxNpyBytes = int64_t{1} << 34;
// Largest header accepted (numpy itself refuses headers above 10000 bytes by default).
inline constexpr int64_t kMaxNpyHeader = 65536;
inline constexpr int kMaxNpyDims = 32;

struct NpyArray {
  std::string descr;           // one of the kNpy* dtypes
  std::vector<int64_t> shape;  // C order; empty for a 0-d array (one element)
  std::vector<uint8_t> data;   // count() * item_size() bytes, little-endian

  int64_t count() const;  // product of the shape
  int item_size() const;  // bytes per element of descr
};

// Bytes per element of a supported descr; throws InputError for any other.
int npy_item_size(const std::string& descr);

// A .npy file's bytes <-> NpyArray. `name` (a file name) prefixes every error.
NpyArray parse_npy(const uint8_t* bytes, size_t size, const std::string& name);
std::string format_npy(const NpyArray& a);  // version 1.0 (2.0 if the header needs it)

NpyArray read_npy(const std::filesystem::path& file);
void write_npy(const std::filesystem::path& file, const NpyArray& a);

// Typed views. make_npy copies `values` (whose element size must match descr) under `shape`;
// npy_values returns the elements as T after checking descr and, unless `shape` is empty, the
// shape; both throw InputError naming `name` and what differs.
template <class T>
NpyArray make_npy(const char* descr, std::vector<int64_t> shape, const std::vector<T>& values);
template <class T>
std::vector<T> npy_values(const NpyArray& a, const std::string& name, const char* descr,
                          const std::vector<int64_t>& shape = {});

// "[2, 3]" (for messages).
std::string shape_string(const std::vector<int64_t>& shape);

}  // namespace moecheck
