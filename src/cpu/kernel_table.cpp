// This level's KernelTable (dispatch.h); compiled once per level like the kernels themselves.
#include "cpu/dispatch.h"
#include "cpu/isa_kernels.h"

namespace vrestore::cpu {

#if VRESTORE_CPU_ISA_LEVEL == 2
const KernelTable& kernel_table_avx512() {
  static const KernelTable table{Isa::Avx512,
#elif VRESTORE_CPU_ISA_LEVEL == 1
const KernelTable& kernel_table_avx2() {
  static const KernelTable table{Isa::Avx2,
#else
const KernelTable& kernel_table_baseline() {
  static const KernelTable table{Isa::Baseline,
#endif
                                 &VRESTORE_ISA_NS::conv2d,
                                 &VRESTORE_ISA_NS::deform_conv2d,
                                 &VRESTORE_ISA_NS::flow_warp,
                                 &VRESTORE_ISA_NS::linear,
                                 &VRESTORE_ISA_NS::window_attention,
                                 &VRESTORE_ISA_NS::winograd_worthwhile,
                                 &VRESTORE_ISA_NS::winograd_conv3x3};
  return table;
}

}  // namespace vrestore::cpu
