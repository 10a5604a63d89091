// The read flush of moecheck_bench's timing (device_timing.hpp): one kernel that reads a buffer
// many times the L2, leaving only clean lines of it in the cache.
#pragma once

#include <cstddef>

#include "moecheck/hip_compat.h"

namespace moecheck::bench {

// Enqueues a read of `bytes` (a multiple of 16) from `buffer` on `stream`; `sink` (4 bytes of
// device memory) receives a word only when the data happens to XOR to a magic value, which the
// compiler cannot rule out, so the loads stay. Returns the launch status.
hipError_t enqueue_read_flush(const void* buffer, size_t bytes, unsigned* sink, hipStream_t stream);

}  // namespace moecheck::bench
