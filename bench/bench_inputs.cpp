#include "bench_inputs.hpp"

#include <algorithm>
#include <cstring>

#include "moecheck/hip_compat.h"

namespace moecheck::bench {

const QuantWeights& WeightBodies::get(const Case& c, int64_t n, int64_t k, uint64_t salt) {
  const Key key{c.seed, c.exact, c.symmetric, static_cast<int>(c.dtype), n, k, c.group, salt};
  auto it = bodies_.find(key);
  if (it != bodies_.end()) return *it->second;
  // Bound the host memory the cache holds (a body is N*K bytes of q plus scales and zeros).
  constexpr size_t kMaxBytes = size_t{4} << 30;
  if (bytes_ > kMaxBytes) {
    bodies_.clear();
    bytes_ = 0;
  }
  // make_weights for the first kBodyRows output rows; the rest repeat them (row r = row
  // r % kBodyRows: q, scales and zeros of the row alike).
  const int64_t rows = std::min(n, kBodyRows);
  QuantWeights first = make_weights(c, WeightShape{1, rows, k, c.group}, salt);
  auto body = std::make_shared<QuantWeights>(
      QuantWeights::zeros_like(WeightShape{1, n, k, c.group}, first.dtype, first.symmetric));
  const int64_t groups = k / c.group;
  for (int64_t r = 0; r < n; ++r) {
    const int64_t from = r % rows;
    std::copy_n(&first.q[from * k], k, &body->q[r * k]);
    std::copy_n(&first.scale[from * groups], groups, &body->scale[r * groups]);
    std::copy_n(&first.zero[from * groups], groups, &body->zero[r * groups]);
  }
  bytes_ += body->q.size() + 3 * body->scale.size();
  return *bodies_.emplace(key, std::move(body)).first->second;
}

DeviceWeights bench_weights(const Case& c, int64_t n, int64_t k, uint64_t salt,
                            const ExpertSubset& experts, WeightBodies& bodies,
                            const QuantWeights* exact) {
  if (exact != nullptr) return upload_weights(c, *exact, experts);
  const QuantWeights& body = bodies.get(c, n, k, salt);
  ExpertSubset one;
  one.local_experts = experts.local_experts;
  one.local_of_compact = {experts.local_of_compact.at(0)};
  DeviceWeights d = upload_weights(c, body, one);
  // The body sits in the first touched expert's slot; copy it into every other touched slot.
  const int64_t first = experts.local_of_compact[0];
  for (const GuardedBuffer* b : d.buffers()) {
    const size_t per_expert = b->bytes() / static_cast<size_t>(experts.local_experts);
    char* base = static_cast<char*>(b->data());
    for (int64_t i = 1; i < experts.count(); ++i) {
      const int64_t slot = experts.local_of_compact[i];
      check_runtime(hipMemcpy(base + slot * per_expert, base + first * per_expert, per_expert,
                              hipMemcpyDeviceToDevice),
                    ("replicate an expert of " + b->name()).c_str());
    }
  }
  return d;
}

Activations bench_activations(const Case& c, int64_t rows, int64_t k) {
  if (rows <= kActivationRows) return make_activations(c, rows, k);
  Activations a = make_activations(c, kActivationRows, k);
  const size_t row_elems = static_cast<size_t>(a.lda);
  a.bits.resize(static_cast<size_t>(rows) * row_elems);
  for (int64_t r = kActivationRows; r < rows; ++r) {
    std::memcpy(&a.bits[r * row_elems], &a.bits[(r % kActivationRows) * row_elems],
                row_elems * sizeof(uint16_t));
  }
  a.rows = rows;
  return a;
}

}  // namespace moecheck::bench
