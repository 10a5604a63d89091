// The tiled family (the prefill path): gemm1 and gemm2 on exllama_nk weights, through the matrix
// atom (atom.hpp). One tile loop serves both GEMMs (they differ only in a_route_div, a runtime
// value) and both dtypes (template parameter Dt).
//
// Grid: x = one CTA per alignment block (block_m slots, all of one expert), y = tiles of kBN
// output columns. A CTA of 8 warps computes a block_m x kBN tile of C; the warps form a
// min(block_m/16, 2) x (8 / that) grid, so a warp owns at most 32 x 32 outputs (2 x 2 atoms):
// few accumulators per lane, which keeps the gfx11 register count within the static gate's
// budget (ci/gfx11_gate/budgets.yaml).
//
// K loop, kBK = 32 per step, two shared-memory stages:
//   * A: the block's gathered rows (a[id / a_route_div]), 16-byte global loads, copied as is;
//     padded slots (sentinel) load nothing and store zeros.
//   * W: thread t < kBN owns weight row n0 + t: one 16-byte load of the 4 words that hold
//     k0..k0+31, dequantised pair by pair to round((q - z) * s) (device_common.hpp PairDequant),
//     stored k-contiguous.
//   Step kt's global loads are issued before step kt-1's atoms run and stored after them, so the
//   memory latency hides behind the math; one barrier per step (see the loop).
// Groups: kBK divides every supported G (32, 64, 128) and k0 is a multiple of kBK, so a K step
// lies in exactly one group, g = k0 / G (no step straddles two groups).
// Epilogue: each lane's accumulators go, through the C map, to c[id, n] for valid slots and
// n < N only (padded slots, non-local blocks, and columns past N are never written), scaled by
// topk_weights[id] when mul_routed_weight, rounded once to the dtype. All offsets are int64.
#include "atom.hpp"
#include "internal.hpp"

namespace mc {
namespace {

constexpr int kThreads = 256;
[[maybe_unused]] constexpr int kWarps = kThreads / kWarpSize;
constexpr int kBN = 128;  // output columns per CTA; threads 0..kBN-1 dequantise one W row each
constexpr int kBK = 32;   // K per step; divides every supported group size
// Shared row stride in elements: 80 bytes keeps 16-byte alignment and spreads the 8 rows that one
// mma.sync fragment load touches over distinct banks.
[[maybe_unused]] constexpr int kLds = kBK + 8;
static_assert(kBN <= kThreads, "one weight row per thread");
static_assert(kBK % moecheck::atom::kK == 0, "atom tiling");

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
  bool w_vec16;  // 16-byte weight loads: ldw % 4 == 0 and qweight 16-byte aligned
};

template <class Dt, int BM>
__global__ __launch_bounds__(kThreads) void tiled_gemm_kernel(const TiledParams p) {
#if MC_HAS_ATOM
  // The warp grid: at most 2 warps along M, so that a warp's tile is at most 32 x 32 (2 x 2
  // atoms): A and B fragments are reused twice each, with few registers.
  constexpr int kWarpsM = BM / moecheck::atom::kM < 2 ? BM / moecheck::atom::kM : 2;
  constexpr int kWarpsN = kWarps / kWarpsM;
  constexpr int kWM = BM / kWarpsM;   // rows per warp
  constexpr int kWN = kBN / kWarpsN;  // columns per warp
  constexpr int kAtomsM = kWM / moecheck::atom::kM;
  constexpr int kAtomsN = kWN / moecheck::atom::kN;
  static_assert(kWarps % kWarpsM == 0 && kWN % moecheck::atom::kN == 0, "warp grid");
  constexpr int kAChunks = BM * kBK / 8;  // 16-byte chunks of one A tile
  constexpr int kAPerThread = (kAChunks + kThreads - 1) / kThreads;

  __shared__ __attribute__((aligned(16))) uint16_t sA[2][BM * kLds];
  __shared__ __attribute__((aligned(16))) uint16_t sW[2][kBN * kLds];
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

  // This thread's weight row (n_w) for the W tile.
  const int n_w = n0 + tid;
  const bool n_ok = tid < kBN && n_w < p.n;
  const int groups = p.k / p.group_size;
  const uint32_t* w_row = p.qweight + (static_cast<int64_t>(e) * p.n + n_w) * p.ldw;
  const uint16_t* s_row = p.scales + (static_cast<int64_t>(e) * p.n + n_w) * groups;
  const uint32_t* z_row = p.zeros != nullptr
                              ? p.zeros + (static_cast<int64_t>(e) * (p.n / 8) + n_w / 8) * groups
                              : nullptr;

  u32x4 ra[kAPerThread];  // staged A chunks
  u32x4 rw;               // staged weight words
  uint16_t rs = 0;        // staged scale bits (0 for columns past N: their weights dequantise to 0)
  uint32_t rz = 8;        // staged zero

  auto load_tile = [&](int k0) {
#pragma unroll
    for (int i = 0; i < kAPerThread; ++i) {
      const int chunk = tid + i * kThreads;
      ra[i] = zero_u32x4();
      if (kAChunks % kThreads == 0 || chunk < kAChunks) {
        const int64_t arow = s_arow[chunk / (kBK / 8)];
        if (arow >= 0) {
          ra[i] = *reinterpret_cast<const u32x4*>(p.a + arow + k0 + (chunk % (kBK / 8)) * 8);
        }
      }
    }
    rw = zero_u32x4();
    rs = 0;
    rz = 8;
    if (n_ok) {
      const uint32_t* src = w_row + k0 / 8;
      if (p.w_vec16) {
        rw = *reinterpret_cast<const u32x4*>(src);
      } else {
        rw.x = src[0];
        rw.y = src[1];
        rw.z = src[2];
        rw.w = src[3];
      }
      const int g = k0 / p.group_size;
      rs = s_row[g];
      rz = z_row != nullptr ? nibble(z_row[g], n_w % 8) : 8u;
    }
  };
  auto store_tile = [&](int stage) {
#pragma unroll
    for (int i = 0; i < kAPerThread; ++i) {
      const int chunk = tid + i * kThreads;
      if (kAChunks % kThreads == 0 || chunk < kAChunks) {
        *reinterpret_cast<u32x4*>(
            &sA[stage][(chunk / (kBK / 8)) * kLds + (chunk % (kBK / 8)) * 8]) = ra[i];
      }
    }
    if (tid >= kBN) return;
    PairDequant<Dt> dq;
    dq.init(rs, rz);
    u32x4* dst = reinterpret_cast<u32x4*>(&sW[stage][tid * kLds]);
#pragma unroll
    for (int j = 0; j < kBK / 8; ++j) {
      const uint32_t w = word(rw, j);
      u32x4 d;  // k = 8j + 0..7 in natural order: pair p is k = 2p, 2p + 1
      d.x = dq(w, 0);
      d.y = dq(w, 1);
      d.z = dq(w, 2);
      d.w = dq(w, 3);
      dst[j] = d;
    }
  };

  Acc acc[kAtomsM][kAtomsN];
#pragma unroll
  for (int mi = 0; mi < kAtomsM; ++mi) {
#pragma unroll
    for (int ni = 0; ni < kAtomsN; ++ni) {
#pragma unroll
      for (int v = 0; v < Layout::kCElems; ++v) acc[mi][ni].v[v] = 0.0f;
    }
  }

  const int steps = p.k / kBK;
  load_tile(0);
  store_tile(0);
  __syncthreads();
  for (int kt = 0; kt < steps; ++kt) {
    const int stage = kt & 1;
    const bool more = kt + 1 < steps;
    if (more) load_tile((kt + 1) * kBK);  // in flight during the atoms below
#pragma unroll kSubStepUnroll
    for (int kk = 0; kk < kBK; kk += moecheck::atom::kK) {
      FragA fa[kAtomsM];
#pragma unroll
      for (int mi = 0; mi < kAtomsM; ++mi) {
        load_frag_a(fa[mi], &sA[stage][(warp_m * kWM + mi * moecheck::atom::kM) * kLds + kk], kLds,
                    lane);
      }
#pragma unroll
      for (int ni = 0; ni < kAtomsN; ++ni) {
        FragB fb;
        load_frag_b(fb, &sW[stage][(warp_n * kWN + ni * moecheck::atom::kN) * kLds + kk], kLds,
                    lane);
#pragma unroll
        for (int mi = 0; mi < kAtomsM; ++mi) atom_mma<Dt>(acc[mi][ni], fa[mi], fb);
      }
    }
    // The other stage was last read in step kt-1, which every warp finished before the barrier
    // that ended it; after this step's barrier it holds step kt+1's tiles.
    if (more) store_tile(stage ^ 1);
    __syncthreads();
  }

#pragma unroll
  for (int mi = 0; mi < kAtomsM; ++mi) {
#pragma unroll
    for (int ni = 0; ni < kAtomsN; ++ni) {
#pragma unroll
      for (int v = 0; v < Layout::kCElems; ++v) {
        const Coord x = Layout::c(lane, v);
        const int row = warp_m * kWM + mi * moecheck::atom::kM + x.row;
        const int n = n0 + warp_n * kWN + ni * moecheck::atom::kN + x.col;
        const int32_t id = s_id[row];
        if (id >= 0 && n < p.n) {
          p.c[static_cast<int64_t>(id) * p.ldc + n] =
              Dt::from_float(acc[mi][ni].v[v] * s_weight[row]);
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
  const dim3 grid(static_cast<uint32_t>(sorted_len / BM),
                  static_cast<uint32_t>((p.n + kBN - 1) / kBN));
  tiled_gemm_kernel<Dt, BM><<<grid, kThreads, 0, stream>>>(p);
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
