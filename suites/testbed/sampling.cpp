#include "sampling.hpp"

#include <algorithm>
#include <random>
#include <string>

#include "moecheck/reference/error.hpp"

namespace moecheck {

std::vector<int64_t> sample_tokens(int64_t tokens, uint64_t seed, int64_t max_all, int64_t count) {
  std::vector<int64_t> out;
  if (tokens <= max_all || tokens <= count) {
    for (int64_t t = 0; t < tokens; ++t) out.push_back(t);
    return out;
  }
  std::vector<char> chosen(tokens, 0);
  chosen[0] = chosen[tokens - 1] = 1;
  std::mt19937_64 rng(seed * 0x2545f4914f6cdd1dull + 17);
  for (int64_t picked = 2; picked < count;) {
    const int64_t t = static_cast<int64_t>(rng() % static_cast<uint64_t>(tokens));
    if (!chosen[t]) {
      chosen[t] = 1;
      ++picked;
    }
  }
  for (int64_t t = 0; t < tokens; ++t) {
    if (chosen[t]) out.push_back(t);
  }
  return out;
}

Routing restrict_routing(const Routing& r, const std::vector<int64_t>& tokens) {
  Routing s = r;
  s.tokens = static_cast<int64_t>(tokens.size());
  s.ids.clear();
  s.weights.clear();
  for (int64_t t : tokens) {
    for (int64_t j = 0; j < r.top_k; ++j) {
      s.ids.push_back(r.ids[t * r.top_k + j]);
      s.weights.push_back(r.weights[t * r.top_k + j]);
    }
  }
  return s;
}

std::vector<int64_t> route_rows(const std::vector<int64_t>& tokens, int64_t top_k) {
  std::vector<int64_t> rows;
  for (int64_t t : tokens) {
    for (int64_t j = 0; j < top_k; ++j) rows.push_back(t * top_k + j);
  }
  return rows;
}

Activations restrict_rows(const Activations& a, const std::vector<int64_t>& rows) {
  Activations s = Activations::zeros(a.dtype, static_cast<int64_t>(rows.size()), a.k, a.lda);
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i] < 0 || rows[i] >= a.rows) {
      throw InputError("restrict_rows: row " + std::to_string(rows[i]) + " of " +
                       std::to_string(a.rows));
    }
    std::copy_n(a.bits.begin() + rows[i] * a.lda, a.lda, s.bits.begin() + i * a.lda);
  }
  return s;
}

}  // namespace moecheck
