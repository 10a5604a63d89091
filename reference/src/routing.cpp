// Routing: validation, names, the seeded generators of DESIGN.md section 3, and the histogram.
//
// Determinism: a generator draws from std::mt19937_64 (its output sequence is fixed by the
// standard) through the two mappings of Rng below; std:: distributions are not used because their
// algorithms are implementation-defined. The routing weights use only +, * and / (no libm), so
// they are bit-identical everywhere. Zipf's popularity table uses std::pow, whose last ulp may
// differ between C libraries: a draw can only change when it lands within an ulp of a table step.

#include "moecheck/reference/routing.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <random>
#include <stdexcept>

#include "moecheck/reference/error.hpp"

namespace moecheck {

namespace {

constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();

class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}

  // Uniform integer in [0, n), n >= 1. Rejecting the lowest 2^64 mod n outputs leaves a count
  // that is a multiple of n, so the remainder is unbiased.
  uint64_t below(uint64_t n) {
    const uint64_t reject_under = (0 - n) % n;  // 2^64 mod n
    for (;;) {
      const uint64_t x = engine_();
      if (x >= reject_under) return x % n;
    }
  }
  int32_t below32(int64_t n) { return static_cast<int32_t>(below(static_cast<uint64_t>(n))); }

  // Uniform double in [0, 1): the top 53 bits as a binary fraction (exact).
  double unit() { return static_cast<double>(engine_() >> 11) * 0x1p-53; }

 private:
  std::mt19937_64 engine_;
};

// The weights draw from their own stream, so they depend on (seed, T, top_k) only: two kinds with
// the same seed get the same weights, and the id generators can change without moving them.
constexpr uint64_t kWeightStream = 0x9e3779b97f4a7c15ull;

void shuffle(Rng& rng, int32_t* v, int64_t n) {
  for (int64_t i = n - 1; i > 0; --i) std::swap(v[i], v[rng.below32(i + 1)]);
}

// Draws k distinct values of [0, n) in uniformly random order: Floyd's algorithm (k draws, a set
// that is uniform over the k-subsets) followed by a shuffle (its order is not uniform). The marks
// are cleared after each draw, so a draw costs O(k), not O(n).
class DistinctPicker {
 public:
  explicit DistinctPicker(int64_t n) : n_(n), marked_(static_cast<size_t>(n), 0) {}
  void pick(Rng& rng, int64_t k, int32_t* out) {
    for (int64_t i = 0, j = n_ - k; j < n_; ++i, ++j) {
      int32_t t = rng.below32(j + 1);
      if (marked_[static_cast<size_t>(t)]) t = static_cast<int32_t>(j);
      marked_[static_cast<size_t>(t)] = 1;
      out[i] = t;
    }
    for (int64_t i = 0; i < k; ++i) marked_[static_cast<size_t>(out[i])] = 0;
    shuffle(rng, out, k);
  }

 private:
  int64_t n_;
  std::vector<uint8_t> marked_;
};

// A raw weight per route in [1, 8), normalised per token: positive, sums to 1 up to float
// rounding, and spread like a softmax over a few logits (largest / smallest < 8).
void fill_weights(Routing& r, uint64_t seed) {
  Rng rng(seed ^ kWeightStream);
  r.weights.assign(static_cast<size_t>(r.numel()), 0.0f);
  std::vector<double> raw(static_cast<size_t>(r.top_k));
  for (int64_t t = 0; t < r.tokens; ++t) {
    double sum = 0;
    for (auto& w : raw) {
      w = 1.0 + 7.0 * rng.unit();
      sum += w;
    }
    for (int64_t j = 0; j < r.top_k; ++j)
      r.weights[static_cast<size_t>(t * r.top_k + j)] =
          static_cast<float>(raw[static_cast<size_t>(j)] / sum);
  }
}

std::string num(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", x);
  return buf;
}

// The shortest %g form that reads back as x, with '.' -> 'p', '-' -> 'm' and '+' dropped, so that
// distinct parameters give distinct, identifier-safe names (1.2 -> 1p2, 1e-07 -> 1em07).
std::string param_token(double x) {
  char buf[40];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, x);
    if (std::strtod(buf, nullptr) == x || std::isnan(x)) break;
  }
  std::string out;
  for (const char* p = buf; *p; ++p) {
    if (*p == '.')
      out += 'p';
    else if (*p == '-')
      out += 'm';
    else if (*p != '+')
      out += *p;
  }
  return out;
}

// One generate_routing call: the request, its checks (each InputError names the parameter), and
// the generators. Checks run in a fixed order: shape (experts, top_k, tokens), then `param`,
// then what the kind needs of top_k.
class Generator {
 public:
  Generator(const RoutingSpec& spec, int64_t tokens, int64_t top_k, int64_t experts,
            int64_t block_m)
      : spec_(spec), rng_(spec.seed), block_m_(block_m) {
    r_.tokens = tokens;
    r_.top_k = top_k;
    r_.experts = experts;
  }

  Routing run() {
    check_shape();
    switch (spec_.kind) {
      case RoutingKind::uniform:
        no_param();
        distinct_top_k();
        uniform();
        break;
      case RoutingKind::zipf:
        zipf();
        break;
      case RoutingKind::hot:
        hot();
        break;
      case RoutingKind::empty:
        empty();
        break;
      case RoutingKind::single:
        single();
        break;
      case RoutingKind::block_edge:
        block_edge();
        break;
      case RoutingKind::ep:
        ep();
        break;
      case RoutingKind::repeated:
        no_param();
        repeated();
        break;
      case RoutingKind::out_of_range:
        no_param();
        distinct_top_k();
        out_of_range();
        break;
    }
    fill_weights(r_, spec_.seed);
    if (spec_.kind != RoutingKind::out_of_range) validate(r_);  // self-check
    return std::move(r_);
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw InputError("generate_routing(" + spec_.name() + "): " + what);
  }

  void check_shape() {
    if (r_.experts < 1 || r_.experts > kInt32Max)
      fail("experts = " + std::to_string(r_.experts) + " must be in [1, 2^31)");
    if (r_.top_k < 1) fail("top_k = " + std::to_string(r_.top_k) + " must be >= 1");
    if (spec_.kind == RoutingKind::block_edge) return;  // derives T itself
    if (r_.tokens < 1) fail("tokens = " + std::to_string(r_.tokens) + " must be >= 1");
    if (r_.tokens > kInt32Max / r_.top_k)
      fail("tokens * top_k = " + std::to_string(r_.tokens) + " * " + std::to_string(r_.top_k) +
           " exceeds the int32 range of flat route ids");
    allocate();
  }

  void allocate() { r_.ids.assign(static_cast<size_t>(r_.numel()), 0); }

  int32_t* token(int64_t t) { return r_.ids.data() + t * r_.top_k; }

  void no_param() const {
    if (spec_.param != 0) fail("param = " + num(spec_.param) + " given, but this kind takes none");
  }

  // `param` as an integer in [lo, hi]; `meaning` says what it counts.
  int64_t int_param(int64_t lo, int64_t hi, const char* meaning) const {
    const double p = spec_.param;
    if (!(p >= static_cast<double>(lo) && p <= static_cast<double>(hi)) || p != std::floor(p))
      fail("param = " + num(p) + " (" + meaning + ") must be an integer in [" + std::to_string(lo) +
           ", " + std::to_string(hi) + "]");
    return static_cast<int64_t>(p);
  }

  void distinct_top_k(int64_t available, const char* of_what) const {
    if (r_.top_k > available)
      fail("top_k = " + std::to_string(r_.top_k) + " exceeds " + of_what + " = " +
           std::to_string(available) + ": a token's top_k experts must be distinct");
  }
  void distinct_top_k() const { distinct_top_k(r_.experts, "experts"); }

  void uniform() {
    DistinctPicker picker(r_.experts);
    for (int64_t t = 0; t < r_.tokens; ++t) picker.pick(rng_, r_.top_k, token(t));
  }

  // Expert e has popularity (e + 1)^-s (expert 0 the most popular: ranks are the ids, so a test
  // can check the trend). A token draws its top_k without replacement in proportion to
  // popularity: by rejection from the whole table, falling back to an exact draw over the
  // experts not yet taken once rejection stalls (large s with top_k near E).
  void zipf() {
    const double s = spec_.param;
    if (!(s >= 0 && s <= 16)) fail("param = " + num(s) + " (Zipf exponent s) must be in [0, 16]");
    distinct_top_k();
    const size_t e_count = static_cast<size_t>(r_.experts);
    std::vector<double> weight(e_count), cdf(e_count);
    double total = 0;
    for (size_t e = 0; e < e_count; ++e) {
      weight[e] = std::pow(static_cast<double>(e) + 1.0, -s);
      total += weight[e];
      cdf[e] = total;
    }
    std::vector<uint8_t> taken(e_count, 0);
    for (int64_t t = 0; t < r_.tokens; ++t) {
      int32_t* out = token(t);
      for (int64_t j = 0; j < r_.top_k; ++j) {
        int32_t e = -1;
        for (int attempt = 0; attempt < 32 && e < 0; ++attempt) {
          const double u = rng_.unit() * total;
          size_t c = static_cast<size_t>(std::upper_bound(cdf.begin(), cdf.end(), u) - cdf.begin());
          c = std::min(c, e_count - 1);
          if (!taken[c]) e = static_cast<int32_t>(c);
        }
        if (e < 0) e = exact_draw(weight, taken);
        taken[static_cast<size_t>(e)] = 1;
        out[j] = e;
      }
      for (int64_t j = 0; j < r_.top_k; ++j) taken[static_cast<size_t>(out[j])] = 0;
    }
  }

  int32_t exact_draw(const std::vector<double>& weight, const std::vector<uint8_t>& taken) {
    double left = 0;
    int32_t last = -1;
    for (size_t e = 0; e < weight.size(); ++e)
      if (!taken[e]) left += weight[e], last = static_cast<int32_t>(e);
    double u = rng_.unit() * left;
    for (size_t e = 0; e < weight.size(); ++e) {
      if (taken[e]) continue;
      if (u < weight[e]) return static_cast<int32_t>(e);
      u -= weight[e];
    }
    return last;  // rounding left u just past the end
  }

  // Each token is hot with probability p (one Bernoulli draw per token): a hot token puts one
  // route, in a random slot, on expert 0 and its others on distinct experts of 1..E-1; a cold
  // token avoids expert 0 entirely. So the fraction of tokens routed to expert 0 is exactly the
  // Binomial(T, p) / T fraction of hot tokens, which a test can bound.
  void hot() {
    const double p = spec_.param;
    if (!(p >= 0 && p <= 1)) fail("param = " + num(p) + " (hot fraction p) must be in [0, 1]");
    if (p < 1) {
      distinct_top_k(r_.experts - 1, "experts - 1 (cold tokens avoid the hot expert 0)");
    } else {
      distinct_top_k();
    }
    DistinctPicker cold(r_.experts - 1);
    for (int64_t t = 0; t < r_.tokens; ++t) {
      int32_t* out = token(t);
      const bool is_hot = rng_.unit() < p;
      const int64_t n_cold = is_hot ? r_.top_k - 1 : r_.top_k;
      cold.pick(rng_, n_cold, out);
      for (int64_t j = 0; j < n_cold; ++j) out[j] += 1;
      if (is_hot) {
        const int32_t slot = rng_.below32(r_.top_k);
        out[r_.top_k - 1] = out[slot];
        out[slot] = 0;
      }
    }
  }

  // A seeded subset of `count` experts (in random order).
  std::vector<int32_t> subset(int64_t count) {
    std::vector<int32_t> s(static_cast<size_t>(count));
    DistinctPicker(r_.experts).pick(rng_, count, s.data());
    return s;
  }

  // Only `param` experts (a seeded subset, so unused experts sit between used ones) receive
  // routes; each token draws its top_k distinct among them, uniformly.
  void empty() {
    const int64_t used = int_param(1, r_.experts, "number of used experts");
    distinct_top_k(used, "param (used experts)");
    const std::vector<int32_t> pool = subset(used);
    DistinctPicker picker(used);
    for (int64_t t = 0; t < r_.tokens; ++t) {
      int32_t* out = token(t);
      picker.pick(rng_, r_.top_k, out);
      for (int64_t j = 0; j < r_.top_k; ++j) out[j] = pool[static_cast<size_t>(out[j])];
    }
  }

  // Every route on expert `param` (default 0; the catalog can name E - 1 to catch code that
  // assumes expert 0). With top_k > 1 each token repeats it, so any top_k is allowed.
  void single() {
    const int32_t e = static_cast<int32_t>(int_param(0, r_.experts - 1, "the expert id"));
    std::fill(r_.ids.begin(), r_.ids.end(), e);
  }

  // U = param used experts (0: all E; a seeded subset otherwise). The i-th used expert, in
  // ascending id order, gets block_m - 1 + (i mod 3) routes (cycling bm-1, bm, bm+1).
  //
  // T is derived: the total N must be T * top_k, and for the routes of a token to be distinct
  // every count must be <= T. N is the multiple of top_k nearest to the cycled total, clamped to
  // [max(U (bm-1), top_k (bm+1)), U (bm+1)]; that interval always holds a multiple of top_k when
  // U >= top_k, and N >= top_k (bm+1) gives T >= bm+1 >= every count. The difference is then made
  // up by moving counts by one inside {bm-1, bm, bm+1} (raising from the lowest id, lowering from
  // the highest), so every used expert still gets an edge count. So `tokens` is ignored, and a
  // used expert with block_m = 1 may get bm - 1 = 0 routes.
  //
  // Routes are laid out expert by expert (experts in seeded order), route r going to token
  // r mod T: an expert's run of <= T routes lands on distinct tokens, so every token's top_k are
  // distinct. Token order and slot order are then shuffled.
  void block_edge() {
    const int64_t used = int_param(0, r_.experts, "number of used experts, 0 for all");
    const int64_t u = used == 0 ? r_.experts : used;
    distinct_top_k(u, "the used experts");
    const int64_t bm = block_m_;
    if (bm < 1) fail("block_m = " + std::to_string(bm) + " must be >= 1");
    const int64_t k = r_.top_k;
    if (bm > kInt32Max / 2 || u * (bm + 1) > kInt32Max)
      fail("block_m = " + std::to_string(bm) + " with " + std::to_string(u) +
           " used experts exceeds the int32 range of flat route ids");

    std::vector<int32_t> experts = used == 0 ? std::vector<int32_t>() : subset(u);
    if (used == 0)
      for (int32_t e = 0; e < r_.experts; ++e) experts.push_back(e);
    std::sort(experts.begin(), experts.end());
    std::vector<int64_t> count(static_cast<size_t>(u));
    int64_t cycled = 0;
    for (int64_t i = 0; i < u; ++i) {
      count[static_cast<size_t>(i)] = bm - 1 + i % 3;
      cycled += count[static_cast<size_t>(i)];
    }

    const int64_t lo = std::max(u * (bm - 1), k * (bm + 1)), hi = u * (bm + 1);
    int64_t n = (cycled + k / 2) / k * k;
    if (n < lo) n = (lo + k - 1) / k * k;
    if (n > hi) n = hi / k * k;
    for (int64_t i = 0; cycled < n; i = (i + 1) % u)
      if (count[static_cast<size_t>(i)] < bm + 1) ++count[static_cast<size_t>(i)], ++cycled;
    for (int64_t i = u - 1; cycled > n; i = (i + u - 1) % u)
      if (count[static_cast<size_t>(i)] > bm - 1) --count[static_cast<size_t>(i)], --cycled;

    r_.tokens = n / k;
    allocate();
    std::vector<int32_t> order(static_cast<size_t>(u));
    for (int64_t i = 0; i < u; ++i) order[static_cast<size_t>(i)] = static_cast<int32_t>(i);
    shuffle(rng_, order.data(), u);
    std::vector<int32_t> token_of(static_cast<size_t>(r_.tokens));
    for (int64_t t = 0; t < r_.tokens; ++t)
      token_of[static_cast<size_t>(t)] = static_cast<int32_t>(t);
    shuffle(rng_, token_of.data(), r_.tokens);
    int64_t route = 0;
    for (const int32_t i : order) {
      for (int64_t c = 0; c < count[static_cast<size_t>(i)]; ++c, ++route) {
        const int64_t t = token_of[static_cast<size_t>(route % r_.tokens)];
        token(t)[route / r_.tokens] = experts[static_cast<size_t>(i)];
      }
    }
    for (int64_t t = 0; t < r_.tokens; ++t) shuffle(rng_, token(t), k);
  }

  // The ids are exactly `uniform`'s for the same seed (drawn first, from the same stream); then a
  // seeded subset of `param` experts is local, numbered 0..L-1 in ascending global id (one rank's
  // share under an arbitrary placement, contiguous or not), the others map to -1.
  void ep() {
    const int64_t local = int_param(1, r_.experts, "number of local experts");
    distinct_top_k();
    uniform();
    const std::vector<int32_t> mine = subset(local);
    r_.expert_map.assign(static_cast<size_t>(r_.experts), -1);
    for (const int32_t e : mine) r_.expert_map[static_cast<size_t>(e)] = 0;
    int32_t next = 0;
    for (auto& m : r_.expert_map)
      if (m == 0) m = next++;
  }

  // top_k - 1 distinct experts, one of them (chosen at random) taking the last slot too, then the
  // slots shuffled: exactly one expert appears twice in each token.
  void repeated() {
    if (r_.top_k < 2)
      fail("top_k = " + std::to_string(r_.top_k) + " must be >= 2 to repeat an expert");
    distinct_top_k(r_.experts + 1, "experts + 1 (one expert repeats)");
    DistinctPicker picker(r_.experts);
    for (int64_t t = 0; t < r_.tokens; ++t) {
      int32_t* out = token(t);
      picker.pick(rng_, r_.top_k - 1, out);
      out[r_.top_k - 1] = out[rng_.below32(r_.top_k - 1)];
      shuffle(rng_, out, r_.top_k);
    }
  }

  // `uniform`, then one seeded route set to E.
  void out_of_range() {
    uniform();
    r_.ids[static_cast<size_t>(rng_.below(static_cast<uint64_t>(r_.numel())))] =
        static_cast<int32_t>(r_.experts);
  }

  const RoutingSpec& spec_;
  Rng rng_;
  int64_t block_m_;
  Routing r_;
};

}  // namespace

int64_t Routing::local_experts() const {
  if (expert_map.empty()) return experts;
  return std::count_if(expert_map.begin(), expert_map.end(), [](int32_t m) { return m >= 0; });
}

void validate(const Routing& r) {
  const auto s = [](int64_t v) { return std::to_string(v); };
  if (r.experts < 1 || r.experts > kInt32Max)
    throw InputError("routing: experts = " + s(r.experts) + " must be in [1, 2^31)");
  if (r.top_k < 1) throw InputError("routing: top_k = " + s(r.top_k) + " must be >= 1");
  if (r.tokens < 0) throw InputError("routing: tokens = " + s(r.tokens) + " must be >= 0");
  if (r.tokens > std::numeric_limits<int64_t>::max() / r.top_k)
    throw InputError("routing: tokens * top_k overflows (tokens = " + s(r.tokens) + ")");
  const auto n = static_cast<size_t>(r.numel());
  if (r.ids.size() != n)
    throw InputError("routing: topk_ids has " + s(static_cast<int64_t>(r.ids.size())) +
                     " entries, expected tokens * top_k = " + s(r.numel()));
  if (r.weights.size() != n)
    throw InputError("routing: topk_weights has " + s(static_cast<int64_t>(r.weights.size())) +
                     " entries, expected tokens * top_k = " + s(r.numel()));
  for (size_t i = 0; i < n; ++i) {
    if (r.ids[i] >= 0 && r.ids[i] < r.experts) continue;
    const auto t = static_cast<int64_t>(i) / r.top_k, j = static_cast<int64_t>(i) % r.top_k;
    throw InputError("routing: topk_ids[t=" + s(t) + "][j=" + s(j) + "] = " + s(r.ids[i]) +
                     " is outside [0, E=" + s(r.experts) + ")");
  }
  if (r.expert_map.empty()) return;
  if (static_cast<int64_t>(r.expert_map.size()) != r.experts)
    throw InputError("routing: expert_map has " + s(static_cast<int64_t>(r.expert_map.size())) +
                     " entries, expected experts = " + s(r.experts));
  // The local ids must be exactly 0..L-1, each once: a local expert owns one weight slice.
  const int64_t local = r.local_experts();
  std::vector<int32_t> owner(static_cast<size_t>(local), -1);
  for (int32_t e = 0; e < r.experts; ++e) {
    const int32_t m = r.expert_map[static_cast<size_t>(e)];
    if (m < -1 || m >= local)
      throw InputError("routing: expert_map[" + s(e) + "] = " + s(m) + " is outside [-1, " +
                       s(local) + ") (" + s(local) + " local experts)");
    if (m < 0) continue;
    if (owner[static_cast<size_t>(m)] >= 0)
      throw InputError("routing: expert_map maps experts " + s(owner[static_cast<size_t>(m)]) +
                       " and " + s(e) + " to the same local id " + s(m));
    owner[static_cast<size_t>(m)] = e;
  }
}

const char* to_string(RoutingKind k) {
  switch (k) {
    case RoutingKind::uniform:
      return "uniform";
    case RoutingKind::zipf:
      return "zipf";
    case RoutingKind::hot:
      return "hot";
    case RoutingKind::empty:
      return "empty";
    case RoutingKind::single:
      return "single";
    case RoutingKind::block_edge:
      return "block_edge";
    case RoutingKind::ep:
      return "ep";
    case RoutingKind::repeated:
      return "repeated";
    case RoutingKind::out_of_range:
      return "out_of_range";
  }
  return "unknown";
}

RoutingKind parse_routing_kind(const std::string& s) {
  static const RoutingKind all[] = {
      RoutingKind::uniform, RoutingKind::zipf,     RoutingKind::hot,
      RoutingKind::empty,   RoutingKind::single,   RoutingKind::block_edge,
      RoutingKind::ep,      RoutingKind::repeated, RoutingKind::out_of_range};
  std::string names;
  for (const RoutingKind k : all) {
    if (s == to_string(k)) return k;
    names += names.empty() ? "" : ", ";
    names += to_string(k);
  }
  throw std::invalid_argument("unknown routing kind '" + s + "' (expected one of " + names + ")");
}

std::string RoutingSpec::name() const {
  std::string n = to_string(kind);
  if (param != 0) n += param_token(param);
  return n + "_s" + std::to_string(seed);
}

Routing generate_routing(const RoutingSpec& spec, int64_t tokens, int64_t top_k, int64_t experts,
                         int64_t block_m) {
  return Generator(spec, tokens, top_k, experts, block_m).run();
}

RoutingHistogram histogram(const Routing& r, int64_t block_m) {
  if (block_m < 1)
    throw InputError("histogram: block_m = " + std::to_string(block_m) + " must be >= 1");
  validate(r);
  RoutingHistogram h;
  h.routes.assign(static_cast<size_t>(r.experts), 0);
  for (const int32_t e : r.ids) ++h.routes[static_cast<size_t>(e)];
  h.padded.resize(h.routes.size());
  for (size_t e = 0; e < h.routes.size(); ++e) {
    const int64_t c = h.routes[e];
    h.padded[e] = (c + block_m - 1) / block_m * block_m - c;
    h.used_experts += c > 0;
  }
  return h;
}

}  // namespace moecheck
