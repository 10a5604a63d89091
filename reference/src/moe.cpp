#include "moecheck/reference/moe.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <string>

#include "moecheck/reference/error.hpp"
#include "moecheck/reference/parallel.hpp"

namespace moecheck {

namespace {

using ColMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;

// Columns n0 .. n0 + cols - 1 of W[e]^T as a K x cols column-major panel: column j is row
// n0 + j of W, contiguous in k like q, so the loop walks both in order; (q - z) * s is exact in
// double.
void dequant_columns(const QuantWeights& w, int64_t e, int64_t n0, int64_t cols, ColMatrix& out) {
  const auto& s = w.shape;
  out.resize(s.k, cols);
  for (int64_t j = 0; j < cols; ++j) {
    double* col = out.data() + j * s.k;
    const uint8_t* q = &w.q[w.q_index(e, n0 + j, 0)];
    for (int64_t g = 0; g < s.groups(); ++g) {
      const double scale = bits_to_float(w.scale[w.g_index(e, n0 + j, g)], w.dtype);
      const int zero = w.zero[w.g_index(e, n0 + j, g)];
      for (int64_t k = g * s.group; k < (g + 1) * s.group; ++k) {
        col[k] = (static_cast<int>(q[k]) - zero) * scale;
      }
    }
  }
}

// Route ids per (local) expert, in slot order, from the valid blocks of an alignment.
std::vector<std::vector<int32_t>> routes_per_expert(const Routing& r, const Alignment& al,
                                                    int64_t experts) {
  std::vector<std::vector<int32_t>> out(experts);
  const int64_t numel = r.numel();
  if (al.block_m < 1) throw InputError("alignment: block_m must be >= 1");
  if (al.num_tokens_post_padded < 0 ||
      static_cast<size_t>(al.num_tokens_post_padded) > al.sorted_token_ids.size() ||
      static_cast<size_t>(al.num_blocks()) > al.expert_ids.size()) {
    throw InputError("alignment: num_tokens_post_padded " +
                     std::to_string(al.num_tokens_post_padded) + " exceeds its buffers");
  }
  for (int64_t b = 0; b < al.num_blocks(); ++b) {
    const int32_t e = al.expert_ids[b];
    if (e < 0) continue;
    if (e >= experts) {
      throw InputError("alignment: block " + std::to_string(b) + " names expert " +
                       std::to_string(e) + " but the weights hold " + std::to_string(experts));
    }
    for (int64_t slot = b * al.block_m; slot < (b + 1) * al.block_m; ++slot) {
      const int32_t id = al.sorted_token_ids[slot];
      if (id >= 0 && id < numel) out[e].push_back(id);
    }
  }
  return out;
}

}  // namespace

std::vector<uint8_t> computed_routes(const Routing& r, const Alignment& al) {
  std::vector<uint8_t> out(r.numel(), 0);
  for (const auto& ids : routes_per_expert(r, al, r.local_experts())) {
    for (int32_t id : ids) out[id] = 1;
  }
  return out;
}

namespace {

// A job is one expert's rows over a slice of up to kSliceCols output columns, so that a layer
// with fewer experts than threads (Mixtral: 8) still keeps every thread busy. Within it the
// weights are dequantised a panel at a time, about kPanelDoubles doubles (K x cols: 2 MB, and as
// much again for their absolute values, cache resident), each used at once by the value and
// magnitude GEMMs (and the input-error one): the whole expert as doubles would be written to and
// read back from memory (940 MB for a Mixtral gemm1 expert).
constexpr int64_t kSliceCols = 512;
constexpr int64_t kPanelDoubles = int64_t{1} << 18;

struct ExpertJob {
  const Activations& a;
  int64_t a_route_div;
  const QuantWeights& w;
  const Routing& r;
  const GemmOptions& opt;
  const std::vector<double>* a_extra;
  RefOutput& out;
};

// One worker's matrices, reused from job to job: fresh allocations per job cost more in page
// faults than the GEMMs themselves.
struct Workspace {
  ColMatrix x, xabs, xe, value, magnitude, extra, wd, wabs;
};

// Rows `ids` of expert e, columns n0 .. n1 - 1: value, magnitude and propagated input error,
// scattered by flat id (routed_gemm marks the rows written).
void expert_columns(const ExpertJob& job, int64_t e, const std::vector<int32_t>& ids, int64_t n0,
                    int64_t n1, Workspace& ws) {
  const WeightShape& s = job.w.shape;
  const int64_t m = static_cast<int64_t>(ids.size()), cols = n1 - n0;
  ws.x.resize(m, s.k);
  for (int64_t i = 0; i < m; ++i) {
    const int64_t row = ids[i] / job.a_route_div;
    for (int64_t k = 0; k < s.k; ++k) ws.x(i, k) = job.a.at(row, k);
  }
  if (job.a_extra) {
    ws.xe.resize(m, s.k);
    for (int64_t i = 0; i < m; ++i) {
      const int64_t row = ids[i] / job.a_route_div;
      for (int64_t k = 0; k < s.k; ++k) ws.xe(i, k) = (*job.a_extra)[row * job.a.k + k];
    }
  }
  ws.xabs = ws.x.cwiseAbs();
  ws.value.resize(m, cols);
  ws.magnitude.resize(m, cols);
  if (job.a_extra) ws.extra.resize(m, cols);
  const int64_t panel = std::max<int64_t>(8, kPanelDoubles / s.k);
  for (int64_t p0 = 0; p0 < cols; p0 += panel) {
    const int64_t pc = std::min(panel, cols - p0);
    dequant_columns(job.w, e, n0 + p0, pc, ws.wd);
    ws.wabs = ws.wd.cwiseAbs();
    ws.value.middleCols(p0, pc).noalias() = ws.x * ws.wd;
    ws.magnitude.middleCols(p0, pc).noalias() = ws.xabs * ws.wabs;
    if (job.a_extra) ws.extra.middleCols(p0, pc).noalias() = ws.xe * ws.wabs;
  }
  for (int64_t i = 0; i < m; ++i) {
    const int64_t id = ids[i];
    const double rw = job.opt.mul_routed_weight ? job.r.weights[id] : 1.0;
    for (int64_t j = 0; j < cols; ++j) {
      job.out.value[id * s.n + n0 + j] = ws.value(i, j) * rw;
      job.out.magnitude[id * s.n + n0 + j] = ws.magnitude(i, j) * std::fabs(rw);
      if (job.a_extra) job.out.bound_extra[id * s.n + n0 + j] = ws.extra(i, j) * std::fabs(rw);
    }
  }
}

}  // namespace

RefOutput routed_gemm(const Activations& a, int64_t a_route_div, const QuantWeights& w,
                      const Routing& r, const Alignment& al, const GemmOptions& opt,
                      const std::vector<double>* a_extra) {
  const WeightShape& s = w.shape;
  validate(s, "weights");
  if (a.k != s.k) {
    throw InputError("activations: K=" + std::to_string(a.k) +
                     " but the weights have K=" + std::to_string(s.k));
  }
  if (a_route_div < 1 || a.rows * a_route_div < r.numel()) {
    throw InputError("activations: " + std::to_string(a.rows) + " rows cannot feed " +
                     std::to_string(r.numel()) + " routes");
  }
  if (a_extra && a_extra->size() != static_cast<size_t>(a.rows * a.k)) {
    throw InputError("activations: input error bound has the wrong size");
  }
  const int64_t numel = r.numel();
  RefOutput out;
  out.rows = numel;
  out.cols = s.n;
  out.k = s.k;
  out.value.assign(numel * s.n, 0.0);
  out.magnitude.assign(numel * s.n, 0.0);
  out.bound_extra.assign(numel * s.n, 0.0);
  out.written.assign(numel, 0);

  const auto groups = routes_per_expert(r, al, s.experts);
  struct Slice {
    int64_t expert, n0, n1;
  };
  std::vector<Slice> slices;
  for (int64_t e = 0; e < s.experts; ++e) {
    if (groups[e].empty()) continue;
    for (int64_t n0 = 0; n0 < s.n; n0 += kSliceCols) {
      slices.push_back({e, n0, std::min(s.n, n0 + kSliceCols)});
    }
  }
  // Slices write disjoint (row, column) ranges: a valid alignment lists each route once.
  const ExpertJob job{a, a_route_div, w, r, opt, a_extra, out};
  const int64_t jobs = static_cast<int64_t>(slices.size());
  const int workers = parallel_workers(jobs);
  std::vector<Workspace> spaces(workers);
  parallel_for(jobs, workers, [&](int64_t i, int worker) {
    const Slice& sl = slices[i];
    expert_columns(job, sl.expert, groups[sl.expert], sl.n0, sl.n1, spaces[worker]);
  });
  for (const auto& ids : groups) {
    for (int32_t id : ids) out.written[id] = 1;
  }
  return out;
}

namespace {

double silu(double x) {
  return x / (1.0 + std::exp(-x));
}
// sup |d silu / dx| over the reals is about 1.0998.
constexpr double kSiluSlope = 1.1;

}  // namespace

RefOutput silu_and_mul(const RefOutput& x, const std::vector<double>& x_bound) {
  if (x.cols % 2 != 0) {
    throw InputError("silu_and_mul: input has " + std::to_string(x.cols) + " columns, not 2*I");
  }
  if (x_bound.size() != x.value.size()) throw InputError("silu_and_mul: bound has the wrong size");
  const int64_t inter = x.cols / 2;
  RefOutput out;
  out.rows = x.rows;
  out.cols = inter;
  // exp, add, divide and multiply in fp32, each a few ulps with a fast exp: 16 u is generous.
  out.k = 16;
  out.weight_rounding = false;
  out.value.assign(x.rows * inter, 0.0);
  out.magnitude.assign(x.rows * inter, 0.0);
  out.bound_extra.assign(x.rows * inter, 0.0);
  out.written = x.written;
  for (int64_t i = 0; i < x.rows; ++i) {
    if (!x.written[i]) continue;
    for (int64_t c = 0; c < inter; ++c) {
      const double g = x.value[i * x.cols + c];
      const double u = x.value[i * x.cols + inter + c];
      const double dg = x_bound[i * x.cols + c];
      const double du = x_bound[i * x.cols + inter + c];
      const double v = silu(g) * u;
      out.value[i * inter + c] = v;
      out.magnitude[i * inter + c] = std::fabs(v);
      // First-order propagation with the slope bounded over the whole interval, so it is a bound
      // (not an estimate) for any input error up to dg, du.
      out.bound_extra[i * inter + c] =
          kSiluSlope * dg * (std::fabs(u) + du) + (std::fabs(silu(g)) + kSiluSlope * dg) * du;
    }
  }
  return out;
}

RefOutput moe_sum(const RefOutput& x, int64_t top_k, const std::vector<double>& x_bound) {
  if (top_k < 1 || x.rows % top_k != 0) {
    throw InputError("moe_sum: " + std::to_string(x.rows) +
                     " rows is not T * top_k for top_k=" + std::to_string(top_k));
  }
  if (x_bound.size() != x.value.size()) throw InputError("moe_sum: bound has the wrong size");
  const int64_t tokens = x.rows / top_k;
  RefOutput out;
  out.rows = tokens;
  out.cols = x.cols;
  out.k = top_k;
  out.weight_rounding = false;
  out.value.assign(tokens * x.cols, 0.0);
  out.magnitude.assign(tokens * x.cols, 0.0);
  out.bound_extra.assign(tokens * x.cols, 0.0);
  out.written.assign(tokens, 1);
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t j = 0; j < top_k; ++j) {
      const int64_t i = t * top_k + j;
      if (!x.written[i]) continue;
      for (int64_t n = 0; n < x.cols; ++n) {
        out.value[t * x.cols + n] += x.value[i * x.cols + n];
        out.magnitude[t * x.cols + n] += std::fabs(x.value[i * x.cols + n]);
        out.bound_extra[t * x.cols + n] += x_bound[i * x.cols + n];
      }
    }
  }
  return out;
}

Activations apply_router_weight_on_input(const Activations& a, const Routing& r) {
  if (a.rows != r.tokens) {
    throw InputError("apply_router_weight_on_input: " + std::to_string(a.rows) +
                     " activation rows for " + std::to_string(r.tokens) + " tokens");
  }
  Activations out = Activations::zeros(a.dtype, r.numel(), a.k, a.k);
  for (int64_t i = 0; i < r.numel(); ++i) {
    for (int64_t k = 0; k < a.k; ++k) {
      out.bits[i * a.k + k] =
          double_to_bits(static_cast<double>(a.at(i / r.top_k, k)) * r.weights[i], a.dtype);
    }
  }
  return out;
}

RefOutput given_values(const Activations& x) {
  RefOutput r;
  r.rows = x.rows;
  r.cols = x.k;
  r.k = 1;
  r.weight_rounding = false;
  r.value.resize(x.rows * x.k);
  for (int64_t i = 0; i < x.rows; ++i) {
    for (int64_t k = 0; k < x.k; ++k) r.value[i * x.k + k] = x.at(i, k);
  }
  r.magnitude.assign(r.value.size(), 0.0);
  r.bound_extra.assign(r.value.size(), 0.0);
  r.written.assign(x.rows, 1);
  return r;
}

Activations to_activations(const RefOutput& x, DType dtype) {
  Activations out = Activations::zeros(dtype, x.rows, x.cols, x.cols);
  for (int64_t i = 0; i < x.rows * x.cols; ++i) out.bits[i] = double_to_bits(x.value[i], dtype);
  return out;
}

}  // namespace moecheck
