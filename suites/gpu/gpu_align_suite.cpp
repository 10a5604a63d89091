// moe_align_block_size on the device against the reference (align_compare.hpp). Out-of-range ids
// (expect: input_error) must not make the kernel read or write out of bounds.
#include <gtest/gtest.h>

#include "gpu_testbed.hpp"
#include "moecheck/reference/align_compare.hpp"
#include "registry.hpp"

namespace moecheck {
namespace {

void gpu_align_case(const Case& c) {
  MOECHECK_SKIP_WITHOUT_DEVICE();
  const Routing r = make_routing(c);
  const DeviceAlignment d = align_on_device(r, c.block_m);
  ASSERT_EQ(check_all_guards(d.buffers()), "") << "out-of-bounds write";
  if (c.expect == "input_error") return;  // no out-of-bounds access is all that is asked
  if (!expect_support(c, d.status != MC_UNSUPPORTED, d.reason)) return;
  ASSERT_EQ(d.status, MC_OK) << d.reason;

  const Alignment ref = align_block_size(r, c.block_m);
  Comparison cmp;
  cmp.message = alignment_difference(ref, d.routing.sorted_ids->download<int32_t>(),
                                     d.routing.expert_ids->download<int32_t>(),
                                     d.routing.num_post_padded->download<int32_t>()[0]);
  if (!cmp.message.empty()) cmp.outcome = Outcome::Incorrect;
  cmp.compared = static_cast<int64_t>(ref.expert_ids.size()) + ref.num_tokens_post_padded + 1;
  report_stage(c, "align", cmp);
  EXPECT_EQ(cmp.outcome, Outcome::Passed) << cmp.message;
}

MOECHECK_SUITE(gpu_align, gpu_align_case);

}  // namespace
}  // namespace moecheck
