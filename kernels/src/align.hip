// moe_align_block_size (DESIGN.md section 3) in three launches on the caller's stream:
//
//   1. count:   per-expert route counts. Each CTA builds a histogram of its routes in shared
//               memory and adds it to the global counts with one atomic per (CTA, expert). The
//               same launch writes the sentinel into every slot and -1 into every block id.
//   2. scan:    one CTA of 1024 threads (one per expert, E <= 1024): padded counts, their prefix
//               sum (the expert's first slot, kept as its scatter cursor), num_tokens_post_padded,
//               and the expert id (through expert_map) of every used block.
//   3. scatter: each CTA ranks its routes per expert in shared memory, reserves a contiguous
//               range per expert with one global atomic on the cursor, and writes the flat ids.
//
// The order of the flat ids inside one expert's range depends on the atomics (the contract allows
// any order there). Ids outside [0, E) are counted nowhere and written nowhere; every index is
// bounded by the checks of mc_supports_align (capacity >= max_padded).
#include "device_common.hpp"
#include "internal.hpp"

namespace mc {
namespace {

constexpr int kThreads = 256;
constexpr int kItems = 8;  // routes per thread in the count and scatter passes
constexpr int kRoutesPerCta = kThreads * kItems;
constexpr int kMaxExperts = 1024;
constexpr int kScanThreads = kMaxExperts;

__global__ __launch_bounds__(kThreads) void align_count_kernel(
    const int32_t* __restrict__ topk_ids, int32_t numel, int32_t num_experts,
    int32_t* __restrict__ counts, int32_t* __restrict__ sorted_ids, int32_t capacity,
    int32_t* __restrict__ expert_ids, int32_t num_block_ids) {
  __shared__ int32_t hist[kMaxExperts];
  for (int e = threadIdx.x; e < num_experts; e += kThreads) hist[e] = 0;
  __syncthreads();
  const int64_t base = static_cast<int64_t>(blockIdx.x) * kRoutesPerCta + threadIdx.x;
#pragma unroll
  for (int i = 0; i < kItems; ++i) {
    const int64_t r = base + i * kThreads;
    if (r < numel) {
      const int32_t e = topk_ids[r];
      if (e >= 0 && e < num_experts) atomicAdd(&hist[e], 1);
    }
  }
  __syncthreads();
  for (int e = threadIdx.x; e < num_experts; e += kThreads) {
    if (hist[e] != 0) atomicAdd(&counts[e], hist[e]);
  }
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kThreads;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  for (int64_t s = first; s < capacity; s += stride) sorted_ids[s] = numel;
  for (int64_t b = first; b < num_block_ids; b += stride) expert_ids[b] = -1;
}

__global__ __launch_bounds__(kScanThreads) void align_scan_kernel(
    const int32_t* __restrict__ counts, int32_t num_experts, int32_t block_m,
    const int32_t* __restrict__ expert_map, int32_t* __restrict__ cursor,
    int32_t* __restrict__ expert_ids, int32_t* __restrict__ num_tokens_post_padded) {
  __shared__ int32_t incl[kScanThreads];  // inclusive prefix sum of the padded counts
  const int e = threadIdx.x;
  int32_t padded = 0;
  if (e < num_experts) {
    const int64_t c = counts[e];
    // <= the total, which the capacity check bounds by INT32_MAX.
    padded = static_cast<int32_t>((c + block_m - 1) / block_m * block_m);
  }
  incl[e] = padded;
  __syncthreads();
  // Hillis-Steele scan. Every step reads, waits, writes, waits: no slot is read in the step that
  // writes it.
  for (int off = 1; off < kScanThreads; off <<= 1) {
    const int32_t add = e >= off ? incl[e - off] : 0;
    __syncthreads();
    incl[e] += add;
    __syncthreads();
  }
  const int32_t total = incl[kScanThreads - 1];
  if (e < num_experts) cursor[e] = incl[e] - padded;
  if (e == 0) *num_tokens_post_padded = total;
  // The expert of block b is the first one whose range ends past slot b * block_m. Experts
  // without routes have empty ranges and are never found.
  const int32_t blocks = total / block_m;
  for (int32_t b = e; b < blocks; b += kScanThreads) {
    const int32_t slot = b * block_m;
    int lo = 0;
    int hi = num_experts - 1;
    while (lo < hi) {
      const int mid = (lo + hi) / 2;
      if (incl[mid] > slot) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    expert_ids[b] = expert_map != nullptr ? expert_map[lo] : lo;
  }
}

__global__ __launch_bounds__(kThreads) void align_scatter_kernel(
    const int32_t* __restrict__ topk_ids, int32_t numel, int32_t num_experts,
    int32_t* __restrict__ cursor, int32_t* __restrict__ sorted_ids) {
  // First this CTA's route count per expert, then (after the reservation) its first slot.
  __shared__ int32_t local[kMaxExperts];
  for (int e = threadIdx.x; e < num_experts; e += kThreads) local[e] = 0;
  __syncthreads();
  const int64_t base = static_cast<int64_t>(blockIdx.x) * kRoutesPerCta + threadIdx.x;
  int32_t expert[kItems];
  int32_t rank[kItems];
#pragma unroll
  for (int i = 0; i < kItems; ++i) {
    const int64_t r = base + i * kThreads;
    expert[i] = -1;
    rank[i] = 0;
    if (r < numel) {
      const int32_t e = topk_ids[r];
      if (e >= 0 && e < num_experts) {
        expert[i] = e;
        rank[i] = atomicAdd(&local[e], 1);
      }
    }
  }
  __syncthreads();
  for (int e = threadIdx.x; e < num_experts; e += kThreads) {
    if (local[e] != 0) local[e] = atomicAdd(&cursor[e], local[e]);
  }
  __syncthreads();
#pragma unroll
  for (int i = 0; i < kItems; ++i) {
    if (expert[i] >= 0)
      sorted_ids[local[expert[i]] + rank[i]] = static_cast<int32_t>(base + i * kThreads);
  }
}

}  // namespace
}  // namespace mc

MC_API mc_status mc_align(const mc_align_args* args) {
  mc_status st = mc::check_align(args, nullptr);
  if (st != MC_OK) return st;
  st = mc::device_status(/*needs_atom=*/false);
  if (st != MC_OK) return st;
  const auto numel = static_cast<int32_t>(args->numel);
  const auto num_experts = static_cast<int32_t>(args->num_experts);
  const auto block_m = static_cast<int32_t>(args->block_m);
  const auto capacity = static_cast<int32_t>(args->sorted_capacity);
  const int32_t num_block_ids = capacity / block_m;
  auto* counts = static_cast<int32_t*>(args->workspace);
  int32_t* cursor = counts + num_experts;
  const auto stream = static_cast<hipStream_t>(args->stream);

  st = mc::memset_zero_async(counts, num_experts * static_cast<int64_t>(sizeof(int32_t)),
                             args->stream);
  if (st != MC_OK) return st;
  const int64_t routes_ctas = (args->numel + mc::kRoutesPerCta - 1) / mc::kRoutesPerCta;
  const int64_t fill_ctas = (args->sorted_capacity + mc::kRoutesPerCta - 1) / mc::kRoutesPerCta;
  const auto count_ctas = static_cast<uint32_t>(
      routes_ctas > fill_ctas ? routes_ctas : (fill_ctas > 0 ? fill_ctas : 1));
  mc::align_count_kernel<<<count_ctas, mc::kThreads, 0, stream>>>(
      args->topk_ids, numel, num_experts, counts, args->sorted_token_ids, capacity,
      args->expert_ids, num_block_ids);
  mc::align_scan_kernel<<<1, mc::kScanThreads, 0, stream>>>(
      counts, num_experts, block_m, args->expert_map, cursor, args->expert_ids,
      args->num_tokens_post_padded);
  if (routes_ctas > 0) {
    mc::align_scatter_kernel<<<static_cast<uint32_t>(routes_ctas), mc::kThreads, 0, stream>>>(
        args->topk_ids, numel, num_experts, cursor, args->sorted_token_ids);
  }
  return mc::launch_status();
}
