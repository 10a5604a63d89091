// moecheck_bench: times the kernels of catalog cases on the device (issue 6, item 1).
//
//   moecheck_bench [--catalog DIR] [--filter REGEX] [--labels L1,L2] [--warmup N] [--iters N]
//                  [--max-stage-ms MS] [--l2-flush read|write|off] [--hot-l2]
//                  [--copy-mib N] [--no-vendor]
//                  [--suite-inputs] [--csv FILE] [--json FILE] [--list] [--impl LIB]
//                  [--against LIB] [--passes N]
//
// Cases are the suites' own (cases/**/*.yaml), selected like ctest selects them: --labels are
// the case's ctest labels, every one must match (ctest -L ... -L ...); --filter is a regex
// searched in "<suite>.<case name>" (the GoogleTest name). Only GPU cases that expect a pass
// are benchmarked:
//   gpu_kernel   the case's stage: gemm1 / gemm2 through its kernel family (tiled, fused), act
//                (silu_and_mul), sum (moe_sum)
//   gpu_e2e      the layer as a per-stage breakdown: align, gemm1, act, gemm2, sum (absent
//                with output_topk: the reduction is fused into gemm2), and `layer`, the whole
//                sequence timed as one
//   gpu_align    align (moe_align_block_size)
// Kernels are called only through kernel_api() (suites/gpu/kernel_api.hpp): the built-in
// kernels, or the library named by --impl / $MOECHECK_IMPL, exactly as the suites load it.
// Inputs are packed and uploaded as the suites do it (bench_inputs.hpp says what differs by
// default and why).
//
// Per case and stage it reports: the median device time of one launch (device_timing.hpp:
// events, warm-up, L2 flushed before every launch), TFLOP/s, the bytes that must move and
// GB/s (bytes_model.hpp), that bandwidth as a percentage of a device-to-device copy measured
// at the start of the same run, and for GEMM stages the percentage of the vendor's dense GEMM
// of the same FLOPs (vendor_gemm.hpp: cuBLAS, or hipBLAS where present), also measured in the
// same run, its launches alternating with the stage's own (Timer::time_together: the two see the
// same clocks and temperature): %vendor = vendor time / kernel time * 100. The launch floor
// (device_timing.hpp LaunchFloor), also measured in the run, bounds what a short kernel can show:
// the CSV's pct_copy_bw_ceiling is the %copyBW of a kernel that took the floor plus its bytes at
// copy bandwidth (a decode step of a few MiB cannot reach more, however fast its loop). The matrix
// atom's peak (device_timing.hpp AtomPeak), also measured in the run, bounds the GEMMs from the
// other side: pct_atom_peak is a stage's TFLOP/s over what the kernels' own atom computes from
// registers alone (a prefill GEMM built on it cannot reach more).
//
// --against LIB compares two implementations in one run: every gpu_kernel stage (gemm1, gemm2,
// act, sum) is also timed through LIB, on the same inputs and buffers, the two implementations'
// launches alternating (A, B, A, B, ..., and the vendor GEMM's where it runs, so that clock and
// temperature drift reach both alike) over --passes passes (3 by default with --against), each
// side keeping its fastest pass. The rows gain against_us and speedup (against_us over time_us:
// above 1, the implementation under test is the faster), and a summary follows the table: the
// geometric mean speedup in all and per kernel and stage, with the slowest and fastest row
// (speedup.hpp). gpu_e2e and gpu_align rows are not compared (their alignment runs through the
// implementation under test) and say so. The same library twice gives the same kernels (the
// loader shares it): an A/A run shows the noise.
//
// Exit status: 0 every selected case ran (a stage the implementation does not support is
// reported as not_supported, not an error); 1 a case failed (error, broken guard band, device
// fault); 2 bad usage, catalog error, no case selected, or an implementation that does not
// load; 3 no usable device.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "bench_inputs.hpp"
#include "bytes_model.hpp"
#include "catalog.hpp"
#include "device.hpp"
#include "device_timing.hpp"
#include "gpu_testbed.hpp"
#include "kernel_api.hpp"
#include "moecheck/hip_compat.h"
#include "moecheck/reference/moe.hpp"
#include "options.hpp"
#include "report.hpp"
#include "vendor_gemm.hpp"

#ifndef MOECHECK_DEFAULT_CATALOG
#define MOECHECK_DEFAULT_CATALOG "cases"
#endif

namespace moecheck::bench {
namespace {

constexpr int kExitOk = 0, kExitFailed = 1, kExitUsage = 2, kExitNoDevice = 3;

}  // namespace

namespace {

struct Options {
  std::string catalog, filter, csv, json, impl, against;
  int passes = 0;                 // 0: 3 with --against, else 1
  std::string l2_flush = "read";  // read, write or off (TimingOptions::flush)
  std::vector<std::string> labels;
  TimingOptions timing;
  bool hot_l2 = false, list = false, suite_inputs = false, no_vendor = false;
  int copy_mib = 1024;
};

bool bench_suite(const std::string& s) {
  return s == "gpu_kernel" || s == "gpu_e2e" || s == "gpu_align";
}

std::string test_name(const Case& c) {
  return c.suite + "." + c.name();
}

// Throws std::regex_error for a bad --filter.
std::vector<const Case*> select_cases(const Catalog& cat, const Options& o) {
  const std::regex re(o.filter.empty() ? std::string(".") : o.filter);
  std::vector<const Case*> out;
  for (const Case& c : cat.cases) {
    if (!bench_suite(c.suite) || c.expect != "pass") continue;
    const std::set<std::string> labels = c.labels(true);
    const bool all = std::all_of(o.labels.begin(), o.labels.end(),
                                 [&](const std::string& l) { return labels.count(l) > 0; });
    if (all && std::regex_search(test_name(c), re)) out.push_back(&c);
  }
  return out;
}

// ---- the routes a routing computes ----------------------------------------------------------

struct RouteStats {
  int64_t routes = 0;              // computed routes
  int64_t tokens_with_routes = 0;  // tokens with at least one computed route
  int64_t touched = 0;             // distinct local experts of the computed routes
  int64_t padded = 0, blocks = 0;  // num_tokens_post_padded and its blocks
};

RouteStats route_stats(const Routing& r, const Alignment& al) {
  RouteStats s;
  const std::vector<uint8_t> computed = computed_routes(r, al);
  std::set<int32_t> experts;
  for (int64_t t = 0; t < r.tokens; ++t) {
    bool any = false;
    for (int64_t j = 0; j < r.top_k; ++j) {
      const int64_t i = t * r.top_k + j;
      if (!computed[i]) continue;
      any = true;
      ++s.routes;
      const int32_t g = r.ids[i];
      experts.insert(r.expert_map.empty() ? g : r.expert_map[g]);
    }
    s.tokens_with_routes += any;
  }
  s.touched = static_cast<int64_t>(experts.size());
  s.padded = al.num_tokens_post_padded;
  s.blocks = al.num_blocks();
  return s;
}

// ---- what a case run needs -------------------------------------------------------------------

struct Context {
  Timer* timer = nullptr;
  const KernelApi* against = nullptr;  // --against, or nullptr
  int passes = 1;
  hipStream_t stream = nullptr;
  VendorGemm* vendor = nullptr;
  std::string vendor_why;
  WeightBodies bodies;
  bool suite_inputs = false;
  bool no_vendor = false;
};

Row case_row(const Case& c, const std::string& stage) {
  Row r;
  r.test = test_name(c);
  r.suite = c.suite;
  r.kernel = c.kernel;
  r.stage = stage;
  r.model = c.model;
  r.dtype = to_string(c.dtype);
  r.experts = c.experts;
  r.top_k = c.top_k;
  r.hidden = c.hidden;
  r.inter = c.inter;
  r.tokens = c.tokens;
  r.group = c.group;
  r.block_m = c.block_m;
  r.status = "pending";
  return r;
}

void set_gemm_work(Row& r, const GemmWork& w) {
  r.routes = w.routes;
  r.touched_experts = w.touched_experts;
  r.m = w.routes;
  r.n = w.n;
  r.k = w.k;
  r.flops = gemm_flops(w);
  r.bytes = gemm_bytes(w);
}

GemmWork gemm_work(const Case& c, int64_t n, int64_t k, const RouteStats& s, bool a_per_route,
                   bool out_per_token, bool mul_routed_weight) {
  GemmWork w;
  w.n = n;
  w.k = k;
  w.group = c.group;
  w.has_zeros = c.kernel == "fused" || !c.symmetric;  // gptq_kn always carries zeros
  w.routes = s.routes;
  w.touched_experts = s.touched;
  w.a_rows = a_per_route ? s.routes : s.tokens_with_routes;
  w.out_rows = out_per_token ? s.tokens_with_routes : s.routes;
  w.padded_slots = s.padded;
  w.blocks = s.blocks;
  w.mul_routed_weight = mul_routed_weight;
  return w;
}

// The launch of the vendor dense GEMM of the row's M x N x K, its operands ready; nullptr, with
// row.vendor_note saying why, where there is none (no FLOPs, --no-vendor, no vendor library, or
// the library refused the shape). It is timed together with the row's own launches (time_stage),
// so it is prepared per row, not once per shape.
Timer::Work vendor_launch(Context& ctx, Row& r, mc_dtype dt) {
  if (r.m <= 0 || r.flops <= 0) return nullptr;
  if (ctx.no_vendor) {
    r.vendor_note = "vendor GEMM not run (--no-vendor)";
    return nullptr;
  }
  if (!ctx.vendor) {
    r.vendor_note = ctx.vendor_why;
    return nullptr;
  }
  try {
    return ctx.vendor->prepare(dt, r.m, r.n, r.k, ctx.stream);
  } catch (const std::exception& e) {
    (void)hipGetLastError();  // an allocation failure is not sticky; a fault shows up later
    r.vendor_note = std::string("vendor GEMM: ") + e.what();
    return nullptr;
  }
}

// A stage's timing: ctx.passes timings of `work` (after `pre`, untimed), the fastest (lowest
// median) kept in row.timing. `other` (the --against implementation's launch of the stage, after
// the same `pre`) and `vendor` (vendor_launch) are timed together with it, launch by launch
// (Timer::time_together), into row.against and row.vendor, each keeping its fastest pass too.
void time_stage(Context& ctx, Row& row, const Timer::Work& work, const Timer::Work& other = nullptr,
                const Timer::Work& pre = nullptr, const Timer::Work& vendor = nullptr) {
  std::optional<Timing> mine;
  std::vector<Timer::Timed> all = {{work, pre}};
  std::vector<std::optional<Timing>*> into = {&mine};
  if (other) {
    all.push_back({other, pre});
    into.push_back(&row.against);
  }
  if (vendor) {
    all.push_back({vendor, nullptr});
    into.push_back(&row.vendor);
  }
  for (int pass = 0; pass < ctx.passes; ++pass) {
    const std::vector<Timing> t = ctx.timer->time_together(all);
    for (size_t i = 0; i < t.size(); ++i) {
      std::optional<Timing>& best = *into[i];
      if (!best || t[i].median_us < best->median_us) best = t[i];
    }
  }
  row.timing = *mine;
}

// One routed GEMM through the case's kernel family of `api`, its arguments filled as run_gemm
// fills them (gpu_testbed.cpp), on the bench's stream; the fused workspace is allocated once.
class GemmLauncher {
 public:
  GemmLauncher(const KernelApi& api, const Case& c, const DeviceWeights& w, const DeviceRouting& r,
               const GemmCall& call, hipStream_t stream)
      : api_(api), fused_(c.kernel == "fused") {
    const GemmFields f = gemm_fields(c, w, r, call);
    char why[MC_REASON_LEN] = {};
    if (fused_) {
      fused_args_ = gemm_args<mc_fused_gemm_args>(f);
      fused_args_.zeros_v1 = w.zeros_v1;
      fused_args_.top_k = r.top_k;
      fused_args_.output_topk = call.output_topk;
      fused_args_.stream = stream;
      const int64_t ws = api_.fused_workspace_bytes(&fused_args_);
      if (ws > 0) {
        workspace_ = std::make_unique<GuardedBuffer>("fused workspace", static_cast<size_t>(ws));
        fused_args_.workspace = workspace_->data();
      }
      fused_args_.workspace_bytes = ws;
      supported_ = api_.supports_fused_gemm(&fused_args_, why) != 0;
    } else {
      tiled_args_ = gemm_args<mc_tiled_gemm_args>(f);
      tiled_args_.ldw = w.ldw;
      tiled_args_.stream = stream;
      supported_ = api_.supports_tiled_gemm(&tiled_args_, why) != 0;
    }
    reason_ = why;
  }

  bool supported() const { return supported_; }
  const std::string& reason() const { return reason_; }
  void operator()() const {
    const mc_status s = fused_ ? api_.fused_gemm(&fused_args_) : api_.tiled_gemm(&tiled_args_);
    if (s != MC_OK) throw DeviceError(std::string("GEMM launcher returned ") + to_string(s));
  }
  void add_buffers(std::vector<const GuardedBuffer*>& all) const {
    if (workspace_) all.push_back(workspace_.get());
  }

 private:
  const KernelApi& api_;
  bool fused_;
  mc_fused_gemm_args fused_args_{};
  mc_tiled_gemm_args tiled_args_{};
  std::unique_ptr<GuardedBuffer> workspace_;
  bool supported_ = false;
  std::string reason_;
};

void check_status(mc_status s, const char* what) {
  if (s != MC_OK) throw DeviceError(std::string(what) + " returned " + to_string(s));
}

// After the timing: a guard band broken by any launch makes the stage an error.
void judge_guards(std::vector<Row>& rows, const std::vector<const GuardedBuffer*>& all) {
  const std::string g = check_all_guards(all);
  if (g.empty()) return;
  for (Row& r : rows) {
    if (r.status == "ok") {
      r.status = "error";
      r.message = "out-of-bounds write: " + g;
    }
  }
}

void skip_pending(std::vector<Row>& rows, const std::string& why) {
  for (Row& r : rows) {
    if (r.status == "pending") {
      r.status = "skipped";
      r.message = why;
    }
  }
}

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// ---- gpu_kernel: gemm1 / gemm2 -----------------------------------------------------------------

void gemm_case(const Case& c, Context& ctx, std::vector<Row>& rows, double& prep_s) {
  const auto t0 = Clock::now();
  Row& row = rows[0];
  const bool gemm2 = c.stage == "gemm2";
  GemmProblem p{};
  if (ctx.suite_inputs) {
    p = make_gemm_problem(c);
  } else {  // make_gemm_problem's routing and activations (bench_inputs.hpp), no host weights
    p.routing = make_routing(c);
    p.experts = reached_experts(p.routing);
    p.a_route_div = gemm2 ? 1 : c.top_k;
    p.a = bench_activations(c, gemm2 ? p.routing.numel() : p.routing.tokens, c.gemm_k());
    p.mul_routed_weight = c.mul_routed_weight;
  }
  const int64_t n = c.gemm_n(), k = c.gemm_k();
  const DeviceWeights w =
      bench_weights(c, n, k, 0, p.experts, ctx.bodies, ctx.suite_inputs ? &p.w : nullptr);
  const Alignment al = align_block_size(p.routing, c.block_m);
  const DeviceRouting r = upload_routing(p.routing, al);
  const auto a = upload_activations("activations", p.a);
  const int64_t out_rows = c.output_topk ? p.routing.tokens : p.routing.numel();
  const auto out = poisoned_output("output", c, out_rows, n);
  GemmCall call;
  call.a = a->data();
  call.lda = p.a.lda;
  call.a_route_div = p.a_route_div;
  call.mul_routed_weight = p.mul_routed_weight;
  call.output_topk = c.output_topk;
  call.out = out->data();
  call.ldc = n;
  const GemmLauncher launch(kernel_api(), c, w, r, call, ctx.stream);
  std::optional<GemmLauncher> other;  // --against
  if (ctx.against) other.emplace(*ctx.against, c, w, r, call, ctx.stream);
  const RouteStats s = route_stats(p.routing, al);
  set_gemm_work(row, gemm_work(c, n, k, s, gemm2, c.output_topk, p.mul_routed_weight));
  synchronize_device();
  prep_s = seconds_since(t0);
  if (!launch.supported()) {
    row.status = "not_supported";
    row.message = launch.reason();
    return;
  }
  // output_topk accumulates into a zeroed output: the caller's zeroing is not timed.
  Timer::Work zero;
  if (c.output_topk) {
    zero = [&] {
      check_runtime(hipMemsetAsync(out->data(), 0, out->bytes(), ctx.stream), "zero the output");
    };
  }
  Timer::Work other_work;
  if (other && other->supported()) {
    other_work = [&] { (*other)(); };
  } else if (other) {
    row.against_note = "--against does not support it: " + other->reason();
  }
  time_stage(
      ctx, row, [&] { launch(); }, other_work, zero, vendor_launch(ctx, row, abi_dtype(c.dtype)));
  row.status = "ok";
  std::vector<const GuardedBuffer*> all = w.buffers();
  for (const auto* b : r.buffers()) all.push_back(b);
  all.push_back(a.get());
  all.push_back(out.get());
  launch.add_buffers(all);
  if (other) other->add_buffers(all);
  judge_guards(rows, all);
}

// ---- gpu_kernel: act / sum -------------------------------------------------------------------

void elementwise_case(const Case& c, Context& ctx, std::vector<Row>& rows, double& prep_s) {
  const auto t0 = Clock::now();
  Row& row = rows[0];
  const bool act = c.stage == "act";
  const int64_t cols = act ? 2 * c.inter : c.hidden;
  const Activations x = bench_activations(c, c.numel(), cols);
  const auto dx = upload_activations("input", x);
  const int64_t out_rows = act ? c.numel() : c.tokens, ldo = act ? c.inter : c.hidden;
  const auto out = poisoned_output("output", c, out_rows, ldo);
  const mc_dtype dt = abi_dtype(c.dtype);
  row.routes = c.numel();
  row.bytes =
      act ? silu_and_mul_bytes(c.numel(), c.inter) : moe_sum_bytes(c.tokens, c.top_k, c.hidden);
  const mc_silu_and_mul_args silu{dt,  dx->data(), x.lda,   out->data(),
                                  ldo, c.numel(),  c.inter, ctx.stream};
  const mc_moe_sum_args sum{dt,       dx->data(), x.lda,    out->data(), ldo,
                            c.tokens, c.top_k,    c.hidden, ctx.stream};
  // The stage's launch through `api`, or nullptr with `why` where it is not supported.
  auto launcher = [&](const KernelApi& api, char* why) -> Timer::Work {
    if (act) {
      if (!api.supports_silu_and_mul(&silu, why)) return nullptr;
      return [&api, &silu] { check_status(api.silu_and_mul(&silu), "silu_and_mul"); };
    }
    if (!api.supports_moe_sum(&sum, why)) return nullptr;
    return [&api, &sum] { check_status(api.moe_sum(&sum), "moe_sum"); };
  };
  char why[MC_REASON_LEN] = {};
  const Timer::Work launch = launcher(kernel_api(), why);
  synchronize_device();
  prep_s = seconds_since(t0);
  if (!launch) {
    row.status = "not_supported";
    row.message = why;
    return;
  }
  Timer::Work other;
  if (ctx.against) {
    char other_why[MC_REASON_LEN] = {};
    other = launcher(*ctx.against, other_why);
    if (!other) row.against_note = std::string("--against does not support it: ") + other_why;
  }
  time_stage(ctx, row, launch, other);
  row.status = "ok";
  judge_guards(rows, {dx.get(), out.get()});
}

// ---- gpu_align ---------------------------------------------------------------------------------

void fill_align_row(Row& row, const Routing& routing, const Alignment& al) {
  row.routes = routing.numel();
  row.bytes = align_bytes(routing.numel(), routing.expert_map.empty() ? 0 : routing.experts,
                          al.num_tokens_post_padded, al.num_blocks());
}

void align_case(const Case& c, Context& ctx, std::vector<Row>& rows, double& prep_s) {
  const auto t0 = Clock::now();
  Row& row = rows[0];
  const Routing routing = make_routing(c);
  fill_align_row(row, routing, align_block_size(routing, c.block_m));
  const DeviceAlignment d = align_on_device(routing, c.block_m);
  prep_s = seconds_since(t0);
  if (d.status == MC_UNSUPPORTED) {
    row.status = "not_supported";
    row.message = d.reason;
    return;
  }
  check_status(d.status, "align");
  const KernelApi& api = kernel_api();
  const mc_align_args args = align_args(routing, d, c.block_m, ctx.stream);
  time_stage(ctx, row, [&] { check_status(api.align(&args), "align"); });
  row.status = "ok";
  judge_guards(rows, d.buffers());
}

// ---- gpu_e2e: the layer, stage by stage ------------------------------------------------------

std::vector<std::string> e2e_stages(const Case& c) {
  if (c.output_topk) return {"align", "gemm1", "act", "gemm2", "layer"};
  return {"align", "gemm1", "act", "gemm2", "sum", "layer"};
}

void e2e_case(const Case& c, Context& ctx, std::vector<Row>& rows, double& prep_s) {
  const auto t0 = Clock::now();
  const KernelApi& api = kernel_api();
  const mc_dtype dt = abi_dtype(c.dtype);
  const int64_t n1 = 2 * c.inter, hidden = c.hidden, inter = c.inter;
  auto stage = [&](const char* name) -> Row& {
    for (Row& r : rows) {
      if (r.stage == name) return r;
    }
    throw std::logic_error(std::string("no row for stage ") + name);
  };

  // Inputs: make_layer_case's routing and activations; weights per bench_inputs.hpp.
  LayerCase lc;
  if (ctx.suite_inputs) {
    lc = make_layer_case(c);
  } else {
    lc.routing = make_routing(c);
    lc.experts = reached_experts(lc.routing);
    lc.problem.a = bench_activations(c, lc.routing.tokens, c.hidden);
  }
  const Routing& routing = lc.routing;
  const int64_t tokens = routing.tokens, numel = routing.numel();
  const Activations a_host = c.apply_router_weight_on_input
                                 ? apply_router_weight_on_input(lc.problem.a, routing)
                                 : lc.problem.a;
  const Alignment host_al = align_block_size(routing, c.block_m);
  const RouteStats s = route_stats(routing, host_al);
  const GemmWork work1 = gemm_work(c, n1, hidden, s, c.apply_router_weight_on_input, false, false);
  const GemmWork work2 =
      gemm_work(c, hidden, inter, s, true, c.output_topk, !c.apply_router_weight_on_input);
  fill_align_row(stage("align"), routing, host_al);
  set_gemm_work(stage("gemm1"), work1);
  stage("act").routes = numel;
  stage("act").bytes = silu_and_mul_bytes(numel, inter);
  set_gemm_work(stage("gemm2"), work2);
  if (!c.output_topk) {
    stage("sum").routes = numel;
    stage("sum").bytes = moe_sum_bytes(tokens, c.top_k, hidden);
  }
  Row& layer = stage("layer");
  layer.routes = s.routes;
  layer.touched_experts = s.touched;
  layer.flops = gemm_flops(work1) + gemm_flops(work2);
  layer.bytes = layer_bytes(work1, work2, tokens, numel);

  // Device: the alignment first (its result feeds both GEMMs), as the suite does.
  const DeviceAlignment al = align_on_device(routing, c.block_m);
  if (al.status == MC_UNSUPPORTED) {
    stage("align").status = "not_supported";
    stage("align").message = al.reason;
    skip_pending(rows, "align is not supported");
    prep_s = seconds_since(t0);
    return;
  }
  check_status(al.status, "align");
  const auto a = upload_activations("activations", a_host);
  const DeviceWeights w1 = bench_weights(c, n1, hidden, 1, lc.experts, ctx.bodies,
                                         ctx.suite_inputs ? &lc.problem.w1 : nullptr);
  const DeviceWeights w2 = bench_weights(c, hidden, inter, 2, lc.experts, ctx.bodies,
                                         ctx.suite_inputs ? &lc.problem.w2 : nullptr);
  const auto c1 = poisoned_output("c1", c, numel, n1);
  const auto act = poisoned_output("act", c, numel, inter);
  const auto c2 = poisoned_output("c2", c, numel, hidden);
  const auto out = poisoned_output("out", c, tokens, hidden);
  // moe_sum adds every route of a token; rows gemm2 does not compute (expert parallelism)
  // must be zero (the ABI asks the caller to zero them): gemm2 overwrites the rest.
  c2->zero();

  GemmCall g1;
  g1.a = a->data();
  g1.lda = a_host.lda;
  g1.a_route_div = c.apply_router_weight_on_input ? 1 : c.top_k;
  g1.out = c1->data();
  g1.ldc = n1;
  GemmCall g2;
  g2.a = act->data();
  g2.lda = inter;
  g2.a_route_div = 1;
  g2.mul_routed_weight = !c.apply_router_weight_on_input;
  g2.output_topk = c.output_topk;
  g2.out = c.output_topk ? out->data() : c2->data();
  g2.ldc = hidden;
  const GemmLauncher gemm1(api, c, w1, al.routing, g1, ctx.stream);
  const GemmLauncher gemm2(api, c, w2, al.routing, g2, ctx.stream);
  const mc_align_args align = align_args(routing, al, c.block_m, ctx.stream);
  const mc_silu_and_mul_args silu{dt, c1->data(), n1, act->data(), inter, numel, inter, ctx.stream};
  const mc_moe_sum_args sum{dt,     c2->data(), hidden, out->data(), hidden,
                            tokens, c.top_k,    hidden, ctx.stream};
  synchronize_device();
  prep_s = seconds_since(t0);

  std::vector<const GuardedBuffer*> all = al.buffers();
  for (const auto* b : w1.buffers()) all.push_back(b);
  for (const auto* b : w2.buffers()) all.push_back(b);
  for (const auto* b : {a.get(), c1.get(), act.get(), c2.get(), out.get()}) all.push_back(b);
  gemm1.add_buffers(all);
  gemm2.add_buffers(all);

  const auto run_align = [&] { check_status(api.align(&align), "align"); };
  const auto run_silu = [&] { check_status(api.silu_and_mul(&silu), "silu_and_mul"); };
  const auto run_sum = [&] { check_status(api.moe_sum(&sum), "moe_sum"); };
  const auto zero_out = [&] {
    check_runtime(hipMemsetAsync(out->data(), 0, out->bytes(), ctx.stream), "zero the output");
  };
  struct Step {
    const char* name;
    bool supported;
    std::string reason;
  };
  char why[MC_REASON_LEN] = {};
  const bool silu_ok = api.supports_silu_and_mul(&silu, why) != 0;
  const std::vector<Step> support = {
      {"gemm1", gemm1.supported(), gemm1.reason()},
      {"act", silu_ok, std::string(why)},
      {"gemm2", gemm2.supported(), gemm2.reason()},
  };
  time_stage(ctx, stage("align"), run_align);
  stage("align").status = "ok";
  for (const Step& st : support) {
    if (!st.supported) {
      stage(st.name).status = "not_supported";
      stage(st.name).message = st.reason;
      skip_pending(rows, std::string(st.name) + " is not supported");
      judge_guards(rows, all);
      return;
    }
  }
  if (!c.output_topk && !api.supports_moe_sum(&sum, why)) {
    stage("sum").status = "not_supported";
    stage("sum").message = why;
    skip_pending(rows, "sum is not supported");
    judge_guards(rows, all);
    return;
  }

  Row& r1 = stage("gemm1");
  time_stage(
      ctx, r1, [&] { gemm1(); }, nullptr, nullptr, vendor_launch(ctx, r1, dt));
  r1.status = "ok";
  time_stage(ctx, stage("act"), run_silu);
  stage("act").status = "ok";
  Row& r2 = stage("gemm2");
  time_stage(
      ctx, r2, [&] { gemm2(); }, nullptr, c.output_topk ? Timer::Work(zero_out) : nullptr,
      vendor_launch(ctx, r2, dt));
  r2.status = "ok";
  if (!c.output_topk) {
    time_stage(ctx, stage("sum"), run_sum);
    stage("sum").status = "ok";
  }
  // The whole layer as the caller runs it, output zeroing included (output_topk).
  time_stage(ctx, layer, [&] {
    run_align();
    gemm1();
    run_silu();
    if (c.output_topk) zero_out();
    gemm2();
    if (!c.output_topk) run_sum();
  });
  layer.status = "ok";
  if (r1.vendor && r2.vendor) {
    Timing v;
    v.median_us = r1.vendor->median_us + r2.vendor->median_us;
    v.min_us = r1.vendor->min_us + r2.vendor->min_us;
    v.max_us = r1.vendor->max_us + r2.vendor->max_us;
    v.iters = std::min(r1.vendor->iters, r2.vendor->iters);
    layer.vendor = v;
    layer.vendor_note = "vendor: gemm1's plus gemm2's dense GEMM";
  }
  judge_guards(rows, all);
}

// ---- driver ------------------------------------------------------------------------------------

std::vector<Row> rows_for(const Case& c) {
  std::vector<Row> rows;
  if (c.suite == "gpu_e2e") {
    for (const std::string& s : e2e_stages(c)) rows.push_back(case_row(c, s));
  } else if (c.suite == "gpu_align") {
    rows.push_back(case_row(c, "align"));
  } else {
    rows.push_back(case_row(c, c.stage));
  }
  return rows;
}

void run_case(const Case& c, Context& ctx, std::vector<Row>& rows, double& prep_s) {
  if (ctx.against && c.suite != "gpu_kernel") {
    for (Row& r : rows) r.against_note = "not compared: --against times gpu_kernel stages only";
  }
  if (c.suite == "gpu_e2e") {
    e2e_case(c, ctx, rows, prep_s);
  } else if (c.suite == "gpu_align") {
    align_case(c, ctx, rows, prep_s);
  } else if (c.stage == "gemm1" || c.stage == "gemm2") {
    gemm_case(c, ctx, rows, prep_s);
  } else if (c.stage == "act" || c.stage == "sum") {
    elementwise_case(c, ctx, rows, prep_s);
  } else {
    throw std::runtime_error(c.source + ": gpu_kernel runs gemm1, gemm2, act or sum, not " +
                             c.stage);
  }
}

// "" while the device still answers; else why not (a sticky fault: the context is lost).
std::string device_health() {
  (void)hipGetLastError();
  const hipError_t e = hipDeviceSynchronize();
  return e == hipSuccess ? std::string() : std::string(hipGetErrorString(e));
}

std::string joined_command(int argc, char** argv) {
  std::string s;
  for (int i = 0; i < argc; ++i) {
    if (i) s += ' ';
    s += argv[i];
  }
  return s;
}

int bench_main(int argc, char** argv) {
  Options o;
  if (const char* e = std::getenv("MOECHECK_CATALOG")) o.catalog = e;
  if (const char* e = std::getenv("MOECHECK_IMPL")) o.impl = e;
  if (o.catalog.empty()) o.catalog = MOECHECK_DEFAULT_CATALOG;

  CLI::App app{
      "moecheck_bench: times the kernels of catalog cases on the device (median of many "
      "launches, L2 flushed between them) and reports time, TFLOP/s, GB/s, % of the copy "
      "bandwidth and % of the vendor dense GEMM, as a table, CSV and JSON."};
  app.add_option("--catalog", o.catalog,
                 "case catalog folder (default: $MOECHECK_CATALOG or "
                 "the source tree's cases/)");
  app.add_option("--filter", o.filter,
                 "regex searched in <suite>.<case name> (ECMAScript), e.g. '_T(1|512)_'");
  app.add_option("--labels", o.labels,
                 "ctest labels that must all match, comma-separated (e.g. gpu_kernel,nightly)")
      ->delimiter(',');
  app.add_option("--warmup", o.timing.warmup, "warm-up launches per stage")
      ->check(CLI::Range(1, 100000));
  app.add_option("--iters", o.timing.iters, "timed launches per stage (the median is reported)")
      ->check(CLI::Range(1, 100000));
  app.add_option("--max-stage-ms", o.timing.max_stage_ms,
                 "cap on a stage's timed device time: fewer launches (at least 5) for slow "
                 "stages; 0 = no cap")
      ->check(CLI::Range(0.0, 1e9));
  app.add_option("--l2-flush", o.l2_flush,
                 "how the L2 is flushed before every launch: read (default; a read of 256 MiB "
                 "leaves clean lines), write (a 256 MiB memset leaves dirty lines, as for "
                 "bench/baselines up to h200-sm90-2026-12-01.csv), off")
      ->check(CLI::IsMember({"read", "write", "off"}));
  app.add_flag("--hot-l2", o.hot_l2, "do not flush the L2 between launches (--l2-flush off)");
  app.add_option("--copy-mib", o.copy_mib, "size of the copy-bandwidth measurement in MiB")
      ->check(CLI::Range(64, 65536));
  app.add_flag("--no-vendor", o.no_vendor, "skip the vendor dense GEMM baseline");
  app.add_flag("--suite-inputs", o.suite_inputs,
               "use the suites' exact inputs (every touched expert generated on the host: slow "
               "for big models)");
  app.add_option("--csv", o.csv, "write the rows as CSV");
  app.add_option("--json", o.json, "write the run and its rows as JSON");
  app.add_flag("--list", o.list, "list the selected cases and exit (needs no device)");
  app.add_option("--impl", o.impl,
                 "the implementation to time: a shared library exporting the C ABI of "
                 "moecheck/kernels.h (default: $MOECHECK_IMPL, else the built-in kernels)");
  app.add_option("--against", o.against,
                 "a second implementation (a library like --impl's, or 'builtin'): every "
                 "gpu_kernel stage is timed through both, launches alternating, with the speedup "
                 "per row and a summary");
  app.add_option("--passes", o.passes,
                 "timings per stage and implementation, the fastest kept (default 3 with "
                 "--against, else 1)")
      ->check(CLI::Range(1, 100));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  o.timing.flush = o.hot_l2 || o.l2_flush == "off" ? L2Flush::off
                   : o.l2_flush == "write"         ? L2Flush::write
                                                   : L2Flush::read;

  Catalog cat;
  std::vector<const Case*> cases;
  try {
    cat = load_catalog(o.catalog);
    cases = select_cases(cat, o);
  } catch (const std::regex_error& e) {
    std::fprintf(stderr, "moecheck_bench: --filter '%s': %s\n", o.filter.c_str(), e.what());
    return kExitUsage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "moecheck_bench: catalog %s: %s\n", o.catalog.c_str(), e.what());
    return kExitUsage;
  }
  if (cases.empty()) {
    std::fprintf(stderr,
                 "moecheck_bench: no case selected (GPU suites gpu_kernel, gpu_e2e, gpu_align; "
                 "cases that expect a pass; --labels and --filter)\n");
    return kExitUsage;
  }
  if (o.list) {
    for (const Case* c : cases) std::printf("%s\n", test_name(*c).c_str());
    std::printf("%zu cases\n", cases.size());
    return kExitOk;
  }
  // Output paths are checked before any time is spent (a file the check creates is removed).
  for (const std::string& path : {o.csv, o.json}) {
    if (path.empty()) continue;
    std::error_code ec;
    const bool existed = std::filesystem::exists(path, ec);
    const bool ok = static_cast<bool>(std::ofstream(path, std::ios::app));
    if (ok && !existed) std::filesystem::remove(path, ec);
    if (!ok) {
      std::fprintf(stderr, "moecheck_bench: cannot write %s\n", path.c_str());
      return kExitUsage;
    }
  }

  // The implementation under test, loaded before anything runs (suites/gpu/kernel_api.hpp):
  // --impl / $MOECHECK_IMPL, else this build's libmoecheck_kernels.so. One that does not load
  // stops the run (never the built-in kernels in its place).
  TestbedOptions testbed;  // what the GPU testbed library reads: the catalog and implementation
  testbed.catalog_dir = o.catalog;
  testbed.impl = o.impl;
  set_testbed_options(testbed);
  std::string implementation;
  try {
    implementation = load_implementation(o.impl);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "moecheck_bench: %s\n", e.what());
    return kExitUsage;
  }
  // --against: loaded and checked the same way, before any device time is spent.
  std::optional<KernelApi> against;
  if (!o.against.empty()) {
    try {
      against = open_kernel_api(o.against == "builtin" ? std::string() : o.against);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "moecheck_bench: --against: %s\n", e.what());
      return kExitUsage;
    }
  }

  const DeviceInfo dev = detect_device();
  if (!dev.available) {
    std::fprintf(stderr, "moecheck_bench: no usable GPU: %s (%zu cases selected, none timed)\n",
                 dev.reason.c_str(), cases.size());
    return kExitNoDevice;
  }

  RunInfo info;
  info.command = joined_command(argc, argv);
  info.device = dev.name;
  info.arch = dev.arch;
  info.timing = o.timing;
  info.suite_inputs = o.suite_inputs;
  info.passes = o.passes > 0 ? o.passes : against ? 3 : 1;
  if (against) info.against = describe(*against);
  Context ctx;
  ctx.suite_inputs = o.suite_inputs;
  ctx.no_vendor = o.no_vendor;
  ctx.against = against ? &*against : nullptr;
  ctx.passes = info.passes;
  std::unique_ptr<Stream> stream;
  std::unique_ptr<Timer> timer;
  std::unique_ptr<VendorGemm> vendor;
  try {
    hipDeviceProp_t prop;
    check_runtime(hipGetDeviceProperties(&prop, 0), "read the device properties");
    info.l2_bytes = static_cast<size_t>(prop.l2CacheSize);
    info.memory_bytes = prop.totalGlobalMem;
    info.implementation = implementation;
    stream = std::make_unique<Stream>();
    timer = std::make_unique<Timer>(stream->get(), o.timing, info.l2_bytes);
    info.flush_bytes = timer->flush_bytes();
    info.flush_note = timer->flush_note();
    info.copy = measure_copy_bandwidth(*timer, static_cast<size_t>(o.copy_mib) << 20);
    info.floor = measure_launch_floor(*timer);
    info.atom = measure_atom_peak(*timer, prop.multiProcessorCount);
    if (!o.no_vendor) vendor = make_vendor_gemm(stream->get(), ctx.vendor_why);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "moecheck_bench: device set-up failed: %s\n", e.what());
    return kExitFailed;
  }
  ctx.timer = timer.get();
  ctx.stream = stream->get();
  ctx.vendor = vendor.get();
  info.vendor = vendor ? vendor->name() : "";
  info.vendor_note = o.no_vendor ? "--no-vendor" : ctx.vendor_why;

  std::printf("moecheck_bench: %s (%s), %s\n", info.device.c_str(), info.arch.c_str(),
              info.implementation.c_str());
  std::printf("  copy bandwidth %.1f GB/s (device-to-device copy of %zu MiB, read + write)\n",
              info.copy.gbps, info.copy.bytes >> 20);
  std::printf(
      "  launch floor %.2f us (empty kernel), %.2f us (two dependent memory reads; a stage of B "
      "bytes takes at least that + B / copy bandwidth: the CSV's pct_copy_bw_ceiling)\n",
      info.floor.empty.median_us, info.floor.dependent_reads.median_us);
  if (info.atom.measured) {
    std::printf(
        "  atom peak %.1f TFLOP/s bf16, %.1f fp16 (the kernels' matrix atom alone, registers only: "
        "the roof of a GEMM built on it; %%atom is a stage's TFLOP/s over it)\n",
        info.atom.bf16_tflops, info.atom.fp16_tflops);
  } else {
    std::printf("  atom peak: not measured (%s)\n", info.atom.note.c_str());
  }
  std::printf("  vendor GEMM: %s\n",
              vendor ? info.vendor.c_str() : ("absent: " + info.vendor_note).c_str());
  if (against) std::printf("  against: %s\n", info.against.c_str());
  std::printf(
      "  timing: %d warm-up, median of up to %d launches (cap %.0f ms per stage), "
      "fastest of %d pass%s, the vendor GEMM's and --against's launches alternating with the "
      "stage's, %s\n",
      o.timing.warmup, o.timing.iters, o.timing.max_stage_ms, info.passes,
      info.passes == 1 ? "" : "es",
      timer->flush_bytes()
          ? ("L2 flushed between launches (" + std::to_string(timer->flush_bytes() >> 20) +
             " MiB " + (o.timing.flush == L2Flush::read ? "read" : "memset") + ")")
                .c_str()
          : timer->flush_note().c_str());
  std::printf("  inputs: %s\n", o.suite_inputs ? "the suites' own (--suite-inputs)"
                                               : "one generated expert copied into every "
                                                 "touched expert (bench/bench_inputs.hpp)");
  std::printf("  %zu cases\n", cases.size());
  print_table_header(info);

  std::vector<Row> all;
  bool failed = false;
  std::string lost;  // the device fault that ended the run, if any
  const int count = static_cast<int>(cases.size());
  for (int i = 0; i < count; ++i) {
    const Case& c = *cases[i];
    std::vector<Row> rows = rows_for(c);
    double prep_s = 0;
    if (!lost.empty()) {
      skip_pending(rows, "not run: the device failed in an earlier case (" + lost + ")");
    } else {
      try {
        run_case(c, ctx, rows, prep_s);
        skip_pending(rows, "not run");
      } catch (const std::exception& e) {
        for (Row& r : rows) {
          if (r.status == "pending") {
            r.status = "error";
            r.message = e.what();
            break;
          }
        }
        skip_pending(rows, "not run: an earlier stage failed");
        lost = device_health();
      }
    }
    // Rows skipped after a refusal are fine; after an error, the error row fails the run.
    for (const Row& r : rows) failed = failed || r.status == "error";
    failed = failed || !lost.empty();
    print_case_header(test_name(c), i + 1, count, prep_s);
    print_rows(rows, info);
    all.insert(all.end(), rows.begin(), rows.end());
    try {
      if (!o.csv.empty()) write_csv(o.csv, info, all);
      if (!o.json.empty()) write_json(o.json, info, all);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "moecheck_bench: %s\n", e.what());
      failed = true;
    }
  }
  print_speedup_summary(all, info);
  if (!lost.empty()) std::fprintf(stderr, "moecheck_bench: the device failed: %s\n", lost.c_str());
  int errors = 0;
  for (const Row& r : all) errors += r.status == "error";
  std::printf("moecheck_bench: %d cases, %zu rows, %d errors%s%s%s\n", count, all.size(), errors,
              o.csv.empty() ? "" : ", CSV ", o.csv.c_str(),
              o.json.empty() ? "" : (", JSON " + o.json).c_str());
  return failed ? kExitFailed : kExitOk;
}

}  // namespace
}  // namespace moecheck::bench

int main(int argc, char** argv) {
  try {
    return moecheck::bench::bench_main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "moecheck_bench: %s\n", e.what());
    return 1;
  }
}
