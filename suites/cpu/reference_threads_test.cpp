// The reference's threads (reference/parallel.hpp) change how fast it runs, never what it
// computes: parallel_for runs each job once and reports a job's error, the weight generator and
// routed_gemm give the same bits on one thread and on several, and routed_gemm's column slices
// and dequantised panels (reference/src/moe.cpp) cover every output column.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <vector>

#include "moecheck/reference/align.hpp"
#include "moecheck/reference/error.hpp"
#include "moecheck/reference/moe.hpp"
#include "moecheck/reference/parallel.hpp"
#include "moecheck/reference/quantize.hpp"

namespace moecheck {
namespace {

// Each test picks its thread count; the environment must not override it.
class ReferenceThreads : public ::testing::Test {
 protected:
  void SetUp() override { unsetenv("MOECHECK_REFERENCE_THREADS"); }
  void TearDown() override { set_reference_threads(0); }
};

TEST_F(ReferenceThreads, ParallelForRunsEveryJobOnce) {
  for (int threads : {1, 3}) {
    set_reference_threads(threads);
    const int64_t jobs = 1000;
    ASSERT_EQ(parallel_workers(jobs), threads);
    std::vector<std::atomic<int>> runs(jobs);
    std::atomic<int> bad_worker{0};
    parallel_for(jobs, [&](int64_t job, int worker) {
      ++runs[job];
      if (worker < 0 || worker >= threads) ++bad_worker;
    });
    for (int64_t j = 0; j < jobs; ++j) EXPECT_EQ(runs[j], 1) << "job " << j << ", " << threads;
    EXPECT_EQ(bad_worker, 0);
  }
  EXPECT_EQ(parallel_workers(2), 2) << "never more workers than jobs";
  EXPECT_EQ(parallel_workers(0), 1);
}

TEST_F(ReferenceThreads, ParallelForRethrowsAJobsErrorAndStops) {
  set_reference_threads(3);
  const int64_t jobs = 1000000;
  std::atomic<int64_t> ran{0};
  try {
    parallel_for(jobs, [&](int64_t job, int) {
      ++ran;
      if (job == 10) throw InputError("job 10 is bad");
    });
    FAIL() << "parallel_for returned normally";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "job 10 is bad");
  }
  EXPECT_LT(ran, jobs) << "workers kept taking jobs after the error";
}

TEST_F(ReferenceThreads, RandomWeightsAreTheSameOnAnyNumberOfThreads) {
  const WeightShape s{3, 40, 256, 64};
  set_reference_threads(1);
  const QuantWeights one = random_weights(s, DType::bf16, false, 5);
  set_reference_threads(3);
  const QuantWeights three = random_weights(s, DType::bf16, false, 5);
  EXPECT_TRUE(one == three);
  EXPECT_FALSE(one == random_weights(s, DType::bf16, false, 6)) << "the seed must matter";
}

// Each row has a stream of its own: no two rows alike, and together N(0, 0.02^2) up to the
// quantisation step (about 0.0077 at G = 128, which adds its square / 12 to the variance).
TEST_F(ReferenceThreads, RandomWeightsAreGaussianRowByRow) {
  const WeightShape s{2, 256, 1024, 128};
  const QuantWeights w = random_weights(s, DType::bf16, true, 1);
  double sum = 0, sum2 = 0;
  for (int64_t e = 0; e < s.experts; ++e) {
    for (int64_t n = 0; n < s.n; ++n) {
      for (int64_t k = 0; k < s.k; ++k) {
        const double v = w.dequant(e, n, k);
        sum += v;
        sum2 += v * v;
      }
    }
  }
  const double count = static_cast<double>(s.experts * s.n * s.k);
  const double mean = sum / count, sd = std::sqrt(sum2 / count - mean * mean);
  EXPECT_LT(std::fabs(mean), 2e-4);
  EXPECT_GT(sd, 0.0197);
  EXPECT_LT(sd, 0.0206);
  const auto row = [&](int64_t e, int64_t n) {
    return std::vector<uint8_t>(w.q.begin() + w.q_index(e, n, 0),
                                w.q.begin() + w.q_index(e, n, 0) + s.k);
  };
  EXPECT_NE(row(0, 0), row(0, 1));
  EXPECT_NE(row(0, 0), row(1, 0));
}

struct GemmSetup {
  Activations a;
  QuantWeights w;
  Routing r;
  Alignment al;
  std::vector<double> a_extra;
};

// N = 1100 over K = 4096: three column slices of an expert, several panels in each, and a
// partial last panel and slice; experts with many rows (zipf: 20, 15, 6 and 6 of 48 routes) and,
// the expert past them, one (its GEMM a single row: a matrix-vector product in Eigen).
GemmSetup gemm_setup() {
  GemmSetup g;
  const int64_t tokens = 24, experts = 5, k = 4096;
  g.r = generate_routing(RoutingSpec{RoutingKind::zipf, 1.2, 3}, tokens, 2, experts - 1, 8);
  g.r.experts = experts;
  g.r.ids[g.r.numel() - 1] = static_cast<int32_t>(experts - 1);
  g.w = random_weights({experts, 1100, k, 128}, DType::bf16, false, 2);
  g.a = Activations::zeros(DType::bf16, tokens, k, k);
  std::mt19937_64 rng = seeded_rng(4, 0);
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t i = 0; i < k; ++i) g.a.set(t, i, static_cast<float>(standard_normal(rng)));
  }
  g.al = align_block_size(g.r, 8);
  g.a_extra.assign(tokens * k, 0.0);
  for (size_t i = 0; i < g.a_extra.size(); ++i) g.a_extra[i] = 1e-3 * static_cast<double>(i % 7);
  return g;
}

TEST_F(ReferenceThreads, RoutedGemmIsTheSameOnAnyNumberOfThreads) {
  const GemmSetup g = gemm_setup();
  const GemmOptions opt{true};
  set_reference_threads(1);
  const RefOutput one = routed_gemm(g.a, 2, g.w, g.r, g.al, opt, &g.a_extra);
  set_reference_threads(3);
  const RefOutput three = routed_gemm(g.a, 2, g.w, g.r, g.al, opt, &g.a_extra);
  EXPECT_EQ(one.value, three.value);
  EXPECT_EQ(one.magnitude, three.magnitude);
  EXPECT_EQ(one.bound_extra, three.bound_extra);
  EXPECT_EQ(one.written, three.written);
}

// Every column of every route, against a plain sum over k in long double: a slice or panel
// skipped, shifted or cut short would leave columns zero or wrong.
TEST_F(ReferenceThreads, RoutedGemmCoversEveryColumn) {
  const GemmSetup g = gemm_setup();
  set_reference_threads(3);
  const RefOutput out = routed_gemm(g.a, 2, g.w, g.r, g.al, GemmOptions{});
  const int64_t n_cols = g.w.shape.n;
  for (int64_t id = 0; id < g.r.numel(); ++id) {
    ASSERT_TRUE(out.written[id]) << "route " << id;
    const int64_t e = g.r.ids[id];
    for (int64_t n = 0; n < n_cols; ++n) {
      long double want = 0, magnitude = 0;
      for (int64_t k = 0; k < g.w.shape.k; ++k) {
        const long double p = static_cast<long double>(g.a.at(id / 2, k)) * g.w.dequant(e, n, k);
        want += p;
        magnitude += std::fabs(p);
      }
      ASSERT_NEAR(out.value[id * n_cols + n], static_cast<double>(want),
                  1e-12 * static_cast<double>(magnitude))
          << "route " << id << ", column " << n;
      ASSERT_NEAR(out.magnitude[id * n_cols + n], static_cast<double>(magnitude),
                  1e-12 * static_cast<double>(magnitude))
          << "route " << id << ", column " << n;
    }
  }
}

}  // namespace
}  // namespace moecheck
