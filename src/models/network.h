// The interface every model family implements, and the factory that picks one by the file's
// "vrestore.arch" metadata. Networks are immutable after loading: forward/restore are const and
// may run concurrently from several threads.
#pragma once

#include <memory>

#include "vrestore/vrestore.h"
#include "weights/weights.h"

namespace vrestore {

class Network {
 public:
  virtual ~Network() = default;
  // Exactly the upstream module's forward.
  virtual Tensor forward(const Tensor& input) const = 0;
  // Whole-clip restoration: one (3, sH, sW) output per source frame, in order. The source is
  // validated (num_frames > 0, frame() set) by the caller; frame shapes are checked here.
  virtual void restore(const FrameSource& source, const FrameSink& sink, const RestoreOptions& options) const = 0;
  virtual ModelInfo info() const = 0;
};

// Builds the network named by w.arch(); every tensor of the file must be used.
std::unique_ptr<Network> load_network(Weights& w);

}  // namespace vrestore
