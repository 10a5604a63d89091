#include "report.hpp"

#include <fmt/format.h>

#include "speedup.hpp"

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace moecheck::bench {

double Row::tflops() const {
  return measured() && flops > 0 ? flops / (timing.median_us * 1e6) : 0;
}

double Row::gbps() const {
  return measured() && bytes > 0 ? bytes / (timing.median_us * 1e3) : 0;
}

double Row::pct_copy(double copy_gbps) const {
  return copy_gbps > 0 ? 100.0 * gbps() / copy_gbps : 0;
}

double Row::ceiling_pct(double copy_gbps, double floor_us) const {
  if (!measured() || bytes <= 0 || copy_gbps <= 0) return 0;
  const double copy_us = bytes / (copy_gbps * 1e3);
  return 100.0 * copy_us / (copy_us + floor_us);
}

std::optional<double> Row::pct_vendor() const {
  if (!measured() || !vendor || vendor->median_us <= 0) return std::nullopt;
  return 100.0 * vendor->median_us / timing.median_us;
}

std::optional<double> Row::pct_atom_peak(const AtomPeak& peak) const {
  const double roof = peak.tflops(dtype);
  if (!measured() || flops <= 0 || roof <= 0) return std::nullopt;
  return 100.0 * tflops() / roof;
}

std::optional<double> Row::speedup() const {
  if (!measured() || !against || against->iters <= 0 || timing.median_us <= 0) return std::nullopt;
  return against->median_us / timing.median_us;
}

void print_table_header(const RunInfo& info) {
  std::printf("  %-6s %8s %20s %11s %8s %8s %7s %8s %6s %5s%s\n", "stage", "routes", "M x N x K",
              "time_us", "TFLOP/s", "GB/s", "%copyBW", "%vendor", "%atom", "iters",
              info.against.empty() ? "" : "  against_us speedup");
  std::fflush(stdout);
}

void print_case_header(const std::string& test, int index, int count, double prep_s) {
  std::printf("[%d/%d] %s  (inputs %.1f s)\n", index, count, test.c_str(), prep_s);
  std::fflush(stdout);
}

void print_rows(const std::vector<Row>& rows, const RunInfo& info) {
  for (const Row& r : rows) {
    const std::string shape = r.m ? fmt::format("{}x{}x{}", r.m, r.n, r.k) : std::string("-");
    if (!r.measured()) {
      std::printf("  %-6s %8lld %20s  %s: %s\n", r.stage.c_str(), static_cast<long long>(r.routes),
                  shape.c_str(), r.status.c_str(), r.message.c_str());
      continue;
    }
    const auto pv = r.pct_vendor();
    const std::string tf = r.flops > 0 ? fmt::format("{:.2f}", r.tflops()) : std::string("-");
    const std::string vend = pv ? fmt::format("{:.1f}", *pv) : std::string("-");
    const auto pa = r.pct_atom_peak(info.atom);
    const std::string atom = pa ? fmt::format("{:.1f}", *pa) : std::string("-");
    std::string against;
    if (const auto su = r.speedup()) {
      against = fmt::format("  {:10.2f} {:6.3f}x", r.against->median_us, *su);
    } else if (!info.against.empty()) {
      against = "  " + r.against_note;
    }
    std::printf("  %-6s %8lld %20s %11.2f %8s %8.1f %7.1f %8s %6s %5d%s%s%s\n", r.stage.c_str(),
                static_cast<long long>(r.routes), shape.c_str(), r.timing.median_us, tf.c_str(),
                r.gbps(), r.pct_copy(info.copy.gbps), vend.c_str(), atom.c_str(), r.timing.iters,
                against.c_str(), r.message.empty() ? "" : "  ", r.message.c_str());
  }
  std::fflush(stdout);
}

void print_speedup_summary(const std::vector<Row>& rows, const RunInfo& info) {
  if (info.against.empty()) return;
  std::vector<SpeedupSample> samples;
  for (const Row& r : rows) {
    if (const auto su = r.speedup()) {
      samples.push_back({r.kernel + " " + r.stage, r.test + " " + r.stage, *su});
    }
  }
  std::printf(
      "speedup of %s over --against %s (its time over this one's, each the faster of %d "
      "passes of alternating launches; above 1: faster):\n",
      info.implementation.c_str(), info.against.c_str(), info.passes);
  const std::vector<SpeedupGroup> groups = summarise_speedups(samples);
  if (groups.empty()) std::printf("  no row was timed for both\n");
  for (const SpeedupGroup& g : groups) {
    std::printf("  %-16s %4d rows  geomean %.3fx  min %.3fx (%s)  max %.3fx (%s)\n", g.name.c_str(),
                g.rows, g.geomean, g.min, g.min_row.c_str(), g.max, g.max_row.c_str());
  }
  std::fflush(stdout);
}

namespace {

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char ch : s) {
    if (ch == '"') q += '"';
    q += ch;
  }
  return q + "\"";
}

std::string num(double v) {
  return fmt::format("{:.6g}", v);
}

std::string whole(double v) {  // FLOPs and bytes: integers, every digit
  return fmt::format("{:.0f}", v);
}

// Writes to path.tmp and renames: a reader never sees half a file.
void write_file(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw std::runtime_error("cannot write " + tmp);
    f << text;
    if (!f) throw std::runtime_error("cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    throw std::runtime_error("cannot rename " + tmp + " to " + path);
  }
}

}  // namespace

void write_csv(const std::string& path, const RunInfo& info, const std::vector<Row>& rows) {
  const double floor_us = info.ceiling_floor_us();
  std::string out =
      "test,suite,kernel,stage,model,dtype,experts,top_k,hidden,inter,tokens,group,block_m,"
      "routes,touched_experts,M,N,K,flops,bytes,status,time_us,min_us,max_us,iters,tflops,"
      "gbps,pct_copy_bw,copy_gbps,floor_us,pct_copy_bw_ceiling,vendor_us,vendor_tflops,pct_vendor,"
      "atom_tflops,pct_atom_peak,against_us,speedup,device,message\n";
  for (const Row& r : rows) {
    const bool ok = r.measured();
    const auto pv = r.pct_vendor();
    const auto pa = r.pct_atom_peak(info.atom);
    const double roof = info.atom.tflops(r.dtype);
    const bool v = ok && r.vendor.has_value();
    const auto su = r.speedup();
    out += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},",
                       csv_field(r.test), r.suite, r.kernel, r.stage, r.model, r.dtype, r.experts,
                       r.top_k, r.hidden, r.inter, r.tokens, r.group, r.block_m, r.routes,
                       r.touched_experts, r.m, r.n, r.k, whole(r.flops), whole(r.bytes), r.status);
    out += fmt::format(
        "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
        ok ? num(r.timing.median_us) : "", ok ? num(r.timing.min_us) : "",
        ok ? num(r.timing.max_us) : "", ok ? std::to_string(r.timing.iters) : "",
        ok && r.flops > 0 ? num(r.tflops()) : "", ok ? num(r.gbps()) : "",
        ok ? num(r.pct_copy(info.copy.gbps)) : "", num(info.copy.gbps), num(floor_us),
        ok && r.bytes > 0 ? num(r.ceiling_pct(info.copy.gbps, floor_us)) : "",
        v ? num(r.vendor->median_us) : "", v ? num(r.flops / (r.vendor->median_us * 1e6)) : "",
        pv ? num(*pv) : "", roof > 0 ? num(roof) : "", pa ? num(*pa) : "",
        su ? num(r.against->median_us) : "", su ? num(*su) : "", csv_field(info.device),
        csv_field(!r.message.empty()               ? r.message
                  : !su && !r.against_note.empty() ? r.against_note
                                                   : r.vendor_note));
  }
  write_file(path, out);
}

void write_json(const std::string& path, const RunInfo& info, const std::vector<Row>& rows) {
  using nlohmann::json;
  auto timing = [](const Timing& t) {
    return json{
        {"median_us", t.median_us}, {"min_us", t.min_us}, {"max_us", t.max_us}, {"iters", t.iters}};
  };
  json j;
  j["tool"] = "moecheck_bench";
  j["command"] = info.command;
  j["device"] = {{"name", info.device},
                 {"arch", info.arch},
                 {"l2_bytes", info.l2_bytes},
                 {"memory_bytes", info.memory_bytes}};
  j["implementation"] = info.implementation;
  j["against"] = info.against.empty() ? json(nullptr) : json(info.against);
  j["vendor"] = {{"name", info.vendor.empty() ? json(nullptr) : json(info.vendor)},
                 {"note", info.vendor_note}};
  j["timing"] = {{"warmup", info.timing.warmup},
                 {"iters", info.timing.iters},
                 {"max_stage_ms", info.timing.max_stage_ms},
                 {"l2_flush", l2_flush_name(info.timing.flush)},
                 {"passes", info.passes},
                 {"flush_bytes", info.flush_bytes},
                 {"flush_note", info.flush_note},
                 {"statistic",
                  "median of per-launch device event intervals (of the pass with the lowest "
                  "median, when passes > 1)"}};
  j["inputs"] = info.suite_inputs ? "suite (make_gemm_problem / make_layer_case)"
                                  : "one generated expert per GEMM, copied into every touched "
                                    "expert (bench/bench_inputs.hpp)";
  j["copy_bandwidth"] = {{"bytes_per_copy", info.copy.bytes},
                         {"counted_bytes", 2 * info.copy.bytes},
                         {"timing", timing(info.copy.timing)},
                         {"gbps", info.copy.gbps}};
  j["launch_floor"] = {{"empty_kernel", timing(info.floor.empty)},
                       {"dependent_reads", timing(info.floor.dependent_reads)},
                       {"note",
                        "pct_copy_bw_ceiling = the bytes at copy bandwidth over (that time plus "
                        "the dependent-reads floor), in percent"}};
  auto atom_dtype = [&](const Timing& t, double tflops) {
    return json{{"timing", timing(t)}, {"tflops", tflops}};
  };
  j["atom_peak"] = {
      {"measured", info.atom.measured},
      {"note", info.atom.measured
                   ? "the matrix atom alone (kernels/src/atom.hpp), registers only: pct_atom_peak "
                     "= a GEMM stage's TFLOP/s over this, in percent"
                   : info.atom.note},
      {"blocks", info.atom.blocks},
      {"iters", info.atom.iters}};
  if (info.atom.measured) {
    j["atom_peak"]["bf16"] = atom_dtype(info.atom.bf16, info.atom.bf16_tflops);
    j["atom_peak"]["fp16"] = atom_dtype(info.atom.fp16, info.atom.fp16_tflops);
  }
  json list = json::array();
  for (const Row& r : rows) {
    json x = {{"test", r.test},
              {"suite", r.suite},
              {"kernel", r.kernel},
              {"stage", r.stage},
              {"model", r.model},
              {"dtype", r.dtype},
              {"experts", r.experts},
              {"top_k", r.top_k},
              {"hidden", r.hidden},
              {"inter", r.inter},
              {"tokens", r.tokens},
              {"group", r.group},
              {"block_m", r.block_m},
              {"routes", r.routes},
              {"touched_experts", r.touched_experts},
              {"m", r.m},
              {"n", r.n},
              {"k", r.k},
              {"flops", r.flops},
              {"bytes", r.bytes},
              {"status", r.status},
              {"message", r.message}};
    if (r.measured()) {
      x["timing"] = timing(r.timing);
      x["tflops"] = r.flops > 0 ? json(r.tflops()) : json(nullptr);
      x["gbps"] = r.gbps();
      x["pct_copy_bw"] = r.pct_copy(info.copy.gbps);
      if (r.bytes > 0) {
        x["pct_copy_bw_ceiling"] = r.ceiling_pct(info.copy.gbps, info.ceiling_floor_us());
      }
      if (r.vendor) {
        x["vendor"] = timing(*r.vendor);
        x["vendor"]["tflops"] = r.flops / (r.vendor->median_us * 1e6);
      }
      const auto pv = r.pct_vendor();
      x["pct_vendor"] = pv ? json(*pv) : json(nullptr);
      const auto pa = r.pct_atom_peak(info.atom);
      x["pct_atom_peak"] = pa ? json(*pa) : json(nullptr);
      if (const auto su = r.speedup()) {
        x["against"] = timing(*r.against);
        x["speedup"] = *su;
      }
    }
    if (!r.vendor_note.empty()) x["vendor_note"] = r.vendor_note;
    if (!r.against_note.empty()) x["against_note"] = r.against_note;
    list.push_back(std::move(x));
  }
  j["rows"] = std::move(list);
  write_file(path, j.dump(1) + "\n");
}

}  // namespace moecheck::bench
