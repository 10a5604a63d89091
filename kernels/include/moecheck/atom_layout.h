// The lane layouts of the matrix-multiply atom (DESIGN.md section 6), as constexpr coordinate
// maps (lane, element) -> (row, col). This is the only place that knows how a 16x16x16 step
// distributes A, B and C over the 32 lanes of a warp/wave; the tile loops (kernels/src) build
// fragments (through the decode maps below) and store results only through these maps, and CPU
// tests load fragments through the very same maps and emulate the instruction.
//
// Plain C++17, no device code: under nvcc / clang HIP the functions are also marked
// host+device so the kernels can call them; a host compiler sees ordinary constexpr functions.
//
// The atom computes D = A * B + C for one 16x16x16 step, fp32 accumulate:
//   A is 16x16, row = m, col = k;  B is 16x16 as (row = k, col = n);  C/D are 16x16 (m, n).
// Each lane holds kAElems elements of A, kBElems of B and kCElems fp32 values of C. Elements are
// 16-bit (bf16 or fp16); a fragment is stored as 32-bit words, element e in the low half of word
// e/2 when e is even and the high half when odd.
//
// Runs: elements e .. e+kARun-1 (e a multiple of kARun) of an A fragment sit at consecutive k
// (same m), and likewise kBRun for B along k (same n); runs are at least 2, so a fragment word
// holds two consecutive k, which the decode maps below build on.
//
// An n8 step computes only D[:, 0..7] from A and B[:, 0..7] (the fused kernel's at most 8 tokens
// are those B columns): it reads B words 0 .. kN8BWords - 1 and updates C elements 0 ..
// kN8CElems - 1, which hold every B and C element of columns 0..7. On NVIDIA that is one
// m16n8k16 (half the atom); gfx11 has no narrower WMMA, so there it is the whole atom.
// check_layout() below proves these properties.
#ifndef MOECHECK_ATOM_LAYOUT_H
#define MOECHECK_ATOM_LAYOUT_H

#if defined(__CUDACC__) && !defined(__clang__)
#define MC_ATOM_HD __host__ __device__
#elif defined(__HIP__) || defined(__CUDA__)
#define MC_ATOM_HD __attribute__((host, device))
#else
#define MC_ATOM_HD
#endif

namespace moecheck {
namespace atom {

constexpr int kLanes = 32;  // NVIDIA warp; gfx11 wave32
constexpr int kM = 16, kN = 16, kK = 16;

struct Coord {
  int row;
  int col;
};

// NVIDIA sm_80+: one 16x16x16 step is two `mma.sync.aligned.m16n8k16.row.col.f32.{bf16,f16}`,
// the first on columns n = 0..7, the second on n = 8..15 (PTX ISA, "Matrix Fragments for
// mma.m16n8k16 with floating point type"). With g = lane / 4 (groupID), t = lane % 4:
//   A element i (i < 8):  m = g + 8 * ((i / 2) % 2),  k = 2t + i % 2 + 8 * (i / 4)
//   B element i (i < 8):  k = 2t + i % 2 + 8 * ((i / 2) % 2),  n = g + 8 * (i / 4)
//     (elements 0..3 are the b0..b3 of the first mma, 4..7 those of the second)
//   C element i (i < 8):  m = g + 8 * ((i / 2) % 2),  n = 2t + i % 2 + 8 * (i / 4)
//     (elements 0..3 are c0..c3 of the first mma, 4..7 those of the second)
struct MmaSyncLayout {
  static constexpr int kAElems = 8, kBElems = 8, kCElems = 8;
  static constexpr int kARun = 2, kBRun = 2;
  static constexpr int kN8BWords = 2, kN8CElems = 4;  // the first m16n8k16
  static MC_ATOM_HD constexpr Coord a(int lane, int e) {
    return {lane / 4 + 8 * ((e / 2) % 2), 2 * (lane % 4) + e % 2 + 8 * (e / 4)};
  }
  static MC_ATOM_HD constexpr Coord b(int lane, int e) {
    return {2 * (lane % 4) + e % 2 + 8 * ((e / 2) % 2), lane / 4 + 8 * (e / 4)};
  }
  static MC_ATOM_HD constexpr Coord c(int lane, int e) {
    return {lane / 4 + 8 * ((e / 2) % 2), 2 * (lane % 4) + e % 2 + 8 * (e / 4)};
  }
  // A from a row-major tile (below): one ldmatrix .x4, whose matrix i is fragment word i.
  static constexpr int kASegs = 1;
  static MC_ATOM_HD constexpr Coord a_seg(int lane, int /*q*/) {
    return {lane % 8 + 8 * ((lane / 8) % 2), 8 * (lane / 16)};
  }
};

// AMD gfx11 (RDNA3/3.5), wave32: `__builtin_amdgcn_wmma_f32_16x16x16_{bf16,f16}_w32`.
//   A: lane l holds row m = l % 16, elements k = 0..15 (lanes 16..31 repeat lanes 0..15)
//   B: lane l holds column n = l % 16, elements k = 0..15 (lanes 16..31 repeat lanes 0..15)
//   C: c[v] = D[2v + l / 16][l % 16], v = 0..7
struct Gfx11WmmaLayout {
  static constexpr int kAElems = 16, kBElems = 16, kCElems = 8;
  static constexpr int kARun = 16, kBRun = 16;
  static constexpr int kN8BWords = 8, kN8CElems = 8;  // the whole atom
  static MC_ATOM_HD constexpr Coord a(int lane, int e) { return {lane % 16, e}; }
  static MC_ATOM_HD constexpr Coord b(int lane, int e) { return {e, lane % 16}; }
  static MC_ATOM_HD constexpr Coord c(int lane, int e) { return {2 * e + lane / 16, lane % 16}; }
  // A from a row-major tile (below): the lane's own row, k = 0..7 and 8..15.
  static constexpr int kASegs = 2;
  static MC_ATOM_HD constexpr Coord a_seg(int lane, int q) { return {lane % 16, 8 * q}; }
};

// Checks a layout: every coordinate in range; every A and B element held by some lane; every C
// element held by exactly one (lane, element); runs are consecutive along k. Both layouts are
// checked at compile time below; CPU tests may call it on their own variants too.
template <class L>
constexpr bool check_layout() {
  bool a_seen[kM][kK] = {};
  bool b_seen[kK][kN] = {};
  int c_seen[kM][kN] = {};
  for (int lane = 0; lane < kLanes; ++lane) {
    for (int e = 0; e < L::kAElems; ++e) {
      const Coord x = L::a(lane, e);
      if (x.row < 0 || x.row >= kM || x.col < 0 || x.col >= kK) return false;
      const Coord first = L::a(lane, e - e % L::kARun);
      if (x.row != first.row || x.col != first.col + e % L::kARun) return false;
      a_seen[x.row][x.col] = true;
    }
    for (int e = 0; e < L::kBElems; ++e) {
      const Coord x = L::b(lane, e);
      if (x.row < 0 || x.row >= kK || x.col < 0 || x.col >= kN) return false;
      const Coord first = L::b(lane, e - e % L::kBRun);
      if (x.col != first.col || x.row != first.row + e % L::kBRun) return false;
      if (x.col < 8 && e / 2 >= L::kN8BWords) return false;  // outside an n8 step's B
      b_seen[x.row][x.col] = true;
    }
    for (int e = 0; e < L::kCElems; ++e) {
      const Coord x = L::c(lane, e);
      if (x.row < 0 || x.row >= kM || x.col < 0 || x.col >= kN) return false;
      if (x.col < 8 && e >= L::kN8CElems) return false;  // outside an n8 step's C
      ++c_seen[x.row][x.col];
    }
  }
  for (int i = 0; i < 16; ++i) {
    for (int j = 0; j < 16; ++j) {
      if (!a_seen[i][j] || !b_seen[i][j] || c_seen[i][j] != 1) return false;
    }
  }
  return L::kAElems % L::kARun == 0 && L::kBElems % L::kBRun == 0 && L::kARun % 2 == 0 &&
         L::kBRun % 2 == 0 && L::kCElems * kLanes == kM * kN && L::kN8BWords <= L::kBElems / 2 &&
         L::kN8CElems <= L::kCElems;
}

// A fragments from a row-major tile in shared memory (the tiled kernel): 16 rows by 16 k, each
// row's 8-element segments 16 contiguous bytes. A lane supplies the addresses of kASegs segments,
// a_seg(lane, q) = {row, first k}, and the fragment is loaded from them:
//   NVIDIA: `ldmatrix.sync.aligned.m8n8.x4.shared.b16`. Lane l supplies row l % 8 of 8x8 matrix
//     l / 8; register i of lane (g, t) receives elements 2t, 2t + 1 of row g of matrix i. With
//     matrices (rows 0-7, k 0-7), (8-15, 0-7), (0-7, 8-15), (8-15, 8-15) that is exactly the
//     mma.sync A fragment, in one instruction and with no register copies.
//   gfx11: the lane reads its own row's two segments; segment q is fragment words 4q .. 4q + 3.
// The CPU test (suites/cpu/atom_lanes_test.cpp) emulates both loads and checks the fragments they
// give against a().

static_assert(check_layout<MmaSyncLayout>(), "mma.sync m16n8k16 x2 layout is inconsistent");
static_assert(check_layout<Gfx11WmmaLayout>(), "gfx11 WMMA layout is inconsistent");

// ---- fused decode: packed int4 words straight into A fragments, tokens as B columns -----------
// The fused kernel (decode, at most 8 tokens a block) streams shuffled gptq_kn words from global
// memory into registers with no dequantised tile anywhere. It computes the transposed product:
// the weights are the atom's A (row m = an output column, col = k), the block's tokens its B
// columns 0..7, so D[column][token] = sum_k W[k][column] * act[token][k], and an n8 step (above)
// does it with no padding on NVIDIA: one m16n8k16 per 16 columns by 16 k, no zero A rows, and the
// activation vector the lane loads is its B fragment as it is (no register copies).
//
// Word (r, n) of a chunk holds k = 8r .. 8r+7 of column n, and (word >> 4p) & 0x000F000F is the
// pair k = 2p (low half), 2p + 1 (high half) (moecheck/nibble_order.h, pair_of_word). A warp's
// tile per chunk is kChunkK = 32 k (two atom steps s = 0, 1) by kCols = 32 columns (two atoms
// a = 0, 1 along the columns). A dot product does not care in which order k is summed, nor which
// fragment row holds which output column, so a decode map picks the order of k, `k_of(s, kslot)`,
// and of columns, `col_of(a, mslot)`, that hand each lane whole words:
//   word(lane, w)     the lane's word w (w < kWords): {row r = k / 8 within the chunk, column};
//                     words w .. w + kWordRun - 1 are consecutive columns of one row (one load)
//   lane_col(w)       which of the lane's kLaneCols columns word w is (scales and zeros per column)
//   w_word(s, a, i)   A fragment word i of step s, atom a: {the lane's word w, pair p}
//   act_token(lane)   the token (B column) whose activations the lane loads: act_k(lane, v) is the
//                     k offset of its v-th vector (8 consecutive k, one 16-byte load), v < kActVecs
//   act_word(s, i)    B fragment word i (i < the layout's kN8BWords): {vector v, 32-bit word j}
//   kDepth            chunks in flight per lane in the fused kernel (registers: the gfx11 map
//                     holds more per chunk)
// check_decode_map() proves that the fragments the lane builds this way are exactly
// W[k_of][col_of] and act[token][k_of] for the atom's own maps, so an n8 step computes the
// chunk's dot products; a lane whose token is not in the block loads zeros.
struct Pick {  // a weight fragment word
  int w;       // the lane's word
  int p;       // the pair of that word
};
struct APick {  // an activation fragment word
  int v;        // the lane's activation vector
  int j;        // the 32-bit word of that vector
};

// NVIDIA (MmaSyncLayout), g = lane / 4, t = lane % 4: lane loads row t, columns 4g .. 4g+3 (one
// 16-byte load of gptq_kn: 8 lanes of equal t read 128 contiguous bytes), and the 8 activations at
// k = 8t .. 8t+7 of token g. A element (mslot g + 8u, kslot 2t + 8q + h) of step s, atom a is
// k = 8t + 4s + 2q + h of column 4g + 2a + u; B word i of step s is activation word 2s + i.
struct MmaSyncDecode {
  static constexpr int kChunkK = 32, kCols = 32, kAtomsN = 2;
  static constexpr int kWords = 4, kWordRun = 4, kLaneCols = 4, kActVecs = 1;
  static constexpr int kDepth = 4;
  static MC_ATOM_HD constexpr int k_of(int s, int kslot) {
    return 8 * ((kslot % 8) / 2) + 4 * s + 2 * (kslot / 8) + kslot % 2;
  }
  static MC_ATOM_HD constexpr int col_of(int a, int mslot) {
    return 4 * (mslot % 8) + 2 * a + mslot / 8;
  }
  static MC_ATOM_HD constexpr Coord word(int lane, int w) { return {lane % 4, 4 * (lane / 4) + w}; }
  static MC_ATOM_HD constexpr int lane_col(int w) { return w; }
  static MC_ATOM_HD constexpr Pick w_word(int s, int a, int i) {
    return {2 * a + i % 2, 2 * s + i / 2};
  }
  static MC_ATOM_HD constexpr int act_token(int lane) { return lane / 4; }
  static MC_ATOM_HD constexpr int act_k(int lane, int v) { return 8 * (lane % 4) + 8 * v; }
  static MC_ATOM_HD constexpr APick act_word(int s, int i) { return {0, 2 * s + i}; }
};

// gfx11 (Gfx11WmmaLayout): k and columns in natural order; lane l holds column l % 16 of each
// atom, so it loads rows 0..3 of columns l % 16 and 16 + l % 16 (4-byte loads: 16 lanes read 64
// contiguous bytes of gptq_kn; lanes 16..31 repeat them, as the instruction requires), and the 32
// activations of token l % 16 (tokens 8..15 never exist: zeros).
struct Gfx11WmmaDecode {
  static constexpr int kChunkK = 32, kCols = 32, kAtomsN = 2;
  static constexpr int kWords = 8, kWordRun = 1, kLaneCols = 2, kActVecs = 4;
  static constexpr int kDepth = 1;
  static MC_ATOM_HD constexpr int k_of(int s, int kslot) { return 16 * s + kslot; }
  static MC_ATOM_HD constexpr int col_of(int a, int mslot) { return 16 * a + mslot; }
  static MC_ATOM_HD constexpr Coord word(int lane, int w) {
    return {w % 4, 16 * (w / 4) + lane % 16};
  }
  static MC_ATOM_HD constexpr int lane_col(int w) { return w / 4; }
  static MC_ATOM_HD constexpr Pick w_word(int s, int a, int i) {
    return {4 * a + 2 * s + i / 4, i % 4};
  }
  static MC_ATOM_HD constexpr int act_token(int lane) { return lane % 16; }
  static MC_ATOM_HD constexpr int act_k(int /*lane*/, int v) { return 8 * v; }
  static MC_ATOM_HD constexpr APick act_word(int s, int i) { return {2 * s + i / 4, i % 4}; }
};

// The lane's first word of its column lc (lc < kLaneCols): where that column's index is read.
template <class D>
MC_ATOM_HD constexpr int first_word_of_col(int lc) {
  int w = 0;
  while (w < D::kWords && D::lane_col(w) != lc) ++w;
  return w;
}

// A decode map's chunk shape, and its col_of(a, .) a bijection of the atoms' 16 fragment columns
// (or rows, in the fused maps) onto the warp's 32 columns (both families' maps).
template <class D>
constexpr bool chunk_columns_ok() {
  if (D::kChunkK != 2 * kK || D::kCols != D::kAtomsN * kN) return false;
  bool c_seen[32] = {};
  for (int a = 0; a < D::kAtomsN; ++a) {
    for (int x = 0; x < kN; ++x) {
      const int c = D::col_of(a, x);
      if (c < 0 || c >= 32 || c_seen[c]) return false;
      c_seen[c] = true;
    }
  }
  return true;
}

// Checks a fused decode map D against the atom layout L (see above): every A fragment element
// must come from the right word, pair and half, every B element of an n8 step from the right
// activation vector and word of the lane's token.
template <class L, class D>
constexpr bool check_decode_map() {
  if (!chunk_columns_ok<D>()) return false;
  bool k_seen[32] = {};  // k_of(s, .): a bijection onto 0..31
  for (int s = 0; s < 2; ++s) {
    for (int x = 0; x < kK; ++x) {
      const int k = D::k_of(s, x);
      if (k < 0 || k >= 32 || k_seen[k]) return false;
      k_seen[k] = true;
    }
  }
  for (int lc = 0; lc < D::kLaneCols; ++lc) {
    if (first_word_of_col<D>(lc) >= D::kWords) return false;  // a column with no word
  }
  for (int lane = 0; lane < kLanes; ++lane) {
    for (int w = 0; w < D::kWords; ++w) {
      const Coord x = D::word(lane, w), first = D::word(lane, w - w % D::kWordRun);
      if (x.row != first.row || x.col != first.col + w % D::kWordRun) return false;
      if (first.col % D::kWordRun != 0 || x.row < 0 || x.row >= 4) return false;
      if (D::lane_col(w) < 0 || D::lane_col(w) >= D::kLaneCols) return false;
      for (int w2 = 0; w2 < D::kWords; ++w2) {  // one column per lane_col index
        if ((D::lane_col(w) == D::lane_col(w2)) != (x.col == D::word(lane, w2).col)) return false;
      }
    }
    for (int s = 0; s < 2; ++s) {
      for (int a = 0; a < D::kAtomsN; ++a) {
        for (int i = 0; i < L::kAElems / 2; ++i) {
          const Coord lo = L::a(lane, 2 * i), hi = L::a(lane, 2 * i + 1);
          const int k = D::k_of(s, lo.col);
          if (hi.row != lo.row || D::k_of(s, hi.col) != k + 1 || k % 2 != 0) return false;
          const Pick pick = D::w_word(s, a, i);
          if (pick.w < 0 || pick.w >= D::kWords) return false;
          const Coord wd = D::word(lane, pick.w);
          if (wd.row != k / 8 || wd.col != D::col_of(a, lo.row) || pick.p != (k % 8) / 2) {
            return false;
          }
        }
      }
      for (int i = 0; i < L::kN8BWords; ++i) {
        const Coord lo = L::b(lane, 2 * i), hi = L::b(lane, 2 * i + 1);
        const APick pick = D::act_word(s, i);
        const int k = D::k_of(s, lo.row);
        if (pick.v < 0 || pick.v >= D::kActVecs || pick.j < 0 || pick.j >= 4) return false;
        if (hi.col != lo.col || D::k_of(s, hi.row) != k + 1 || lo.col != D::act_token(lane)) {
          return false;
        }
        if (D::act_k(lane, pick.v) + 2 * pick.j != k) return false;
      }
    }
  }
  return true;
}

static_assert(check_decode_map<MmaSyncLayout, MmaSyncDecode>(), "NVIDIA decode map is wrong");
static_assert(check_decode_map<Gfx11WmmaLayout, Gfx11WmmaDecode>(), "gfx11 decode map is wrong");

// ---- tiled decode: natural k order ----------------------------------------------------------
// The tiled kernel loads A fragments from a row-major tile (a_seg above), so its k order is the
// natural one: step s of a chunk is k = 16s .. 16s + 15, and the fragment is the atom's own A.
// The weight words are what adapts: in the raw exllama_nk tile a column's 4 words of a chunk
// (k = 0..31) are 16 contiguous bytes, and the lane dequantises from them the pairs the atom's B
// layout puts in its registers. (The fused maps above instead give each lane whole words and read
// A in the words' k order: their A comes from global memory as 16-byte vectors, where no
// ldmatrix exists.) A tiled decode map gives:
//   col_of(a, nslot)        the column (0..31 of the warp's tile) of atom a's fragment column nslot
//   col(lane, lc)           the lane's columns, lc < kLaneCols (scales and zeros are per column)
//   b_pick(lane, s, a, i)   B fragment word i of step s, atom a: {lane column lc, word row r of
//                           it (k = 8r .. 8r+7), pair p}; lc does not depend on s
struct TiledPick {
  int lc;  // the lane's column
  int r;   // the word (row of the chunk) of that column
  int p;   // the pair of that word
};

// NVIDIA (MmaSyncLayout), g = lane / 4, t = lane % 4: B word i of step s is k = 16s + 2t + 8(i % 2)
// and fragment column g + 8(i / 2): word row 2s + i % 2, pair t, of column 4g + 2a + i / 2. A
// lane's columns are 4g .. 4g + 3 (their scales are 16 contiguous bytes), and it uses pair t of
// each of their 16 words.
struct MmaSyncTiledDecode {
  static constexpr int kChunkK = 32, kCols = 32, kAtomsN = 2, kLaneCols = 4;
  static MC_ATOM_HD constexpr int col_of(int a, int nslot) {
    return 4 * (nslot % 8) + 2 * a + nslot / 8;
  }
  static MC_ATOM_HD constexpr int col(int lane, int lc) { return 4 * (lane / 4) + lc; }
  static MC_ATOM_HD constexpr TiledPick b_pick(int lane, int s, int a, int i) {
    return {2 * a + i / 2, 2 * s + i % 2, lane % 4};
  }
};

// gfx11 (Gfx11WmmaLayout): lane l holds column l % 16 of each atom, k in order: B word i of step s
// is pair i % 4 of word row 2s + i / 4 (the fused map's words, read from the tile).
struct Gfx11WmmaTiledDecode {
  static constexpr int kChunkK = 32, kCols = 32, kAtomsN = 2, kLaneCols = 2;
  static MC_ATOM_HD constexpr int col_of(int a, int nslot) { return 16 * a + nslot; }
  static MC_ATOM_HD constexpr int col(int lane, int lc) { return 16 * lc + lane % 16; }
  static MC_ATOM_HD constexpr TiledPick b_pick(int /*lane*/, int s, int a, int i) {
    return {a, 2 * s + i / 4, i % 4};
  }
};

// Checks a tiled decode map D against the atom layout L: every B fragment element must be the
// right pair and half of the right word, k in natural order.
template <class L, class D>
constexpr bool check_tiled_decode_map() {
  if (!chunk_columns_ok<D>()) return false;
  for (int lane = 0; lane < kLanes; ++lane) {
    for (int s = 0; s < 2; ++s) {
      for (int a = 0; a < D::kAtomsN; ++a) {
        for (int i = 0; i < L::kBElems / 2; ++i) {
          const Coord lo = L::b(lane, 2 * i), hi = L::b(lane, 2 * i + 1);
          const int k = 16 * s + lo.row;
          if (hi.col != lo.col || hi.row != lo.row + 1 || k % 2 != 0) return false;
          const TiledPick x = D::b_pick(lane, s, a, i);
          if (x.lc < 0 || x.lc >= D::kLaneCols || x.lc != D::b_pick(lane, 0, a, i).lc) return false;
          if (x.r != k / 8 || x.p != (k % 8) / 2) return false;
          if (D::col(lane, x.lc) != D::col_of(a, lo.col)) return false;
        }
      }
    }
  }
  return true;
}

static_assert(check_tiled_decode_map<MmaSyncLayout, MmaSyncTiledDecode>(),
              "NVIDIA tiled decode map is wrong");
static_assert(check_tiled_decode_map<Gfx11WmmaLayout, Gfx11WmmaTiledDecode>(),
              "gfx11 tiled decode map is wrong");

// The layout the kernels of this build use. Chosen by platform (not by device pass) so that host
// and device compilations of one translation unit see the same fragment shapes.
#if defined(__HIP_PLATFORM_AMD__) || defined(__HIP__)
using NativeLayout = Gfx11WmmaLayout;
using NativeDecode = Gfx11WmmaDecode;
using NativeTiledDecode = Gfx11WmmaTiledDecode;
#elif defined(__CUDACC__) || defined(__CUDA__)
using NativeLayout = MmaSyncLayout;
using NativeDecode = MmaSyncDecode;
using NativeTiledDecode = MmaSyncTiledDecode;
#endif

}  // namespace atom
}  // namespace moecheck

#endif  // MOECHECK_ATOM_LAYOUT_H
