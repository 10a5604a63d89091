#include "case.hpp"

#include <fmt/format.h>

namespace moecheck {

std::string Case::name() const {
  // Fixed order; flags only when set. Everything a testbed reads is in here, so two cases with
  // the same name are the same test (the catalog de-duplicates on it).
  std::string n = stage;
  if (!kernel.empty()) n += "_" + kernel;
  if (!bug.empty()) n += "_bug_" + bug;
  if (!model.empty()) n += "_" + model;
  n += fmt::format("_E{}_k{}_H{}_I{}_T{}_G{}_{}", experts, top_k, hidden, inter, tokens, group,
                   to_string(dtype));
  n += std::string("_") + to_string(format);
  if (format == Format::gptq_kn) {
    n += shuffled ? "" : "_plain";
    n += zero_format == GptqZeros::v1 ? "_v1" : "_v2";
  }
  n += symmetric ? "_sym" : "_asym";
  if (pad_kw) n += fmt::format("_kw{}", pad_kw);
  if (pad_lda) n += fmt::format("_lda{}", pad_lda);
  n += "_" + routing.name();
  n += fmt::format("_bm{}", block_m);
  if (mul_routed_weight) n += "_mrw";
  if (apply_router_weight_on_input) n += "_awi";
  if (output_topk) n += "_otk";
  if (exact) n += "_exact";
  if (zeros_include_0) n += "_z0";
  if (expect != "pass") n += "_expect_" + expect;
  n += fmt::format("_seed{}", seed);
  return n;
}

std::set<std::string> Case::labels(bool gpu) const {
  std::set<std::string> l = {gpu ? "gpu" : "cpu", stage, suite};
  // Tiers are cumulative: the pull-request gate (quick) includes smoke, nightly includes all.
  l.insert("nightly");
  if (tier != "nightly") l.insert("quick");
  if (tier == "smoke") l.insert("smoke");
  if (!kernel.empty()) l.insert(kernel);
  if (expect != "pass") l.insert("negative");
  if (exact) l.insert("exact");
  if (zeros_include_0 && format == Format::gptq_kn && zero_format == GptqZeros::v1) {
    l.insert("v1_z0");
  }
  if (!bug.empty()) l.insert("bug_class");
  return l;
}

const std::vector<std::string>& known_bug_classes() {
  static const std::vector<std::string> ids = {
      "padding_expert0",        "int32_overflow",
      "blockk_not_group",       "k_not_multiple_of_g",
      "bf16_split_k",           "align_drops_route",
      "align_sentinel_minus1",  "align_race",
      "nibble_order",           "zero_off_by_one",
      "scale_group_off_by_one", "partial_tile_dropped",
      "padded_rows_written",    "fp16_dequant_constant",
  };
  return ids;
}

}  // namespace moecheck
