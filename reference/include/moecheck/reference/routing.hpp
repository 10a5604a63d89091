// Routing: topk_ids [T, top_k] (int32) and topk_weights [T, top_k] (fp32) as a router emits them,
// plus the seeded generators of DESIGN.md section 3 and the per-expert histogram each case reports.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace moecheck {

struct Routing {
  int64_t tokens = 0;  // T
  int64_t top_k = 0;
  int64_t experts = 0;         // E (global)
  std::vector<int32_t> ids;    // [T * top_k], flat route id i = t * top_k + j
  std::vector<float> weights;  // [T * top_k]
  // Empty, or [E]: global id -> local id or -1 (expert parallelism). With a map, the layer's
  // expert weights hold only the local experts ([L, ...]) and the alignment's expert_ids carry
  // local ids (-1 for blocks of non-local experts).
  std::vector<int32_t> expert_map;
  int64_t local_experts() const;  // E without a map, else the number of local ids
  int64_t numel() const { return tokens * top_k; }
};

// Throws InputError (naming the token t, slot j, the id and E for a bad id) when an id lies outside
// [0, E), the sizes disagree (ids and weights must hold tokens * top_k entries, experts >= 1,
// top_k >= 1, tokens >= 0), or a non-empty expert_map is not of size E with its local ids being
// exactly 0..L-1 once each (other entries -1).
void validate(const Routing& r);

// The generators the catalog can name, "kind" or "kind:param" (param 0 when absent). Every kind
// but `single` and `repeated` gives each token distinct experts; the distinct kinds need
// top_k <= E. Weights: positive, normalised per token to sum 1 (up to float rounding), seeded.
enum class RoutingKind {
  uniform,      // distinct top-k experts per token, uniform; no param
  zipf,         // distinct, expert e drawn in proportion to (e + 1)^-s (expert 0 the most
                // popular), without replacement; param s in [0, 16]
  hot,          // each token is hot with probability p = param in [0, 1]: one route, in a random
                // slot, on expert 0, the rest distinct over 1..E-1; cold tokens avoid expert 0
                // (so p < 1 needs top_k <= E - 1)
  empty,        // only `param` experts (a seeded subset, param in [top_k, E]) get routes
  single,       // every route on expert `param` (in [0, E), default 0); top_k repeats it
  block_edge,   // param U used experts (0: all E; else a seeded subset, U >= top_k), each getting
                // block_m - 1, block_m or block_m + 1 routes (cycling by id); T is derived from
                // U, top_k and block_m (see routing.cpp), distinct top-k per token
  ep,           // the ids of `uniform` (same seed), plus an expert_map with `param` (in [1, E])
                // local experts: a seeded subset, local ids 0..L-1 in ascending global id
  repeated,     // each token: top_k - 1 distinct experts, one of them twice (top_k in [2, E + 1])
  out_of_range  // uniform with one seeded id set to E (negative case: validate() rejects it)
};

struct RoutingSpec {
  RoutingKind kind = RoutingKind::uniform;
  double param = 0;
  uint64_t seed = 1;
  // "<kind><param>_s<seed>", the param left out when 0 and written with '.' -> 'p', '-' -> 'm'
  // (e.g. "zipf1p2_s7", "ep4_s3", "uniform_s1"): stable, [A-Za-z0-9_] only, usable in a test
  // name; distinct specs give distinct names.
  std::string name() const;
};

// Exactly the enum's identifiers; throws std::invalid_argument listing them otherwise.
RoutingKind parse_routing_kind(const std::string& s);
const char* to_string(RoutingKind k);

// Deterministic: the same (spec, tokens, top_k, experts, block_m) gives the same routing on every
// platform (std::mt19937_64 with the library's own mappings, no std:: distributions; zipf's
// table uses std::pow, so a draw within an ulp of a table step could differ between libms).
// block_m is used only by block_edge, which also chooses T: T is then derived from E, top_k and
// block_m and the `tokens` argument is ignored, so pass what the case says.
// Throws InputError naming the parameter (experts, top_k, tokens, param, block_m) for a request
// that cannot be met. The result passes validate(), except for out_of_range.
Routing generate_routing(const RoutingSpec& spec, int64_t tokens, int64_t top_k, int64_t experts,
                         int64_t block_m);

// Per-expert histogram of a routing, aligned to block_m (DESIGN.md section 3: each case reports
// it). Counts global experts (the expert_map plays no part). Throws InputError as validate() does,
// or for block_m < 1.
struct RoutingHistogram {
  std::vector<int64_t> routes;  // [E] routes per expert
  std::vector<int64_t> padded;  // [E] padding slots per expert: ceil(c/bm)*bm - c
  int64_t used_experts = 0;
};
RoutingHistogram histogram(const Routing& r, int64_t block_m);

}  // namespace moecheck
