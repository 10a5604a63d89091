// The lane layouts of the matrix-multiply atom (DESIGN.md section 6), as constexpr coordinate
// maps (lane, element) -> (row, col). This is the only place that knows how a 16x16x16 step
// distributes A, B and C over the 32 lanes of a warp/wave; the tile loops (kernels/src) load
// fragments from shared memory and store results only through these maps, and CPU tests load
// fragments through the very same maps and emulate the instruction.
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
// (same m), and likewise kBRun for B along k (same n). The kernels keep both tiles k-contiguous in
// shared memory, so a run is one vector load. check_layout() below proves these properties.
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
  static MC_ATOM_HD constexpr Coord a(int lane, int e) {
    return {lane / 4 + 8 * ((e / 2) % 2), 2 * (lane % 4) + e % 2 + 8 * (e / 4)};
  }
  static MC_ATOM_HD constexpr Coord b(int lane, int e) {
    return {2 * (lane % 4) + e % 2 + 8 * ((e / 2) % 2), lane / 4 + 8 * (e / 4)};
  }
  static MC_ATOM_HD constexpr Coord c(int lane, int e) {
    return {lane / 4 + 8 * ((e / 2) % 2), 2 * (lane % 4) + e % 2 + 8 * (e / 4)};
  }
};

// AMD gfx11 (RDNA3/3.5), wave32: `__builtin_amdgcn_wmma_f32_16x16x16_{bf16,f16}_w32`.
//   A: lane l holds row m = l % 16, elements k = 0..15 (lanes 16..31 repeat lanes 0..15)
//   B: lane l holds column n = l % 16, elements k = 0..15 (lanes 16..31 repeat lanes 0..15)
//   C: c[v] = D[2v + l / 16][l % 16], v = 0..7
struct Gfx11WmmaLayout {
  static constexpr int kAElems = 16, kBElems = 16, kCElems = 8;
  static constexpr int kARun = 16, kBRun = 16;
  static MC_ATOM_HD constexpr Coord a(int lane, int e) { return {lane % 16, e}; }
  static MC_ATOM_HD constexpr Coord b(int lane, int e) { return {e, lane % 16}; }
  static MC_ATOM_HD constexpr Coord c(int lane, int e) { return {2 * e + lane / 16, lane % 16}; }
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
      b_seen[x.row][x.col] = true;
    }
    for (int e = 0; e < L::kCElems; ++e) {
      const Coord x = L::c(lane, e);
      if (x.row < 0 || x.row >= kM || x.col < 0 || x.col >= kN) return false;
      ++c_seen[x.row][x.col];
    }
  }
  for (int i = 0; i < 16; ++i) {
    for (int j = 0; j < 16; ++j) {
      if (!a_seen[i][j] || !b_seen[i][j] || c_seen[i][j] != 1) return false;
    }
  }
  return L::kAElems % L::kARun == 0 && L::kBElems % L::kBRun == 0 && L::kARun % 2 == 0 &&
         L::kBRun % 2 == 0 && L::kCElems * kLanes == kM * kN;
}

static_assert(check_layout<MmaSyncLayout>(), "mma.sync m16n8k16 x2 layout is inconsistent");
static_assert(check_layout<Gfx11WmmaLayout>(), "gfx11 WMMA layout is inconsistent");

// The layout the kernels of this build use. Chosen by platform (not by device pass) so that host
// and device compilations of one translation unit see the same fragment shapes.
#if defined(__HIP_PLATFORM_AMD__) || defined(__HIP__)
using NativeLayout = Gfx11WmmaLayout;
#elif defined(__CUDACC__) || defined(__CUDA__)
using NativeLayout = MmaSyncLayout;
#endif

}  // namespace atom
}  // namespace moecheck

#endif  // MOECHECK_ATOM_LAYOUT_H
