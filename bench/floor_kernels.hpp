// The launch floor of moecheck_bench (device_timing.hpp measure_launch_floor): the time any
// kernel pays before its bytes move, timed like the kernels under test.
#pragma once

#include <cstddef>
#include <cstdint>

#include "moecheck/hip_compat.h"

namespace moecheck::bench {

// An empty kernel of one thread: the launch alone.
hipError_t enqueue_empty(hipStream_t stream);

// One thread reads chain[0], a word index, then the word at that index: two dependent memory
// round trips, as a decode GEMM has before its weights arrive (it reads the block's expert, then
// that expert's weights). `sink` (4 bytes of device memory) receives the second word only when
// it equals a magic value, so the loads stay.
hipError_t enqueue_dependent_reads(const uint32_t* chain, unsigned* sink, hipStream_t stream);

}  // namespace moecheck::bench
