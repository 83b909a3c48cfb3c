// CUDA adapters of VRT's warp-side ops (core/ops_vrt.h): nearest4 input warp and the flow-guided
// DCN's offset/mask (kernels/vrt_warp.h).
#include "../../kernels/vrt_warp.h"

#include "cuda/adapter.h"

namespace vrestore::cuda {

void run(const ops::Nearest4WarpArgs& a) {
  const char* op = "nearest4_warp";
  with_dtype(a.x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::Nearest4WarpParams<T> p;
    p.input = device_ptr<T>(a.x);
    p.flow = device_ptr<float>(a.flow);
    p.output = device_ptr<T>(a.out);
    p.batch = to_int(a.batch, op, "N");
    p.channels = to_int(a.channels, op, "C");
    p.height = to_int(a.height, op, "H");
    p.width = to_int(a.width, op, "W");
    check_launch(kernels::nearest4_warp(p, current_stream()), op);
  });
}

void run(const ops::FlowGuidedOffsetArgs& a) {
  const char* op = "flow_guided_offset";
  with_dtype(a.x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::FlowGuidedOffsetParams<T> p;
    p.raw = device_ptr<T>(a.x);
    p.flows = device_ptr<float>(a.flows);
    p.offset = device_ptr<float>(a.offset);
    p.mask = device_ptr<float>(a.mask);
    p.batch = to_int(a.batch, op, "N");
    p.groups = to_int(a.groups, op, "G");
    p.neighbours = to_int(a.neighbours, op, "the number of neighbours");
    p.plane = to_int(a.plane, op, "H·W");
    p.max_residue = a.max_residue;
    check_launch(kernels::flow_guided_offset(p, current_stream()), op);
  });
}

}  // namespace vrestore::cuda
