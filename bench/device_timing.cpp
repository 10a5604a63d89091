#include "device_timing.hpp"

#include <algorithm>
#include <cmath>

#include "device_buffer.hpp"
#include "floor_kernels.hpp"
#include "l2_flush.hpp"

namespace moecheck::bench {

Stream::Stream() {
  check_runtime(hipStreamCreate(&s_), "create a stream");
}

Stream::~Stream() {
  if (s_) (void)hipStreamDestroy(s_);
}

DeviceMemory::DeviceMemory(size_t bytes) : bytes_(bytes) {
  check_runtime(hipMalloc(&p_, bytes_ ? bytes_ : 1), "allocate device memory");
}

DeviceMemory::~DeviceMemory() {
  if (p_) (void)hipFree(p_);
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

const char* l2_flush_name(L2Flush f) {
  switch (f) {
    case L2Flush::read:
      return "read";
    case L2Flush::write:
      return "write";
    case L2Flush::off:
      break;
  }
  return "off";
}

Timer::Timer(hipStream_t stream, const TimingOptions& options, size_t l2_bytes)
    : stream_(stream), opt_(options) {
  if (opt_.flush == L2Flush::off) {
    flush_note_ = "L2 not flushed between launches (--hot-l2)";
    return;
  }
  // At least 4 x L2 and 256 MiB: also covers a last-level cache behind L2 (AMD's Infinity
  // Cache) that the runtime does not report.
  const size_t mib = size_t{1} << 20;
  size_t want = std::max<size_t>(256 * mib, 4 * l2_bytes);
  const size_t least = std::max<size_t>(2 * l2_bytes, 16 * mib);
  for (size_t bytes = want; bytes >= least; bytes /= 2) {
    try {
      flush_ = std::make_unique<DeviceMemory>(bytes);
      sink_ = std::make_unique<DeviceMemory>(sizeof(unsigned));
      // Read flushes read what this wrote, once: defined contents, not whatever was there.
      check_runtime(hipMemsetAsync(flush_->data(), 0x5a, bytes, stream_), "fill the flush buffer");
      if (bytes < want) flush_note_ = "L2 flush buffer reduced to fit the device's memory";
      return;
    } catch (const DeviceError&) {
      (void)hipGetLastError();  // an allocation failure is not sticky; clear it
    }
  }
  opt_.flush = L2Flush::off;
  flush_note_ = "L2 not flushed: no memory for the flush buffer";
}

Timer::~Timer() {
  for (hipEvent_t e : start_) (void)hipEventDestroy(e);
  for (hipEvent_t e : stop_) (void)hipEventDestroy(e);
}

void Timer::ensure_events(size_t n) {
  while (start_.size() < n) {
    hipEvent_t a = nullptr, b = nullptr;
    check_runtime(hipEventCreate(&a), "create an event");
    start_.push_back(a);
    check_runtime(hipEventCreate(&b), "create an event");
    stop_.push_back(b);
  }
}

void Timer::flush(L2Flush mode, int i) {
  if (!flush_) return;
  if (mode == L2Flush::read) {
    check_runtime(enqueue_read_flush(flush_->data(), flush_->bytes(),
                                     static_cast<unsigned*>(sink_->data()), stream_),
                  "L2 flush (read)");
  } else if (mode == L2Flush::write) {
    check_runtime(hipMemsetAsync(flush_->data(), i & 0xff, flush_->bytes(), stream_),
                  "L2 flush (memset)");
  }
}

Timing Timer::time(const Work& launch, const Work& pre, const TimingOptions& o) {
  return time_together({{launch, pre}}, o).front();
}

std::vector<Timing> Timer::time_together(const std::vector<Timed>& all, const TimingOptions& o) {
  const size_t m = all.size();
  if (m == 0) return {};
  const int warmup = std::max(0, o.warmup);
  const int iters = std::max(1, o.iters);
  ensure_events(m * static_cast<size_t>(std::max(warmup, iters)));
  check_runtime(hipStreamSynchronize(stream_), "synchronize before timing");
  const L2Flush mode = opt_.flush == L2Flush::off ? L2Flush::off : o.flush;

  // Enqueues `rounds` rounds and returns, per launch of `all`, its event intervals in
  // microseconds. Event pair r * m + j times launch j of round r.
  auto run = [&](int rounds) {
    for (int r = 0; r < rounds; ++r) {
      for (size_t j = 0; j < m; ++j) {
        const size_t e = static_cast<size_t>(r) * m + j;
        flush(mode, r);
        if (all[j].pre) all[j].pre();
        check_runtime(hipEventRecord(start_[e], stream_), "record an event");
        all[j].launch();
        check_runtime(hipEventRecord(stop_[e], stream_), "record an event");
      }
    }
    check_runtime(hipEventSynchronize(stop_[static_cast<size_t>(rounds) * m - 1]),
                  "synchronize on the last launch");
    check_runtime(hipGetLastError(), "launch");
    std::vector<std::vector<double>> us(m, std::vector<double>(static_cast<size_t>(rounds)));
    for (int r = 0; r < rounds; ++r) {
      for (size_t j = 0; j < m; ++j) {
        const size_t e = static_cast<size_t>(r) * m + j;
        float ms = 0;
        check_runtime(hipEventElapsedTime(&ms, start_[e], stop_[e]), "read an event interval");
        us[j][static_cast<size_t>(r)] = 1000.0 * static_cast<double>(ms);
      }
    }
    return us;
  };

  int n = iters;
  if (warmup > 0) {
    double round_us = 0;  // one round: every launch once
    for (const std::vector<double>& w : run(warmup)) round_us += median(w);
    if (o.max_stage_ms > 0 && round_us > 0) {
      const double fit = std::floor(1000.0 * o.max_stage_ms / round_us);
      const int floor_n = std::min(iters, 5);
      n = static_cast<int>(
          std::clamp(fit, static_cast<double>(floor_n), static_cast<double>(iters)));
    }
  }
  std::vector<Timing> out;
  for (const std::vector<double>& us : run(n)) {
    Timing t;
    t.iters = n;
    t.median_us = median(us);
    t.min_us = *std::min_element(us.begin(), us.end());
    t.max_us = *std::max_element(us.begin(), us.end());
    out.push_back(t);
  }
  return out;
}

CopyBandwidth measure_copy_bandwidth(Timer& timer, size_t bytes) {
  const size_t least = size_t{64} << 20;
  for (; bytes >= least; bytes /= 2) {
    std::unique_ptr<DeviceMemory> src, dst;
    try {
      src = std::make_unique<DeviceMemory>(bytes);
      dst = std::make_unique<DeviceMemory>(bytes);
    } catch (const DeviceError&) {
      (void)hipGetLastError();
      continue;
    }
    check_runtime(hipMemsetAsync(src->data(), 0x5a, bytes, timer.stream()), "fill the copy source");
    TimingOptions o = timer.options();
    o.warmup = 3;
    o.iters = 20;
    o.max_stage_ms = 0;
    o.flush = L2Flush::off;  // the copy is many times the L2
    CopyBandwidth c;
    c.bytes = bytes;
    c.timing = timer.time(
        [&] {
          check_runtime(hipMemcpyAsync(dst->data(), src->data(), bytes, hipMemcpyDeviceToDevice,
                                       timer.stream()),
                        "device-to-device copy");
        },
        nullptr, o);
    c.gbps = 2.0 * static_cast<double>(bytes) / (c.timing.median_us * 1e3);
    return c;
  }
  throw DeviceError("no memory for the copy-bandwidth buffers (2 x 64 MiB)");
}

LaunchFloor measure_launch_floor(Timer& timer) {
  // The second word 1 MiB past the first, in another DRAM page and L2 line.
  constexpr uint32_t kSecond = (1u << 20) / sizeof(uint32_t);
  DeviceMemory chain((kSecond + 1) * sizeof(uint32_t));
  DeviceMemory sink(sizeof(unsigned));
  check_runtime(hipMemsetAsync(chain.data(), 0, chain.bytes(), timer.stream()), "zero the chain");
  check_runtime(hipMemcpyAsync(chain.data(), &kSecond, sizeof(kSecond), hipMemcpyHostToDevice,
                               timer.stream()),
                "write the chain's first word");
  TimingOptions o = timer.options();
  o.max_stage_ms = 0;
  LaunchFloor f;
  f.empty =
      timer.time([&] { check_runtime(enqueue_empty(timer.stream()), "empty kernel"); }, nullptr, o);
  f.dependent_reads = timer.time(
      [&] {
        check_runtime(enqueue_dependent_reads(static_cast<const uint32_t*>(chain.data()),
                                              static_cast<unsigned*>(sink.data()), timer.stream()),
                      "dependent-reads kernel");
      },
      nullptr, o);
  return f;
}

double AtomPeak::tflops(const std::string& dtype) const {
  if (!measured) return 0;
  return dtype == "bf16" ? bf16_tflops : dtype == "fp16" ? fp16_tflops : 0;
}

AtomPeak measure_atom_peak(Timer& timer, int sm_count) {
  // 4 CTAs of 4 warps per SM (16 warps, as many as the GEMMs keep resident at most) and 4096
  // iterations: about 1 ms per launch on an H200.
  constexpr int kBlocksPerSm = 4, kIters = 4096;
  AtomPeak p;
  p.blocks = kBlocksPerSm * (sm_count > 0 ? sm_count : 1);
  p.iters = kIters;
  DeviceMemory sink(sizeof(unsigned));
  check_runtime(hipMemsetAsync(sink.data(), 0, sink.bytes(), timer.stream()), "zero the sink");
  TimingOptions o = timer.options();
  o.warmup = 3;
  o.iters = 10;
  o.max_stage_ms = 0;
  o.flush = L2Flush::off;  // no memory in the loop
  auto time_dtype = [&](mc_dtype dtype) {
    return timer.time(
        [&] {
          check_runtime(enqueue_atom_peak(dtype, p.blocks, p.iters,
                                          static_cast<unsigned*>(sink.data()), timer.stream()),
                        "atom-peak kernel");
        },
        nullptr, o);
  };
  p.bf16 = time_dtype(MC_BF16);
  p.fp16 = time_dtype(MC_FP16);
  unsigned flag = 0;
  check_runtime(hipMemcpy(&flag, sink.data(), sizeof(flag), hipMemcpyDeviceToHost),
                "read the atom-peak sink");
  if (flag == kNoAtom) {
    p.note = "this build's device code has no matrix atom for the device";
    return p;
  }
  const double flops = atom_peak_flops(p.blocks, p.iters);
  p.bf16_tflops = flops / (p.bf16.median_us * 1e6);
  p.fp16_tflops = flops / (p.fp16.median_us * 1e6);
  p.measured = true;
  return p;
}

}  // namespace moecheck::bench
