// The gfx11 gate's parsers and rules on canned llvm-readelf / llvm-objdump output (shaped like
// clang-19's): every rule fires on a kernel that breaks it, and a missing field or unparsable
// output is an error naming what is missing, never a pass.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "budgets.hpp"
#include "check.hpp"
#include "disasm.hpp"
#include "gate_error.hpp"
#include "names.hpp"
#include "notes.hpp"

namespace gate = moecheck::gate;

namespace {

const char* const kMangled =
    "_ZN2mc12_GLOBAL__N_117tiled_gemm_kernelINS_4Bf16ELi16EEEvNS0_11TiledParamsE";

// One kernel's metadata as llvm-readelf-19 prints it; `field` (e.g. ".vgpr_spill_count: 0") is
// replaced by `with` (empty: the field is dropped).
std::string notes(const std::string& field = "", const std::string& with = "") {
  std::string k = std::string(R"(
Displaying notes found in: .note
  Owner                Data size 	Description
  AMDGPU               0x00000c38	NT_AMDGPU_METADATA (AMDGPU Metadata)
    AMDGPU Metadata:
        ---
amdhsa.kernels:
  - .args:
      - .offset:         0
        .size:           144
        .value_kind:     by_value
    .group_segment_fixed_size: 23296
    .kernarg_segment_align: 8
    .max_flat_workgroup_size: 128
    .name:           )") +
                  kMangled + R"(
    .private_segment_fixed_size: 0
    .sgpr_count:     42
    .sgpr_spill_count: 0
    .symbol:         )" +
                  kMangled + R"(.kd
    .uses_dynamic_stack: false
    .vgpr_count:     104
    .vgpr_spill_count: 0
    .wavefront_size: 32
amdhsa.target:   amdgcn-amd-amdhsa--gfx1100
amdhsa.version:
  - 1
  - 2
...
)";
  if (!field.empty()) {
    const size_t at = k.find(field);
    EXPECT_NE(at, std::string::npos) << field;
    k.replace(at, field.size(), with);
  }
  return k;
}

std::string disasm(int wmma, int b128, int scratch = 0) {
  std::string d =
      "\nx.o:\tfile format elf64-amdgpu\n\nDisassembly of section .text:\n\n"
      "0000000000002600 <.text>:\n\ts_code_end  // 000000002600: BF9F0000\n\n"
      "0000000000002800 <" +
      std::string(kMangled) +
      ">:\n"
      "\ts_load_b128 s[0:3], s[0:1], null  // 000000002800: F4080000 F8000000\n";
  for (int i = 0; i < wmma; ++i)
    d += "\tv_wmma_f32_16x16x16_bf16 v[0:7], v[8:15], v[16:23], v[0:7]\n";
  for (int i = 0; i < b128; ++i) d += "\tglobal_load_b128 v[0:3], v[4:5], off\n";
  for (int i = 0; i < scratch; ++i) d += "\tscratch_store_b32 off, v0, s32\n";
  return d + "\ts_endpgm\n";
}

gate::Budgets budgets(bool wmma = true, bool b128 = true, int vgpr_max = 128) {
  gate::Budgets b;
  b.file = "budgets.yaml";
  b.lds_max_bytes = 65536;
  b.wavefront_size = 32;
  b.kernels.push_back({"tiled_gemm_kernel<*, 16>", vgpr_max, wmma, b128, ""});
  return b;
}

// Violations of one object made of the canned notes and disassembly.
std::vector<std::string> check(const std::string& n, const std::string& d,
                               const gate::Budgets& b = budgets(), const std::string& want = "") {
  gate::GateResult r;
  gate::check_object(b, "tiled_gemm-gfx1100.o", want, gate::parse_notes(n, "x.o"),
                     gate::parse_disassembly(d, "x.o"), r);
  return r.all_violations();
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += x + "\n";
  return s;
}

// Runs `f`, expecting a GateError whose message contains every one of `parts`.
template <class F>
void expect_error(F f, std::initializer_list<const char*> parts) {
  try {
    f();
    ADD_FAILURE() << "no GateError";
  } catch (const gate::GateError& e) {
    for (const char* p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

}  // namespace

TEST(Gfx11GateNames, ShortNames) {
  EXPECT_EQ(gate::short_kernel_name(kMangled), "tiled_gemm_kernel<Bf16, 16>");
  EXPECT_EQ(gate::short_kernel_name("_ZN2mc12_GLOBAL__N_118align_count_kernelEPKiiiPiS3_iS3_i"),
            "align_count_kernel");
  EXPECT_EQ(gate::short_kernel_name("plain_c_kernel"), "plain_c_kernel");
}

TEST(Gfx11GateNotes, ParsesClang19Output) {
  const gate::CodeObjectMeta m = gate::parse_notes(notes(), "x.o");
  EXPECT_EQ(m.target, "amdgcn-amd-amdhsa--gfx1100");
  EXPECT_EQ(gate::processor_of(m.target), "gfx1100");
  EXPECT_EQ(gate::processor_of("amdgcn-amd-amdhsa--gfx1151:xnack-"), "gfx1151");
  ASSERT_EQ(m.kernels.size(), 1u);
  const gate::KernelMeta& k = m.kernels[0];
  EXPECT_EQ(k.name, kMangled);
  EXPECT_EQ(k.vgpr_count, 104);
  EXPECT_EQ(k.sgpr_count, 42);
  EXPECT_EQ(k.group_segment_fixed_size, 23296);
  EXPECT_EQ(k.wavefront_size, 32);
  EXPECT_FALSE(k.uses_dynamic_stack);
}

TEST(Gfx11GateNotes, EveryMissingFieldIsNamed) {
  for (const char* field : {".vgpr_count", ".sgpr_count", ".vgpr_spill_count", ".sgpr_spill_count",
                            ".private_segment_fixed_size", ".group_segment_fixed_size",
                            ".uses_dynamic_stack", ".wavefront_size", ".symbol"}) {
    SCOPED_TRACE(field);
    // Drop the whole line of the field.
    std::string n = notes();
    const size_t at = n.find(std::string("    ") + field + ":");
    ASSERT_NE(at, std::string::npos);
    n.erase(at, n.find('\n', at) + 1 - at);
    expect_error([&] { gate::parse_notes(n, "x.o"); },
                 {"x.o", "tiled_gemm_kernel", field, "missing"});
  }
  expect_error([&] { gate::parse_notes(notes("    .name:", "    .nome:"), "x.o"); },
               {"kernel #0", ".name: missing"});
  expect_error([&] { gate::parse_notes(notes("amdhsa.target:", "amdhsa.tarjet:"), "x.o"); },
               {"amdhsa.target: missing"});
}

TEST(Gfx11GateNotes, MalformedValuesAreNamed) {
  expect_error(
      [&] { gate::parse_notes(notes(".vgpr_count:     104", ".vgpr_count: lots"), "x.o"); },
      {".vgpr_count", "expected an unsigned integer, got 'lots'"});
  expect_error([&] { gate::parse_notes(notes(".vgpr_count:     104", ".vgpr_count: -1"), "x.o"); },
               {".vgpr_count", "got '-1'"});
  expect_error(
      [&] {
        gate::parse_notes(notes(".uses_dynamic_stack: false", ".uses_dynamic_stack: 2"), "x.o");
      },
      {".uses_dynamic_stack", "expected true or false"});
  expect_error([&] { gate::parse_notes(notes("amdhsa.version:", "amdhsa.version: [:"), "x.o"); },
               {"does not parse"});
}

TEST(Gfx11GateNotes, UnparsableOutputIsAnError) {
  expect_error([] { gate::parse_notes("", "x.o"); }, {"x.o", "no NT_AMDGPU_METADATA note"});
  expect_error([] { gate::parse_notes("Displaying notes found in: .note.gnu.build-id\n", "x.o"); },
               {"no NT_AMDGPU_METADATA note"});
  std::string truncated = notes();
  truncated.erase(truncated.find("...\n"));
  expect_error([&] { gate::parse_notes(truncated, "x.o"); }, {"not terminated by '...'"});
  expect_error(
      [] { gate::parse_notes("  AMDGPU 0x0 NT_AMDGPU_METADATA (AMDGPU Metadata)\n", "x.o"); },
      {"no YAML document"});
  expect_error([&] { gate::parse_notes(notes() + notes(), "x.o"); }, {"2 metadata notes"});
  // A metadata document without kernels: nothing to check is not a pass.
  std::string empty = notes();
  empty.replace(empty.find("amdhsa.kernels:"),
                empty.find("amdhsa.target:") - empty.find("amdhsa.kernels:"),
                "amdhsa.kernels: []\n");
  expect_error([&] { gate::parse_notes(empty, "x.o"); }, {"no kernel in the object"});
}

TEST(Gfx11GateDisasm, CountsPerFunction) {
  const auto f = gate::parse_disassembly(disasm(3, 2, 1), "x.o");
  ASSERT_EQ(f.size(), 1u);  // the ".text" padding label is not a function
  const gate::FunctionIsa& isa = f.at(kMangled);
  EXPECT_EQ(isa.wmma, 3);
  EXPECT_EQ(isa.load_b128, 2);
  EXPECT_EQ(isa.scratch, 1);
  EXPECT_EQ(isa.instructions, 2 + 3 + 2 + 1);
  expect_error([] { gate::parse_disassembly("garbage\n", "x.o"); },
               {"x.o", "no 'Disassembly of section' line"});
  expect_error(
      [] { gate::parse_disassembly("Disassembly of section .text:\n\ts_endpgm\n", "x.o"); },
      {"'s_endpgm' before any function label"});
}

TEST(Gfx11GateRules, CleanKernelPasses) {
  EXPECT_EQ(joined(check(notes(), disasm(1, 1))), "");
  EXPECT_EQ(joined(check(notes(), disasm(1, 1), budgets(), "gfx1100")), "");
}

TEST(Gfx11GateRules, EachRuleFires) {
  struct Plant {
    const char* field;
    const char* with;
    const char* expect;
  };
  const Plant plants[] = {
      {".vgpr_spill_count: 0", ".vgpr_spill_count: 7", "7 VGPR spills"},
      {".sgpr_spill_count: 0", ".sgpr_spill_count: 3", "3 SGPR spills"},
      {".private_segment_fixed_size: 0", ".private_segment_fixed_size: 16", "uses scratch"},
      {".uses_dynamic_stack: false", ".uses_dynamic_stack: true", "dynamic stack"},
      {".group_segment_fixed_size: 23296", ".group_segment_fixed_size: 65537", "LDS 65537 bytes"},
      {".wavefront_size: 32", ".wavefront_size: 64", "wave64"},
      {".vgpr_count:     104", ".vgpr_count:     129",
       "129 VGPRs (.vgpr_count) exceed the budget of 128"},
  };
  for (const Plant& p : plants) {
    const std::string v = joined(check(notes(p.field, p.with), disasm(1, 1)));
    EXPECT_NE(v.find(p.expect), std::string::npos) << p.expect << "\n" << v;
    EXPECT_NE(v.find("tiled_gemm_kernel<Bf16, 16> on gfx1100"), std::string::npos) << v;
  }
  // LDS exactly at the limit is allowed.
  EXPECT_EQ(
      joined(check(notes(".group_segment_fixed_size: 23296", ".group_segment_fixed_size: 65536"),
                   disasm(1, 1))),
      "");
  EXPECT_NE(joined(check(notes(), disasm(0, 1))).find("no v_wmma_ instruction"), std::string::npos);
  EXPECT_EQ(joined(check(notes(), disasm(0, 1), budgets(false))), "");
  EXPECT_NE(joined(check(notes(), disasm(1, 0))).find("no 16-byte global load"), std::string::npos);
  EXPECT_NE(joined(check(notes(), disasm(1, 1, 2))).find("2 scratch_* instructions"),
            std::string::npos);
  EXPECT_NE(joined(check(notes(), disasm(1, 1), budgets(), "gfx1151")).find("built for gfx1151"),
            std::string::npos);
}

TEST(Gfx11GateRules, UnbudgetedOrMissingKernelFails) {
  gate::Budgets other = budgets();
  other.kernels[0].match = "fused_gemm_kernel<*>";
  EXPECT_NE(joined(check(notes(), disasm(1, 1), other)).find("no budget entry matches"),
            std::string::npos);
  const std::string no_symbol = "Disassembly of section .text:\n";
  EXPECT_NE(joined(check(notes(), no_symbol)).find("not found in the disassembly"),
            std::string::npos);
  // A function that is not a kernel: a call the checks cannot attribute.
  const std::string extra =
      disasm(1, 1) + "0000000000009000 <_Z6helperv>:\n\ts_setpc_b64 s[30:31]\n";
  EXPECT_NE(joined(check(notes(), extra)).find("function helper() is not a kernel"),
            std::string::npos);
}

TEST(Gfx11GateBudgets, LoadsAndRejectsBadTables) {
  const std::string path = ::testing::TempDir() + "gfx11_gate_budgets.yaml";
  auto load = [&](const std::string& text) {
    std::ofstream(path) << text;
    return gate::load_budgets(path);
  };
  const gate::Budgets b = load(
      "lds_max_bytes: 65536\nwavefront_size: 32\nkernels:\n"
      "  - {match: \"tiled_gemm_kernel<*, 16>\", vgpr_max: 128, wmma: true, load_b128: true}\n"
      "  - {match: \"*\", vgpr_max: 64}\n");
  ASSERT_EQ(b.kernels.size(), 2u);
  EXPECT_EQ(b.find("tiled_gemm_kernel<Fp16, 16>")->vgpr_max, 128);
  EXPECT_TRUE(b.find("tiled_gemm_kernel<Fp16, 16>")->wmma);
  EXPECT_EQ(b.find("tiled_gemm_kernel<Fp16, 32>")->vgpr_max, 64);  // first match wins
  expect_error([&] { load("wavefront_size: 32\nkernels: [{match: a, vgpr_max: 1}]\n"); },
               {"lds_max_bytes: missing"});
  expect_error(
      [&] {
        load(
            "lds_max_bytes: 1\nwavefront_size: 32\nkernels: [{match: a, vgpr_max: 1, wmna: "
            "true}]\n");
      },
      {":3:", "wmna: unknown key"});
  expect_error(
      [&] { load("lds_max_bytes: 1\nwavefront_size: 32\nkernels: [{match: a, vgpr_max: 300}]\n"); },
      {"vgpr_max: must be in 1..256"});
  expect_error([&] { load("lds_max_bytes: 1\nwavefront_size: 32\nkernels: [{match: a}]\n"); },
               {"vgpr_max: missing"});
  expect_error([&] { load("lds_max_bytes: 1\nwavefront_size: 32\nkernels: []\n"); },
               {"kernels: expected a non-empty list"});
  std::remove(path.c_str());
  expect_error([&] { gate::load_budgets(path); }, {"cannot read the budget table"});
}

TEST(Gfx11GateBudgets, TheRepositoryTableLoads) {
  const gate::Budgets b = gate::load_budgets(MOECHECK_GATE_BUDGETS);
  EXPECT_EQ(b.lds_max_bytes, 65536);
  EXPECT_EQ(b.wavefront_size, 32);
  ASSERT_NE(b.find("tiled_gemm_kernel<Bf16, 64>"), nullptr);
  EXPECT_TRUE(b.find("tiled_gemm_kernel<Bf16, 64>")->wmma);
}
