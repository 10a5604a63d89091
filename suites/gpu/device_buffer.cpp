#include "device_buffer.hpp"

#include <cstring>

#include "moecheck/hip_compat.h"

namespace moecheck {

void check_runtime(int err, const char* what) {
  if (err != hipSuccess) {
    throw DeviceError(std::string(what) + ": " + hipGetErrorString(static_cast<hipError_t>(err)));
  }
}

void synchronize_device() {
  check_runtime(hipDeviceSynchronize(), "device synchronize");
}

namespace {

std::vector<uint16_t> pattern_words(size_t bytes, uint16_t pattern) {
  return std::vector<uint16_t>((bytes + 1) / 2, pattern);
}

}  // namespace

GuardedBuffer::GuardedBuffer(std::string name, size_t bytes)
    : name_(std::move(name)), bytes_(bytes) {
  void* p = nullptr;
  check_runtime(hipMalloc(&p, bytes_ + 2 * kGuardBytes), ("allocate " + name_).c_str());
  base_ = static_cast<char*>(p);
  const auto guard = pattern_words(kGuardBytes, kGuardPattern);
  check_runtime(hipMemcpy(base_, guard.data(), kGuardBytes, hipMemcpyHostToDevice), "guard band");
  check_runtime(
      hipMemcpy(base_ + kGuardBytes + bytes_, guard.data(), kGuardBytes, hipMemcpyHostToDevice),
      "guard band");
  fill16(0xffff);  // the payload starts poisoned (NaN in bf16 and fp16)
}

GuardedBuffer::~GuardedBuffer() {
  if (base_) (void)hipFree(base_);
}

void GuardedBuffer::fill16(uint16_t pattern) {
  if (bytes_ == 0) return;
  if ((pattern & 0xff) == (pattern >> 8)) {  // a byte pattern: memset, fast at any size
    check_runtime(hipMemset(data(), pattern & 0xff, bytes_), ("poison " + name_).c_str());
    return;
  }
  const auto words = pattern_words(bytes_, pattern);
  check_runtime(hipMemcpy(data(), words.data(), bytes_, hipMemcpyHostToDevice),
                ("poison " + name_).c_str());
}

void GuardedBuffer::zero() {
  check_runtime(hipMemset(data(), 0, bytes_), ("zero " + name_).c_str());
}

void GuardedBuffer::upload(const void* host, size_t bytes) {
  if (bytes > bytes_)
    throw DeviceError("upload of " + std::to_string(bytes) + " bytes into " + name_);
  if (bytes) {
    check_runtime(hipMemcpy(data(), host, bytes, hipMemcpyHostToDevice),
                  ("upload " + name_).c_str());
  }
}

void GuardedBuffer::download(void* host, size_t bytes, size_t offset) const {
  if (offset + bytes > bytes_) throw DeviceError("download past the end of " + name_);
  if (bytes) {
    check_runtime(
        hipMemcpy(host, static_cast<char*>(data()) + offset, bytes, hipMemcpyDeviceToHost),
        ("download " + name_).c_str());
  }
}

std::string GuardedBuffer::check_guards() const {
  std::vector<uint16_t> band(kGuardBytes / 2);
  const char* where[2] = {"before", "after"};
  const char* start[2] = {base_, base_ + kGuardBytes + bytes_};
  for (int i = 0; i < 2; ++i) {
    check_runtime(hipMemcpy(band.data(), start[i], kGuardBytes, hipMemcpyDeviceToHost),
                  "read guard band");
    for (size_t w = 0; w < band.size(); ++w) {
      if (band[w] != kGuardPattern) {
        return "guard band " + std::string(where[i]) + " " + name_ + " overwritten at byte " +
               std::to_string(2 * w) + " of " + std::to_string(kGuardBytes);
      }
    }
  }
  return "";
}

std::string check_all_guards(const std::vector<const GuardedBuffer*>& buffers) {
  for (const auto* b : buffers) {
    const std::string e = b->check_guards();
    if (!e.empty()) return e;
  }
  return "";
}

}  // namespace moecheck
