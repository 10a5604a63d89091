// The routing suite: the seeded generators of DESIGN.md section 3. Each case checks what every
// routing must be (shape, ids in range, weights positive and normalised per token), determinism
// (the same spec repeats bit for bit; another seed changes the routing wherever the kind leaves
// any freedom), the name and kind round trip, and the defining property of its kind. Statistical
// checks use bounds a correct generator fails with probability below about 1e-6 for any seed
// (each says why); the seeds are fixed, so a result is reproducible either way.
// Negative cases (expect: input_error) must throw InputError naming the parameter.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "moecheck/reference/error.hpp"
#include "moecheck/reference/routing.hpp"
#include "registry.hpp"

namespace moecheck {
namespace {

// z = 6 keeps a two-sided normal tail below 2e-9 per test, below 1e-6 after a union over up to
// 1024 experts; the + 2 absorbs the discreteness of small counts.
constexpr double kSigmas = 6.0;

Routing generate(const Case& c, uint64_t seed, int64_t tokens) {
  RoutingSpec spec = c.routing;
  spec.seed = seed;
  return generate_routing(spec, tokens, c.top_k, c.experts, c.block_m);
}

std::vector<int64_t> tokens_per_expert(const Routing& r) {  // tokens with >= 1 route on e
  std::vector<int64_t> n(static_cast<size_t>(r.experts), 0);
  for (int64_t t = 0; t < r.tokens; ++t) {
    std::set<int32_t> seen(r.ids.begin() + t * r.top_k, r.ids.begin() + (t + 1) * r.top_k);
    for (const int32_t e : seen)
      if (e >= 0 && e < r.experts) ++n[static_cast<size_t>(e)];
  }
  return n;
}

int64_t distinct_in_token(const Routing& r, int64_t t) {
  return static_cast<int64_t>(
      std::set<int32_t>(r.ids.begin() + t * r.top_k, r.ids.begin() + (t + 1) * r.top_k).size());
}

void check_distinct(const Routing& r) {
  for (int64_t t = 0; t < r.tokens; ++t)
    ASSERT_EQ(distinct_in_token(r, t), r.top_k) << "token " << t << " repeats an expert";
}

void check_common(const Case& c, const Routing& r) {
  ASSERT_EQ(r.top_k, c.top_k);
  ASSERT_EQ(r.experts, c.experts);
  if (c.routing.kind != RoutingKind::block_edge) {
    ASSERT_EQ(r.tokens, c.tokens);
  }
  ASSERT_EQ(static_cast<int64_t>(r.ids.size()), r.numel());
  ASSERT_EQ(static_cast<int64_t>(r.weights.size()), r.numel());
  if (c.routing.kind != RoutingKind::ep) {
    EXPECT_TRUE(r.expert_map.empty());
  }
  if (c.routing.kind != RoutingKind::out_of_range) {
    for (const int32_t e : r.ids) ASSERT_TRUE(e >= 0 && e < r.experts) << "id " << e;
    EXPECT_NO_THROW(validate(r));
  }
  // Each weight is a float rounding of a positive share: top_k roundings of relative size 2^-24
  // and the float sum's own, so |sum - 1| <= (2 top_k + 1) 2^-24.
  const double tol = (2.0 * static_cast<double>(r.top_k) + 1) * 0x1p-24;
  for (int64_t t = 0; t < r.tokens; ++t) {
    float sum = 0;
    for (int64_t j = 0; j < r.top_k; ++j) {
      const float w = r.weights[static_cast<size_t>(t * r.top_k + j)];
      ASSERT_TRUE(w > 0 && std::isfinite(w)) << "weight of token " << t << " slot " << j;
      sum += w;
    }
    ASSERT_NEAR(sum, 1.0, tol) << "token " << t << "'s weights are not normalised";
  }
}

void check_determinism(const Case& c, const Routing& r) {
  const Routing again = generate(c, c.routing.seed, c.tokens);
  EXPECT_EQ(again.tokens, r.tokens);
  EXPECT_EQ(again.ids, r.ids) << "same spec, different ids";
  EXPECT_EQ(again.weights, r.weights) << "same spec, different weights";
  EXPECT_EQ(again.expert_map, r.expert_map) << "same spec, different expert_map";
  // Another seed, on at least 64 tokens so that a coincidence is negligible, must give another
  // routing, unless the seed can only pick which one expert takes every route: with top_k = 1
  // the weights are all 1, and with one expert in use (E = 1, single, empty:1, hot:0 with E = 2)
  // the two routings may or may not coincide.
  const int64_t tokens = std::max<int64_t>(c.tokens, 64);
  const Routing a = generate(c, c.routing.seed, tokens),
                b = generate(c, c.routing.seed + 1, tokens);
  const auto used = [](const Routing& x) {
    return std::set<int32_t>(x.ids.begin(), x.ids.end()).size();
  };
  if (c.top_k == 1 && used(a) == 1 && used(b) == 1 && a.expert_map == b.expert_map) return;
  const bool same = a.ids == b.ids && a.weights == b.weights && a.expert_map == b.expert_map;
  EXPECT_FALSE(same) << "seeds " << c.routing.seed << " and " << c.routing.seed + 1
                     << " give the same routing";
}

void check_names(const Case& c) {
  EXPECT_EQ(parse_routing_kind(to_string(c.routing.kind)), c.routing.kind);
  const std::string n = c.routing.name();
  EXPECT_EQ(n.rfind(to_string(c.routing.kind), 0), 0u) << n;
  EXPECT_NE(n.find("_s" + std::to_string(c.routing.seed)), std::string::npos) << n;
  for (const char ch : n)
    EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_') << n;
  RoutingSpec other = c.routing;
  other.seed += 1;
  EXPECT_NE(other.name(), n);
  other = c.routing;
  other.param += 0.25;
  EXPECT_NE(other.name(), n) << "distinct params must give distinct names";
  EXPECT_THROW(parse_routing_kind(std::string(to_string(c.routing.kind)) + "x"),
               std::invalid_argument);
}

// Uniform over a pool of `pool` experts: a given expert is in a token's distinct top-k with
// probability k / pool, independently per token, so its token count is Binomial(T, k / pool).
void check_uniform_counts(const Routing& r, const std::vector<int64_t>& per_expert, int64_t pool) {
  const double p = static_cast<double>(r.top_k) / static_cast<double>(pool);
  const double mean = static_cast<double>(r.tokens) * p;
  const double tol = kSigmas * std::sqrt(mean * (1 - p)) + 2;
  for (size_t e = 0; e < per_expert.size(); ++e) {
    if (per_expert[e] == 0 && pool < r.experts) continue;  // not in the pool
    EXPECT_NEAR(static_cast<double>(per_expert[e]), mean, tol) << "expert " << e;
  }
}

void check_zipf(const Case& c, const Routing& r) {
  check_distinct(r);
  const double s = c.routing.param;
  const auto n = tokens_per_expert(r);
  double total = 0;
  for (int64_t e = 0; e < r.experts; ++e) total += std::pow(static_cast<double>(e + 1), -s);
  // Expert 0 is in a token at least as often as it is the first draw: P >= 1 / total. Its count
  // dominates Binomial(T, 1 / total), so it may not fall kSigmas below that mean.
  const double q = 1 / total, mean = static_cast<double>(r.tokens) * q;
  EXPECT_GE(static_cast<double>(n[0]), mean - kSigmas * std::sqrt(mean * (1 - q)) - 2)
      << "expert 0 is not popular enough for Zipf s = " << s;
  // Inclusion probability without replacement is monotone in the weight, so the lower half of
  // the ids is expected at least as often as the upper half. Per token the difference of the two
  // halves lies in [-k, k]; Hoeffding bounds a deficit beyond k sqrt(2 T ln 1e6) by 1e-6.
  const int64_t half = r.experts / 2;
  int64_t low = 0, high = 0;
  for (int64_t e = 0; e < half; ++e) {
    low += n[static_cast<size_t>(e)];
    high += n[static_cast<size_t>(r.experts - 1 - e)];
  }
  const double slack =
      static_cast<double>(r.top_k) * std::sqrt(2 * static_cast<double>(r.tokens) * std::log(1e6));
  EXPECT_GE(static_cast<double>(low - high), -slack) << "popularity must fall with the expert id";
}

void check_hot(const Case& c, const Routing& r) {
  check_distinct(r);
  const double p = c.routing.param;
  // Each token is hot independently with probability p and only hot tokens touch expert 0, so
  // the hot-token count is Binomial(T, p).
  const double hot = static_cast<double>(tokens_per_expert(r)[0]);
  const double mean = static_cast<double>(r.tokens) * p;
  EXPECT_NEAR(hot, mean, kSigmas * std::sqrt(mean * (1 - p)) + 2)
      << "tokens on the hot expert, p = " << p;
  if (p == 1) {
    EXPECT_EQ(hot, r.tokens);
  }
  if (p == 0) {
    EXPECT_EQ(hot, 0);
  }
}

void check_empty(const Case& c, const Routing& r) {
  check_distinct(r);
  const auto n = tokens_per_expert(r);
  const auto used = static_cast<int64_t>(r.experts - std::count(n.begin(), n.end(), 0));
  const auto u = static_cast<int64_t>(c.routing.param);
  EXPECT_LE(used, u) << "more experts used than param = " << u;
  // A given used expert misses all T tokens with probability (1 - k/U)^T; when U times that is
  // below 1e-6 every one of them must show up.
  const double miss = std::pow(1 - static_cast<double>(r.top_k) / static_cast<double>(u),
                               static_cast<double>(r.tokens));
  if (static_cast<double>(u) * miss < 1e-6) {
    EXPECT_EQ(used, u);
  }
  check_uniform_counts(r, n, u);
}

void check_block_edge(const Case& c, const Routing& r) {
  check_distinct(r);
  const int64_t bm = c.block_m;
  const int64_t u = c.routing.param == 0 ? c.experts : static_cast<int64_t>(c.routing.param);
  std::vector<int64_t> count(static_cast<size_t>(r.experts), 0);
  for (const int32_t e : r.ids) ++count[static_cast<size_t>(e)];
  int64_t routed = 0;
  for (int64_t e = 0; e < r.experts; ++e) {
    const int64_t n = count[static_cast<size_t>(e)];
    if (n == 0) continue;
    ++routed;
    EXPECT_TRUE(n == bm - 1 || n == bm || n == bm + 1) << "expert " << e << " has " << n;
  }
  // With bm = 1 a used expert may get bm - 1 = 0 routes, so only <= holds there.
  if (bm > 1) {
    EXPECT_EQ(routed, u) << "used experts";
  }
  EXPECT_LE(routed, u);
  if (c.routing.param == 0 && bm > 1) {
    EXPECT_EQ(routed, r.experts);
  }
}

void check_ep(const Case& c, const Routing& r) {
  check_distinct(r);
  const auto local = static_cast<int64_t>(c.routing.param);
  ASSERT_EQ(static_cast<int64_t>(r.expert_map.size()), r.experts);
  EXPECT_EQ(r.local_experts(), local);
  // Local ids 0..L-1, ascending with the global id; the rest -1.
  int32_t next = 0;
  for (int64_t e = 0; e < r.experts; ++e) {
    const int32_t m = r.expert_map[static_cast<size_t>(e)];
    if (m == -1) continue;
    EXPECT_EQ(m, next) << "expert_map[" << e << "]";
    next = m + 1;
  }
  EXPECT_EQ(next, local) << "local experts in the map";
  // The ids are uniform's for the same seed.
  RoutingSpec uniform = c.routing;
  uniform.kind = RoutingKind::uniform;
  uniform.param = 0;
  EXPECT_EQ(generate_routing(uniform, c.tokens, c.top_k, c.experts, c.block_m).ids, r.ids);
}

void check_out_of_range(const Routing& r) {
  int64_t bad = 0, at = -1;
  for (int64_t i = 0; i < r.numel(); ++i) {
    const int32_t e = r.ids[static_cast<size_t>(i)];
    if (e == r.experts) {
      ++bad;
      at = i;
    } else {
      EXPECT_TRUE(e >= 0 && e < r.experts) << "route " << i;
    }
  }
  ASSERT_EQ(bad, 1) << "exactly one id must be E";
  try {
    validate(r);
    ADD_FAILURE() << "validate() accepted id E";
  } catch (const InputError& e) {
    const std::string where = "[t=" + std::to_string(at / r.top_k) +
                              "][j=" + std::to_string(at % r.top_k) +
                              "] = " + std::to_string(r.experts);
    EXPECT_NE(std::string(e.what()).find(where), std::string::npos)
        << "'" << e.what() << "' should name " << where;
  }
}

void check_kind(const Case& c, const Routing& r) {
  switch (c.routing.kind) {
    case RoutingKind::uniform:
      check_distinct(r);
      check_uniform_counts(r, tokens_per_expert(r), r.experts);
      break;
    case RoutingKind::zipf:
      check_zipf(c, r);
      break;
    case RoutingKind::hot:
      check_hot(c, r);
      break;
    case RoutingKind::empty:
      check_empty(c, r);
      break;
    case RoutingKind::single:
      for (const int32_t e : r.ids) ASSERT_EQ(e, static_cast<int32_t>(c.routing.param));
      break;
    case RoutingKind::block_edge:
      check_block_edge(c, r);
      break;
    case RoutingKind::ep:
      check_ep(c, r);
      break;
    case RoutingKind::repeated:
      for (int64_t t = 0; t < r.tokens; ++t)
        ASSERT_EQ(distinct_in_token(r, t), r.top_k - 1)
            << "token " << t << " must repeat one expert";
      break;
    case RoutingKind::out_of_range:
      check_out_of_range(r);
      break;
  }
}

void expect_input_error(const std::string& needle, const std::function<void()>& call) {
  try {
    call();
    ADD_FAILURE() << "no InputError for " << needle;
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << "'" << e.what() << "' should name " << needle;
  }
}

// The catalog cannot express non-positive sizes (its loader refuses them), so every case probes
// them here, and breaks its own routing to see validate() refuse it.
void check_rejects_bad_input(const Case& c, const Routing& r) {
  const RoutingSpec& s = c.routing;
  const int64_t T = c.tokens, k = c.top_k, E = c.experts, bm = c.block_m;
  expect_input_error("experts = 0", [&] { generate_routing(s, T, k, 0, bm); });
  expect_input_error("top_k = 0", [&] { generate_routing(s, T, 0, E, bm); });
  if (s.kind == RoutingKind::block_edge) {
    expect_input_error("block_m = 0", [&] { generate_routing(s, T, k, E, 0); });
  } else {
    expect_input_error("tokens = 0", [&] { generate_routing(s, 0, k, E, bm); });
  }
  Routing broken = r;
  broken.weights.pop_back();
  expect_input_error("topk_weights has", [&] { validate(broken); });
  broken = r;
  broken.ids.push_back(0);
  expect_input_error("topk_ids has", [&] { validate(broken); });
  if (r.expert_map.empty()) return;
  broken = r;
  broken.expert_map.pop_back();
  expect_input_error("expert_map has", [&] { validate(broken); });
  if (r.local_experts() < 2) return;
  broken = r;
  for (auto& m : broken.expert_map) m = m == 1 ? 0 : m;  // two experts on local id 0
  expect_input_error("expert_map", [&] { validate(broken); });
}

// The histogram against a count made here; a routing with an id outside [0, E) has none.
void check_histogram(const Case& c, const Routing& r) {
  if (c.routing.kind == RoutingKind::out_of_range) {
    EXPECT_THROW(histogram(r, c.block_m), InputError);
    return;
  }
  const int64_t bm = c.block_m;
  const RoutingHistogram h = histogram(r, bm);
  std::vector<int64_t> count(static_cast<size_t>(r.experts), 0);
  for (const int32_t e : r.ids) ++count[static_cast<size_t>(e)];
  EXPECT_EQ(h.routes, count);
  ASSERT_EQ(h.padded.size(), count.size());
  int64_t used = 0;
  for (size_t e = 0; e < count.size(); ++e) {
    EXPECT_EQ(h.padded[e], count[e] % bm == 0 ? 0 : bm - count[e] % bm) << "expert " << e;
    used += count[e] > 0;
  }
  EXPECT_EQ(h.used_experts, used);
}

void routing_case(const Case& c) {
  if (c.expect == "input_error") {
    ASSERT_FALSE(c.error.empty()) << c.source
                                  << ": a negative case must say which error it expects";
    try {
      generate_routing(c.routing, c.tokens, c.top_k, c.experts, c.block_m);
      ADD_FAILURE() << "no InputError: generate_routing accepted a request it cannot meet";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(c.error), std::string::npos)
          << "the error does not name the problem: '" << e.what() << "' lacks '" << c.error << "'";
    }
    return;
  }
  ASSERT_EQ(c.expect, "pass") << "the routing suite has no not_supported cases";
  const Routing r = generate_routing(c.routing, c.tokens, c.top_k, c.experts, c.block_m);
  check_common(c, r);
  check_names(c);
  check_determinism(c, r);
  check_kind(c, r);
  check_histogram(c, r);
  check_rejects_bad_input(c, r);
}

MOECHECK_SUITE(routing, routing_case);

}  // namespace
}  // namespace moecheck
