// Device timing for moecheck_bench: device events around each launch, warm-up, the median of
// many launches, and an L2 flush before every launch so that a kernel is timed reading its
// inputs from device memory, not from a cache that the previous launch warmed.
//
// The flush (L2Flush) reads a buffer of `flush_bytes` (at least 4 x L2 and 256 MiB) by default
// (l2_flush.hpp): the L2 is then full of clean lines, as it is in a model between two layers'
// GEMMs (what the cache holds there is mostly other weights and the KV cache, read, not
// written). `write` (--l2-flush write) memsets the buffer instead, as the tables up to
// bench/baselines/h200-sm90-2026-12-01.csv were taken: that leaves the L2 full of dirty lines.
// Measured on the H200 in one run, the fused decode table read 1.05x faster (geometric mean, at
// most 1.13x, small kernels most) after a read flush than after a memset; the prefill table
// within 1 %. Either way the weights come from memory (ncu, T = 1, after either flush: L2 hit
// rate 2.5 % for Mixtral gemm1, 22 % for Qwen3-30B gemm2, whose activations are reused).
//
// How one stage is timed (Timer::time), or several launches side by side (Timer::time_together:
// a kernel and the vendor GEMM it is compared with, or two implementations of it):
//   1. the stream is synchronised; every runtime call's status is checked (DeviceError);
//   2. `warmup` rounds, each timed like the measured ones; their medians estimate one round;
//   3. n rounds, n = `iters`, or fewer (at least min(5, iters)) when n times the estimate
//      exceeds `max_stage_ms`; a round times each launch once, in the order given, each as:
//      flush (above), its `pre` work, event, the launch, event;
//   4. one synchronisation at the end; per launch, the median, min and max of its n intervals.
// Launches timed together alternate launch by launch, so they run under the same clocks and
// temperature: a ratio of their medians is not skewed by the device's state drifting between
// two separate timings. That drift is real on long launches: on an H200, prefill GEMMs of a few
// ms timed one after the other (the kernel's 30 launches, then the vendor's) gave a kernel /
// cuBLAS ratio that moved by up to 1.17x between two runs of the same build.
// Only the work between the two events is timed: the flush and `pre` (e.g. zeroing an output
// that the caller must zero) are not. The flush also keeps the device busy while the host
// enqueues the next launch, so host launch overhead does not leak into the event interval.
// --hot-l2 (--l2-flush off) turns the flush off (back-to-back launches: the touched weights of a
// decode step, a few MiB, then stay in L2); without the flush nothing hides the host's launch
// overhead, so kernels shorter than it (~5-10 us per launcher call) read long. Event resolution is
// about 0.5 us, so kernels of a few us are reported with that granularity.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "moecheck/hip_compat.h"

namespace moecheck::bench {

enum class L2Flush { read, write, off };
const char* l2_flush_name(L2Flush f);

struct TimingOptions {
  int warmup = 10;
  int iters = 100;
  double max_stage_ms = 2000;  // cap on the timed launches' total device time; 0: no cap
  L2Flush flush = L2Flush::read;
};

struct Timing {
  double median_us = 0, min_us = 0, max_us = 0;  // one launch, device time
  int iters = 0;                                 // launches measured
};

// A stream of our own (every launch of the bench goes there).
class Stream {
 public:
  Stream();
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  hipStream_t get() const { return s_; }

 private:
  hipStream_t s_ = nullptr;
};

// Plain device memory (no guard bands): flush buffers, copy-bandwidth buffers, vendor GEMM
// operands. Throws DeviceError when the allocation fails.
class DeviceMemory {
 public:
  explicit DeviceMemory(size_t bytes);
  ~DeviceMemory();
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;
  void* data() const { return p_; }
  size_t bytes() const { return bytes_; }

 private:
  void* p_ = nullptr;
  size_t bytes_ = 0;
};

class Timer {
 public:
  // `l2_bytes`: the device's L2 size (sizes the flush buffer).
  Timer(hipStream_t stream, const TimingOptions& options, size_t l2_bytes);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  using Work = std::function<void()>;  // enqueues on the stream; throws on a failed launch
  Timing time(const Work& launch, const Work& pre = nullptr) { return time(launch, pre, opt_); }
  Timing time(const Work& launch, const Work& pre, const TimingOptions& options);

  // A launch to time and untimed work to do before each of its launches (may be empty).
  struct Timed {
    Work launch;
    Work pre;
  };
  // The launches of `all`, alternating (above); their timings in the same order, each over the
  // same number of rounds.
  std::vector<Timing> time_together(const std::vector<Timed>& all) {
    return time_together(all, opt_);
  }
  std::vector<Timing> time_together(const std::vector<Timed>& all, const TimingOptions& options);

  hipStream_t stream() const { return stream_; }
  const TimingOptions& options() const { return opt_; }
  size_t flush_bytes() const { return flush_ ? flush_->bytes() : 0; }
  const std::string& flush_note() const { return flush_note_; }

 private:
  void ensure_events(size_t n);
  void flush(L2Flush mode, int i);

  hipStream_t stream_;
  TimingOptions opt_;
  std::unique_ptr<DeviceMemory> flush_;
  std::unique_ptr<DeviceMemory> sink_;  // the read flush's result word (l2_flush.hpp)
  std::string flush_note_;              // why the flush is off or smaller than asked, if it is
  std::vector<hipEvent_t> start_, stop_;
};

// Device-to-device copy bandwidth: a copy of `bytes` (halved until the two buffers fit), timed
// like a kernel; bandwidth counts the bytes read plus the bytes written, 1 GB = 1e9 bytes.
struct CopyBandwidth {
  size_t bytes = 0;  // the size of one copy
  Timing timing;
  double gbps = 0;
};
CopyBandwidth measure_copy_bandwidth(Timer& timer, size_t bytes);

// What a launch costs before its bytes move, timed like a stage (the timer's flush and events):
// an empty kernel, and a kernel that makes two dependent memory reads (floor_kernels.hpp), the
// least a decode GEMM does before its weights stream (the block's expert, then its weights). A
// stage of `bytes` cannot take less than `dependent_reads` + bytes / copy bandwidth, so
// ceiling_pct() is the highest % of the copy bandwidth it can show (report.hpp).
struct LaunchFloor {
  Timing empty;
  Timing dependent_reads;
};
LaunchFloor measure_launch_floor(Timer& timer);

// The roof of a kernel built on the matrix atom (floor_kernels.hpp enqueue_atom_peak): the atom's
// throughput per activation dtype, registers only, kAtomPeakWarps warps per CTA and
// `blocks_per_sm` CTAs per SM, timed like a stage. A GEMM stage's pct_atom_peak (report.hpp) is
// its TFLOP/s as a percentage of this. `measured` is false, with `note` saying why, on a device
// pass without an atom.
struct AtomPeak {
  bool measured = false;
  std::string note;
  int blocks = 0, iters = 0;  // one launch
  Timing bf16, fp16;
  double bf16_tflops = 0, fp16_tflops = 0;
  double tflops(const std::string& dtype) const;  // 0 when not measured
};
AtomPeak measure_atom_peak(Timer& timer, int sm_count);

double median(std::vector<double> v);

}  // namespace moecheck::bench
