// silu_and_mul and moe_sum: memory-bound element-wise kernels, fp32 inside, rounded once.
// Each has a 16-byte path (8 elements per thread) when every row start is 16-byte aligned, and a
// scalar path otherwise; both walk the output with a 64-bit grid-stride index.
#include "device_common.hpp"
#include "internal.hpp"

namespace mc {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxCtas = 65535;

// Loads VEC (1 or 8) elements at p as fp32.
template <class Dt, int VEC>
__device__ __forceinline__ void load_vec(float (&v)[VEC], const uint16_t* p) {
  if constexpr (VEC == 8) {
    const u32x4 x = *reinterpret_cast<const u32x4*>(p);
#pragma unroll
    for (int i = 0; i < 8; ++i) v[i] = elem<Dt>(x, i);
  } else {
    v[0] = Dt::to_float(*p);
  }
}
template <class Dt, int VEC>
__device__ __forceinline__ void store_vec(uint16_t* p, const float (&v)[VEC]) {
  if constexpr (VEC == 8) {
    u32x4 x;
    x.x = pack2<Dt>(v[0], v[1]);
    x.y = pack2<Dt>(v[2], v[3]);
    x.z = pack2<Dt>(v[4], v[5]);
    x.w = pack2<Dt>(v[6], v[7]);
    *reinterpret_cast<u32x4*>(p) = x;
  } else {
    *p = Dt::from_float(v[0]);
  }
}

// out[i, c] = silu(x[i, c]) * x[i, I + c], silu(v) = v / (1 + exp(-v)).
template <class Dt, int VEC>
__global__ __launch_bounds__(kThreads) void silu_and_mul_kernel(const uint16_t* __restrict__ x,
                                                                int64_t ldx,
                                                                uint16_t* __restrict__ out,
                                                                int64_t ldo, int64_t rows,
                                                                int64_t inter) {
  const int64_t per_row = inter / VEC;
  const int64_t total = rows * per_row;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kThreads;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < total;
       i += stride) {
    const int64_t row = i / per_row;
    const int64_t col = (i % per_row) * VEC;
    float gate[VEC];
    float up[VEC];
    load_vec<Dt, VEC>(gate, x + row * ldx + col);
    load_vec<Dt, VEC>(up, x + row * ldx + inter + col);
    float r[VEC];
#pragma unroll
    for (int j = 0; j < VEC; ++j) r[j] = gate[j] / (1.0f + mc_expf(-gate[j])) * up[j];
    store_vec<Dt, VEC>(out + row * ldo + col, r);
  }
}

// out[t, n] = sum_{j < top_k} x[t*top_k + j, n], in order j = 0.., fp32.
template <class Dt, int VEC>
__global__ __launch_bounds__(kThreads) void moe_sum_kernel(const uint16_t* __restrict__ x,
                                                           int64_t ldx, uint16_t* __restrict__ out,
                                                           int64_t ldo, int64_t tokens,
                                                           int64_t top_k, int64_t n) {
  const int64_t per_row = n / VEC;
  const int64_t total = tokens * per_row;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kThreads;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < total;
       i += stride) {
    const int64_t t = i / per_row;
    const int64_t col = (i % per_row) * VEC;
    float acc[VEC];
    load_vec<Dt, VEC>(acc, x + t * top_k * ldx + col);
    for (int64_t j = 1; j < top_k; ++j) {
      float v[VEC];
      load_vec<Dt, VEC>(v, x + (t * top_k + j) * ldx + col);
#pragma unroll
      for (int q = 0; q < VEC; ++q) acc[q] += v[q];
    }
    store_vec<Dt, VEC>(out + t * ldo + col, acc);
  }
}

uint32_t ctas_for(int64_t items) {
  const int64_t ctas = (items + kThreads - 1) / kThreads;
  return static_cast<uint32_t>(ctas < 1 ? 1 : (ctas > kMaxCtas ? kMaxCtas : ctas));
}
bool vec16_ok(const void* p, int64_t ld, int64_t width) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0 && ld % 8 == 0 && width % 8 == 0;
}

template <class Dt>
void launch_silu(const mc_silu_and_mul_args& a, hipStream_t s) {
  const auto* x = static_cast<const uint16_t*>(a.x);
  auto* out = static_cast<uint16_t*>(a.out);
  if (vec16_ok(a.x, a.ldx, a.inter) && vec16_ok(a.out, a.ldo, a.inter)) {
    silu_and_mul_kernel<Dt, 8>
        <<<ctas_for(a.rows * a.inter / 8), kThreads, 0, s>>>(x, a.ldx, out, a.ldo, a.rows, a.inter);
  } else {
    silu_and_mul_kernel<Dt, 1>
        <<<ctas_for(a.rows * a.inter), kThreads, 0, s>>>(x, a.ldx, out, a.ldo, a.rows, a.inter);
  }
}

template <class Dt>
void launch_sum(const mc_moe_sum_args& a, hipStream_t s) {
  const auto* x = static_cast<const uint16_t*>(a.x);
  auto* out = static_cast<uint16_t*>(a.out);
  if (vec16_ok(a.x, a.ldx, a.n) && vec16_ok(a.out, a.ldo, a.n)) {
    moe_sum_kernel<Dt, 8><<<ctas_for(a.tokens * a.n / 8), kThreads, 0, s>>>(x, a.ldx, out, a.ldo,
                                                                            a.tokens, a.top_k, a.n);
  } else {
    moe_sum_kernel<Dt, 1><<<ctas_for(a.tokens * a.n), kThreads, 0, s>>>(x, a.ldx, out, a.ldo,
                                                                        a.tokens, a.top_k, a.n);
  }
}

}  // namespace
}  // namespace mc

MC_API mc_status mc_silu_and_mul(const mc_silu_and_mul_args* args) {
  mc_status st = mc::check_silu_and_mul(args, nullptr);
  if (st != MC_OK) return st;
  if (args->rows == 0 || args->inter == 0) return MC_OK;
  st = mc::device_status(/*needs_atom=*/false);
  if (st != MC_OK) return st;
  const auto stream = static_cast<hipStream_t>(args->stream);
  if (args->dtype == MC_BF16) {
    mc::launch_silu<mc::Bf16>(*args, stream);
  } else {
    mc::launch_silu<mc::Fp16>(*args, stream);
  }
  return mc::launch_status();
}

MC_API mc_status mc_moe_sum(const mc_moe_sum_args* args) {
  mc_status st = mc::check_moe_sum(args, nullptr);
  if (st != MC_OK) return st;
  if (args->tokens == 0 || args->n == 0) return MC_OK;
  st = mc::device_status(/*needs_atom=*/false);
  if (st != MC_OK) return st;
  const auto stream = static_cast<hipStream_t>(args->stream);
  if (args->dtype == MC_BF16) {
    mc::launch_sum<mc::Bf16>(*args, stream);
  } else {
    mc::launch_sum<mc::Fp16>(*args, stream);
  }
  return mc::launch_status();
}
