// CUDA adapters of the element-wise ops and concatenation (kernels/elementwise.h) and of the ops
// extracted from the models (kernels/model_ops.h).
#include "../../kernels/elementwise.h"
#include "../../kernels/model_ops.h"

#include <memory>
#include <vector>

#include "cuda/adapter.h"
#include "cuda/memory.h"

namespace vrestore::cuda {

void run(const ops::ActivateArgs& a) {
  with_dtype(a.x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::ActivateParams<T> p;
    p.data = device_ptr<T>(a.x);
    p.count = a.x.numel();
    p.activation = a.activation;
    p.leaky_slope = a.negative_slope;
    check_launch(kernels::activate(p, current_stream()), "activate");
  });
}

void run(const ops::AddArgs& a) {
  with_dtype(a.a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::AddParams<T> p;
    p.a = device_ptr<T>(a.a);
    p.b = device_ptr<T>(a.b);
    p.count = a.a.numel();
    check_launch(kernels::add(p, current_stream()), "add");
  });
}

void run(const ops::ScaleArgs& a) {
  with_dtype(a.a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::ScaleParams<T> p;
    p.data = device_ptr<T>(a.a);
    p.count = a.a.numel();
    p.scale = a.s;
    check_launch(kernels::scale(p, current_stream()), "scale");
  });
}

void run(const ops::CastArgs& a) {
  if (a.x.dtype() == DType::F32) {
    kernels::CastParams<float, __half> p{device_ptr<float>(a.x), device_ptr<__half>(a.out), a.x.numel()};
    check_launch(kernels::cast(p, current_stream()), "cast");
  } else {
    kernels::CastParams<__half, float> p{device_ptr<__half>(a.x), device_ptr<float>(a.out), a.x.numel()};
    check_launch(kernels::cast(p, current_stream()), "cast");
  }
}

void run(const ops::ConcatArgs& a) {
  with_dtype(a.out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    std::vector<const T*> parts;
    std::vector<int> channels;
    for (const Tensor& t : a.parts) {
      parts.push_back(device_ptr<T>(t));
      channels.push_back(to_int(t.size(a.dim), "cat", "a part's extent along the dimension"));
    }
    // Concatenation along `dim` is the kernel's channel concat with batch = the dims before it.
    int64_t outer = 1, plane = 1;
    for (int d = 0; d < a.dim; ++d) outer *= a.out.size(d);
    for (int d = a.dim + 1; d < a.out.dim(); ++d) plane *= a.out.size(d);
    kernels::ConcatParams<T> p;
    p.parts = parts.data();
    p.part_channels = channels.data();
    p.num_parts = to_int(static_cast<int64_t>(parts.size()), "cat", "the number of parts");
    p.output = device_ptr<T>(a.out);
    p.batch = to_int(outer, "cat", "the extent before the dimension");
    p.plane = plane;
    check_launch(kernels::concat(p, current_stream()), "cat");
  });
}

void run(const ops::NarrowArgs& a) {
  // One strided copy: N rows of count*inner elements, taken channels*inner apart.
  const int64_t channels = a.x.size(1), count = a.out.size(1);
  int64_t inner = dtype_size(a.x.dtype());
  for (int d = 2; d < a.out.dim(); ++d) inner *= a.out.size(d);
  Tensor x = a.x, out = a.out;
  const char* src = static_cast<const char*>(x.dtype() == DType::F16 ? static_cast<const void*>(x.data<Half>(Device::CUDA))
                                                                     : static_cast<const void*>(x.data<float>(Device::CUDA)));
  void* dst = out.dtype() == DType::F16 ? static_cast<void*>(out.data<Half>(Device::CUDA))
                                        : static_cast<void*>(out.data<float>(Device::CUDA));
  const size_t row = static_cast<size_t>(count * inner);
  if (row == 0 || out.numel() == 0) return;
  check_launch(cudaMemcpy2DAsync(dst, row, src + a.begin * inner, static_cast<size_t>(channels * inner), row,
                                 static_cast<size_t>(out.size(0)), cudaMemcpyDeviceToDevice, current_stream()),
               "narrow");
}

namespace {

// Copies whole rows along dimension 0 on the device: dst row dst_rows[i] = src row src_rows[i].
void copy_rows(const Tensor& dst, const std::vector<int64_t>& dst_rows, const Tensor& src,
               const std::vector<int64_t>& src_rows, const char* op) {
  const size_t row_bytes = src.size(0) ? src.nbytes() / static_cast<size_t>(src.size(0)) : 0;
  Tensor d = dst, s = src;
  char* dp = reinterpret_cast<char*>(d.dtype() == DType::F16 ? static_cast<void*>(d.data<Half>(Device::CUDA))
                                                             : static_cast<void*>(d.data<float>(Device::CUDA)));
  const char* sp = reinterpret_cast<const char*>(s.dtype() == DType::F16 ? static_cast<void*>(s.data<Half>(Device::CUDA))
                                                                         : static_cast<void*>(s.data<float>(Device::CUDA)));
  for (size_t i = 0; i < dst_rows.size(); ++i)
    check_launch(cudaMemcpyAsync(dp + static_cast<size_t>(dst_rows[i]) * row_bytes,
                                 sp + static_cast<size_t>(src_rows[i]) * row_bytes, row_bytes,
                                 cudaMemcpyDeviceToDevice, current_stream()),
                 op);
}

std::vector<int64_t> iota(size_t n) {
  std::vector<int64_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<int64_t>(i);
  return v;
}

}  // namespace

void run(const ops::IndexSelect0Args& a) {
  copy_rows(a.out, iota(a.indices.size()), a.x, a.indices, "index_select0");
}

void run(const ops::CopyRows0Args& a) { copy_rows(a.dst, a.rows, a.src, iota(a.rows.size()), "copy_rows0"); }

void run(const ops::ChannelDotArgs& a) {
  with_dtype(a.a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::ChannelDotParams<T> p;
    p.a = device_ptr<T>(a.a);
    p.b = device_ptr<T>(a.b);
    p.output = device_ptr<T>(a.out);
    p.batch = a.a.size(0);
    p.channels = a.a.size(1);
    p.plane = a.a.size(2) * a.a.size(3);
    check_launch(kernels::channel_dot(p, current_stream()), "channel_dot");
  });
}

void run(const ops::MulBroadcastChannelsArgs& a) {
  // Leading dimensions fold into frames: x is (F, C, H, W) with w (F, 1, H, W).
  const int rank = a.x.dim();
  const int64_t channels = a.x.size(rank - 3), plane = a.x.size(rank - 2) * a.x.size(rank - 1);
  with_dtype(a.x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::MulBroadcastChannelsParams<T> p;
    p.x = device_ptr<T>(a.x);
    p.w = device_ptr<T>(a.w);
    p.channels = channels;
    p.plane = plane;
    p.frames = channels * plane > 0 ? a.x.numel() / (channels * plane) : 0;
    check_launch(kernels::mul_broadcast_channels(p, current_stream()), "mul_broadcast_channels");
  });
}

void run(const ops::MulAddArgs& a) {
  with_dtype(a.x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::MulAddParams<T> p;
    p.x = device_ptr<T>(a.x);
    p.m = device_ptr<T>(a.m);
    p.add = device_ptr<T>(a.add);
    p.count = a.x.numel();
    p.scale = a.scale;
    check_launch(kernels::mul_add(p, current_stream()), "mul_add");
  });
}

void run(const ops::ChannelAffineArgs& a) {
  // The per-channel constants go to the device once per call (a few floats: the RGB mean / std).
  const size_t channels = a.shift.size();
  if (channels == 0 || a.x.numel() == 0) return;
  const size_t bytes = channels * sizeof(float);
  std::shared_ptr<void> constants = allocate(2 * bytes);
  float* shift = static_cast<float*>(constants.get());
  float* scale = shift + channels;
  copy(shift, Device::CUDA, a.shift.data(), Device::CPU, bytes);
  copy(scale, Device::CUDA, a.scale.data(), Device::CPU, bytes);
  with_dtype(a.x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::AffineChannelsParams<T> p;
    p.input = device_ptr<T>(a.x);
    p.output = device_ptr<T>(a.out);
    p.shift = shift;
    p.scale = scale;
    p.batch = a.x.size(0);
    p.channels = a.x.size(1);
    p.plane = a.x.size(2) * a.x.size(3);
    p.divide = a.divide;
    check_launch(kernels::affine_channels(p, current_stream()), "affine_channels");
  });
  // `constants` is freed stream-ordered (cuda/memory.cpp): after the kernel has read it.
}

void run(const ops::PadCropArgs& a) {
  const int64_t h = a.x.size(-2), w = a.x.size(-1);
  with_dtype(a.x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::PadCropParams<T> p;
    p.input = device_ptr<T>(a.x);
    p.output = device_ptr<T>(a.out);
    p.planes = a.x.numel() / (h * w);
    p.in_height = h;
    p.in_width = w;
    p.out_height = a.out.size(-2);
    p.out_width = a.out.size(-1);
    p.top = a.top;
    p.left = a.left;
    p.mode = a.mode;
    check_launch(kernels::pad_crop(p, current_stream()), "pad_crop");
  });
}

void run(const ops::SumAbsArgs& a) {
  // Workspace for the block sums, then the result: one allocation, one double read back.
  const size_t workspace = kernels::sum_abs_workspace_bytes();
  std::shared_ptr<void> memory = allocate(workspace + sizeof(double));
  double* partials = static_cast<double*>(memory.get());
  double* result = partials + workspace / sizeof(double);
  with_dtype(a.x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::SumAbsParams<T> p;
    p.input = device_ptr<T>(a.x);
    p.count = a.x.numel();
    p.start = *a.result;
    p.workspace = partials;
    p.result = result;
    check_launch(kernels::sum_abs(p, current_stream()), "sum_abs");
  });
  copy(a.result, Device::CPU, result, Device::CUDA, sizeof(double));  // waits for the kernels
}

}  // namespace vrestore::cuda
