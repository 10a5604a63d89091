// The tiled family (the prefill path): gemm1 and gemm2 on exllama_nk weights, through the matrix
// atom (atom.hpp). One tile loop serves both GEMMs (they differ only in a_route_div, a runtime
// value) and both dtypes (template parameter Dt).
//
// Grid: x = alignment blocks (block_m slots, all of one expert; device_common.hpp
// grid_blocks), y = tiles of kBN = 128 output columns. The CTA's warps form a kWarpsM x 4
// grid; each warp owns 32 columns (one decode tile, below) by up to kWarpAtomsM atoms of 16 rows
// (atom.hpp: 4 on NVIDIA, so one warp covers block_m 64 and a CTA is 4 warps; 2 on gfx11, where
// the accumulators must stay within the static gate's VGPR budget, ci/gfx11_gate/budgets.yaml,
// and block_m 64 takes 8 warps).
//
// K loop, kBK = 64 per stage, kStages stages in shared memory, filled kStages - 1 stages ahead by
// asynchronous copies (async_copy.hpp: cp.async on sm_80+), so that several stages of loads are in
// flight per CTA while the atoms run:
//   * A: the block's gathered rows (a[id / a_route_div]), 16-byte units copied as they are;
//     padded slots (sentinel) and k past K copy zeros.
//   * W: the raw packed words, 32 bytes of each weight row per stage (a whole 32-byte sector). No
//     dequantised tile is stored: each warp reads its words through the tiled decode map
//     (moecheck/atom_layout.h MmaSyncTiledDecode / Gfx11WmmaTiledDecode: word r of a column's
//     32-k chunk holds k = 8r .. 8r+7) and dequantises pair by pair to round((q - z) * s)
//     straight into B fragments (device_common.hpp PairDequant), which every atom row of the warp
//     reuses. k is in natural order, so A fragments come straight from the row-major A tile
//     (atom.hpp atom_load_a: one ldmatrix per atom on NVIDIA, no register copies).
//   * Scales and zeros: per stage, column and 32-k chunk (a chunk lies in one group: G >= 32 and
//     chunks start at multiples of 32), as `scale bits | zero << 16`. They are loaded into
//     registers kStages - 1 stages ahead, on sm_90 once per group (stage_sz: an entry of a
//     group already held is copied from it); when their stage comes up, the loading thread
//     makes each entry's dequantiser state (PairDequant::state) and stores that to shared
//     memory, so the lanes that use a column (4 per warp on NVIDIA) only load it.
// Every thread copies the same rows, columns and units at every stage, so its source pointers
// and shared offsets are set up once, before the loop.
// Shared tiles are XOR-swizzled in 16-byte units so that a warp's fragment reads are free of bank
// conflicts (see a_unit and w_unit).
// Epilogue: each lane's accumulators go, through the C map and the decode map's col_of, to
// c[id, n] for valid slots and n < N only (padded slots, non-local blocks, and columns past N are
// never written), scaled by topk_weights[id] when mul_routed_weight, rounded once to the dtype.
// All offsets are int64.
#include "async_copy.hpp"
#include "atom.hpp"
#include "internal.hpp"

namespace mc {
namespace {

using Decode = moecheck::atom::NativeTiledDecode;
constexpr int kBK = 64;                         // K per stage: 32 bytes of each weight row
constexpr int kChunks = kBK / Decode::kChunkK;  // decode chunks (32 k) per stage
// [[maybe_unused]]: targets without an atom compile an empty kernel body.
[[maybe_unused]] constexpr int kStages = 3;
[[maybe_unused]] constexpr bool kWholeUnits = kSubStepUnroll == 2;  // see compute_stage
constexpr int kAUnits = kBK / 8;   // 16-byte units of an A row per stage
constexpr int kWUnits = kBK / 32;  // 16-byte units (4 words, one chunk) of a weight row per stage
constexpr int kWarpsN = 4;
constexpr int kBN = kWarpsN * Decode::kCols;  // output columns per CTA
static_assert(kBK % Decode::kChunkK == 0 && Decode::kChunkK == 32, "a W unit is one chunk");
static_assert(kAUnits == 8, "an A row is one 128-byte line (a_unit's swizzle)");

// The warp grid, CTA size and per-thread copy counts for a block_m.
template <int BM>
struct TileShape {
  static constexpr int kAtomsM =
      BM / moecheck::atom::kM < kWarpAtomsM ? BM / moecheck::atom::kM : kWarpAtomsM;
  static constexpr int kWM = kAtomsM * moecheck::atom::kM;  // rows per warp
  static constexpr int kWarpsM = BM / kWM;
  static constexpr int kThreads = kWarpsM * kWarpsN * kWarpSize;
  // Per stage and thread: 16-byte copies of A and W, scale/zero entries. Every count divides
  // evenly, so a thread's copies are the same units at every stage.
  static constexpr int kACopies = BM * kAUnits / kThreads;
  static constexpr int kWCopies = kBN * kWUnits / kThreads;
  static constexpr int kSZ = kBN * kChunks / kThreads;
  static_assert(kWarpsM * kWM == BM && kACopies * kThreads == BM * kAUnits &&
                    kWCopies * kThreads == kBN * kWUnits && kSZ * kThreads == kBN * kChunks,
                "tile shape");
  static_assert(kThreads % 64 == 0, "a thread's copies i > 0 keep its first copy's swizzle");
  static_assert(kThreads % kBN == 0, "a thread's scale/zero entries are of one column");
};

// Swizzled unit index of A unit u (8 k) of tile row `row`: rows are one 128-byte line each, and
// row r keeps its unit u at u XOR (r % 8), so the 8 rows that one ldmatrix matrix reads (unit u of
// 8 consecutive rows) lie in 8 distinct 16-byte bank groups. (gfx11 reads 16 rows at once: rows r
// and r + 8 share a group there.)
[[maybe_unused]] __device__ __forceinline__ int a_unit(int row, int u) {
  return row * kAUnits + (u ^ (row % 8));
}
// Swizzled unit index of W unit h (one chunk, 4 words) of tile column `col`: 4 columns per
// 128-byte line, the 8 units of line L permuted by XOR with L % 8, so that a warp's word reads
// (NVIDIA: lane (g, t) reads unit h of column 4g + lc, line g; gfx11: one word of each of 16
// consecutive columns) touch distinct banks.
[[maybe_unused]] __device__ __forceinline__ int w_unit(int col, int h) {
  const int u = col * kWUnits + h, line = u / 8;
  return line * 8 + ((u % 8) ^ (line % 8));
}
static_assert(kWUnits == 2, "w_unit packs 4 columns of 2 units per line");

struct TiledParams {
  const uint16_t* a;
  int64_t lda;
  int64_t a_route_div;
  const uint32_t* qweight;
  int64_t ldw;
  const uint16_t* scales;
  const uint32_t* zeros;  // nullptr: symmetric (8)
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
  bool w_vec16;  // 16-byte weight copies: ldw % 4 == 0 and qweight 16-byte aligned
};

template <class Dt, int BM>
__global__ MC_TILED_LAUNCH_BOUNDS(TileShape<BM>::kThreads) void tiled_gemm_kernel(
    const TiledParams p) {
#if MC_HAS_ATOM
  using T = TileShape<BM>;
  __shared__ __attribute__((aligned(16))) uint16_t sA[kStages][BM * kBK];
  __shared__ __attribute__((aligned(16))) uint32_t sW[kStages][kBN * kBK / 8];
  __shared__ u32x2 sDQ[kStages][kChunks][kBN];  // PairDequant<Dt> state per column and chunk
  __shared__ int64_t s_arow[BM];  // element offset of the slot's activation row; -1: padded
  __shared__ int32_t s_id[BM];    // flat route id; -1: padded slot
  __shared__ float s_weight[BM];  // topk weight (1 without mul_routed_weight)

  const int tid = threadIdx.x;
  const int lane = tid % kWarpSize;
  const int warp = tid / kWarpSize;
  const int warp_m = warp / kWarpsN;
  const int warp_n = warp % kWarpsN;
  const int64_t block = blockIdx.x;
  const int n0 = static_cast<int>(blockIdx.y) * kBN;

  // Whole-CTA exits: past the padded length, or a block of a non-local expert (-1).
  if (block * BM >= *p.num_tokens_post_padded) return;
  const int32_t e = p.expert_ids[block];
  if (e < 0 || e >= p.num_experts) return;

  if (tid < BM) {
    const int32_t id = p.sorted_ids[block * BM + tid];
    const bool valid = id >= 0 && id < p.numel;
    s_id[tid] = valid ? id : -1;
    s_arow[tid] = valid ? (id / p.a_route_div) * p.lda : -1;
    s_weight[tid] = valid && p.mul_routed_weight ? p.topk_weights[id] : 1.0f;
  }
  __syncthreads();

  // This thread's copies, the same at every stage (TileShape): copy i of A is unit tid % 8 of
  // row tid / 8 + i * (kThreads / 8), copy i of W is half tid % 2 of column tid / 2 +
  // i * (kThreads / 2); shared offsets of copy i > 0 are the first one's plus i * kThreads units.
  const int a_k = 8 * (tid % kAUnits);  // k offset of the A unit within a stage
  const uint16_t* a_src[T::kACopies];   // at k = a_k of stage 0; nullptr: padded slot
#pragma unroll
  for (int i = 0; i < T::kACopies; ++i) {
    const int64_t arow = s_arow[tid / kAUnits + i * (T::kThreads / kAUnits)];
    a_src[i] = arow >= 0 ? p.a + arow + a_k : nullptr;
  }
  const int a_dst = a_unit(tid / kAUnits, tid % kAUnits) * 8;
  const int w_k = 32 * (tid % kWUnits);  // k offset of the W unit within a stage
  const uint32_t* w_src[T::kWCopies];    // at k = w_k of stage 0; nullptr: column past N
#pragma unroll
  for (int i = 0; i < T::kWCopies; ++i) {
    const int col = n0 + tid / kWUnits + i * (T::kThreads / kWUnits);
    w_src[i] =
        col < p.n ? p.qweight + (static_cast<int64_t>(e) * p.n + col) * p.ldw + w_k / 8 : nullptr;
  }
  const int w_dst = w_unit(tid / kWUnits, tid % kWUnits) * 4;
  // Scale/zero entry i is column tid % kBN, chunk tid / kBN + i * (kThreads / kBN).
  const int groups = p.k / p.group_size;
  const int group_shift = p.group_size == 32 ? 5 : p.group_size == 64 ? 6 : 7;
  const int sz_col = n0 + tid % kBN;
  const bool sz_ok = sz_col < p.n;
  const uint16_t* s_col = p.scales + (static_cast<int64_t>(e) * p.n + sz_col) * groups;
  const uint32_t* z_col =
      p.zeros != nullptr ? p.zeros + (static_cast<int64_t>(e) * (p.n / 8) + sz_col / 8) * groups
                         : nullptr;
  const int z_shift = 4 * (sz_col % 8);

  const int steps = (p.k + kBK - 1) / kBK;  // K stages
  // Issues the copies of stage `kt` into slot `slot` as one commit group; past the last stage
  // the group is empty (copy_wait counts groups, so one is committed per stage either way).
  auto issue_stage = [&](int kt, int slot) {
    if (kt >= steps) {
      copy_commit();
      return;
    }
    const int k0 = kt * kBK;
    const bool a_in_k = k0 + a_k < p.k, w_in_k = k0 + w_k < p.k;
#pragma unroll
    for (int i = 0; i < T::kACopies; ++i) {
      const bool valid = a_in_k && a_src[i] != nullptr;
      copy_async<16>(&sA[slot][a_dst + i * T::kThreads * 8], valid ? a_src[i] + k0 : p.a, valid);
    }
#pragma unroll
    for (int i = 0; i < T::kWCopies; ++i) {
      const bool valid = w_in_k && w_src[i] != nullptr;
      const uint32_t* src = valid ? w_src[i] + k0 / 8 : p.qweight;
      uint32_t* dst = &sW[slot][w_dst + i * T::kThreads * 4];
      if (p.w_vec16) {
        copy_async<16>(dst, src, valid);
      } else {
#pragma unroll
        for (int j = 0; j < 4; ++j) copy_async<4>(dst + j, valid ? src + j : src, valid);
      }
    }
    copy_commit();
  };
  // The chunk of this thread's scale/zero entry i (its column is tid % kBN).
  auto sz_chunk = [&](int i) { return tid / kBN + i * (T::kThreads / kBN); };
  // Scale bits | zero << 16 of this thread's entry i of stage kt. Columns past N and chunks past
  // K, so every entry of a stage past the last, get scale 0 (their A is zero anyway).
  auto load_sz = [&](int kt, int i) -> uint32_t {
    const int k = kt * kBK + sz_chunk(i) * Decode::kChunkK;
    if (!sz_ok || k >= p.k) return 0u;
    const int g = k >> group_shift;
    const uint32_t z = z_col != nullptr ? (z_col[g] >> z_shift) & 15u : 8u;
    return static_cast<uint32_t>(s_col[g]) | (z << 16);
  };
  // Stage kt's entries, given stage kt - 1's (`prev`). An entry of a group already held is
  // copied, not loaded again: at G >= 64 a stage's chunks lie in one group, so entry i repeats
  // entry i - 1 where they are consecutive chunks of the column (one CTA thread per column), and
  // at G = 128 an odd stage lies in its predecessor's group. (K % G == 0, so a copied entry and
  // its source are both in range or both past K.) Each scale load is a 2-byte read per lane,
  // every lane of a warp in another sector, so they cost the L1 more than their bytes: on
  // Qwen3-235B gemm1 at T = 4096 (ncu) this took the L1's busy share from 70 to 63 % and the
  // global-load stalls from 0.56 to 0.30 per instruction. sm_90 only (atom.hpp
  // kTiledReuseHeldGroups: registers elsewhere). G stays a run-time value: the kernel
  // instantiated per G, the conditions constant, ran no faster (kernels/README.md).
  constexpr bool kConsecutiveChunks = T::kThreads == kBN;  // entry i is chunk i
  auto stage_sz = [&](int kt, const uint32_t(&prev)[T::kSZ], uint32_t(&out)[T::kSZ]) {
    const bool as_prev_stage = p.group_size == 128 && (kt & 1) != 0;
#pragma unroll
    for (int i = 0; i < T::kSZ; ++i) {
      if (as_prev_stage) {
        out[i] = prev[i];
      } else if (kConsecutiveChunks && i > 0 && p.group_size >= 64) {
        out[i] = out[i - 1];
      } else {
        out[i] = load_sz(kt, i);
      }
    }
  };

  Acc acc[T::kAtomsM][Decode::kAtomsN];
#pragma unroll
  for (int mi = 0; mi < T::kAtomsM; ++mi) {
#pragma unroll
    for (int a = 0; a < Decode::kAtomsN; ++a) {
#pragma unroll
      for (int v = 0; v < Layout::kCElems; ++v) acc[mi][a].v[v] = 0.0f;
    }
  }

  // The atoms of one stage. Per chunk: the lane's dequantisers (its columns' scales and zeros),
  // then two steps (k = 16s .. 16s + 15 of the chunk). A step dequantises its B fragments
  // (b_pick: pair p of word r of the lane's column lc) once and runs them against each atom row
  // of the warp, whose A fragment is loaded from the row-major tile just before its atoms. On
  // NVIDIA (step loop unrolled) a column's 4 words of the chunk are read as one 16-byte unit; on
  // gfx11 the step loop is not unrolled (kSubStepUnroll: it keeps the VGPRs in budget) and a step
  // reads only its own words, by address, with no register array indexed by the step.
  auto compute_stage = [&](int slot) {
    const uint16_t* stage_a = sA[slot];
    const uint32_t* stage_w = sW[slot];
#pragma unroll
    for (int h = 0; h < kChunks; ++h) {
      PairDequant<Dt> dq[Decode::kLaneCols];
      u32x4 units[kWholeUnits ? Decode::kLaneCols : 1];
      auto tile_col = [&](int lc) { return warp_n * Decode::kCols + Decode::col(lane, lc); };
#pragma unroll
      for (int lc = 0; lc < Decode::kLaneCols; ++lc) {
        dq[lc].set(sDQ[slot][h][tile_col(lc)]);
        if constexpr (kWholeUnits) {
          units[lc] = *reinterpret_cast<const u32x4*>(&stage_w[w_unit(tile_col(lc), h) * 4]);
        }
      }
      auto b_word = [&](const moecheck::atom::TiledPick& x) {
        if constexpr (kWholeUnits) {
          return word(units[x.lc], x.r);
        } else {
          return stage_w[w_unit(tile_col(x.lc), h) * 4 + x.r];
        }
      };
#pragma unroll kSubStepUnroll
      for (int s = 0; s < 2; ++s) {
        FragB fb[Decode::kAtomsN];
#pragma unroll
        for (int a = 0; a < Decode::kAtomsN; ++a) {
#pragma unroll
          for (int i = 0; i < Layout::kBElems / 2; ++i) {
            moecheck::atom::TiledPick x = Decode::b_pick(lane, s, a, i);
            // The column, taken at step 0: the same at every step (check_tiled_decode_map), so
            // the dequantiser and the unit are picked at compile time even when s is not.
            x.lc = Decode::b_pick(lane, 0, a, i).lc;
            fb[a].w[i] = dq[x.lc](b_word(x), x.p);
          }
        }
#pragma unroll
        for (int mi = 0; mi < T::kAtomsM; ++mi) {
          const int row0 = warp_m * T::kWM + mi * moecheck::atom::kM;
          const int k0 = h * Decode::kChunkK + moecheck::atom::kK * s;
          const FragA fa = atom_load_a(
              lane, [&](int row, int k) { return &stage_a[a_unit(row0 + row, (k0 + k) / 8) * 8]; });
#pragma unroll
          for (int a = 0; a < Decode::kAtomsN; ++a) atom_mma<Dt>(acc[mi][a], fa, fb[a]);
        }
      }
    }
  };

  // The pipeline: stage kt lives in slot kt % kStages. Before computing stage kt, a thread waits
  // for its own copies of kt (copy_wait: at most kStages - 2 newer groups pending), stores kt's
  // scales, and the barrier makes every thread's copies visible; it also means every warp is done
  // with stage kt - 1, whose slot then receives stage kt + kStages - 1. A group is committed every
  // iteration (empty past the last stage), so the count copy_wait relies on holds to the end.
  uint32_t sz_ring[kStages - 1][T::kSZ];  // stages kt .. kt + kStages - 2
#pragma unroll
  for (int st = 0; st < kStages - 1; ++st) {
    issue_stage(st, st);
    if constexpr (kTiledReuseHeldGroups) {
      stage_sz(st, sz_ring[st == 0 ? 0 : st - 1], sz_ring[st]);  // stage 0 is even: prev unread
    } else {
#pragma unroll
      for (int i = 0; i < T::kSZ; ++i) sz_ring[st][i] = load_sz(st, i);
    }
  }
  int slot = 0;
  for (int kt = 0; kt < steps; ++kt) {
    copy_wait<kStages - 2>();
#pragma unroll
    for (int i = 0; i < T::kSZ; ++i) {
      const uint32_t sz = sz_ring[0][i];
      sDQ[slot][sz_chunk(i)][tid % kBN] =
          PairDequant<Dt>::state(static_cast<uint16_t>(sz & 0xFFFFu), sz >> 16);
    }
    __syncthreads();
    const int next = kt + kStages - 1;
    const int next_slot = slot == 0 ? kStages - 1 : slot - 1;  // stage kt - 1's slot
    issue_stage(next, next_slot);
    // Without kTiledReuseHeldGroups the entries are loaded after the shift, as they were before
    // stage_sz: calling it, even where it reduces to load_sz, cost gfx11 2 VGPRs.
    uint32_t fresh[T::kSZ];
    if constexpr (kTiledReuseHeldGroups) stage_sz(next, sz_ring[kStages - 2], fresh);
#pragma unroll
    for (int st = 0; st + 1 < kStages - 1; ++st) {
#pragma unroll
      for (int i = 0; i < T::kSZ; ++i) sz_ring[st][i] = sz_ring[st + 1][i];
    }
#pragma unroll
    for (int i = 0; i < T::kSZ; ++i) {
      sz_ring[kStages - 2][i] = kTiledReuseHeldGroups ? fresh[i] : load_sz(next, i);
    }
    compute_stage(slot);
    slot = slot + 1 == kStages ? 0 : slot + 1;
  }

#pragma unroll
  for (int mi = 0; mi < T::kAtomsM; ++mi) {
#pragma unroll
    for (int a = 0; a < Decode::kAtomsN; ++a) {
#pragma unroll
      for (int v = 0; v < Layout::kCElems; ++v) {
        const moecheck::atom::Coord x = Layout::c(lane, v);
        const int row = warp_m * T::kWM + mi * moecheck::atom::kM + x.row;
        const int n = n0 + warp_n * Decode::kCols + Decode::col_of(a, x.col);
        const int32_t id = s_id[row];
        if (id >= 0 && n < p.n) {
          p.c[static_cast<int64_t>(id) * p.ldc + n] =
              Dt::from_float(acc[mi][a].v[v] * s_weight[row]);
        }
      }
    }
  }
#else
  (void)p;
#endif
}

template <class Dt, int BM>
void launch_tiled(const TiledParams& p, int64_t sorted_len, hipStream_t stream) {
  const dim3 grid(static_cast<uint32_t>(grid_blocks(sorted_len, BM, p.numel)),
                  static_cast<uint32_t>((p.n + kBN - 1) / kBN));
  tiled_gemm_kernel<Dt, BM><<<grid, TileShape<BM>::kThreads, 0, stream>>>(p);
}

template <class Dt>
void launch_tiled_dtype(const TiledParams& p, int64_t block_m, int64_t sorted_len,
                        hipStream_t stream) {
  switch (block_m) {
    case 16:
      launch_tiled<Dt, 16>(p, sorted_len, stream);
      break;
    case 32:
      launch_tiled<Dt, 32>(p, sorted_len, stream);
      break;
    default:
      launch_tiled<Dt, 64>(p, sorted_len, stream);
      break;
  }
}

}  // namespace
}  // namespace mc

MC_API mc_status mc_tiled_gemm(const mc_tiled_gemm_args* args) {
  mc_status st = mc::check_tiled_gemm(args, nullptr);
  if (st != MC_OK) return st;
  if (args->numel == 0 || args->sorted_len == 0) return MC_OK;  // nothing to compute
  st = mc::device_status(/*needs_atom=*/true);
  if (st != MC_OK) return st;
  mc::TiledParams p;
  p.a = static_cast<const uint16_t*>(args->a);
  p.lda = args->lda;
  p.a_route_div = args->a_route_div;
  p.qweight = reinterpret_cast<const uint32_t*>(args->qweight);
  p.ldw = args->ldw;
  p.scales = static_cast<const uint16_t*>(args->scales);
  p.zeros = reinterpret_cast<const uint32_t*>(args->zeros);
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
  p.w_vec16 = args->ldw % 4 == 0 && reinterpret_cast<uintptr_t>(args->qweight) % 16 == 0;
  const auto stream = static_cast<hipStream_t>(args->stream);
  if (args->dtype == MC_BF16) {
    mc::launch_tiled_dtype<mc::Bf16>(p, args->block_m, args->sorted_len, stream);
  } else {
    mc::launch_tiled_dtype<mc::Fp16>(p, args->block_m, args->sorted_len, stream);
  }
  return mc::launch_status();
}
