// Negative cases (expect: input_error): shapes and routings the contract forbids. Building the
// case's inputs, packing its weights and running its reference stage must stop with an
// InputError whose message names the problem (the case's `error` text), never a crash.
#include <gtest/gtest.h>

#include "inputs.hpp"
#include "moecheck/reference/error.hpp"
#include "moecheck/reference/formats.hpp"
#include "moecheck/reference/layer.hpp"
#include "registry.hpp"

namespace moecheck {
namespace {

// Runs what a user of the case would run on the CPU: inputs, packing, alignment, reference.
void run_case_on_cpu(const Case& c) {
  if (c.stage == "align" || c.stage == "routing") {
    const Routing r = make_routing(c);
    validate(r);
    align_block_size(r, c.block_m);
    return;
  }
  if (c.stage == "e2e") {
    reference_layer(make_layer_case(c).problem, case_tolerance(c));
    return;
  }
  const GemmProblem p = make_gemm_problem(c);
  validate(p.routing);
  switch (c.format) {
    case Format::exllama_nk:
      pack_exllama_nk(p.w, p.w.shape.k / 8 + c.pad_kw);
      break;
    case Format::gptq_kn:
      pack_gptq_kn(p.w, c.shuffled, c.zero_format);
      break;
    case Format::triton_nk_u8:
      pack_triton_nk_u8(p.w);
      break;
  }
  GemmOptions opt;
  opt.mul_routed_weight = p.mul_routed_weight;
  const Routing& r = p.experts.routing;
  routed_gemm(p.a, p.a_route_div, p.w, r, align_block_size(r, c.block_m), opt);
}

void negative_case(const Case& c) {
  ASSERT_EQ(c.expect, "input_error") << "the negative suite runs only expect: input_error cases";
  ASSERT_FALSE(c.error.empty()) << c.source << ": a negative case must say which error it expects";
  try {
    run_case_on_cpu(c);
    ADD_FAILURE() << "no InputError: the CPU side accepted an input the contract forbids";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(c.error), std::string::npos)
        << "the error does not name the problem: '" << e.what() << "' lacks '" << c.error << "'";
  }
}

MOECHECK_SUITE(negative, negative_case);

}  // namespace
}  // namespace moecheck
