// Activations the kernels fuse into their epilogues. The enum is the op layer's own (op_common.h);
// a leaf header: included by host adapters (g++) and by device code alike.
#pragma once

#include "op_common.h"

namespace vrestore::kernels {

using vrestore::Activation;
using vrestore::kLeakySlope;

}  // namespace vrestore::kernels
