// The fused family (the decode path): routing gather + dequant + dot in one kernel, on gptq_kn
// weights (int32 [E, K/8, N], shuffled nibble order along K; scales [E, K/G, N]; zeros int32
// [E, K/G, N/8], n = 8c + p at nibble p). Small block_m (1, 2, 4, 8), so no matrix atom: plain
// fp32 FMAs, with the weights streamed once per block at full memory width.
//
// Grid: x = one CTA per alignment block, y = tiles of kBN = 128 columns. A CTA has 8 warps; lane l
// owns columns n0 + 4l .. n0 + 4l + 3 (one 16-byte load of 4 adjacent words covers 4 columns x 8
// k, and a warp reads 512 contiguous bytes of a weight row). Warp w takes the groups g = w, w + 8,
// ... (K split across warps), so each lane loads its 4 scales and zeros once per group.
// Activations: each slot's gathered row a[id / a_route_div] is read with 16-byte loads that all
// lanes of a warp share (broadcast).
// Dequant: w = (q - z) * s in fp32 (exact), never rounded to 16 bits. Zeros: v2 stores z; v1 stores
// (z - 1) mod 16 and decodes as (stored + 1) mod 16 — GPTQ v1's "+1", taken modulo 16 so that the
// format stays a bijection on z = 0..15 (DESIGN.md section 2).
// Reduction: the 8 warps' partial sums meet in shared memory and are added in warp order 0..7 (a
// fixed order: bitwise repeatable).
//
// output_topk = 0: c[id, n] = round(sum * topk_weight?), like the tiled family.
// output_topk = 1 (deterministic, no atomics): the kernel writes fp32 partials
//   ws[id, n] = sum * topk_weight? (ws zeroed first, so routes that are not computed, i.e. of
//   non-local experts, contribute 0), then a second launch computes, for every token t and n,
//   c[t, n] = round(c[t, n] + ws[t*top_k + 0, n] + ws[t*top_k + 1, n] + ...), in that order, in
//   fp32, rounded once. With c zeroed by the caller (the contract) this is the moe_sum of the
//   routes, bit for bit independent of scheduling.
#include "device_common.hpp"
#include "internal.hpp"

namespace mc {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / kWarpSize;
constexpr int kCols = 4;  // columns per lane (one 16-byte weight load)
constexpr int kBN = kWarpSize * kCols;
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

template <class Dt, int BM>
__global__ __launch_bounds__(kThreads) void fused_gemm_kernel(const FusedParams p) {
  constexpr int kUnroll = BM >= 8 ? 1 : BM >= 4 ? 2 : 4;  // words of K per unrolled step
  __shared__ __attribute__((aligned(16))) float s_red[kWarps][BM][kBN];
  __shared__ int64_t s_arow[BM];  // element offset of the slot's activation row; -1: padded
  __shared__ int32_t s_id[BM];    // flat route id; -1: padded slot
  __shared__ float s_weight[BM];  // topk weight (1 without mul_routed_weight)

  const int tid = threadIdx.x;
  const int lane = tid % kWarpSize;
  const int warp = tid / kWarpSize;
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

  float acc[BM][kCols];
#pragma unroll
  for (int r = 0; r < BM; ++r) {
#pragma unroll
    for (int c = 0; c < kCols; ++c) acc[r][c] = 0.0f;
  }

  const int n = n0 + lane * kCols;  // N % 8 == 0: a lane's 4 columns are all in or all out
  if (n < p.n) {
    const int groups = p.k / p.group_size;
    const int words_per_group = p.group_size / 8;
    const int64_t n_all = p.n;
    const uint32_t* q_col = p.qweight + static_cast<int64_t>(e) * (p.k / 8) * n_all + n;
    const uint16_t* s_col = p.scales + static_cast<int64_t>(e) * groups * n_all + n;
    const uint32_t* z_col = p.zeros + static_cast<int64_t>(e) * groups * (n_all / 8) + n / 8;
    const int z_shift = 4 * (n % 8);
    int64_t arow[BM];
#pragma unroll
    for (int r = 0; r < BM; ++r) arow[r] = s_arow[r];

    for (int g = warp; g < groups; g += kWarps) {
      const u32x2 sv = *reinterpret_cast<const u32x2*>(s_col + g * n_all);
      const uint32_t zw = z_col[g * (n_all / 8)] >> z_shift;
      float s[kCols];
      float zs[kCols];
#pragma unroll
      for (int c = 0; c < kCols; ++c) {
        s[c] = Dt::to_float(static_cast<uint16_t>((c < 2 ? sv.x : sv.y) >> (16 * (c % 2))));
        const uint32_t z = (nibble(zw, c) + p.zero_add) & 15u;
        zs[c] = static_cast<float>(z) * s[c];
      }
      const uint32_t* q_g = q_col + static_cast<int64_t>(g) * words_per_group * n_all;
      const int64_t k_g = static_cast<int64_t>(g) * p.group_size;
      // Unrolled so that several weight loads are in flight, as far as registers allow.
#pragma unroll kUnroll
      for (int j = 0; j < words_per_group; ++j) {
        const u32x4 w = *reinterpret_cast<const u32x4*>(q_g + j * n_all);
        float a[BM][8];
#pragma unroll
        for (int r = 0; r < BM; ++r) {
          u32x4 av = zero_u32x4();
          if (arow[r] >= 0) av = *reinterpret_cast<const u32x4*>(p.a + arow[r] + k_g + 8 * j);
#pragma unroll
          for (int i = 0; i < 8; ++i) a[r][i] = elem<Dt>(av, i);
        }
#pragma unroll
        for (int c = 0; c < kCols; ++c) {
          const uint32_t wc = word(w, c);
#pragma unroll
          for (int q = 0; q < 8; ++q) {
            const float wv = fma32(static_cast<float>(nibble(wc, q)), s[c], -zs[c]);
#pragma unroll
            for (int r = 0; r < BM; ++r) acc[r][c] = fma32(a[r][k_of_nibble(q)], wv, acc[r][c]);
          }
        }
      }
    }
  }

#pragma unroll
  for (int r = 0; r < BM; ++r) {
#pragma unroll
    for (int c = 0; c < kCols; ++c) s_red[warp][r][lane * kCols + c] = acc[r][c];
  }
  __syncthreads();
  for (int o = tid; o < BM * kBN; o += kThreads) {
    const int r = o / kBN;
    const int col = o % kBN;
    const int nn = n0 + col;
    const int32_t id = s_id[r];
    if (id < 0 || nn >= p.n) continue;
    float v = s_red[0][r][col];
#pragma unroll
    for (int w = 1; w < kWarps; ++w) v += s_red[w][r][col];
    v *= s_weight[r];
    if (p.partial != nullptr) {
      p.partial[static_cast<int64_t>(id) * p.n + nn] = v;
    } else {
      p.c[static_cast<int64_t>(id) * p.ldc + nn] = Dt::from_float(v);
    }
  }
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

template <class Dt, int BM>
void launch_fused(const FusedParams& p, int64_t sorted_len, hipStream_t stream) {
  const dim3 grid(static_cast<uint32_t>(sorted_len / BM),
                  static_cast<uint32_t>((p.n + kBN - 1) / kBN));
  fused_gemm_kernel<Dt, BM><<<grid, kThreads, 0, stream>>>(p);
}

template <class Dt>
void launch_fused_dtype(const FusedParams& p, const mc_fused_gemm_args& args, hipStream_t stream) {
  switch (args.block_m) {
    case 1:
      launch_fused<Dt, 1>(p, args.sorted_len, stream);
      break;
    case 2:
      launch_fused<Dt, 2>(p, args.sorted_len, stream);
      break;
    case 4:
      launch_fused<Dt, 4>(p, args.sorted_len, stream);
      break;
    default:
      launch_fused<Dt, 8>(p, args.sorted_len, stream);
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
  st = mc::device_status(/*needs_atom=*/false);
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
  if (args->dtype == MC_BF16) {
    mc::launch_fused_dtype<mc::Bf16>(p, *args, stream);
  } else {
    mc::launch_fused_dtype<mc::Fp16>(p, *args, stream);
  }
  return mc::launch_status();
}
