// Inputs of a case for moecheck_bench, on the device, packed and uploaded the way the GPU suites
// do it (suites/gpu/gpu_testbed.hpp: upload_weights, upload_routing, upload_activations).
//
// Routing and alignment are the case's own (inputs.hpp make_routing: the same routes, the same
// touched experts, the same blocks as the suites). The values of weights and activations do not
// change a kernel's time, but generating them does: the suites build every touched expert on
// the host (DeepSeek-V3's gemm1 at prefill is 7.5e9 weights, minutes of host time). By default
// the bench therefore builds ONE expert with inputs.hpp's make_weights (same generator, same
// packer, same device layout: full-size buffers with every local expert's slot), and copies it
// on the device into the slot of every touched expert. Even one expert is slow to generate
// (Mixtral's gemm1 expert, 117e6 weights, takes seconds), so make_weights generates its first
// kBodyRows output rows and the other rows repeat them. Activations beyond kActivationRows rows
// repeat the first kActivationRows rows of make_activations likewise. Repeated values are still
// distinct memory: every byte is read from its own address, and no cache or DRAM deduplicates.
// `suite_inputs` (--suite-inputs) uses the suites' inputs exactly instead (make_gemm_problem /
// make_layer_case), at their cost.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <tuple>

#include "case.hpp"
#include "gpu_testbed.hpp"
#include "inputs.hpp"

namespace moecheck::bench {

constexpr int64_t kActivationRows = 512;
constexpr int64_t kBodyRows = 512;

// Host-side cache of generated expert bodies, keyed by what make_weights reads (seed, exact,
// symmetric, dtype, N, K, G, salt): the decode and prefill cases of one model share them.
class WeightBodies {
 public:
  const QuantWeights& get(const Case& c, int64_t n, int64_t k, uint64_t salt);

 private:
  using Key = std::tuple<uint64_t, bool, bool, int, int64_t, int64_t, int64_t, uint64_t>;
  std::map<Key, std::shared_ptr<const QuantWeights>> bodies_;
  size_t bytes_ = 0;
};

// One GEMM's weights (N x K, the case's group) on the device for the touched experts of
// `experts`: bodies mode (every touched expert a copy of one body) unless `exact` is given,
// which is then uploaded as the suites do.
DeviceWeights bench_weights(const Case& c, int64_t n, int64_t k, uint64_t salt,
                            const ExpertSubset& experts, WeightBodies& bodies,
                            const QuantWeights* exact = nullptr);

// Activations [rows, k] (lda = k + pad_lda): make_activations, rows beyond kActivationRows
// repeating the first ones.
Activations bench_activations(const Case& c, int64_t rows, int64_t k);

}  // namespace moecheck::bench
