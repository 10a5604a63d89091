// One catalog case: every parameter of one test, printable as a name that reproduces it
// (DESIGN.md section 7). Cases come from cases/*.yaml through catalog.hpp; the testbeds in
// suites/ turn a case into inputs, run the reference and an implementation, and compare.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "moecheck/reference/dtype.hpp"
#include "moecheck/reference/formats.hpp"
#include "moecheck/reference/routing.hpp"

namespace moecheck {

struct Case {
  // What runs it and how it is labelled.
  std::string suite;  // the testbed body that runs it, e.g. "ref_vs_naive", "roundtrip", "align"
  std::string stage;  // dequant, align, gemm1, act, gemm2, sum, e2e (DESIGN.md section 7)
  std::string tier = "quick";   // smoke, quick or nightly
  std::string kernel;           // GPU suites: tiled, fused, align, silu, sum; empty on the CPU
  std::string expect = "pass";  // pass, not_supported (the predicate must refuse), input_error
  std::string error;            // with expect input_error: text the error message must contain
  std::string bug;  // bug_class suite: the DESIGN.md section 10 bug class it plants (an id of
                    // known_bug_classes()); empty for every other case

  // The layer. gemm1: K = hidden, N = 2 * inter; gemm2: K = inter, N = hidden.
  std::string model;  // models.yaml name, empty for synthetic shapes
  int64_t experts = 8;
  int64_t top_k = 2;
  int64_t hidden = 128;
  int64_t inter = 64;
  int64_t tokens = 4;  // T
  int64_t group = 32;  // G

  // Numbers and formats.
  DType dtype = DType::bf16;
  Format format = Format::exllama_nk;
  bool symmetric = true;  // uint4b8 (z = 8) or asymmetric with zeros
  bool shuffled = true;   // gptq_kn nibble order
  GptqZeros zero_format = GptqZeros::v2;
  int64_t pad_kw = 0;   // extra int32 words per exllama_nk weight row (ldw = K/8 + pad_kw)
  int64_t pad_lda = 0;  // extra elements per activation row (lda = K + pad_lda)
  bool exact = false;   // exact-tier inputs (bit-exact comparison)
  // Exact tier, asymmetric: zeros drawn from 0..15 instead of 1..15. Under GPTQ v1 z = 0 is
  // stored 15, which the built-in kernels decode as (15 + 1) mod 16 = 0 and GPTQ v1's own kernels
  // as 16 (reference formats.hpp), so such cases with v1 zeros carry the label v1_z0.
  bool zeros_include_0 = false;

  // Routing and alignment.
  RoutingSpec routing;
  int64_t block_m = 16;  // a sweep may say `auto` (tiled family): preferred_tiled_block_m
  bool mul_routed_weight = false;
  bool apply_router_weight_on_input = false;
  bool output_topk = false;  // fused reduction into the output

  uint64_t seed = 1;   // seed of the weights and activations
  std::string source;  // file:line of the catalog entry that produced it

  int64_t numel() const { return tokens * top_k; }
  int64_t gemm_k() const { return stage == "gemm2" ? inter : hidden; }
  int64_t gemm_n() const { return stage == "gemm2" ? hidden : 2 * inter; }

  // The test name: every parameter that differs from nothing, in a fixed order, characters
  // [A-Za-z0-9_] only, so `--gtest_filter=<suite>.<name>` and `ctest -R <name>` reproduce it.
  std::string name() const;
  // ctest labels: cpu or gpu, the tier, the stage, the kernel, negative for expect != pass.
  std::set<std::string> labels(bool gpu) const;
};

// The bug classes of DESIGN.md section 10 that the bug_class suite (suites/cpu/
// bug_classes_suite.cpp) plants into a correct result or layout; the catalog's `bug` key must name
// one of them. "Wrong results on one gfx11 part only" is not here: it is no corruption the CPU can
// plant, and the gfx11 static gate and the per-SKU GPU runners cover it.
const std::vector<std::string>& known_bug_classes();

}  // namespace moecheck
