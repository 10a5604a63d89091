// Device memory with guard bands (DESIGN.md section 8): every buffer a GPU case gives a kernel
// has kGuardBytes before and after it, filled with a NaN pattern and checked after the launch;
// the payload itself starts poisoned (0xffff: NaN in bf16 and fp16) until data is uploaded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace moecheck {

// Thrown for runtime failures (allocation, copy): the case then reports Failed with the text.
struct DeviceError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class GuardedBuffer {
 public:
  static constexpr size_t kGuardBytes = 4096;        // keeps the payload 256-byte aligned
  static constexpr uint16_t kGuardPattern = 0x7fc1;  // a bf16 quiet NaN (and an odd int pattern)

  GuardedBuffer(std::string name, size_t bytes);
  ~GuardedBuffer();
  GuardedBuffer(const GuardedBuffer&) = delete;
  GuardedBuffer& operator=(const GuardedBuffer&) = delete;

  void* data() const { return base_ + kGuardBytes; }
  size_t bytes() const { return bytes_; }
  const std::string& name() const { return name_; }

  // Fills the payload with a 16-bit pattern (poison) or uploads host data (bytes() bytes).
  void fill16(uint16_t pattern);
  void zero();
  void upload(const void* host, size_t bytes);
  template <class T>
  void upload(const std::vector<T>& v) {
    upload(v.data(), v.size() * sizeof(T));
  }
  void download(void* host, size_t bytes, size_t offset = 0) const;
  template <class T>
  std::vector<T> download() const {
    std::vector<T> v(bytes_ / sizeof(T));
    download(v.data(), v.size() * sizeof(T));
    return v;
  }
  // "" when both guard bands are intact; otherwise which band and the first changed byte.
  std::string check_guards() const;

 private:
  std::string name_;
  size_t bytes_;
  char* base_ = nullptr;
};

// Checks the guard bands of every buffer; "" when all are intact.
std::string check_all_guards(const std::vector<const GuardedBuffer*>& buffers);

// Throws DeviceError with `what` and the runtime's message when `err` is not success.
void check_runtime(int err, const char* what);
void synchronize_device();

}  // namespace moecheck
