// The public C++ API: Model wraps a loaded Network; free functions for threads and devices.
#include <omp.h>

#include "core/check.h"
#include "cuda/device.h"
#include "models/network.h"
#include "vrestore/vrestore.h"

namespace vrestore {

struct Model::Impl {
  std::unique_ptr<Network> network;
  ModelInfo info;
};

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

Model Model::load(const std::string& path, Device device) {
  if (device == Device::CUDA) {
    std::string reason;
    VR_CHECK(cuda_available(&reason), "device cuda: ", reason);
    // A device exists, but no network runs on it yet.
    fail("device cuda: the CUDA backend does not run models in this version; use the CPU");
  }
  Weights weights = Weights::open(path);
  auto impl = std::make_unique<Impl>();
  impl->network = load_network(weights);
  impl->info = impl->network->info();
  return Model(std::move(impl));
}

const ModelInfo& Model::info() const { return impl_->info; }

Tensor Model::forward(const Tensor& input) const {
  VR_CHECK(input.defined(), "forward: input tensor is empty");
  return impl_->network->forward(input);
}

FrameSource FrameSource::from_tensor(const Tensor& clip) {
  VR_CHECK(clip.defined() && clip.dim() == 4 && clip.size(0) > 0, "restore: clip has shape ", clip.shape_str(),
           ", expected (T, C, H, W) with T > 0");
  return {clip.size(0), [clip](int64_t i) { return clip.select0(i); }};
}

void Model::restore(const FrameSource& source, const FrameSink& sink, const RestoreOptions& options) const {
  VR_CHECK(source.num_frames > 0 && source.frame, "restore: the frame source is empty (", source.num_frames,
           " frames)");
  VR_CHECK(static_cast<bool>(sink), "restore: no frame sink given");
  impl_->network->restore(source, sink, options);
}

void Model::restore(const Tensor& clip, const FrameSink& sink, const RestoreOptions& options) const {
  restore(FrameSource::from_tensor(clip), sink, options);
}

Tensor Model::restore(const Tensor& clip, const RestoreOptions& options) const {
  Tensor out;
  restore(
      clip,
      [&](int64_t index, const Tensor& frame) {
        if (!out.defined()) out = Tensor::empty({clip.size(0), frame.size(0), frame.size(1), frame.size(2)});
        std::copy(frame.data(), frame.data() + frame.numel(), out.data() + index * frame.numel());
      },
      options);
  return out;
}

void set_num_threads(int n) {
  if (n > 0) omp_set_num_threads(n);
}

bool cuda_available(std::string* reason) {
  cuda::DeviceStatus s = cuda::query_device();
  if (reason) *reason = s.reason;
  return s.available;
}

}  // namespace vrestore
