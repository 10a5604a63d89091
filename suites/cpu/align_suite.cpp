// The align suite: the reference moe_align_block_size (DESIGN.md section 3) against an
// expectation built here independently, by a stable sort of the flat route ids by expert, plus
// the contract's invariants checked on their own (so a failure says which rule broke) and the
// routing histogram. Negative cases (expect: input_error) must throw InputError naming the
// problem (the case's `error` text; for an out-of-range id also its token and slot).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "moecheck/reference/align.hpp"
#include "moecheck/reference/error.hpp"
#include "moecheck/reference/routing.hpp"
#include "registry.hpp"

namespace moecheck {
namespace {

// What the alignment must be, derived from the routing alone.
struct Expected {
  std::vector<std::vector<int32_t>> routes;  // [E] flat ids of each expert, ascending
  std::vector<int64_t> start;                // [E] first slot of each expert's range
  std::vector<int64_t> padded;               // [E] slots of each expert's range
  std::vector<int32_t> sorted_token_ids;
  std::vector<int32_t> expert_ids;
  int64_t num_tokens_post_padded = 0;
};

Expected expect_alignment(const Routing& r, int64_t bm) {
  const int64_t numel = r.numel();
  std::vector<int32_t> order(static_cast<size_t>(numel));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return r.ids[static_cast<size_t>(a)] < r.ids[static_cast<size_t>(b)];
  });
  Expected x;
  x.routes.resize(static_cast<size_t>(r.experts));
  for (const int32_t i : order)
    x.routes[static_cast<size_t>(r.ids[static_cast<size_t>(i)])].push_back(i);
  for (int64_t e = 0; e < r.experts; ++e) {
    const auto& mine = x.routes[static_cast<size_t>(e)];
    x.start.push_back(static_cast<int64_t>(x.sorted_token_ids.size()));
    x.sorted_token_ids.insert(x.sorted_token_ids.end(), mine.begin(), mine.end());
    while (x.sorted_token_ids.size() % static_cast<size_t>(bm) != 0)
      x.sorted_token_ids.push_back(static_cast<int32_t>(numel));
    x.padded.push_back(static_cast<int64_t>(x.sorted_token_ids.size()) - x.start.back());
    const int32_t block_id =
        r.expert_map.empty() ? static_cast<int32_t>(e) : r.expert_map[static_cast<size_t>(e)];
    for (int64_t b = 0; b < x.padded.back() / bm; ++b) x.expert_ids.push_back(block_id);
  }
  x.num_tokens_post_padded = static_cast<int64_t>(x.sorted_token_ids.size());
  // The buffer: the worst case (every expert pads block_m - 1 slots), a whole number of blocks.
  const int64_t worst = numel + r.experts * (bm - 1);
  const int64_t length = (worst / bm + (worst % bm != 0)) * bm;
  x.sorted_token_ids.resize(static_cast<size_t>(length), static_cast<int32_t>(numel));
  x.expert_ids.resize(static_cast<size_t>(length / bm), -1);
  return x;
}

// The contract rule by rule, as a GPU result would be checked (order inside an expert free).
void check_invariants(const Routing& r, const Alignment& a, const Expected& x, int64_t bm) {
  const int64_t numel = r.numel();
  ASSERT_EQ(a.block_m, bm);
  ASSERT_EQ(a.sorted_token_ids.size(), x.sorted_token_ids.size()) << "buffer length";
  ASSERT_EQ(a.expert_ids.size(), x.expert_ids.size()) << "expert_ids length";
  ASSERT_EQ(a.num_tokens_post_padded, x.num_tokens_post_padded);
  EXPECT_EQ(a.num_tokens_post_padded % bm, 0);
  EXPECT_EQ(a.num_blocks(), x.num_tokens_post_padded / bm);

  int64_t routes_seen = 0;
  for (int64_t e = 0; e < r.experts; ++e) {
    const auto& want = x.routes[static_cast<size_t>(e)];
    const int64_t begin = x.start[static_cast<size_t>(e)], slots = x.padded[static_cast<size_t>(e)];
    // An expert with c routes owns ceil(c / bm) * bm slots, none when c = 0.
    EXPECT_EQ(slots, (static_cast<int64_t>(want.size()) + bm - 1) / bm * bm) << "expert " << e;
    std::vector<int32_t> got, sentinels;
    for (int64_t s = begin; s < begin + slots; ++s) {
      const int32_t v = a.sorted_token_ids[static_cast<size_t>(s)];
      (v == numel ? sentinels : got).push_back(v);
    }
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, want) << "the routes in expert " << e << "'s range [" << begin << ", "
                         << begin + slots << ") differ as a set";
    EXPECT_EQ(static_cast<int64_t>(sentinels.size()), slots - static_cast<int64_t>(want.size()))
        << "padding of expert " << e;
    routes_seen += static_cast<int64_t>(got.size());
    const int32_t block_id =
        r.expert_map.empty() ? static_cast<int32_t>(e) : r.expert_map[static_cast<size_t>(e)];
    for (int64_t b = begin / bm; b < (begin + slots) / bm; ++b)
      EXPECT_EQ(a.expert_ids[static_cast<size_t>(b)], block_id)
          << "block " << b << " of expert " << e;
  }
  EXPECT_EQ(routes_seen, numel) << "every route appears exactly once, local or not";
  const auto sentinel_total =
      std::count(a.sorted_token_ids.begin(), a.sorted_token_ids.end(), static_cast<int32_t>(numel));
  EXPECT_EQ(sentinel_total, static_cast<int64_t>(a.sorted_token_ids.size()) - numel);
  for (size_t s = static_cast<size_t>(a.num_tokens_post_padded); s < a.sorted_token_ids.size(); ++s)
    ASSERT_EQ(a.sorted_token_ids[s], numel) << "slot " << s << " past num_tokens_post_padded";
  for (size_t b = static_cast<size_t>(a.num_blocks()); b < a.expert_ids.size(); ++b)
    ASSERT_EQ(a.expert_ids[b], -1) << "block " << b << " past the end must carry -1, not an expert";
}

// Expert parallelism: exactly the local routes sit in blocks that carry a local id (>= 0), so
// those and only those get computed; every block's id is expert_map of its expert.
void check_expert_map(const Routing& r, const Alignment& a) {
  ASSERT_EQ(static_cast<int64_t>(r.expert_map.size()), r.experts);
  const int64_t numel = r.numel();
  std::vector<int32_t> computed, local;
  for (int64_t s = 0; s < a.num_tokens_post_padded; ++s) {
    const int32_t v = a.sorted_token_ids[static_cast<size_t>(s)];
    const int32_t block_id = a.expert_ids[static_cast<size_t>(s / a.block_m)];
    if (v == numel) continue;
    EXPECT_EQ(block_id, r.expert_map[static_cast<size_t>(r.ids[static_cast<size_t>(v)])])
        << "slot " << s << " (route " << v << ")";
    if (block_id >= 0) computed.push_back(v);
  }
  for (int32_t i = 0; i < numel; ++i)
    if (r.expert_map[static_cast<size_t>(r.ids[static_cast<size_t>(i)])] >= 0) local.push_back(i);
  std::sort(computed.begin(), computed.end());
  EXPECT_EQ(computed, local)
      << "the routes in blocks with a local id must be exactly the local ones";
  for (const int32_t id : a.expert_ids) EXPECT_LT(id, r.local_experts()) << "local id range";
}

void check_histogram(const Routing& r, const Expected& x, int64_t bm) {
  const RoutingHistogram h = histogram(r, bm);
  ASSERT_EQ(static_cast<int64_t>(h.routes.size()), r.experts);
  ASSERT_EQ(static_cast<int64_t>(h.padded.size()), r.experts);
  int64_t used = 0;
  for (size_t e = 0; e < h.routes.size(); ++e) {
    const auto c = static_cast<int64_t>(x.routes[e].size());
    EXPECT_EQ(h.routes[e], c) << "histogram routes of expert " << e;
    EXPECT_EQ(h.padded[e], x.padded[e] - c) << "histogram padding of expert " << e;
    used += c > 0;
  }
  EXPECT_EQ(h.used_experts, used);
}

// block_edge: every routed expert's count is bm - 1, bm or bm + 1, so its padding is 1, 0 or
// bm - 1 slots: the three cases around a block boundary.
void check_block_edge(const Expected& x, int64_t bm) {
  for (size_t e = 0; e < x.routes.size(); ++e) {
    const auto c = static_cast<int64_t>(x.routes[e].size());
    if (c == 0) continue;
    EXPECT_TRUE(c == bm - 1 || c == bm || c == bm + 1)
        << "expert " << e << " has " << c << " routes";
    EXPECT_EQ(x.padded[e], c <= bm ? bm : 2 * bm) << "expert " << e;
  }
}

// The flat ids of the routes whose id lies outside [0, E), found here, not by the library.
std::vector<std::pair<int64_t, int64_t>> bad_ids(const Routing& r) {
  std::vector<std::pair<int64_t, int64_t>> out;
  for (int64_t i = 0; i < r.numel(); ++i) {
    const int32_t e = r.ids[static_cast<size_t>(i)];
    if (e < 0 || e >= r.experts) out.emplace_back(i / r.top_k, i % r.top_k);
  }
  return out;
}

void expect_input_error(const Case& c) {
  ASSERT_FALSE(c.error.empty()) << c.source << ": a negative case must say which error it expects";
  Routing r;
  try {
    r = generate_routing(c.routing, c.tokens, c.top_k, c.experts, c.block_m);
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(c.error), std::string::npos)
        << "the error does not name the problem: '" << e.what() << "' lacks '" << c.error << "'";
    return;
  }
  try {
    align_block_size(r, c.block_m);
    ADD_FAILURE() << "no InputError: align_block_size accepted a routing the contract forbids";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(c.error), std::string::npos)
        << "the error does not name the problem: '" << what << "' lacks '" << c.error << "'";
    const auto bad = bad_ids(r);
    if (!bad.empty()) {
      const std::string where = "t=" + std::to_string(bad.front().first) +
                                "][j=" + std::to_string(bad.front().second) + "]";
      EXPECT_NE(what.find(where), std::string::npos) << "'" << what << "' should name " << where;
      EXPECT_NE(what.find("E=" + std::to_string(c.experts)), std::string::npos) << what;
    }
  }
}

void align_case(const Case& c) {
  if (c.expect == "input_error") return expect_input_error(c);
  ASSERT_EQ(c.expect, "pass") << "the align suite has no not_supported cases";
  const Routing r = generate_routing(c.routing, c.tokens, c.top_k, c.experts, c.block_m);
  const int64_t bm = c.block_m;
  const Alignment a = align_block_size(r, bm);
  const Expected x = expect_alignment(r, bm);

  check_invariants(r, a, x, bm);
  // The reference is stable (ascending flat id inside an expert), so it must match exactly.
  EXPECT_EQ(a.sorted_token_ids, x.sorted_token_ids) << "sorted_token_ids (stable order)";
  EXPECT_EQ(a.expert_ids, x.expert_ids) << "expert_ids";
  EXPECT_EQ(max_padded_length(r.numel(), r.experts, bm),
            static_cast<int64_t>(x.sorted_token_ids.size()));
  if (!r.expert_map.empty()) check_expert_map(r, a);
  if (c.routing.kind == RoutingKind::ep) {
    EXPECT_FALSE(r.expert_map.empty()) << "an ep routing must carry an expert_map";
  }
  check_histogram(r, x, bm);
  // The catalog cannot express block_m < 1 (its loader refuses it), so every case probes it.
  for (const int64_t bad : {0, -1}) {
    EXPECT_THROW(align_block_size(r, bad), InputError) << "block_m = " << bad;
    EXPECT_THROW(max_padded_length(r.numel(), r.experts, bad), InputError) << "block_m = " << bad;
  }
  if (c.routing.kind == RoutingKind::block_edge) check_block_edge(x, bm);
}

MOECHECK_SUITE(align, align_case);

}  // namespace
}  // namespace moecheck
