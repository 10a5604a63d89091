// CPU proof of the matrix-multiply atom's lane maps (DESIGN.md section 6) and of the kernels'
// in-register int4 decode order (section 2), with the very code the kernels use:
// moecheck/atom_layout.h (the maps and decode maps the fragments and C stores go through) and
// moecheck/nibble_order.h (the order, and pair_of_word, which both GEMM kernels decode with).
//
// Atom: fill random 16x16 A and B (small integers: every fp32 sum is exact), load each lane's
// fragment registers through the maps (as the kernels' fragments are laid out), run an
// emulation of the instruction written from its documentation alone (not from the maps: the PTX
// ISA fragment tables for mma.sync m16n8k16, the RDNA3 ISA's WMMA register layout), and read the
// accumulators back through the maps' c(). The result must be A * B. Deliberately wrong maps,
// including ones that pass check_layout(), must fail.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "moecheck/atom_layout.h"
#include "moecheck/nibble_order.h"
#include "moecheck/reference/formats.hpp"

namespace atom = moecheck::atom;
namespace int4 = moecheck::int4;

namespace {

// ---- registers ---------------------------------------------------------------------------------
// 16-bit elements are bf16 bit patterns; small integers are exact in bf16 (and the layout does
// not depend on the dtype: f16 and bf16 share one fragment layout in both ISAs).
uint16_t to_bf16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  return static_cast<uint16_t>(u >> 16);  // exact for the small integers used here
}
float from_bf16(uint16_t b) {
  const uint32_t u = static_cast<uint32_t>(b) << 16;
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}
// Half h (0 low, 1 high) of a 32-bit register, as a number.
float half_of(uint32_t reg, int h) {
  return from_bf16(static_cast<uint16_t>(reg >> (16 * h)));
}

// One wave's registers for one atom step: A and B as 32-bit words (element e in the low half of
// word e/2 when e is even, as atom_layout.h and atom.hpp store fragments), C as fp32.
template <class L>
struct WaveRegs {
  uint32_t a[atom::kLanes][L::kAElems / 2] = {};
  uint32_t b[atom::kLanes][L::kBElems / 2] = {};
  float c[atom::kLanes][L::kCElems] = {};
};

using Mat = std::vector<std::vector<float>>;  // [row][col]

Mat random_matrix(std::mt19937& rng) {
  std::uniform_int_distribution<int> d(-4, 4);
  Mat m(16, std::vector<float>(16));
  for (auto& row : m) {
    for (float& x : row) x = static_cast<float>(d(rng));
  }
  return m;
}

// Fragments through the maps: A element (m, k) = A[m][k]; B element (k, n) = B[k][n].
template <class L>
WaveRegs<L> load_through_maps(const Mat& a, const Mat& b) {
  WaveRegs<L> r;
  for (int lane = 0; lane < atom::kLanes; ++lane) {
    for (int e = 0; e < L::kAElems; ++e) {
      const atom::Coord x = L::a(lane, e);
      r.a[lane][e / 2] |= static_cast<uint32_t>(to_bf16(a[x.row][x.col])) << (16 * (e % 2));
    }
    for (int e = 0; e < L::kBElems; ++e) {
      const atom::Coord x = L::b(lane, e);
      r.b[lane][e / 2] |= static_cast<uint32_t>(to_bf16(b[x.row][x.col])) << (16 * (e % 2));
    }
  }
  return r;
}

// ---- the instructions, from their documentation ------------------------------------------------
// An emulation returns an empty string, or why the registers are not a valid input.

// PTX ISA, "Matrix Fragments for mma.m16n8k16 with floating point type" (.f16/.bf16 inputs,
// .f32 accumulators), groupID = laneid >> 2, threadID_in_group = laneid % 4:
//   A (16x16, row-major operand): a0..a7 in four .b32 registers {a0,a1} {a2,a3} {a4,a5} {a6,a7}
//     row = groupID for a0,a1,a4,a5, groupID + 8 for a2,a3,a6,a7
//     col = threadID_in_group * 2 + (i & 1), + 8 for a4..a7
//   B (16x8, k x n): b0..b3 in two .b32 registers {b0,b1} {b2,b3}
//     row = threadID_in_group * 2 + (i & 1), + 8 for b2,b3;  col = groupID
//   C/D (16x8 f32): c0..c3;  row = groupID for c0,c1, groupID + 8 for c2,c3
//     col = threadID_in_group * 2 + (i & 1)
// The atom (kernels/src/atom.hpp) issues two: A words 0..3 with B words 0,1 into C 0..3, then A
// words 0..3 with B words 2,3 into C 4..7.
void mma_m16n8k16(const uint32_t (&a)[32][4], const uint32_t (&b)[32][4], int b_word,
                  float (&c)[32][8], int c_first) {
  float A[16][16], B[16][8], D[16][8];
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane >> 2, t = lane % 4;
    for (int i = 0; i < 8; ++i) {
      const int row = (i < 2 || (i >= 4 && i < 6)) ? g : g + 8;
      const int col = t * 2 + (i & 1) + (i >= 4 ? 8 : 0);
      A[row][col] = half_of(a[lane][i / 2], i % 2);
    }
    for (int i = 0; i < 4; ++i) {
      B[t * 2 + (i & 1) + (i >= 2 ? 8 : 0)][g] = half_of(b[lane][b_word + i / 2], i % 2);
    }
    for (int i = 0; i < 4; ++i) D[i < 2 ? g : g + 8][t * 2 + (i & 1)] = c[lane][c_first + i];
  }
  for (int m = 0; m < 16; ++m) {
    for (int n = 0; n < 8; ++n) {
      for (int k = 0; k < 16; ++k) D[m][n] += A[m][k] * B[k][n];
    }
  }
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane >> 2, t = lane % 4;
    for (int i = 0; i < 4; ++i) c[lane][c_first + i] = D[i < 2 ? g : g + 8][t * 2 + (i & 1)];
  }
}

template <class L>
std::string emulate_mma_sync_x2(WaveRegs<L>& r) {
  mma_m16n8k16(r.a, r.b, 0, r.c, 0);
  mma_m16n8k16(r.a, r.b, 2, r.c, 4);
  return "";
}
// The n8 step (atom.hpp atom_mma_n8): the first of the two only.
template <class L>
std::string emulate_mma_sync_n8(WaveRegs<L>& r) {
  mma_m16n8k16(r.a, r.b, 0, r.c, 0);
  return "";
}

// RDNA3 ISA, "Wave Matrix Multiply Accumulate" (v_wmma_f32_16x16x16_{f16,bf16}, wave32):
//   A: lane l (0..15) holds row l, its 16 elements are k = 0..15 (element i in VGPR i/2, half
//      i%2); lanes 16..31 must hold the same values as lanes 0..15.
//   B: lane l (0..15) holds column l, k = 0..15 likewise; lanes 16..31 repeat lanes 0..15.
//   C/D (f32): VGPR v of lane l holds D[2v + l/16][l % 16].
template <class L>
std::string emulate_wmma_gfx11(WaveRegs<L>& r) {
  float A[16][16], B[16][16], D[16][16];
  for (int lane = 0; lane < 32; ++lane) {
    for (int w = 0; w < 8; ++w) {
      if (r.a[lane][w] != r.a[lane % 16][w] || r.b[lane][w] != r.b[lane % 16][w]) {
        std::ostringstream os;
        os << "lane " << lane << " does not repeat lane " << lane % 16 << " (A/B VGPR " << w << ")";
        return os.str();  // the instruction's input contract is broken
      }
    }
  }
  for (int l = 0; l < 16; ++l) {
    for (int i = 0; i < 16; ++i) {
      A[l][i] = half_of(r.a[l][i / 2], i % 2);
      B[i][l] = half_of(r.b[l][i / 2], i % 2);
    }
  }
  for (int lane = 0; lane < 32; ++lane) {
    for (int v = 0; v < 8; ++v) D[2 * v + lane / 16][lane % 16] = r.c[lane][v];
  }
  for (int m = 0; m < 16; ++m) {
    for (int n = 0; n < 16; ++n) {
      for (int k = 0; k < 16; ++k) D[m][n] += A[m][k] * B[k][n];
    }
  }
  for (int lane = 0; lane < 32; ++lane) {
    for (int v = 0; v < 8; ++v) r.c[lane][v] = D[2 * v + lane / 16][lane % 16];
  }
  return "";
}

// ---- the check ---------------------------------------------------------------------------------
// C starts at a known matrix C0 (stored through the maps' c()), so the accumulate is checked too:
// the atom computes C0 + A * B. An n8 step (n8 = true) is checked on the C elements it updates,
// e < kN8CElems, which must be those of columns 0..7 (check_layout proves it; the emulation
// shows the step computes them).
template <class L, class Emulate>
testing::AssertionResult atom_computes_product(Emulate emulate, unsigned seed, bool n8 = false) {
  std::mt19937 rng(seed);
  const Mat a = random_matrix(rng), b = random_matrix(rng), c0 = random_matrix(rng);
  WaveRegs<L> r = load_through_maps<L>(a, b);
  for (int lane = 0; lane < atom::kLanes; ++lane) {
    for (int e = 0; e < L::kCElems; ++e) {
      const atom::Coord x = L::c(lane, e);
      r.c[lane][e] = c0[x.row][x.col];
    }
  }
  const std::string invalid = emulate(r);
  if (!invalid.empty()) return testing::AssertionFailure() << "invalid input: " << invalid;
  for (int lane = 0; lane < atom::kLanes; ++lane) {
    for (int e = 0; e < (n8 ? L::kN8CElems : L::kCElems); ++e) {
      const atom::Coord x = L::c(lane, e);
      if (n8 && x.col >= 8) continue;  // gfx11's whole-atom n8 step also computes these
      float want = c0[x.row][x.col];
      for (int k = 0; k < 16; ++k) want += a[x.row][k] * b[k][x.col];
      if (r.c[lane][e] != want) {
        return testing::AssertionFailure()
               << "mismatch: lane " << lane << " C element " << e << " maps to (" << x.row << ", "
               << x.col << "): atom " << r.c[lane][e] << ", C0 + A*B " << want;
      }
    }
  }
  return testing::AssertionSuccess();
}

template <class L>
testing::AssertionResult mma_sync_ok(unsigned seed) {
  return atom_computes_product<L>(emulate_mma_sync_x2<L>, seed);
}
template <class L>
testing::AssertionResult wmma_ok(unsigned seed) {
  return atom_computes_product<L>(emulate_wmma_gfx11<L>, seed);
}
template <class L>
testing::AssertionResult mma_sync_n8_ok(unsigned seed) {
  return atom_computes_product<L>(emulate_mma_sync_n8<L>, seed, /*n8=*/true);
}

// ---- deliberately wrong maps -------------------------------------------------------------------
// Each is the real layout with one plausible bug; those asserted to pass check_layout() below
// can only be told by the emulation.
// NVIDIA: A elements {0,1} and {2,3} swapped (rows g and g+8 exchanged in the first k half).
struct MmaSyncASwapped : atom::MmaSyncLayout {
  static constexpr atom::Coord a(int lane, int e) {
    return atom::MmaSyncLayout::a(lane, e < 4 ? e ^ 2 : e);
  }
};
// NVIDIA: the two m16n8k16 halves of B exchanged (elements 0..3 taken from n = 8..15). Its B
// columns 0..7 are then outside an n8 step's words, which check_layout() refuses too.
struct MmaSyncBHalvesSwapped : atom::MmaSyncLayout {
  static constexpr atom::Coord b(int lane, int e) {
    return atom::MmaSyncLayout::b(lane, (e + 4) % 8);
  }
};
// gfx11: the C map with lane/16 and v exchanged: row 8 * (lane / 16) + v (RDNA4's layout).
struct Gfx11CBlocked : atom::Gfx11WmmaLayout {
  static constexpr atom::Coord c(int lane, int e) { return {8 * (lane / 16) + e, lane % 16}; }
};
// gfx11: A rows off by one lane.
struct Gfx11AShifted : atom::Gfx11WmmaLayout {
  static constexpr atom::Coord a(int lane, int e) { return {(lane + 1) % 16, e}; }
};
// gfx11: lanes 16..31 load other rows of A than lanes 0..15 (breaks the replication contract).
struct Gfx11AUpperDiffers : atom::Gfx11WmmaLayout {
  static constexpr atom::Coord a(int lane, int e) { return {lane < 16 ? lane : 31 - lane, e}; }
};
static_assert(atom::check_layout<MmaSyncASwapped>());
static_assert(!atom::check_layout<MmaSyncBHalvesSwapped>());
static_assert(atom::check_layout<Gfx11CBlocked>());
static_assert(atom::check_layout<Gfx11AShifted>());
static_assert(atom::check_layout<Gfx11AUpperDiffers>());

}  // namespace

TEST(AtomLanes, MmaSyncMapsComputeTheProduct) {
  for (unsigned seed = 1; seed <= 20; ++seed) EXPECT_TRUE(mma_sync_ok<atom::MmaSyncLayout>(seed));
}

TEST(AtomLanes, Gfx11WmmaMapsComputeTheProduct) {
  for (unsigned seed = 1; seed <= 20; ++seed) EXPECT_TRUE(wmma_ok<atom::Gfx11WmmaLayout>(seed));
}

TEST(AtomLanes, N8StepComputesColumns0To7) {
  for (unsigned seed = 1; seed <= 20; ++seed) {
    EXPECT_TRUE(mma_sync_n8_ok<atom::MmaSyncLayout>(seed));
    EXPECT_TRUE((atom_computes_product<atom::Gfx11WmmaLayout>(
        emulate_wmma_gfx11<atom::Gfx11WmmaLayout>, seed, /*n8=*/true)));
  }
  EXPECT_FALSE(mma_sync_n8_ok<MmaSyncBHalvesSwapped>(1));
  EXPECT_FALSE(mma_sync_n8_ok<MmaSyncASwapped>(1));
}

TEST(AtomLanes, WrongMapsFail) {
  EXPECT_FALSE(mma_sync_ok<MmaSyncASwapped>(1));
  EXPECT_FALSE(mma_sync_ok<MmaSyncBHalvesSwapped>(1));
  EXPECT_FALSE(wmma_ok<Gfx11CBlocked>(1));
  EXPECT_FALSE(wmma_ok<Gfx11AShifted>(1));
  const testing::AssertionResult upper = wmma_ok<Gfx11AUpperDiffers>(1);
  EXPECT_FALSE(upper);
  EXPECT_NE(std::string(upper.message()).find("does not repeat lane"), std::string::npos)
      << upper.message();
  EXPECT_NE(std::string(wmma_ok<Gfx11CBlocked>(1).message()).find("mismatch"), std::string::npos);
}

// ---- int4 decode order -------------------------------------------------------------------------
namespace {

moecheck::QuantWeights random_weights(unsigned seed) {
  moecheck::WeightShape s;
  s.experts = 2;
  s.n = 16;
  s.k = 64;
  s.group = 32;
  auto w = moecheck::QuantWeights::zeros_like(s, moecheck::DType::bf16, /*symmetric=*/false);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(0, 15);
  for (uint8_t& q : w.q) q = static_cast<uint8_t>(d(rng));
  for (uint8_t& z : w.zero) z = static_cast<uint8_t>(d(rng));
  return w;
}

// Decodes word j of row (e, n) both ways the kernels do and counts disagreements with q:
// k offset o at nibble_of_k(o), and nibble p holding k offset k_of_nibble(p) (the kernels'
// pair_of_word is checked against nibble_of_k below).
int decode_mismatches(const moecheck::QuantWeights& w, int64_t e, int64_t n, int64_t j,
                      uint32_t word) {
  int bad = 0;
  for (int o = 0; o < 8; ++o) {
    bad += int4::nibble(word, int4::nibble_of_k(o)) != w.q[w.q_index(e, n, 8 * j + o)];
  }
  for (int p = 0; p < 8; ++p) {
    bad += int4::nibble(word, p) != w.q[w.q_index(e, n, 8 * j + int4::k_of_nibble(p))];
  }
  return bad;
}

}  // namespace

TEST(Int4Order, MatchesTheReferenceOrderTable) {
  for (int p = 0; p < 8; ++p) EXPECT_EQ(int4::k_of_nibble(p), moecheck::kShuffledOrder[p]);
}

TEST(Int4Order, DecodesExllamaNK) {
  const moecheck::QuantWeights w = random_weights(7);
  const auto& s = w.shape;
  for (int64_t kw : {int64_t{0}, s.k / 8 + 3}) {  // packed rows and padded rows
    const moecheck::ExllamaNK p = moecheck::pack_exllama_nk(w, kw);
    int bad = 0;
    for (int64_t e = 0; e < s.experts; ++e) {
      for (int64_t n = 0; n < s.n; ++n) {
        for (int64_t j = 0; j < s.k / 8; ++j) {
          bad += decode_mismatches(w, e, n, j,
                                   static_cast<uint32_t>(p.qweight[(e * s.n + n) * p.kw + j]));
        }
        // Zeros [E, N/8, K/G]: n at nibble n % 8 (tiled kernel: nibble(z_row[g], n % 8)).
        for (int64_t g = 0; g < s.groups(); ++g) {
          const auto zw = static_cast<uint32_t>(p.zeros[(e * (s.n / 8) + n / 8) * s.groups() + g]);
          bad += int4::nibble(zw, static_cast<int>(n % 8)) != w.zero[w.g_index(e, n, g)];
        }
      }
    }
    EXPECT_EQ(bad, 0) << "kw " << kw;
  }
}

TEST(Int4Order, DecodesShuffledGptqKN) {
  const moecheck::QuantWeights w = random_weights(11);
  const auto& s = w.shape;
  for (auto zf : {moecheck::GptqZeros::v1, moecheck::GptqZeros::v2}) {
    const moecheck::GptqKN p = moecheck::pack_gptq_kn(w, /*shuffled=*/true, zf);
    // The fused kernel's zero_add: 1 for v1 (stored z - 1), 0 for v2, modulo 16.
    const uint32_t zero_add = zf == moecheck::GptqZeros::v1 ? 1u : 0u;
    int bad = 0;
    for (int64_t e = 0; e < s.experts; ++e) {
      for (int64_t n = 0; n < s.n; ++n) {
        for (int64_t j = 0; j < s.k / 8; ++j) {
          bad += decode_mismatches(w, e, n, j,
                                   static_cast<uint32_t>(p.qweight[(e * (s.k / 8) + j) * s.n + n]));
        }
        for (int64_t g = 0; g < s.groups(); ++g) {
          const auto zw = static_cast<uint32_t>(p.zeros[(e * s.groups() + g) * (s.n / 8) + n / 8]);
          bad += ((int4::nibble(zw, static_cast<int>(n % 8)) + zero_add) & 15u) !=
                 w.zero[w.g_index(e, n, g)];
        }
      }
    }
    EXPECT_EQ(bad, 0);
  }
}

// The unshuffled GPTQ order (nibble p = k offset p) is a different format: the kernels' decode
// must disagree with it, so a packer/kernel order mix-up cannot pass.
TEST(Int4Order, UnshuffledGptqIsNotWhatTheKernelsDecode) {
  const moecheck::QuantWeights w = random_weights(13);
  const moecheck::GptqKN p = moecheck::pack_gptq_kn(w, /*shuffled=*/false, moecheck::GptqZeros::v2);
  int bad = 0;
  for (int64_t n = 0; n < w.shape.n; ++n) {
    for (int64_t j = 0; j < w.shape.k / 8; ++j) {
      bad += decode_mismatches(w, 0, n, j, static_cast<uint32_t>(p.qweight[j * w.shape.n + n]));
    }
  }
  EXPECT_GT(bad, 0);
}

// ---- decode maps (the fused family's; the tiled family's are at the end) ------------------------
// One chunk of a GEMM kernel, on the CPU: 32 k x 32 columns of packed words and the activations go
// into each lane's fragments through a decode map exactly as the kernel builds them (the lane's
// words, pair_of_word, and the activation words), two steps x two atoms of the emulated
// instruction run, and the accumulators are read back through the atom's c() and the map's
// col_of(). Every token and column must hold sum_k act[token][k] * q[k][column]. The fused family
// computes the transposed product in n8 steps (weights as A, tokens 0..7 as B's columns: C is
// (column slot, token)); the tiled family the plain one, 16 rows of tokens (C is (token, column
// slot)).
namespace {

struct DecodeChunk {
  float q[32][32] = {};        // [k][column], 0..15
  float act[16][32] = {};      // [token][k]; fused chunks: tokens 8..15 zero (never in a block)
  uint32_t words[4][32] = {};  // [word row][column]: k = 8r + k_of_nibble(p) at nibble p
};

enum class Family { fused, tiled };

DecodeChunk random_chunk(unsigned seed, Family f) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> nib(0, 15), small(-3, 3);
  DecodeChunk d;
  for (int k = 0; k < 32; ++k) {
    for (int n = 0; n < 32; ++n) d.q[k][n] = static_cast<float>(nib(rng));
  }
  for (int m = 0; m < (f == Family::fused ? 8 : 16); ++m) {
    for (int k = 0; k < 32; ++k) d.act[m][k] = static_cast<float>(small(rng));
  }
  for (int r = 0; r < 4; ++r) {
    for (int n = 0; n < 32; ++n) {
      for (int p = 0; p < 8; ++p) {
        d.words[r][n] |= static_cast<uint32_t>(d.q[8 * r + int4::k_of_nibble(p)][n]) << (4 * p);
      }
    }
  }
  return d;
}

uint32_t pack_bf16(float lo, float hi) {
  return static_cast<uint32_t>(to_bf16(lo)) | (static_cast<uint32_t>(to_bf16(hi)) << 16);
}

// Runs one chunk: for each step s and atom a, fill(s, a, regs) loads A and B fragments (as a
// kernel builds them), the emulated instruction accumulates, and the accumulators, read back
// through the atom's c() and the map's col_of() (fused: C elements < kN8CElems, row = column
// slot, column = token; tiled: every C element, row = token, column = column slot), must hold
// sum_k act[token][k] * q[k][column].
template <class L, class D, class Emulate, class Fill>
testing::AssertionResult chunk_ok(Family f, const DecodeChunk& d, Emulate emulate, Fill fill) {
  float acc[D::kAtomsN][atom::kLanes][L::kCElems] = {};
  for (int s = 0; s < 2; ++s) {
    for (int a = 0; a < D::kAtomsN; ++a) {
      WaveRegs<L> r;
      fill(s, a, r);
      for (int lane = 0; lane < atom::kLanes; ++lane) {
        for (int e = 0; e < L::kCElems; ++e) r.c[lane][e] = acc[a][lane][e];
      }
      const std::string invalid = emulate(r);
      if (!invalid.empty()) return testing::AssertionFailure() << "invalid input: " << invalid;
      for (int lane = 0; lane < atom::kLanes; ++lane) {
        for (int e = 0; e < L::kCElems; ++e) acc[a][lane][e] = r.c[lane][e];
      }
    }
  }
  const int elems = f == Family::fused ? L::kN8CElems : L::kCElems;
  for (int a = 0; a < D::kAtomsN; ++a) {
    for (int lane = 0; lane < atom::kLanes; ++lane) {
      for (int e = 0; e < elems; ++e) {
        const atom::Coord x = L::c(lane, e);
        const int token = f == Family::fused ? x.col : x.row;
        const int n = D::col_of(a, f == Family::fused ? x.row : x.col);
        float want = 0;
        for (int k = 0; k < 32; ++k) want += d.act[token][k] * d.q[k][n];
        if (acc[a][lane][e] != want) {
          return testing::AssertionFailure()
                 << "mismatch: atom " << a << " lane " << lane << " C element " << e << " is token "
                 << token << " column " << n << ": " << acc[a][lane][e] << ", act * q " << want;
        }
      }
    }
  }
  return testing::AssertionSuccess();
}

// The bf16 word of a weight fragment: pair p of a packed word, as the kernels dequantise it (q
// only).
uint32_t pair_word(uint32_t packed, int p) {
  const uint32_t pair = int4::pair_of_word(packed, p);
  return pack_bf16(static_cast<float>(pair & 15u), static_cast<float>(pair >> 16));
}

// A fused-family chunk: A of step s, atom a is the lane's words pair by pair (w_word), B the
// lane's token's activation words (act_word) in the first kN8BWords registers, as the kernel
// hands them to an n8 step.
template <class L, class D, class Emulate>
testing::AssertionResult fused_chunk_ok(Emulate emulate, unsigned seed) {
  const DecodeChunk d = random_chunk(seed, Family::fused);
  return chunk_ok<L, D>(Family::fused, d, emulate, [&](int s, int a, WaveRegs<L>& r) {
    for (int lane = 0; lane < atom::kLanes; ++lane) {
      for (int i = 0; i < L::kAElems / 2; ++i) {
        const atom::Pick pick = D::w_word(s, a, i);
        const atom::Coord w = D::word(lane, pick.w);
        r.a[lane][i] = pair_word(d.words[w.row][w.col], pick.p);
      }
      const int token = D::act_token(lane);
      for (int i = 0; i < L::kN8BWords; ++i) {
        const atom::APick pick = D::act_word(s, i);
        const int k = D::act_k(lane, pick.v) + 2 * pick.j;
        r.b[lane][i] = pack_bf16(d.act[token][k], d.act[token][k + 1]);
      }
    }
  });
}

// Wrong decode maps: each is a real map with one plausible bug. check_decode_map rejects each,
// and the emulation shows the wrong numbers it would produce.
// NVIDIA: the two columns of a lane's word pair read back exchanged (C's col_of off).
struct MmaSyncDecodeColsSwapped : atom::MmaSyncDecode {
  static constexpr int col_of(int a, int mslot) {
    return atom::MmaSyncDecode::col_of(a, (mslot + 8) % 16);
  }
};
// NVIDIA: the two pairs of a step taken in the wrong order (k 2..3 where 0..1 belong).
struct MmaSyncDecodePairsSwapped : atom::MmaSyncDecode {
  static constexpr atom::Pick w_word(int s, int a, int i) {
    return {2 * a + i % 2, 2 * s + 1 - i / 2};
  }
};
// NVIDIA: each lane loads the next token's activations.
struct MmaSyncDecodeTokenShifted : atom::MmaSyncDecode {
  static constexpr int act_token(int lane) { return (lane / 4 + 1) % 8; }
};
// gfx11: the activation vectors of the two steps exchanged.
struct Gfx11DecodeStepsSwapped : atom::Gfx11WmmaDecode {
  static constexpr atom::APick act_word(int s, int i) { return {2 * (1 - s) + i / 4, i % 4}; }
};
static_assert(!atom::check_decode_map<atom::MmaSyncLayout, MmaSyncDecodeColsSwapped>());
static_assert(!atom::check_decode_map<atom::MmaSyncLayout, MmaSyncDecodePairsSwapped>());
static_assert(!atom::check_decode_map<atom::MmaSyncLayout, MmaSyncDecodeTokenShifted>());
static_assert(!atom::check_decode_map<atom::Gfx11WmmaLayout, Gfx11DecodeStepsSwapped>());

}  // namespace

TEST(DecodeMaps, MmaSyncChunkComputesActTimesWeights) {
  for (unsigned seed = 1; seed <= 10; ++seed) {
    EXPECT_TRUE((fused_chunk_ok<atom::MmaSyncLayout, atom::MmaSyncDecode>(
        emulate_mma_sync_n8<atom::MmaSyncLayout>, seed)));
  }
}

TEST(DecodeMaps, Gfx11ChunkComputesActTimesWeights) {
  for (unsigned seed = 1; seed <= 10; ++seed) {
    EXPECT_TRUE((fused_chunk_ok<atom::Gfx11WmmaLayout, atom::Gfx11WmmaDecode>(
        emulate_wmma_gfx11<atom::Gfx11WmmaLayout>, seed)));
  }
}

TEST(DecodeMaps, WrongMapsComputeWrongNumbers) {
  const auto n8 = emulate_mma_sync_n8<atom::MmaSyncLayout>;
  EXPECT_FALSE((fused_chunk_ok<atom::MmaSyncLayout, MmaSyncDecodeColsSwapped>(n8, 1)));
  EXPECT_FALSE((fused_chunk_ok<atom::MmaSyncLayout, MmaSyncDecodePairsSwapped>(n8, 1)));
  EXPECT_FALSE((fused_chunk_ok<atom::MmaSyncLayout, MmaSyncDecodeTokenShifted>(n8, 1)));
  EXPECT_FALSE((fused_chunk_ok<atom::Gfx11WmmaLayout, Gfx11DecodeStepsSwapped>(
      emulate_wmma_gfx11<atom::Gfx11WmmaLayout>, 1)));
}

TEST(Int4Order, PairOfWordIsTheTwoKOfAPair) {
  std::mt19937 rng(5);
  for (int trial = 0; trial < 100; ++trial) {
    const uint32_t w = static_cast<uint32_t>(rng());
    for (int p = 0; p < 4; ++p) {
      const uint32_t pair = int4::pair_of_word(w, p);
      EXPECT_EQ(pair & 15u, int4::nibble(w, int4::nibble_of_k(2 * p)));
      EXPECT_EQ(pair >> 16, int4::nibble(w, int4::nibble_of_k(2 * p + 1)));
      EXPECT_EQ(pair & 0xFFF0FFF0u, 0u);
    }
  }
}

// ---- the tiled family: A from a row-major tile, natural-k decode maps ---------------------------
// The tiled kernel loads A fragments from a row-major tile through the layout's a_seg (atom.hpp
// atom_load_a) and B through a tiled decode map (b_pick). The loads are emulated from their
// documentation, not from the maps.
namespace {

using TileFn = std::function<float(int, int)>;  // (row, k) of the atom's 16 x 16 A tile
template <class L>
using AWords = uint32_t[atom::kLanes][L::kAElems / 2];

// PTX ISA, ldmatrix.sync.aligned.m8n8.x4.shared.b16: threads 8i .. 8i + 7 supply the addresses of
// rows 0..7 of matrix i, a row being 8 consecutive 16-bit elements; each thread receives in
// register i elements 2 * (laneid % 4) and + 1 of row laneid / 4 of matrix i.
template <class L>
void ldmatrix_x4(const TileFn& tile, AWords<L>& a) {
  static_assert(L::kAElems / 2 == 4, "four registers");
  for (int lane = 0; lane < atom::kLanes; ++lane) {
    for (int i = 0; i < 4; ++i) {
      const atom::Coord row = L::a_seg(8 * i + lane / 4, 0);  // the supplying thread's segment
      const int k = row.col + 2 * (lane % 4);
      a[lane][i] = pack_bf16(tile(row.row, k), tile(row.row, k + 1));
    }
  }
}

// gfx11: the lane reads its segments itself, segment q into fragment words 4q .. 4q + 3.
template <class L>
void own_segments(const TileFn& tile, AWords<L>& a) {
  for (int lane = 0; lane < atom::kLanes; ++lane) {
    for (int q = 0; q < L::kASegs; ++q) {
      const atom::Coord seg = L::a_seg(lane, q);
      for (int j = 0; j < 4; ++j) {
        a[lane][4 * q + j] =
            pack_bf16(tile(seg.row, seg.col + 2 * j), tile(seg.row, seg.col + 2 * j + 1));
      }
    }
  }
}

// The fragment the load gives must be the one the layout's a() describes.
template <class L, class Load>
testing::AssertionResult a_segments_ok(Load load, unsigned seed) {
  std::mt19937 rng(seed);
  const Mat a = random_matrix(rng), b = random_matrix(rng);
  const WaveRegs<L> want = load_through_maps<L>(a, b);
  AWords<L> got = {};
  load([&](int row, int k) { return a[row][k]; }, got);
  for (int lane = 0; lane < atom::kLanes; ++lane) {
    for (int i = 0; i < L::kAElems / 2; ++i) {
      if (got[lane][i] != want.a[lane][i]) {
        return testing::AssertionFailure() << "lane " << lane << " A word " << i << " differs";
      }
    }
  }
  return testing::AssertionSuccess();
}

// A tiled chunk: A of step s is the tile's k = 16s .. 16s + 15, loaded through a_seg; B word i
// is pair p of word row r of the lane's column lc (b_pick).
template <class L, class D, class Emulate, class Load>
testing::AssertionResult tiled_chunk_ok(Emulate emulate, Load load, unsigned seed) {
  const DecodeChunk d = random_chunk(seed, Family::tiled);
  return chunk_ok<L, D>(Family::tiled, d, emulate, [&](int s, int a, WaveRegs<L>& r) {
    load([&](int row, int k) { return d.act[row][16 * s + k]; }, r.a);
    for (int lane = 0; lane < atom::kLanes; ++lane) {
      for (int i = 0; i < L::kBElems / 2; ++i) {
        const atom::TiledPick x = D::b_pick(lane, s, a, i);
        r.b[lane][i] = pair_word(d.words[x.r][D::col(lane, x.lc)], x.p);
      }
    }
  });
}

// Wrong ones, each a real map with one plausible bug.
// NVIDIA: the k halves of the segments exchanged (matrices 0, 1 read k 8..15).
struct MmaSyncSegHalvesSwapped : atom::MmaSyncLayout {
  static constexpr atom::Coord a_seg(int lane, int q) {
    const atom::Coord x = atom::MmaSyncLayout::a_seg(lane, q);
    return {x.row, 8 - x.col};
  }
};
// gfx11: the lane's two segments exchanged.
struct Gfx11SegsSwapped : atom::Gfx11WmmaLayout {
  static constexpr atom::Coord a_seg(int lane, int q) { return {lane % 16, 8 * (1 - q)}; }
};
// NVIDIA: the pair of the lane's neighbour (p = t + 1).
struct MmaSyncTiledPairOff : atom::MmaSyncTiledDecode {
  static constexpr atom::TiledPick b_pick(int lane, int s, int a, int i) {
    return {2 * a + i / 2, 2 * s + i % 2, (lane + 1) % 4};
  }
};
// NVIDIA: the fused map's column order is kept but the lane's columns are numbered 0..3 from
// its group's other end.
struct MmaSyncTiledColsReversed : atom::MmaSyncTiledDecode {
  static constexpr int col(int lane, int lc) { return 4 * (lane / 4) + 3 - lc; }
};
// gfx11: the two steps' word rows exchanged.
struct Gfx11TiledStepsSwapped : atom::Gfx11WmmaTiledDecode {
  static constexpr atom::TiledPick b_pick(int /*lane*/, int s, int a, int i) {
    return {a, 2 * (1 - s) + i / 4, i % 4};
  }
};
static_assert(!atom::check_tiled_decode_map<atom::MmaSyncLayout, MmaSyncTiledPairOff>());
static_assert(!atom::check_tiled_decode_map<atom::MmaSyncLayout, MmaSyncTiledColsReversed>());
static_assert(!atom::check_tiled_decode_map<atom::Gfx11WmmaLayout, Gfx11TiledStepsSwapped>());

}  // namespace

TEST(AtomLanes, ASegmentsLoadTheAFragment) {
  for (unsigned seed = 1; seed <= 5; ++seed) {
    EXPECT_TRUE(a_segments_ok<atom::MmaSyncLayout>(ldmatrix_x4<atom::MmaSyncLayout>, seed));
    EXPECT_TRUE(a_segments_ok<atom::Gfx11WmmaLayout>(own_segments<atom::Gfx11WmmaLayout>, seed));
  }
  EXPECT_FALSE(a_segments_ok<MmaSyncSegHalvesSwapped>(ldmatrix_x4<MmaSyncSegHalvesSwapped>, 1));
  EXPECT_FALSE(a_segments_ok<Gfx11SegsSwapped>(own_segments<Gfx11SegsSwapped>, 1));
}

TEST(DecodeMaps, TiledChunksComputeActTimesWeights) {
  for (unsigned seed = 1; seed <= 10; ++seed) {
    EXPECT_TRUE((tiled_chunk_ok<atom::MmaSyncLayout, atom::MmaSyncTiledDecode>(
        emulate_mma_sync_x2<atom::MmaSyncLayout>, ldmatrix_x4<atom::MmaSyncLayout>, seed)));
    EXPECT_TRUE((tiled_chunk_ok<atom::Gfx11WmmaLayout, atom::Gfx11WmmaTiledDecode>(
        emulate_wmma_gfx11<atom::Gfx11WmmaLayout>, own_segments<atom::Gfx11WmmaLayout>, seed)));
  }
}

TEST(DecodeMaps, WrongTiledMapsComputeWrongNumbers) {
  const auto mma = emulate_mma_sync_x2<atom::MmaSyncLayout>;
  const auto ldm = ldmatrix_x4<atom::MmaSyncLayout>;
  EXPECT_FALSE((tiled_chunk_ok<atom::MmaSyncLayout, MmaSyncTiledPairOff>(mma, ldm, 1)));
  EXPECT_FALSE((tiled_chunk_ok<atom::MmaSyncLayout, MmaSyncTiledColsReversed>(mma, ldm, 1)));
  EXPECT_FALSE((tiled_chunk_ok<atom::Gfx11WmmaLayout, Gfx11TiledStepsSwapped>(
      emulate_wmma_gfx11<atom::Gfx11WmmaLayout>, own_segments<atom::Gfx11WmmaLayout>, 1)));
}
