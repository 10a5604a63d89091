// moecheck_bench's results: one Row per case and stage, printed as a table while the run goes
// and written as CSV and JSON (both rewritten after every case, so a run that is stopped keeps
// what it measured).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "device_timing.hpp"

namespace moecheck::bench {

struct Row {
  // The case.
  std::string test;  // <suite>.<case name>: the suites' own name, a reproducer
  std::string suite, kernel, stage, model, dtype;
  int64_t experts = 0, top_k = 0, hidden = 0, inter = 0, tokens = 0, group = 0, block_m = 0;
  // The stage's work (bytes_model.hpp).
  int64_t routes = 0;           // computed routes (GEMM M)
  int64_t touched_experts = 0;  // distinct experts of the computed routes
  int64_t m = 0, n = 0, k = 0;  // GEMM shape (M = routes); 0 for other stages
  double flops = 0;             // 0 where FLOPs mean nothing (align, act, sum)
  double bytes = 0;             // bytes that must move
  // Outcome: ok, not_supported, error, skipped.
  std::string status = "ok";
  std::string message;
  // Measured.
  Timing timing;
  std::optional<Timing> vendor;  // the vendor dense GEMM of the same FLOPs
  std::string vendor_note;       // why the vendor column is empty, when it is
  // --against: the second implementation's time for the stage, on the same inputs, its launches
  // alternating with `timing`'s (gpu_bench.cpp time_stage); or why there is none.
  std::optional<Timing> against;
  std::string against_note;

  bool measured() const { return status == "ok" && timing.iters > 0; }
  double tflops() const;                    // 0 when not measured or no FLOPs
  double gbps() const;                      // bytes / time, 1 GB = 1e9 bytes
  double pct_copy(double copy_gbps) const;  // gbps() as a percentage of the copy bandwidth
  // The highest pct_copy a kernel can show for these bytes: one that took the launch floor's
  // dependent reads plus the bytes at copy bandwidth (device_timing.hpp LaunchFloor); 0 where
  // nothing was measured or no bytes move.
  double ceiling_pct(double copy_gbps, double floor_us) const;
  std::optional<double> pct_vendor() const;  // vendor time / time * 100 (same FLOPs)
  // tflops() as a percentage of the matrix atom's peak in the row's dtype (device_timing.hpp
  // AtomPeak): how much of the roof the DESIGN's atom allows a GEMM stage reaches.
  std::optional<double> pct_atom_peak(const AtomPeak& peak) const;
  // against's median over timing's: above 1 the implementation under test is the faster.
  std::optional<double> speedup() const;
};

struct RunInfo {
  std::string device, arch, implementation, vendor, vendor_note, flush_note, command;
  size_t l2_bytes = 0, memory_bytes = 0, flush_bytes = 0;
  CopyBandwidth copy;
  LaunchFloor floor;
  AtomPeak atom;
  TimingOptions timing;
  int passes = 1;       // timings per stage and implementation, the fastest kept
  std::string against;  // --against: the second implementation's library, or ""
  bool suite_inputs = false;
  // The floor that Row::ceiling_pct adds to a stage's bytes at copy bandwidth: the dependent
  // reads (a decode GEMM reads its block's expert, then its weights), not the empty kernel.
  double ceiling_floor_us() const { return floor.dependent_reads.median_us; }
};

// The table: the column names once, then a line per case and one per stage (a speedup column
// with --against).
void print_table_header(const RunInfo& info);
void print_case_header(const std::string& test, int index, int count, double prep_s);
void print_rows(const std::vector<Row>& rows, const RunInfo& info);

// --against's summary (speedup.hpp) of the rows that have a speedup, after the table.
void print_speedup_summary(const std::vector<Row>& rows, const RunInfo& info);

void write_csv(const std::string& path, const RunInfo& info, const std::vector<Row>& rows);
void write_json(const std::string& path, const RunInfo& info, const std::vector<Row>& rows);

}  // namespace moecheck::bench
