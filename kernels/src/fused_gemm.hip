// The fused family (the decode path): routing gather + dequant + dot in one kernel, on gptq_kn
// weights (int32 [E, K/8, N], shuffled nibble order along K; scales [E, K/G, N]; zeros int32
// [E, K/G, N/8], n = 8c + p at nibble p). Small block_m (1, 2, 4, 8): the kernel computes the
// transposed product, the weights as the matrix atom's A (16 output columns by 16 k) and the
// block's tokens as its B columns 0..7, in n8 steps (atom.hpp atom_mma_n8; on NVIDIA one
// m16n8k16 per 16 columns, with no padded rows and the activations as loaded), so the
// multiply-adds run on the matrix units and the kernel's own instructions are the dequantisation
// alone (a decode step must stream weights at memory speed; fp32 FMAs cannot keep up, see
// kernels/README.md).
//
// Grid: x = alignment blocks (device_common.hpp grid_blocks), y = tiles of kBN columns.
// Warps of 32 columns each: WarpsN along N times Warps / WarpsN along K (each warp a contiguous
// range of the K chunks). The launcher picks the shape per launch from the grid it would make and
// the device's size (moecheck/fused_shape.h says how and why: warps that each stream the whole K
// read the weights faster, K split over warps fills the device when few blocks have work): CTAs
// of 4 warps, 4, 2 or 1 along N (kBN = 128, 64, 32), or, for the smallest grids over a long K,
// 8 warps, 1 along N (launch_fused_shape).
// No shared memory in the K loop: a lane loads its packed words and its token's activations
// straight into registers through the decode map (moecheck/atom_layout.h: which words and
// activations each lane holds, and in which k and column order the fragments see them), kDepth
// chunks of 32 k ahead. A group's scales and zeros come with its first chunk. The kernel is
// instantiated per group size (Cpg = G / 32 chunks per group: 1, 2, 4), so that which chunks
// start a group is known at compile time: the loads of scales and zeros and the dequantisers'
// set-up are issued at those chunks only, with no per-chunk predicate or branch (1.07x over the
// decode table on an H200 against one kernel for every G, kernels/README.md).
// Dequant: round((q - z) * s) to the dtype, per pair of weights (device_common.hpp PairDequant),
// like the tiled family. Zeros: v2 stores z; v1 stores (z - 1) mod 16 and decodes as
// (stored + 1) mod 16 — GPTQ v1's "+1", taken modulo 16 so that the format stays a bijection on
// z = 0..15 (DESIGN.md section 2).
// Reduction: the K-warps' partial tiles meet in shared memory and are added in warp order
// (a fixed order for a given shape, and the shape is a function of the arguments and the device:
// bitwise repeatable).
//
// output_topk = 0: c[id, n] = round(sum * topk_weight?), like the tiled family.
// output_topk = 1 (deterministic, no atomics): the kernel writes fp32 partials
//   ws[id, n] = sum * topk_weight? (ws zeroed first, so routes that are not computed, i.e. of
//   non-local experts, contribute 0), then a second launch computes, for every token t and n,
//   c[t, n] = round(c[t, n] + ws[t*top_k + 0, n] + ws[t*top_k + 1, n] + ...), in that order, in
//   fp32, rounded once. With c zeroed by the caller (the contract) this is the moe_sum of the
//   routes, bit for bit independent of scheduling.
#include "atom.hpp"
#include "internal.hpp"
#include "moecheck/fused_shape.h"

namespace mc {
namespace {

using Decode = moecheck::atom::NativeDecode;
static_assert(moecheck::fused::kWarpCols == Decode::kCols, "fused_shape.h counts 32-column warps");

// The CTA's warp grid: WarpsN warps along N, Warps in all (fused_shape.h).
template <int WarpsN, int Warps>
struct CtaShape {
  static constexpr int kWarpsN = WarpsN;
  static constexpr int kWarpsK = Warps / WarpsN;
  static constexpr int kBN = WarpsN * Decode::kCols;  // columns per CTA
  static constexpr int kThreads = Warps * kWarpSize;
  static_assert(kWarpsN * kWarpsK == Warps, "whole warps along N and K");
};
// The resident CTAs per SM the kernel is compiled for (NVIDIA: MC_FUSED_LAUNCH_BOUNDS caps its
// registers so that they fit): 4-warp CTAs 5 per SM, 20 warps, at every G (96 registers, no
// spills); the 8-warp CTAs of the narrowest shape 2 (at most 128 registers: left alone, ptxas took
// up to 200 at G = 32, one CTA per SM). Measured on an H200 in one bench run over the decode
// table (kernels/README.md). Unused on AMD, whose bound takes no CTA count.
[[maybe_unused]] constexpr int fused_min_ctas(int warps) {
  return warps == 8 ? 2 : 5;
}
constexpr int kMaxBlockM = 8;               // the n8 step's B columns
constexpr int kMaxChunksPerGroup = 4;       // G <= 128 (supports.cpp), chunks of 32 k
constexpr int kCElems = Layout::kN8CElems;  // the accumulators an n8 step updates
constexpr int kReduceThreads = 256;

struct FusedParams {
  const uint16_t* a;
  int64_t lda;
  int64_t a_route_div;
  const uint32_t* qweight;
  const uint16_t* scales;
  const uint32_t* zeros;
  uint32_t zero_add;  // 1: v1 (stored z - 1), 0: v2
  int32_t num_experts;
  int32_t n;
  int32_t k;
  int32_t group_size;
  const int32_t* sorted_ids;
  const int32_t* expert_ids;
  const int32_t* num_tokens_post_padded;
  int64_t numel;
  const float* topk_weights;
  int mul_routed_weight;
  uint16_t* c;
  int64_t ldc;
  float* partial;  // output_topk: [numel, n] fp32; nullptr otherwise
};

// The lane's columns come in runs of kWordRun consecutive ones (one load of words, scales or
// zeros per run).
constexpr int kRuns = Decode::kLaneCols / Decode::kWordRun;
constexpr int kScaleWords = Decode::kWordRun == 4 ? 2 : 1;  // 32-bit words of a run's scales
// What one lane loads for one chunk of 32 k: its packed words, its token's activations, and the
// scales and zero word of each run of its columns (per chunk: a chunk lies in one group, G >= 32),
// as loaded: a run of 4 columns keeps its scales two to a word and its one zero word, and its
// dequantisers are made from them together (PairDequant::init_run4).
struct Chunk {
  uint32_t w[Decode::kWords];
  u32x4 act[Decode::kActVecs];
  uint32_t scale[kRuns][kScaleWords];
  uint32_t zero[kRuns];
};

// The lane's read cursors: where its next chunk's words and activations are, and its next
// group's scales and zeros. Chunks are loaded in increasing order, so each load advances them (no
// index arithmetic in the loop): the word and activation cursors by one chunk, the group cursors
// by one group after each load of a group's scales and zeros.
struct LaneStreams {
  const uint32_t* q[Decode::kWords / Decode::kWordRun];  // first word of each run
  const uint16_t* s[kRuns];                              // first scale of each column run
  const uint32_t* z[kRuns];  // its zero word (a run of 4 columns starts at a multiple of 4)
  const uint16_t* act;       // the token's activations at the next chunk, or nullptr (no token)
  int z_shift[kRuns];        // where the run's first zero lies in its zero word
  bool col_ok[Decode::kWords / Decode::kWordRun];  // N % 8 == 0: a run is all in or all out
  bool sz_ok[kRuns];
  int64_t n_all;  // N: words (and scales) per row
};

static_assert(Decode::kWordRun == 1 || Decode::kWordRun == 4, "runs of 1 or 4 words");

// Loads the cursors' chunk into `ch` (zeros when !active) and advances. With `with_group` (the
// chunk starts a group) also the group's scales and zeros (zeros when !group_active), and the
// group cursors move to the next group; otherwise ch's scales and zeros are not touched (the
// kernel reads them only from such chunks). `with_group` is a compile-time constant wherever the
// K loop is unrolled (NVIDIA): there a branch around loads on a run-time flag made the kernel up
// to 1.4x slower (kernels/README.md). On gfx11 (loop not unrolled) it is a uniform branch.
__device__ __forceinline__ void load_chunk(Chunk& ch, LaneStreams& ls, bool active, bool with_group,
                                           bool group_active) {
#pragma unroll
  for (int r = 0; r < Decode::kWords / Decode::kWordRun; ++r) {
    const int w0 = r * Decode::kWordRun;
    const bool on = active && ls.col_ok[r];
    if constexpr (Decode::kWordRun == 4) {
      u32x4 v = zero_u32x4();
      if (on) v = *reinterpret_cast<const u32x4*>(ls.q[r]);
      ch.w[w0 + 0] = v.x;
      ch.w[w0 + 1] = v.y;
      ch.w[w0 + 2] = v.z;
      ch.w[w0 + 3] = v.w;
    } else {
      ch.w[w0] = on ? *ls.q[r] : 0u;
    }
    ls.q[r] += (Decode::kChunkK / 8) * ls.n_all;
  }
  if (with_group) {
#pragma unroll
    for (int c = 0; c < kRuns; ++c) {
      const bool on = group_active && ls.sz_ok[c];
      ch.zero[c] = on ? *ls.z[c] : 0u;
      if constexpr (Decode::kWordRun == 4) {
        u32x2 sv;
        sv.x = sv.y = 0u;
        if (on) sv = *reinterpret_cast<const u32x2*>(ls.s[c]);
        ch.scale[c][0] = sv.x;
        ch.scale[c][1] = sv.y;
      } else {
        ch.scale[c][0] = on ? *ls.s[c] : 0u;
      }
      ls.s[c] += ls.n_all;
      ls.z[c] += ls.n_all / 8;
    }
  }
#pragma unroll
  for (int v = 0; v < Decode::kActVecs; ++v) {
    ch.act[v] = zero_u32x4();
    if (active && ls.act != nullptr) {
      ch.act[v] = *reinterpret_cast<const u32x4*>(
          ls.act + Decode::act_k(static_cast<int>(threadIdx.x) % kWarpSize, v));
    }
  }
  if (ls.act != nullptr) ls.act += Decode::kChunkK;
}

template <class Dt>
__device__ __forceinline__ void mma_chunk(Acc (&acc)[Decode::kAtomsN], const Chunk& ch,
                                          const PairDequant<Dt> (&dq)[Decode::kLaneCols]) {
#pragma unroll
  for (int s = 0; s < 2; ++s) {
    FragBN8 fb;  // the lane's token's activations, words of the loaded vectors
#pragma unroll
    for (int i = 0; i < Layout::kN8BWords; ++i) {
      const moecheck::atom::APick pick = Decode::act_word(s, i);
      fb.w[i] = word(ch.act[pick.v], pick.j);
    }
#pragma unroll
    for (int a = 0; a < Decode::kAtomsN; ++a) {
      FragA fa;
#pragma unroll
      for (int i = 0; i < Layout::kAElems / 2; ++i) {
        const moecheck::atom::Pick pick = Decode::w_word(s, a, i);
        fa.w[i] = dq[Decode::lane_col(pick.w)](ch.w[pick.w], pick.p);
      }
      atom_mma_n8<Dt>(acc[a], fa, fb);
    }
  }
}

template <class Dt, int BM, int WarpsN, int Cpg, int Warps>
__global__ void MC_FUSED_LAUNCH_BOUNDS((kWarpSize * Warps), fused_min_ctas(Warps))
    fused_gemm_kernel(const FusedParams p) {
#if MC_HAS_ATOM
  static_assert(BM <= kMaxBlockM, "the block's tokens are B columns 0..7 of an n8 step");
  using Shape = CtaShape<WarpsN, Warps>;
  constexpr int kWarpsN = Shape::kWarpsN, kWarpsK = Shape::kWarpsK, kBN = Shape::kBN;
  constexpr int kDepth = Decode::kDepth;
  constexpr int kTileElems = Decode::kAtomsN * kCElems;
  // Lane-minor, so that a warp's store of one accumulator touches 32 banks once each.
  __shared__ float s_red[kWarpsK][kWarpsN][kTileElems][kWarpSize];
  __shared__ int32_t s_id[BM];    // flat route id; -1: padded slot
  __shared__ float s_weight[BM];  // topk weight (1 without mul_routed_weight)

  const int tid = threadIdx.x;
  const int lane = tid % kWarpSize;
  const int warp = tid / kWarpSize;
  const int warp_n = warp % kWarpsN;
  const int warp_k = warp / kWarpsN;
  const int64_t block = blockIdx.x;
  const int tile_n0 = static_cast<int>(blockIdx.y) * kBN + warp_n * Decode::kCols;

  // The block's ids, its expert and the padded length are read at once, before the exits: a
  // started block is below sorted_len / BM (grid_blocks), so the reads are in bounds, and the
  // kernel pays one memory round trip for them, not three. Each lane reads the id of its own
  // token (no shared memory, no barrier before the K loop); s_id and s_weight are for the
  // epilogue, behind its barrier.
  const int token = Decode::act_token(lane);
  const int32_t padded = *p.num_tokens_post_padded;
  const int32_t e = p.expert_ids[block];
  const int32_t token_id = token < BM ? p.sorted_ids[block * BM + token] : -1;
  const int32_t slot_id = tid < BM ? p.sorted_ids[block * BM + tid] : -1;
  // Whole-CTA exits: past the padded length, or a block of a non-local expert (-1).
  if (block * BM >= padded) return;
  if (e < 0 || e >= p.num_experts) return;
  if (tid < BM) {
    const bool valid = slot_id >= 0 && slot_id < p.numel;
    s_id[tid] = valid ? slot_id : -1;
    s_weight[tid] = valid && p.mul_routed_weight ? p.topk_weights[slot_id] : 1.0f;
  }

  // This warp's share of the chunks (1 / kWarpsK of them).
  const int chunks = p.k / Decode::kChunkK;
  const int per_warp = (chunks + kWarpsK - 1) / kWarpsK;
  const int c_begin = chunks < warp_k * per_warp ? chunks : warp_k * per_warp;
  const int c_end = chunks < c_begin + per_warp ? chunks : c_begin + per_warp;

  // The lane's cursors at chunk c0 (below): word runs and columns of this warp's tile, its token.
  const int64_t n_all = p.n;
  const int64_t groups = chunks / Cpg;  // K / G, G = 32 * Cpg (the launcher dispatches on G)
  // The K loop takes rounds of kRound chunks from c0, the first chunk of c_begin's group: Cpg
  // (= G / 32 chunks per group) divides kRound, so whether a round's step starts a group, and
  // its ring slot, are known at compile time. The first round may start before c_begin.
  constexpr int kRound = kDepth > kMaxChunksPerGroup ? kDepth : kMaxChunksPerGroup;
  static_assert(kRound % kDepth == 0 && kRound % Cpg == 0, "rounds of whole groups");
  const int c0 = c_begin - c_begin % Cpg;
  const int64_t g_begin = c0 / Cpg;
  LaneStreams ls;
  ls.n_all = n_all;
#pragma unroll
  for (int r = 0; r < Decode::kWords / Decode::kWordRun; ++r) {
    const moecheck::atom::Coord x = Decode::word(lane, r * Decode::kWordRun);
    const int col = tile_n0 + x.col;
    ls.col_ok[r] = col < p.n;
    ls.q[r] = p.qweight +
              (static_cast<int64_t>(e) * (p.k / 8) + x.row +
               static_cast<int64_t>(c0) * (Decode::kChunkK / 8)) *
                  n_all +
              col;
  }
#pragma unroll
  for (int c = 0; c < Decode::kLaneCols; ++c) {
    const int col = tile_n0 + Decode::word(lane, moecheck::atom::first_word_of_col<Decode>(c)).col;
    if (c % Decode::kWordRun == 0) {
      ls.s[c / Decode::kWordRun] =
          p.scales + (static_cast<int64_t>(e) * groups + g_begin) * n_all + col;
      ls.z[c / Decode::kWordRun] =
          p.zeros + (static_cast<int64_t>(e) * groups + g_begin) * (n_all / 8) + col / 8;
      ls.sz_ok[c / Decode::kWordRun] = col < p.n;
      ls.z_shift[c / Decode::kWordRun] = 4 * (col % 8);
    }
  }
  ls.act = token_id >= 0 && token_id < p.numel ? p.a + (token_id / p.a_route_div) * p.lda +
                                                     static_cast<int64_t>(c0) * Decode::kChunkK
                                               : nullptr;

  Acc acc[Decode::kAtomsN];
#pragma unroll
  for (int a = 0; a < Decode::kAtomsN; ++a) {
#pragma unroll
    for (int v = 0; v < kCElems; ++v) acc[a].v[v] = 0.0f;
  }
  // kDepth chunks in flight: ring slot (c - c0) % kDepth holds chunk c, and after its multiply it
  // loads chunk c + kDepth. A group's scales and zeros are loaded with its first chunk and set into
  // the dequantisers when that chunk's step comes, whether or not the chunk itself is in the warp's
  // range (the first round's chunks before c_begin are not loaded nor multiplied).
  // A ring of one (gfx11) has no slots to unroll for, and unrolling its round took bf16 past the
  // VGPR budget (199-202; fp16 148-150).
  constexpr int kStepUnroll = kDepth == 1 ? 1 : kRound;
  Chunk ring[kDepth];
#pragma unroll
  for (int d = 0; d < kDepth; ++d) {
    const int chunk = c0 + d;
    const bool in_range = chunk >= c_begin && chunk < c_end;
    const bool group_in_range = chunk + Cpg > c_begin && chunk < c_end;  // when it starts one
    load_chunk(ring[d], ls, in_range, d % Cpg == 0, group_in_range);
  }
  PairDequant<Dt> dq[Decode::kLaneCols];
  // Step d of the round at chunk c. `guarded`: only chunks in [c_begin, c_end) are multiplied;
  // `loads`: the step loads the chunk kDepth on.
  auto step = [&](int c, int d, bool guarded, bool loads) {
    Chunk& ch = ring[d % kDepth];
    if (d % Cpg == 0) {
      if constexpr (Decode::kWordRun == 4) {
        static_assert(kRuns == 1, "one run of 4 columns per lane");
        PairDequant<Dt>::init_run4(dq, ch.scale[0][0], ch.scale[0][1], ch.zero[0], ls.z_shift[0],
                                   p.zero_add);
      } else {
#pragma unroll
        for (int col = 0; col < Decode::kLaneCols; ++col) {
          dq[col].init(static_cast<uint16_t>(ch.scale[col][0]),
                       (((ch.zero[col] >> ls.z_shift[col]) & 15u) + p.zero_add) & 15u);
        }
      }
    }
    if (!guarded || (c + d >= c_begin && c + d < c_end)) mma_chunk<Dt>(acc, ch, dq);
    if (!loads) return;
    const int next = c + d + kDepth;
    const bool next_on = next < c_end && (!guarded || next >= c_begin);
    load_chunk(ch, ls, next_on, (d + kDepth) % Cpg == 0, next < c_end);
  };
  // A first round that starts before c_begin (guarded; never at G = 32), whole rounds without
  // per-chunk checks, then the last, guarded (with a ring as deep as a round, every chunk left
  // is in it already).
  int c = c0;
  if (c0 != c_begin) {
#pragma unroll kStepUnroll
    for (int d = 0; d < kRound; ++d) step(c, d, true, true);
    c += kRound;
  }
  for (; c + kRound <= c_end; c += kRound) {
#pragma unroll kStepUnroll
    for (int d = 0; d < kRound; ++d) step(c, d, false, true);
  }
  if (c < c_end) {
#pragma unroll kStepUnroll
    for (int d = 0; d < kRound; ++d) step(c, d, true, kDepth < kRound);
  }

#pragma unroll
  for (int a = 0; a < Decode::kAtomsN; ++a) {
#pragma unroll
    for (int v = 0; v < kCElems; ++v) s_red[warp_k][warp_n][a * kCElems + v][lane] = acc[a].v[v];
  }
  __syncthreads();
  if (warp_k != 0) return;
#pragma unroll
  for (int a = 0; a < Decode::kAtomsN; ++a) {
#pragma unroll
    for (int v = 0; v < kCElems; ++v) {
      const moecheck::atom::Coord x = Layout::c(lane, v);  // row: column slot, col: token
      if (x.col >= BM) continue;
      const int32_t id = s_id[x.col];
      const int col = tile_n0 + Decode::col_of(a, x.row);
      if (id < 0 || col >= p.n) continue;
      float sum = s_red[0][warp_n][a * kCElems + v][lane];
#pragma unroll
      for (int w = 1; w < kWarpsK; ++w) sum += s_red[w][warp_n][a * kCElems + v][lane];
      sum *= s_weight[x.col];
      if (p.partial != nullptr) {
        p.partial[static_cast<int64_t>(id) * p.n + col] = sum;
      } else {
        p.c[static_cast<int64_t>(id) * p.ldc + col] = Dt::from_float(sum);
      }
    }
  }
#else
  (void)p;
#endif
}

// output_topk's ordered reduction: c[t, n] = round(c[t, n] + sum_j partial[t*top_k + j, n]).
template <class Dt>
__global__ __launch_bounds__(kReduceThreads) void topk_reduce_kernel(
    const float* __restrict__ partial, int32_t n, int64_t tokens, int32_t top_k,
    uint16_t* __restrict__ c, int64_t ldc) {
  const int64_t total = tokens * n;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kReduceThreads;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kReduceThreads + threadIdx.x; i < total;
       i += stride) {
    const int64_t t = i / n;
    const int64_t col = i % n;
    uint16_t* dst = c + t * ldc + col;
    const float* src = partial + t * top_k * n + col;
    float v = Dt::to_float(*dst);
    for (int j = 0; j < top_k; ++j) v += src[static_cast<int64_t>(j) * n];
    *dst = Dt::from_float(v);
  }
}

template <class Dt, int BM, int WarpsN, int Warps>
void launch_fused(const FusedParams& p, int64_t blocks, hipStream_t stream) {
  constexpr int kThreads = CtaShape<WarpsN, Warps>::kThreads;
  // The N tiles as fused_shape.h counts them, whose rule keeps them within the grid's y limit.
  const int64_t tiles = moecheck::fused::tiles_of(p.n, WarpsN);
  const dim3 grid(static_cast<uint32_t>(blocks), static_cast<uint32_t>(tiles));
  if (p.group_size == 32) {
    fused_gemm_kernel<Dt, BM, WarpsN, 1, Warps><<<grid, kThreads, 0, stream>>>(p);
  } else if (p.group_size == 64) {
    fused_gemm_kernel<Dt, BM, WarpsN, 2, Warps><<<grid, kThreads, 0, stream>>>(p);
  } else {  // 128 (check_fused_gemm: G is 32, 64 or 128)
    fused_gemm_kernel<Dt, BM, WarpsN, 4, Warps><<<grid, kThreads, 0, stream>>>(p);
  }
}

template <class Dt, int BM>
void launch_fused_shape(const FusedParams& p, const mc_fused_gemm_args& args, int64_t resident,
                        hipStream_t stream) {
  namespace fs = moecheck::fused;
  const int64_t blocks = grid_blocks(args.sorted_len, BM, args.numel);
  const fs::Shape shape = fs::shape(fs::block_estimate(blocks, args.numel, BM, args.num_experts),
                                    args.n, args.k, resident);
  if (shape == fs::Shape{4, 4}) {
    launch_fused<Dt, BM, 4, 4>(p, blocks, stream);
  } else if (shape == fs::Shape{1, 4}) {
    launch_fused<Dt, BM, 1, 4>(p, blocks, stream);
  } else if (shape == fs::Shape{1, 8}) {
    launch_fused<Dt, BM, 1, 8>(p, blocks, stream);
  } else {  // {2, 4}
    launch_fused<Dt, BM, 2, 4>(p, blocks, stream);
  }
}

template <class Dt>
// `resident`: CTAs the device holds at once (fused_shape.h resident_ctas).
void launch_fused_dtype(const FusedParams& p, const mc_fused_gemm_args& args, int64_t resident,
                        hipStream_t stream) {
  switch (args.block_m) {
    case 1:
      launch_fused_shape<Dt, 1>(p, args, resident, stream);
      break;
    case 2:
      launch_fused_shape<Dt, 2>(p, args, resident, stream);
      break;
    case 4:
      launch_fused_shape<Dt, 4>(p, args, resident, stream);
      break;
    default:
      launch_fused_shape<Dt, 8>(p, args, resident, stream);
      break;
  }
  if (p.partial != nullptr) {
    const int64_t tokens = args.numel / args.top_k;
    const int64_t total = tokens * args.n;
    int64_t ctas = (total + kReduceThreads - 1) / kReduceThreads;
    if (ctas > 65535) ctas = 65535;  // grid-stride loop covers the rest
    topk_reduce_kernel<Dt><<<static_cast<uint32_t>(ctas), kReduceThreads, 0, stream>>>(
        p.partial, p.n, tokens, static_cast<int32_t>(args.top_k), p.c, p.ldc);
  }
}

}  // namespace
}  // namespace mc

MC_API mc_status mc_fused_gemm(const mc_fused_gemm_args* args) {
  mc_status st = mc::check_fused_gemm(args, nullptr);
  if (st != MC_OK) return st;
  if (args->numel == 0 || args->sorted_len == 0) return MC_OK;  // nothing to compute
  int compute_units = 0;
  st = mc::device_status(/*needs_atom=*/true, &compute_units);
  if (st != MC_OK) return st;
  mc::FusedParams p;
  p.a = static_cast<const uint16_t*>(args->a);
  p.lda = args->lda;
  p.a_route_div = args->a_route_div;
  p.qweight = reinterpret_cast<const uint32_t*>(args->qweight);
  p.scales = static_cast<const uint16_t*>(args->scales);
  p.zeros = reinterpret_cast<const uint32_t*>(args->zeros);
  p.zero_add = args->zeros_v1 ? 1u : 0u;
  p.num_experts = static_cast<int32_t>(args->num_experts);
  p.n = static_cast<int32_t>(args->n);
  p.k = static_cast<int32_t>(args->k);
  p.group_size = static_cast<int32_t>(args->group_size);
  p.sorted_ids = args->sorted_token_ids;
  p.expert_ids = args->expert_ids;
  p.num_tokens_post_padded = args->num_tokens_post_padded;
  p.numel = args->numel;
  p.topk_weights = args->topk_weights;
  p.mul_routed_weight = args->mul_routed_weight != 0;
  p.c = static_cast<uint16_t*>(args->c);
  p.ldc = args->ldc;
  p.partial = args->output_topk ? static_cast<float*>(args->workspace) : nullptr;
  const auto stream = static_cast<hipStream_t>(args->stream);
  if (p.partial != nullptr) {
    st = mc::memset_zero_async(p.partial, mc::fused_workspace_bytes(args), args->stream);
    if (st != MC_OK) return st;
  }
  const int64_t resident = moecheck::fused::resident_ctas(compute_units);
  if (args->dtype == MC_BF16) {
    mc::launch_fused_dtype<mc::Bf16>(p, *args, resident, stream);
  } else {
    mc::launch_fused_dtype<mc::Fp16>(p, *args, resident, stream);
  }
  return mc::launch_status();
}
