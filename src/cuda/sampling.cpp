// CUDA adapters of the resampling ops: bilinear resize (kernels/resize_bilinear.h), pixel shuffle
// (kernels/pixel_shuffle.h) and pooling (kernels/pool2d.h).
#include "../../kernels/pixel_shuffle.h"
#include "../../kernels/pool2d.h"
#include "../../kernels/resize_bilinear.h"

#include "cuda/adapter.h"

namespace vrestore::cuda {

void run(const ops::ResizeBilinearArgs& a) {
  with_dtype(a.x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::ResizeBilinearParams<T> p;
    p.input = device_ptr<T>(a.x);
    p.output = device_ptr<T>(a.out);
    p.batch = to_int(a.x.size(0), "resize_bilinear", "N");
    p.channels = to_int(a.x.size(1), "resize_bilinear", "C");
    p.in_height = to_int(a.x.size(2), "resize_bilinear", "H");
    p.in_width = to_int(a.x.size(3), "resize_bilinear", "W");
    p.out_height = to_int(a.out.size(2), "resize_bilinear", "the output height");
    p.out_width = to_int(a.out.size(3), "resize_bilinear", "the output width");
    p.scale_factor = a.scale_factor;
    p.align_corners = a.align_corners;
    check_launch(kernels::resize_bilinear(p, current_stream()), "resize_bilinear");
  });
}

void run(const ops::PixelShuffleArgs& a) {
  kernels::PixelShuffleShape s;
  s.batch = to_int(a.x.size(0), "pixel_shuffle", "N");
  s.out_channels = to_int(a.out.size(1), "pixel_shuffle", "the output channels");
  s.height = to_int(a.x.size(2), "pixel_shuffle", "H");
  s.width = to_int(a.x.size(3), "pixel_shuffle", "W");
  s.factor = a.factor;
  with_dtype(a.x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    check_launch(kernels::pixel_shuffle(s, device_ptr<T>(a.x), device_ptr<T>(a.out), current_stream()),
                 "pixel_shuffle");
  });
}

void run(const ops::Pool2dArgs& a) {
  const char* op = a.kind == ops::PoolKind::Max ? "max_pool2d" : "avg_pool2d";
  with_dtype(a.x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::Pool2dParams<T> p;
    p.input = device_ptr<T>(a.x);
    p.output = device_ptr<T>(a.out);
    p.batch = to_int(a.x.size(0), op, "N");
    p.channels = to_int(a.x.size(1), op, "C");
    p.height = to_int(a.x.size(2), op, "H");
    p.width = to_int(a.x.size(3), op, "W");
    p.out_height = to_int(a.out.size(2), op, "the output height");
    p.out_width = to_int(a.out.size(3), op, "the output width");
    p.kernel = a.kernel;
    p.stride = a.stride;
    p.padding = a.padding;
    p.count_include_pad = a.count_include_pad;
    const cudaError_t err = a.kind == ops::PoolKind::Max ? kernels::max_pool2d(p, current_stream())
                                                         : kernels::avg_pool2d(p, current_stream());
    check_launch(err, op);
  });
}

}  // namespace vrestore::cuda
