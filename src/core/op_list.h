// The one list of ops: each line names an args struct (op_args.h) and the op's name in messages.
// It declares `cpu::run(const XArgs&)` and `cuda::run(const XArgs&)` for every op; ops.cpp calls
// them. A backend that lacks a body is a link error naming the op's args type. A CPU-only build
// expands the same list into bodies that report "<op>: built without CUDA" (src/cuda/no_cuda.cpp).
// Nothing is looked up by name at run time: a list, not a registry.
#pragma once

#include "core/op_args.h"
#include "core/op_args_vrt.h"

// VRT's transformer ops (ops_vrt.h).
#define VRESTORE_VRT_OP_LIST(X)                \
  X(LinearArgs, "linear")                      \
  X(LayerNormArgs, "layer_norm")               \
  X(GeluArgs, "gelu")                          \
  X(AddBroadcastArgs, "add_broadcast")         \
  X(TransposeArgs, "transpose")                \
  X(WindowPartitionArgs, "window_partition")   \
  X(WindowAttentionArgs, "window_attention")   \
  X(Nearest4WarpArgs, "nearest4_warp")         \
  X(FlowGuidedOffsetArgs, "flow_guided_offset")

#define VRESTORE_OP_LIST(X)                    \
  X(Conv2dArgs, "conv2d")                      \
  X(DeformConv2dArgs, "deform_conv2d")         \
  X(FlowWarpArgs, "flow_warp")                 \
  X(ResizeBilinearArgs, "resize_bilinear")     \
  X(PixelShuffleArgs, "pixel_shuffle")         \
  X(Pool2dArgs, "pool2d")                      \
  X(ActivateArgs, "activate")                  \
  X(AddArgs, "add")                            \
  X(ScaleArgs, "scale")                        \
  X(ConcatArgs, "cat")                         \
  X(NarrowArgs, "narrow")                      \
  X(ChannelDotArgs, "channel_dot")             \
  X(MulBroadcastChannelsArgs, "mul_broadcast_channels") \
  X(MulAddArgs, "mul_add")                     \
  X(ChannelAffineArgs, "affine_channels")     \
  X(PadCropArgs, "pad_crop")                   \
  X(IndexSelect0Args, "index_select0")         \
  X(CopyRows0Args, "copy_rows0")               \
  X(SumAbsArgs, "sum_abs")                    \
  VRESTORE_VRT_OP_LIST(X)                     \
  X(CastArgs, "cast")

namespace vrestore::cpu {
#define VRESTORE_DECLARE_RUN(Args, name) void run(const ops::Args& args);
VRESTORE_OP_LIST(VRESTORE_DECLARE_RUN)
}  // namespace vrestore::cpu

namespace vrestore::cuda {
VRESTORE_OP_LIST(VRESTORE_DECLARE_RUN)
#undef VRESTORE_DECLARE_RUN
}  // namespace vrestore::cuda
