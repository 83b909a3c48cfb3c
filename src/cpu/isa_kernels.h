// The entry points of one level's kernels, in that level's namespace (isa.h); kernel_table.cpp
// collects them into the level's KernelTable (dispatch.h). Same contracts as the dispatching
// functions declared in core/ops.h and conv_winograd.h.
#pragma once

#include "core/op_args_vrt.h"
#include "cpu/isa.h"

namespace vrestore::cpu::VRESTORE_ISA_NS {

bool conv2d(const ops::Conv2dArgs& a);
void deform_conv2d(const ops::DeformConv2dArgs& a);
void flow_warp(const ops::FlowWarpArgs& a);
void linear(const ops::LinearArgs& a);
void window_attention(const ops::WindowAttentionArgs& a);
bool winograd_worthwhile(const WinogradShape& s);
void winograd_conv3x3(const float* x, const float* weight, const float* bias, ops::Activation act,
                      const float* residual, const WinogradShape& s, float* out);

}  // namespace vrestore::cpu::VRESTORE_ISA_NS
