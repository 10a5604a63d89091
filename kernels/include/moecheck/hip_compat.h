// moecheck's own small runtime header (DESIGN.md sections 6 and 9). The kernels are HIP source;
// this header is the one place that says where the HIP names they use come from:
//
//   * ROCm (hipcc / amdclang, or clang -x hip with the ROCm headers), and host C++ built with
//     __HIP_PLATFORM_AMD__: <hip/hip_runtime.h> itself.
//   * clang -x hip with -nogpuinc (the gfx11 static gate, DESIGN.md section 9, which has no usable
//     HIP headers): this header declares the few names the kernel sources use and nothing else
//     ("minimal" mode; force it with -DMOECHECK_HIP_MINIMAL). Declarations only on the host side:
//     such a build is device-only and never links.
//   * nvcc (CUDA language), and host C++ (g++) built against CUDA::cudart: <cuda_runtime.h>, with
//     the HIP names mapped to CUDA here. Debian's HIP 5.2 NVIDIA headers are NOT used (they do not
//     compile against CUDA 13).
//
// Names for kernel sources (the complete set, keep it small so minimal mode stays possible):
//   __global__ __device__ __host__ __shared__ __forceinline__ __launch_bounds__(n)
//   threadIdx blockIdx blockDim gridDim (.x .y .z)   __syncthreads()   atomicAdd(int*, int)
//   hipStream_t hipError_t hipSuccess hipGetLastError() hipMemsetAsync()   <<<grid, block, 0, s>>>
//   mc_expf(x)  mc_half_to_float(bits)  mc_float_to_half(x)  mc_shfl_xor(v, lane_mask)
// Host-only names for the GPU testbed (not in minimal mode): hipMalloc hipFree hipMemcpy(Async)
//   hipMemset hipDeviceSynchronize hipStreamSynchronize hipStreamCreate hipStreamDestroy
//   hipGetDevice hipSetDevice hipGetDeviceCount hipGetDeviceProperties hipDeviceProp_t
//   hipGetErrorString hipPeekAtLastError hipEvent* hipMemcpyKind values, and
//   mc_device_arch_name(device, buf, len) ("sm_90", "gfx1100"), mc_arch_name(prop, buf, len).
#ifndef MOECHECK_HIP_COMPAT_H
#define MOECHECK_HIP_COMPAT_H

#include <stddef.h>
#include <stdint.h>

#if defined(MOECHECK_HIP_MINIMAL) || (defined(__HIP__) && !defined(__CLANG_HIP_RUNTIME_WRAPPER_H__))
#define MC_COMPAT_HIP_MINIMAL 1
#elif defined(__HIP__) || defined(__HIP_PLATFORM_AMD__) || defined(__HIPCC__)
#define MC_COMPAT_HIP 1
#else
#define MC_COMPAT_CUDA 1
#endif

/* ============================================================================================ */
#if defined(MC_COMPAT_CUDA)

#include <cuda_runtime.h>
#if defined(__CUDACC__)
#include <cuda_fp16.h>
#endif

typedef cudaStream_t hipStream_t;
typedef cudaError_t hipError_t;
typedef cudaEvent_t hipEvent_t;
typedef cudaDeviceProp hipDeviceProp_t;
typedef cudaMemcpyKind hipMemcpyKind;
constexpr cudaError_t hipSuccess = cudaSuccess;
constexpr cudaError_t hipErrorNoDevice = cudaErrorNoDevice;
constexpr cudaError_t hipErrorInvalidValue = cudaErrorInvalidValue;
constexpr cudaMemcpyKind hipMemcpyHostToDevice = cudaMemcpyHostToDevice;
constexpr cudaMemcpyKind hipMemcpyDeviceToHost = cudaMemcpyDeviceToHost;
constexpr cudaMemcpyKind hipMemcpyDeviceToDevice = cudaMemcpyDeviceToDevice;
constexpr cudaMemcpyKind hipMemcpyDefault = cudaMemcpyDefault;

inline hipError_t hipGetLastError() {
  return cudaGetLastError();
}
inline hipError_t hipPeekAtLastError() {
  return cudaPeekAtLastError();
}
inline const char* hipGetErrorString(hipError_t e) {
  return cudaGetErrorString(e);
}
inline hipError_t hipMalloc(void** p, size_t bytes) {
  return cudaMalloc(p, bytes);
}
template <class T>
inline hipError_t hipMalloc(T** p, size_t bytes) {
  return cudaMalloc(reinterpret_cast<void**>(p), bytes);
}
inline hipError_t hipFree(void* p) {
  return cudaFree(p);
}
inline hipError_t hipMemcpy(void* dst, const void* src, size_t bytes, hipMemcpyKind kind) {
  return cudaMemcpy(dst, src, bytes, kind);
}
inline hipError_t hipMemcpyAsync(void* dst, const void* src, size_t bytes, hipMemcpyKind kind,
                                 hipStream_t s) {
  return cudaMemcpyAsync(dst, src, bytes, kind, s);
}
inline hipError_t hipMemset(void* p, int value, size_t bytes) {
  return cudaMemset(p, value, bytes);
}
inline hipError_t hipMemsetAsync(void* p, int value, size_t bytes, hipStream_t s) {
  return cudaMemsetAsync(p, value, bytes, s);
}
inline hipError_t hipDeviceSynchronize() {
  return cudaDeviceSynchronize();
}
inline hipError_t hipStreamSynchronize(hipStream_t s) {
  return cudaStreamSynchronize(s);
}
inline hipError_t hipStreamCreate(hipStream_t* s) {
  return cudaStreamCreate(s);
}
inline hipError_t hipStreamDestroy(hipStream_t s) {
  return cudaStreamDestroy(s);
}
inline hipError_t hipGetDevice(int* d) {
  return cudaGetDevice(d);
}
inline hipError_t hipSetDevice(int d) {
  return cudaSetDevice(d);
}
inline hipError_t hipGetDeviceCount(int* n) {
  return cudaGetDeviceCount(n);
}
inline hipError_t hipGetDeviceProperties(hipDeviceProp_t* p, int d) {
  return cudaGetDeviceProperties(p, d);
}
inline hipError_t hipEventCreate(hipEvent_t* e) {
  return cudaEventCreate(e);
}
inline hipError_t hipEventDestroy(hipEvent_t e) {
  return cudaEventDestroy(e);
}
inline hipError_t hipEventRecord(hipEvent_t e, hipStream_t s = nullptr) {
  return cudaEventRecord(e, s);
}
inline hipError_t hipEventSynchronize(hipEvent_t e) {
  return cudaEventSynchronize(e);
}
inline hipError_t hipEventElapsedTime(float* ms, hipEvent_t a, hipEvent_t b) {
  return cudaEventElapsedTime(ms, a, b);
}

#if defined(__CUDACC__)
__device__ __forceinline__ float mc_expf(float x) {
  return expf(x);
}
__device__ __forceinline__ float mc_half_to_float(uint16_t bits) {
  return __half2float(__ushort_as_half(bits));
}
__device__ __forceinline__ uint16_t mc_float_to_half(float x) {
  return __half_as_ushort(__float2half_rn(x));
}
template <class V>
__device__ __forceinline__ V mc_shfl_xor(V v, int lane_mask) {
  return __shfl_xor_sync(0xffffffffu, v, lane_mask);
}
#endif

/* ============================================================================================ */
#elif defined(MC_COMPAT_HIP)

#include <hip/hip_runtime.h>

#if defined(__HIP__)
__device__ __forceinline__ float mc_expf(float x) {
  return expf(x);
}
#endif

/* ============================================================================================ */
#else /* MC_COMPAT_HIP_MINIMAL: clang -x hip -nogpuinc, device-only builds */

#define __host__ __attribute__((host))
#define __device__ __attribute__((device))
#define __global__ __attribute__((global))
#define __shared__ __attribute__((shared))
#define __constant__ __attribute__((constant))
#define __forceinline__ inline __attribute__((always_inline))
#define __launch_bounds__(n) __attribute__((amdgpu_flat_work_group_size(1, n)))

typedef enum hipError_t {
  hipSuccess = 0,
  hipErrorInvalidValue = 1,
  hipErrorNoDevice = 100
} hipError_t;
typedef struct ihipStream_t* hipStream_t;

struct dim3 {
  uint32_t x, y, z;
  constexpr __host__ __device__ dim3(uint32_t x_ = 1, uint32_t y_ = 1, uint32_t z_ = 1)
      : x(x_), y(y_), z(z_) {}
};

// What clang needs to lower <<<>>> (HIP's launch API) and what the launchers call.
extern "C" hipError_t __hipPushCallConfiguration(dim3 grid, dim3 block, size_t shmem = 0,
                                                 hipStream_t stream = nullptr);
extern "C" hipError_t __hipPopCallConfiguration(dim3* grid, dim3* block, size_t* shmem,
                                                hipStream_t* stream);
extern "C" hipError_t hipLaunchKernel(const void* f, dim3 grid, dim3 block, void** args,
                                      size_t shmem, hipStream_t stream);
extern "C" hipError_t hipGetLastError(void);
extern "C" hipError_t hipMemsetAsync(void* p, int value, size_t bytes, hipStream_t stream);

// threadIdx & co as property objects, the way HIP's own headers spell them.
#define MC_COMPAT_BUILTIN_DIM(name, fx, fy, fz)                         \
  struct mc_builtin_##name##_t {                                        \
    __declspec(property(get = get_x)) uint32_t x;                       \
    __declspec(property(get = get_y)) uint32_t y;                       \
    __declspec(property(get = get_z)) uint32_t z;                       \
    static __device__ __forceinline__ uint32_t get_x() { return (fx); } \
    static __device__ __forceinline__ uint32_t get_y() { return (fy); } \
    static __device__ __forceinline__ uint32_t get_z() { return (fz); } \
  };                                                                    \
  extern const __device__ __attribute__((weak)) mc_builtin_##name##_t name;
MC_COMPAT_BUILTIN_DIM(threadIdx, __builtin_amdgcn_workitem_id_x(), __builtin_amdgcn_workitem_id_y(),
                      __builtin_amdgcn_workitem_id_z())
MC_COMPAT_BUILTIN_DIM(blockIdx, __builtin_amdgcn_workgroup_id_x(),
                      __builtin_amdgcn_workgroup_id_y(), __builtin_amdgcn_workgroup_id_z())
MC_COMPAT_BUILTIN_DIM(blockDim, __builtin_amdgcn_workgroup_size_x(),
                      __builtin_amdgcn_workgroup_size_y(), __builtin_amdgcn_workgroup_size_z())
MC_COMPAT_BUILTIN_DIM(gridDim, __builtin_amdgcn_grid_size_x() / __builtin_amdgcn_workgroup_size_x(),
                      __builtin_amdgcn_grid_size_y() / __builtin_amdgcn_workgroup_size_y(),
                      __builtin_amdgcn_grid_size_z() / __builtin_amdgcn_workgroup_size_z())
#undef MC_COMPAT_BUILTIN_DIM

// HIP's __syncthreads: workgroup release fence, barrier, workgroup acquire fence.
__device__ __forceinline__ void __syncthreads() {
  __builtin_amdgcn_fence(__ATOMIC_RELEASE, "workgroup");
  __builtin_amdgcn_s_barrier();
  __builtin_amdgcn_fence(__ATOMIC_ACQUIRE, "workgroup");
}
__device__ __forceinline__ int atomicAdd(int* p, int v) {
  return __hip_atomic_fetch_add(p, v, __ATOMIC_RELAXED, __HIP_MEMORY_SCOPE_AGENT);
}
__device__ __forceinline__ float mc_expf(float x) {
  return __builtin_expf(x);
}

#endif /* platform */

/* ---- shared by both HIP modes -------------------------------------------------------------- */
#if defined(__HIP__) && (defined(MC_COMPAT_HIP) || defined(MC_COMPAT_HIP_MINIMAL))
__device__ __forceinline__ float mc_half_to_float(uint16_t bits) {
  return static_cast<float>(__builtin_bit_cast(_Float16, bits));
}
// The conversion to _Float16 rounds to nearest even.
__device__ __forceinline__ uint16_t mc_float_to_half(float x) {
  return __builtin_bit_cast(uint16_t, static_cast<_Float16>(x));
}
// A wave32 xor shuffle through ds_bpermute (byte addresses), valid on every gfx11 lane.
template <class V>
__device__ __forceinline__ V mc_shfl_xor(V v, int lane_mask) {
  static_assert(sizeof(V) == 4, "mc_shfl_xor moves 32-bit values");
  const int lane = static_cast<int>(__builtin_amdgcn_mbcnt_lo(~0u, 0u));
  const int r = __builtin_amdgcn_ds_bpermute((lane ^ lane_mask) << 2, __builtin_bit_cast(int, v));
  return __builtin_bit_cast(V, r);
}
#endif

/* ---- host: the device architecture name ("sm_90", "gfx1100") ------------------------------- */
#if !defined(MC_COMPAT_HIP_MINIMAL)
#include <stdio.h>
#include <string.h>
// Writes the architecture that `prop` describes into buf (NUL-terminated, truncated to len).
inline void mc_arch_name(const hipDeviceProp_t& prop, char* buf, size_t len) {
#if defined(MC_COMPAT_CUDA)
  snprintf(buf, len, "sm_%d%d", prop.major, prop.minor);
#else
  // gcnArchName carries target features after a colon ("gfx90a:sramecc+:xnack-").
  snprintf(buf, len, "%s", prop.gcnArchName);
  char* colon = strchr(buf, ':');
  if (colon != nullptr) *colon = '\0';
#endif
}
// Writes the architecture of `device` into buf (NUL-terminated, truncated to len).
inline hipError_t mc_device_arch_name(int device, char* buf, size_t len) {
  if (buf == nullptr || len == 0) return hipErrorInvalidValue;
  buf[0] = '\0';
  hipDeviceProp_t prop;
  const hipError_t err = hipGetDeviceProperties(&prop, device);
  if (err != hipSuccess) return err;
  mc_arch_name(prop, buf, len);
  return hipSuccess;
}
#endif

#endif  // MOECHECK_HIP_COMPAT_H
