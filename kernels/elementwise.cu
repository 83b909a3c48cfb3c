// Launchers and entries of the element-wise kernels.
#include "elementwise.cuh"

namespace vrestore::kernels {

namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 65535 * 4;  // enough to fill any GPU; the kernels stride beyond
constexpr int kMaxGridYZ = 65535;

bool aligned(const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

// Blocks for `packs` grid-stride iterations, and at least enough threads for the scalar tail.
dim3 grid_for(int64_t packs, int tail) {
  const int64_t work = packs > tail ? packs : tail;
  const int64_t blocks = (work + kThreads - 1) / kThreads;
  return dim3(unsigned(blocks < kMaxBlocks ? blocks : kMaxBlocks));
}

template <class T, class Op>
cudaError_t launch_elementwise(T* x, const T* other, int64_t count, Op op, cudaStream_t stream) {
  if (count <= 0) return cudaSuccess;
  constexpr int kWide = int(16 / sizeof(T));
  if (aligned(x, 16) && (!other || aligned(other, 16))) {
    KLAUNCH((elementwise_kernel<T, kWide, Op>), grid_for(count / kWide, int(count % kWide)), dim3(kThreads), 0, stream,
            x, other, count, op);
  } else {
    KLAUNCH((elementwise_kernel<T, 1, Op>), grid_for(count, 0), dim3(kThreads), 0, stream, x, other, count, op);
  }
  return cudaGetLastError();
}

template <class T>
cudaError_t launch_concat(const ConcatParams<T>& p, cudaStream_t stream) {
  int total = 0;
  for (int i = 0; i < p.num_parts; ++i) total += p.part_channels[i];
  if (p.batch == 0 || p.plane == 0 || total == 0) return cudaSuccess;
  if (p.batch > kMaxGridYZ) return cudaErrorInvalidValue;
  constexpr int kWide = int(16 / sizeof(T));
  int channel0 = 0;
  for (int first = 0; first < p.num_parts; first += kConcatPartsPerLaunch) {
    ConcatLaunch<T> launch{};
    launch.num_parts = p.num_parts - first < kConcatPartsPerLaunch ? p.num_parts - first : kConcatPartsPerLaunch;
    launch.channel0 = channel0;
    launch.total_channels = total;
    launch.output = p.output;
    launch.plane = p.plane;
    bool wide = p.plane % kWide == 0 && aligned(p.output, 16);
    for (int i = 0; i < launch.num_parts; ++i) {
      launch.parts[i] = p.parts[first + i];
      launch.part_begin[i + 1] = launch.part_begin[i] + p.part_channels[first + i];
      wide = wide && aligned(launch.parts[i], 16);
    }
    const int channels = launch.part_begin[launch.num_parts];
    channel0 += channels;
    if (channels == 0) continue;
    if (channels > kMaxGridYZ) return cudaErrorInvalidValue;
    if (wide) {
      const dim3 grid = grid_for(p.plane / kWide, 0);
      KLAUNCH((concat_kernel<T, kWide>), dim3(grid.x, unsigned(channels), unsigned(p.batch)), dim3(kThreads), 0,
              stream, launch);
    } else {
      const dim3 grid = grid_for(p.plane, 0);
      KLAUNCH((concat_kernel<T, 1>), dim3(grid.x, unsigned(channels), unsigned(p.batch)), dim3(kThreads), 0, stream,
              launch);
    }
    if (cudaError_t e = cudaGetLastError(); e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

}  // namespace

cudaError_t activate(const ActivateParams<float>& p, cudaStream_t stream) {
  if (p.activation == Activation::None) return cudaSuccess;
  return launch_elementwise(p.data, static_cast<const float*>(nullptr), p.count,
                            ActivateOp{p.activation, p.leaky_slope}, stream);
}
cudaError_t activate(const ActivateParams<__half>& p, cudaStream_t stream) {
  if (p.activation == Activation::None) return cudaSuccess;
  return launch_elementwise(p.data, static_cast<const __half*>(nullptr), p.count,
                            ActivateOp{p.activation, p.leaky_slope}, stream);
}
cudaError_t add(const AddParams<float>& p, cudaStream_t stream) {
  return launch_elementwise(p.a, p.b, p.count, AddOp{p.activation, p.leaky_slope}, stream);
}
cudaError_t add(const AddParams<__half>& p, cudaStream_t stream) {
  return launch_elementwise(p.a, p.b, p.count, AddOp{p.activation, p.leaky_slope}, stream);
}
cudaError_t scale(const ScaleParams<float>& p, cudaStream_t stream) {
  return launch_elementwise(p.data, static_cast<const float*>(nullptr), p.count, ScaleOp{p.scale}, stream);
}
cudaError_t scale(const ScaleParams<__half>& p, cudaStream_t stream) {
  return launch_elementwise(p.data, static_cast<const __half*>(nullptr), p.count, ScaleOp{p.scale}, stream);
}
cudaError_t cast(const CastParams<float, __half>& p, cudaStream_t stream) {
  if (p.count == 0) return cudaSuccess;
  KLAUNCH((cast_kernel<float, __half>), grid_for(p.count, 0), dim3(kThreads), 0, stream, p.input, p.output, p.count);
  return cudaGetLastError();
}
cudaError_t cast(const CastParams<__half, float>& p, cudaStream_t stream) {
  if (p.count == 0) return cudaSuccess;
  KLAUNCH((cast_kernel<__half, float>), grid_for(p.count, 0), dim3(kThreads), 0, stream, p.input, p.output, p.count);
  return cudaGetLastError();
}
cudaError_t concat(const ConcatParams<float>& p, cudaStream_t stream) { return launch_concat(p, stream); }
cudaError_t concat(const ConcatParams<__half>& p, cudaStream_t stream) { return launch_concat(p, stream); }

}  // namespace vrestore::kernels
