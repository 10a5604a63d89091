#include "speedup.hpp"

#include <cmath>
#include <map>

namespace moecheck::bench {
namespace {

struct Accumulator {
  SpeedupGroup g;
  double log_sum = 0;
  void add(const SpeedupSample& s) {
    if (g.rows == 0 || s.speedup < g.min) {
      g.min = s.speedup;
      g.min_row = s.row;
    }
    if (g.rows == 0 || s.speedup > g.max) {
      g.max = s.speedup;
      g.max_row = s.row;
    }
    ++g.rows;
    log_sum += std::log(s.speedup);
  }
  SpeedupGroup done() const {
    SpeedupGroup out = g;
    out.geomean = std::exp(log_sum / g.rows);
    return out;
  }
};

}  // namespace

std::vector<SpeedupGroup> summarise_speedups(const std::vector<SpeedupSample>& samples) {
  Accumulator all;
  all.g.name = "all";
  std::vector<Accumulator> groups;
  std::map<std::string, size_t> index;
  for (const SpeedupSample& s : samples) {
    if (!std::isfinite(s.speedup) || s.speedup <= 0) continue;
    all.add(s);
    auto [it, added] = index.emplace(s.group, groups.size());
    if (added) {
      groups.emplace_back();
      groups.back().g.name = s.group;
    }
    groups[it->second].add(s);
  }
  if (all.g.rows == 0) return {};
  std::vector<SpeedupGroup> out{all.done()};
  for (const Accumulator& a : groups) out.push_back(a.done());
  return out;
}

}  // namespace moecheck::bench
