// Reference speed: the routed gemm1 of Qwen3-30B-A3B at T = 512 (the reference's own work:
// gather, dequantise the touched experts, value and magnitude GEMMs in double, scatter) against
// a dense Eigen double GEMM of the same FLOPs on the same machine, in one run. The routed
// reference does two GEMMs per expert (value and magnitude M), so "the same FLOPs" is a dense
// GEMM of 2 * numel rows: the ratio measures what routing costs, not what M costs.
//
//   moecheck_reference_bench [--benchmark_min_time=2]
//
// prints both throughputs and "ratio routed/dense" last. Both run on one thread.
#include <benchmark/benchmark.h>

#include <Eigen/Dense>
#include <cstdio>
#include <map>
#include <string>

#include "inputs.hpp"
#include "moecheck/reference/align.hpp"
#include "moecheck/reference/moe.hpp"
#include "moecheck/reference/parallel.hpp"

namespace moecheck {
namespace {

Case qwen3_30b_gemm1() {
  Case c;
  c.suite = "bench";
  c.stage = "gemm1";
  c.model = "qwen3_30b_a3b";
  c.experts = 128;
  c.top_k = 8;
  c.hidden = 2048;
  c.inter = 768;
  c.tokens = 512;
  c.group = 128;
  c.block_m = 16;
  return c;
}

double gemm_flops(const Case& c) {
  return 2.0 * c.numel() * c.gemm_n() * c.gemm_k();
}

void BM_RoutedGemm1(benchmark::State& state) {
  const Case c = qwen3_30b_gemm1();
  const GemmProblem p = make_gemm_problem(c);
  const Alignment al = align_block_size(p.experts.routing, c.block_m);
  for (auto _ : state) {
    RefOutput out = routed_gemm(p.a, p.a_route_div, p.w, p.experts.routing, al, {});
    benchmark::DoNotOptimize(out.value.data());
  }
  // Value and magnitude: two GEMMs' worth of FLOPs per iteration.
  state.counters["FLOP/s"] =
      benchmark::Counter(2 * gemm_flops(c), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_DenseEigenGemm(benchmark::State& state) {
  const Case c = qwen3_30b_gemm1();
  const Eigen::MatrixXd x = Eigen::MatrixXd::Random(2 * c.numel(), c.gemm_k());
  const Eigen::MatrixXd w = Eigen::MatrixXd::Random(c.gemm_k(), c.gemm_n());
  Eigen::MatrixXd y(x.rows(), w.cols());
  for (auto _ : state) {
    y.noalias() = x * w;
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["FLOP/s"] =
      benchmark::Counter(2 * gemm_flops(c), benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK(BM_RoutedGemm1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_DenseEigenGemm)->Unit(benchmark::kMillisecond)->UseRealTime();

// Keeps each benchmark's FLOP/s so the ratio can be printed after both ran.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& r : runs) rate_[r.benchmark_name()] = r.counters.at("FLOP/s");
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    const auto routed = rate_.find("BM_RoutedGemm1/real_time");
    const auto dense = rate_.find("BM_DenseEigenGemm/real_time");
    if (routed != rate_.end() && dense != rate_.end()) {
      std::printf(
          "routed reference %.2f GFLOP/s, dense Eigen %.2f GFLOP/s, ratio routed/dense %.3f\n",
          routed->second * 1e-9, dense->second * 1e-9, routed->second / dense->second);
    }
  }

 private:
  std::map<std::string, double> rate_;
};

}  // namespace
}  // namespace moecheck

int main(int argc, char** argv) {
  // Both sides single-threaded (Eigen is, without OpenMP): the ratio compares work, not cores.
  moecheck::set_reference_threads(1);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  moecheck::RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
