// The entry points of one level's kernels, in that level's namespace (isa.h); kernel_table.cpp
// collects them into the level's KernelTable (dispatch.h). Same contracts as the dispatching
// functions declared in core/ops.h and conv_winograd.h.
#pragma once

#include "cpu/isa.h"

namespace vrestore::cpu::VRESTORE_ISA_NS {

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor* bias, const ops::Conv2dParams& p);
Tensor deform_conv2d(const Tensor& x, const Tensor& offset, const Tensor& mask, const Tensor& weight,
                     const Tensor* bias, const ops::DeformConv2dParams& p);
Tensor flow_warp(const Tensor& x, const Tensor& flow, ops::WarpPadding padding);
bool winograd_worthwhile(const WinogradShape& s);
void winograd_conv3x3(const float* x, const float* weight, const float* bias, ops::Activation act,
                      const WinogradShape& s, float* out);

}  // namespace vrestore::cpu::VRESTORE_ISA_NS
