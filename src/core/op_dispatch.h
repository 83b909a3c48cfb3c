// What every checked op function (ops.cpp, ops_vrt.cpp) does around its own checks: the operand
// rules, the output allocation and the one switch between the two backends. Internal to src/core.
#pragma once

#include "core/check.h"
#include "core/op_list.h"

namespace vrestore::ops::detail {

// Every operand of an op lives where its first input does, with the same element type (flows,
// DCN offsets and masks are f32 whatever the feature dtype: always_f32); the CPU backend runs f32.
inline void check_operand(const char* op, const char* what, const Tensor& t, const Tensor& first,
                          bool always_f32 = false) {
  VR_CHECK(t.defined(), op, ": ", what, " is an empty tensor");
  const DType want = always_f32 ? DType::F32 : first.dtype();
  VR_CHECK(t.device() == first.device() && t.dtype() == want, op, ": ", what, " is ", t.describe(), ", expected ",
           dtype_name(want), " on ", device_name(first.device()), " (where the first input is)");
  VR_CHECK(t.device() != Device::CPU || t.dtype() == DType::F32, op, ": ", what, " is ", t.describe(),
           "; the CPU backend computes in f32 (use to(Device::CPU, DType::F32))");
}

// The output of an op on `like`'s device, of its dtype.
inline Tensor output_like(const Tensor& like, const Shape& shape) {
  return Tensor::empty(shape, like.dtype(), like.device());
}

// Runs the op on the backend of the device its operands are on.
template <class Args>
void dispatch(const Args& args, const Tensor& on) {
  if (on.device() == Device::CUDA) cuda::run(args);
  else cpu::run(args);
}

}  // namespace vrestore::ops::detail
