// The floors and the roof of moecheck_bench (device_timing.hpp measure_launch_floor,
// measure_atom_peak): the time any kernel pays before its bytes move, and the most a kernel
// built on the matrix atom can compute, both timed like the kernels under test.
#pragma once

#include <cstddef>
#include <cstdint>

#include "moecheck/hip_compat.h"
#include "moecheck/kernels.h"

namespace moecheck::bench {

// An empty kernel of one thread: the launch alone.
hipError_t enqueue_empty(hipStream_t stream);

// One thread reads chain[0], a word index, then the word at that index: two dependent memory
// round trips, as a decode GEMM has before its weights arrive (it reads the block's expert, then
// that expert's weights). `sink` (4 bytes of device memory) receives the second word only when
// it equals a magic value, so the loads stay.
hipError_t enqueue_dependent_reads(const uint32_t* chain, unsigned* sink, hipStream_t stream);

// The matrix atom's throughput (kernels/src/atom.hpp: mma.sync on NVIDIA, WMMA on gfx11) in the
// dtype, from registers alone: `blocks` CTAs of kAtomPeakWarps warps, each running
// kAtomPeakChains independent accumulators through `iters` atoms. atom_peak_flops() is what one
// launch computes. On a device pass without an atom the kernel only writes kNoAtom to `sink`
// (4 bytes of device memory, which is otherwise left as it is).
constexpr int kAtomPeakWarps = 4;
constexpr int kAtomPeakChains = 8;
constexpr unsigned kNoAtom = 0xA7A7A7A7u;
double atom_peak_flops(int blocks, int iters);
hipError_t enqueue_atom_peak(mc_dtype dtype, int blocks, int iters, unsigned* sink,
                             hipStream_t stream);

}  // namespace moecheck::bench
