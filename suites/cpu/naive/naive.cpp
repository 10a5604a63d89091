// The naive side's alignment and layer (DESIGN.md sections 3 and 4): the contract's sentences
// turned into loops, with no blocking, no gathering and no shared helper with the reference.
#include "naive.hpp"

#include <cmath>
#include <limits>
#include <string>

#include "moecheck/reference/error.hpp"

namespace moecheck::naive {

namespace {

std::string str(int64_t v) {
  return std::to_string(v);
}

void check_routing(const Routing& r, const char* what) {
  if (r.tokens < 0 || r.top_k < 1 || r.experts < 1) {
    throw InputError(std::string(what) + ": routing needs T >= 0, top_k >= 1 and E >= 1");
  }
  if (r.ids.size() != static_cast<size_t>(r.numel()) ||
      r.weights.size() != static_cast<size_t>(r.numel())) {
    throw InputError(std::string(what) + ": topk_ids and topk_weights must hold T * top_k = " +
                     str(r.numel()) + " entries");
  }
  for (int64_t i = 0; i < r.numel(); ++i) {
    if (r.ids[i] < 0 || r.ids[i] >= r.experts) {
      throw InputError(std::string(what) + ": topk_ids[" + str(i) + "] = " + str(r.ids[i]) +
                       " lies outside [0, E) with E = " + str(r.experts));
    }
  }
  if (!r.expert_map.empty() && r.expert_map.size() != static_cast<size_t>(r.experts)) {
    throw InputError(std::string(what) + ": expert_map must have E = " + str(r.experts) +
                     " entries");
  }
  for (size_t e = 0; e < r.expert_map.size(); ++e) {
    if (r.expert_map[e] < -1) {
      throw InputError(std::string(what) + ": expert_map[" + str(static_cast<int64_t>(e)) +
                       "] = " + str(r.expert_map[e]) + " is neither a local id nor -1");
    }
  }
}

Activations blank(DType dtype, int64_t rows, int64_t k) {
  Activations a;
  a.dtype = dtype;
  a.rows = rows;
  a.k = k;
  a.lda = k;
  a.bits.assign(static_cast<size_t>(rows * k), 0);
  return a;
}

}  // namespace

Alignment align(const Routing& r, int64_t block_m) {
  if (block_m < 1) throw InputError("naive align: block_m = " + str(block_m) + " must be >= 1");
  check_routing(r, "naive align");
  const int64_t numel = r.numel();
  int64_t length = numel + r.experts * (block_m - 1);
  length = (length + block_m - 1) / block_m * block_m;
  if (length > std::numeric_limits<int32_t>::max()) {
    throw InputError("naive align: " + str(length) + " slots exceed int32 ids");
  }

  Alignment al;
  al.block_m = block_m;
  al.sorted_token_ids.assign(static_cast<size_t>(length), static_cast<int32_t>(numel));
  al.expert_ids.assign(static_cast<size_t>(length / block_m), -1);
  int64_t slot = 0;
  for (int32_t e = 0; e < r.experts; ++e) {
    // This expert's routes, in ascending flat id, from a plain scan (O(E * numel) on purpose:
    // the most literal reading of "its routes occupy consecutive slots").
    int64_t count = 0;
    for (int64_t i = 0; i < numel; ++i) {
      if (r.ids[i] == e) al.sorted_token_ids[slot + count++] = static_cast<int32_t>(i);
    }
    const int64_t padded = (count + block_m - 1) / block_m * block_m;
    const int32_t label = r.expert_map.empty() ? e : r.expert_map[e];
    for (int64_t b = slot / block_m; b < (slot + padded) / block_m; ++b) al.expert_ids[b] = label;
    slot += padded;  // the padding slots keep the sentinel
  }
  al.num_tokens_post_padded = static_cast<int32_t>(slot);
  return al;
}

RouteSet walk(const Alignment& al, int64_t numel, int64_t experts) {
  if (al.block_m < 1) throw InputError("naive walk: block_m must be >= 1");
  const int64_t blocks = al.num_tokens_post_padded / al.block_m;
  if (al.num_tokens_post_padded < 0 ||
      static_cast<size_t>(al.num_tokens_post_padded) > al.sorted_token_ids.size() ||
      static_cast<size_t>(blocks) > al.expert_ids.size()) {
    throw InputError("naive walk: num_tokens_post_padded = " + str(al.num_tokens_post_padded) +
                     " exceeds sorted_token_ids or expert_ids");
  }
  RouteSet rs;
  rs.expert.assign(static_cast<size_t>(numel), -1);
  for (int64_t b = 0; b < blocks; ++b) {
    const int32_t e = al.expert_ids[b];
    if (e < 0) continue;  // padding past the end, or a non-local expert
    if (e >= experts) {
      throw InputError("naive walk: block " + str(b) + " names expert " + str(e) +
                       " but the weights hold " + str(experts));
    }
    for (int64_t s = b * al.block_m; s < (b + 1) * al.block_m; ++s) {
      const int32_t id = al.sorted_token_ids[s];
      if (id >= numel) continue;  // the sentinel
      if (id < 0) throw InputError("naive walk: slot " + str(s) + " holds id " + str(id));
      if (rs.expert[id] >= 0) {
        throw InputError("naive walk: route " + str(id) + " sits in two slots");
      }
      rs.expert[id] = e;
    }
  }
  return rs;
}

Result gemm(const Activations& a, int64_t route_div, const PackedWeights& w, const Routing& r,
            const Alignment& al, bool mul_routed_weight, const std::vector<int64_t>& only_rows) {
  validate(w);
  check_routing(r, "naive gemm");
  const WeightShape& s = w.shape;
  const int64_t numel = r.numel();
  if (a.k != s.k || a.lda < a.k || a.bits.size() < static_cast<size_t>(a.rows * a.lda)) {
    throw InputError("naive gemm: activations [" + str(a.rows) + ", " + str(a.k) + "] lda " +
                     str(a.lda) + " do not fit weights with K = " + str(s.k));
  }
  if (route_div < 1 || a.rows * route_div < numel) {
    throw InputError("naive gemm: " + str(a.rows) + " activation rows cannot feed " + str(numel) +
                     " routes with route_div " + str(route_div));
  }
  const RouteSet routes = walk(al, numel, s.experts);

  Result out;
  out.rows = numel;
  out.cols = s.n;
  out.value.assign(static_cast<size_t>(numel * s.n), 0.0L);
  out.magnitude.assign(static_cast<size_t>(numel * s.n), 0.0L);
  out.written.assign(static_cast<size_t>(numel), 0);
  for (int64_t i = 0; i < numel; ++i) out.written[i] = routes.computed(i);

  std::vector<int64_t> rows = only_rows;
  if (rows.empty()) {
    for (int64_t i = 0; i < numel; ++i) rows.push_back(i);
  }
  std::vector<long double> x(static_cast<size_t>(s.k));
  for (const int64_t id : rows) {
    if (id < 0 || id >= numel) throw InputError("naive gemm: sampled row " + str(id));
    if (!routes.computed(id)) continue;
    const int64_t e = routes.expert[id];
    for (int64_t k = 0; k < s.k; ++k) x[k] = activation(a, id / route_div, k);
    const long double rw = mul_routed_weight ? static_cast<long double>(r.weights[id]) : 1.0L;
    for (int64_t n = 0; n < s.n; ++n) {
      long double acc = 0, mag = 0;
      for (int64_t g = 0; g < s.k / s.group; ++g) {
        const long double sc = scale(w, e, n, g);
        const int z = zero_point(w, e, n, g);
        for (int64_t k = g * s.group; k < (g + 1) * s.group; ++k) {
          const long double p = x[k] * ((nibble(w, e, n, k) - z) * sc);
          acc += p;
          mag += std::fabs(p);
        }
      }
      out.value[id * s.n + n] = acc * rw;
      out.magnitude[id * s.n + n] = mag * std::fabs(rw);
    }
  }
  return out;
}

long double silu(long double x) {
  return x / (1.0L + std::exp(-x));
}

Result silu_and_mul(const Result& x) {
  if (x.cols % 2 != 0) {
    throw InputError("naive silu_and_mul: " + str(x.cols) + " columns is not 2 * I");
  }
  const int64_t inter = x.cols / 2;
  Result out;
  out.rows = x.rows;
  out.cols = inter;
  out.value.assign(static_cast<size_t>(x.rows * inter), 0.0L);
  out.magnitude.assign(static_cast<size_t>(x.rows * inter), 0.0L);
  out.written = x.written;
  for (int64_t i = 0; i < x.rows; ++i) {
    if (!x.written[i]) continue;
    for (int64_t c = 0; c < inter; ++c) {
      const long double v = silu(x.at(i, c)) * x.at(i, inter + c);
      out.value[i * inter + c] = v;
      out.magnitude[i * inter + c] = std::fabs(v);
    }
  }
  return out;
}

Result moe_sum(const Result& x, int64_t top_k) {
  if (top_k < 1 || x.rows % top_k != 0) {
    throw InputError("naive moe_sum: " + str(x.rows) +
                     " rows is not T * top_k, top_k = " + str(top_k));
  }
  Result out;
  out.rows = x.rows / top_k;
  out.cols = x.cols;
  out.value.assign(static_cast<size_t>(out.rows * x.cols), 0.0L);
  out.magnitude.assign(static_cast<size_t>(out.rows * x.cols), 0.0L);
  out.written.assign(static_cast<size_t>(out.rows), 1);
  for (int64_t t = 0; t < out.rows; ++t) {
    for (int64_t j = 0; j < top_k; ++j) {
      const int64_t i = t * top_k + j;
      if (!x.written[i]) continue;  // a non-local route contributes nothing
      for (int64_t c = 0; c < x.cols; ++c) {
        out.value[t * x.cols + c] += x.at(i, c);
        out.magnitude[t * x.cols + c] += std::fabs(x.at(i, c));
      }
    }
  }
  return out;
}

Activations apply_router_weight_on_input(const Activations& a, const Routing& r) {
  check_routing(r, "naive apply_router_weight_on_input");
  if (a.rows != r.tokens) {
    throw InputError("naive apply_router_weight_on_input: " + str(a.rows) +
                     " activation rows for " + str(r.tokens) + " tokens");
  }
  Activations out = blank(a.dtype, r.numel(), a.k);
  for (int64_t i = 0; i < r.numel(); ++i) {
    for (int64_t k = 0; k < a.k; ++k) {
      // bf16/fp16 times fp32 is exact in long double; one rounding to the dtype.
      out.bits[i * a.k + k] = round_to_bits(
          activation(a, i / r.top_k, k) * static_cast<long double>(r.weights[i]), a.dtype);
    }
  }
  return out;
}

Activations round_rows(const Result& x, DType dtype) {
  Activations out = blank(dtype, x.rows, x.cols);
  for (int64_t i = 0; i < x.rows; ++i) {
    if (!x.written[i]) continue;
    for (int64_t c = 0; c < x.cols; ++c)
      out.bits[i * x.cols + c] = round_to_bits(x.at(i, c), dtype);
  }
  return out;
}

}  // namespace moecheck::naive
