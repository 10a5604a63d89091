// Writes the generated seed corpora of the fuzz targets: fuzz_seeds <dir> makes <dir>/npy
// (valid .npy files of every dtype and rank, version 1.0 and 2.0) and <dir>/case_json (manifests
// of varied cases). The YAML seeds are the catalog's own files (ci/fuzz copies cases/).
#include <filesystem>
#include <fstream>
#include <iostream>

#include "case_json.hpp"
#include "npy.hpp"

namespace fs = std::filesystem;
using namespace moecheck;

namespace {

void write(const fs::path& file, const std::string& bytes) {
  std::ofstream(file, std::ios::binary) << bytes;
}

void npy_seeds(const fs::path& dir) {
  fs::create_directories(dir);
  int i = 0;
  const auto add = [&](const NpyArray& a) {
    write(dir / ("seed" + std::to_string(i++) + ".npy"), format_npy(a));
  };
  add(make_npy<uint8_t>(kNpyU8, {2, 3}, {1, 2, 3, 4, 5, 255}));
  add(make_npy<uint16_t>(kNpyU16, {2, 2}, {0x3f80, 0xffff, 0x8000, 1}));
  add(make_npy<uint16_t>(kNpyF16, {3}, {0x3c00, 0x7c00, 0xfc00}));
  add(make_npy<int32_t>(kNpyI32, {1, 2, 2}, {-1, 0, 7, 1 << 30}));
  add(make_npy<int64_t>(kNpyI64, {1}, {-5}));
  add(make_npy<float>(kNpyF32, {2, 1}, {1.5f, -2.0f}));
  add(make_npy<double>(kNpyF64, {}, {3.25}));
  add(make_npy<double>(kNpyF64, {0, 4}, {}));
  // Version 2.0: a 4-byte header length.
  std::string v1 = format_npy(make_npy<int32_t>(kNpyI32, {2}, {1, 2}));
  std::string v2 = v1.substr(0, 6) + std::string("\x02\x00", 2) + v1.substr(8, 2) +
                   std::string(2, '\0') + v1.substr(10);
  write(dir / "seed_v2.npy", v2);
}

void json_seeds(const fs::path& dir) {
  fs::create_directories(dir);
  int i = 0;
  for (const char* stage : {"gemm1", "gemm2", "e2e", "act"}) {
    DumpManifest m;
    m.c.suite = "ref_vs_naive";
    m.c.stage = stage;
    m.c.format = i % 2 ? Format::gptq_kn : Format::triton_nk_u8;
    m.c.routing.kind = i % 2 ? RoutingKind::zipf : RoutingKind::ep;
    m.c.routing.param = 1.5 + i;
    m.c.symmetric = i % 2;
    m.test = m.c.suite + "." + m.c.name();
    m.arrays["activations.npy"] = {"bf16", kNpyU16, {5, 128}, "A"};
    m.arrays["w1_qweight.npy"] = {"int32", kNpyI32, {8, 128, 16}, "weights"};
    write(dir / ("seed" + std::to_string(i++) + ".json"), manifest_to_json(m));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " <corpus dir>\n";
    return 2;
  }
  npy_seeds(fs::path(argv[1]) / "npy");
  json_seeds(fs::path(argv[1]) / "case_json");
  return 0;
}
