// Global -> shared-memory copies that a multi-stage pipeline issues ahead of their use (the tiled
// family). On sm_80+ they are cp.async: the copy runs in the background, copy_commit() closes a
// group of copies and copy_wait<N>() returns once at most N of this thread's groups are still in
// flight. Elsewhere (gfx11 has no asynchronous global -> LDS copy of 16 bytes) a copy is a plain
// load and store, complete when the call returns, and commit/wait do nothing: the pipeline is then
// synchronous, correct but without the overlap.
// A copy that is not `valid` writes zeros and reads nothing; `src` must still be a mapped address
// (callers pass their base pointer).
#pragma once

#include "device_common.hpp"

namespace mc {

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
#define MC_CP_ASYNC 1
#else
#define MC_CP_ASYNC 0
#endif

// BYTES (16 or 4) from global `src` to shared `dst`, both aligned to BYTES. 16-byte copies bypass
// L1 (.cg: the data is used once, from shared memory); 4-byte ones must go through it (.ca).
template <int BYTES>
__device__ __forceinline__ void copy_async(void* dst, const void* src, bool valid) {
  static_assert(BYTES == 16 || BYTES == 4, "cp.async sizes used here");
#if MC_CP_ASYNC
  const auto d = static_cast<uint32_t>(__cvta_generic_to_shared(dst));
  const int n = valid ? BYTES : 0;  // bytes read; the rest of the BYTES are zero-filled
  if constexpr (BYTES == 16) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(d), "l"(src), "r"(n)
                 : "memory");
  } else {
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(d), "l"(src), "r"(n)
                 : "memory");
  }
#else
  if constexpr (BYTES == 16) {
    *static_cast<u32x4*>(dst) = valid ? *static_cast<const u32x4*>(src) : zero_u32x4();
  } else {
    *static_cast<uint32_t*>(dst) = valid ? *static_cast<const uint32_t*>(src) : 0u;
  }
#endif
}

__device__ __forceinline__ void copy_commit() {
#if MC_CP_ASYNC
  asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}

template <int N>
__device__ __forceinline__ void copy_wait() {
#if MC_CP_ASYNC
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
#endif
}

}  // namespace mc
