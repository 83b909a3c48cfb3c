// Activations the kernels fuse into their epilogues (leaky slope 0.1 in every model of vrestore).
// A leaf header: included by host adapters (g++) and by device code alike.
#pragma once

namespace vrestore::kernels {

enum class Activation { None, ReLU, LeakyReLU, Sigmoid };

}  // namespace vrestore::kernels
