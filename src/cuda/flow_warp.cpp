// CUDA adapter of flow_warp (kernels/flow_warp.h): planar flows (f32) read in place, f32 or f16
// features.
#include "../../kernels/flow_warp.h"

#include "cuda/adapter.h"

namespace vrestore::cuda {

void run(const ops::FlowWarpArgs& a) {
  with_dtype(a.x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::FlowWarpParamsOf<T> p;
    p.input = device_ptr<T>(a.x);
    p.flow = device_ptr<float>(a.flow);
    p.output = device_ptr<T>(a.out);
    p.flow_layout = kernels::FlowLayout::Planar;
    p.batch = to_int(a.x.size(0), "flow_warp", "N");
    p.channels = to_int(a.x.size(1), "flow_warp", "C");
    p.height = to_int(a.x.size(2), "flow_warp", "H");
    p.width = to_int(a.x.size(3), "flow_warp", "W");
    p.padding = a.padding;
    check_launch(kernels::flow_warp(p, current_stream()), "flow_warp");
  });
}

}  // namespace vrestore::cuda
