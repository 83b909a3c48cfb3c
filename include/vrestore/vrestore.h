// vrestore — native inference for video restoration networks (EDVR, BasicVSR, RealBasicVSR, VRT)
// from converted official PyTorch checkpoints. Usable from C++17.
//
//   #include <vrestore/vrestore.h>
//
//   vrestore::Model model = vrestore::Model::load("EDVR_M_x4_SR_REDS.safetensors");
//   vrestore::Tensor clip = vrestore::Tensor::empty({num_frames, 3, height, width});
//   ... fill clip with RGB frames in [0, 1] ...
//   model.restore(clip, [](int64_t index, const vrestore::Tensor& frame) {
//     // frame: (3, height * model.info().scale, width * model.info().scale), RGB, not clamped
//   });
//
// Errors: every function throws vrestore::Error (see error.h); nothing aborts.
// Threads: a loaded Model is immutable. forward() and restore() may be called concurrently on the
// same Model from several threads; each call uses its own buffers. Intra-op parallelism uses
// OpenMP (set_num_threads, or OMP_NUM_THREADS).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "vrestore/error.h"
#include "vrestore/tensor.h"

namespace vrestore {

enum class Device { CPU, CUDA };

struct ModelInfo {
  std::string arch;         // "<source>.<UpstreamClass>", e.g. "basicsr.EDVR"
  std::string config_json;  // upstream constructor arguments
  int scale = 1;            // output size / input size
  int num_frames = 0;       // input frames per forward (EDVR's window); 0 = any
};

// Receives each restored frame (3, sH, sW) in order. May throw to abort the restoration.
using FrameSink = std::function<void(int64_t index, const Tensor& frame)>;

// The input frames of a clip, read on demand: frame(i) returns frame i as (C, H, W); all frames
// have one shape. Restoration keeps only a bounded number of frames in memory and asks for each
// frame a bounded number of times, so a source may decode a long video lazily.
struct FrameSource {
  int64_t num_frames = 0;
  std::function<Tensor(int64_t index)> frame;

  // Frames of an in-memory clip (T, C, H, W); the clip must outlive the restoration.
  static FrameSource from_tensor(const Tensor& clip);
};

struct RestoreOptions {
  // Called after each output frame with (frames done, total). Return false to cancel: restore
  // then throws vrestore::Error("restore: cancelled").
  std::function<bool(int64_t done, int64_t total)> progress;

  // Recurrent models (BasicVSR, RealBasicVSR) process long clips in chunks so that memory does
  // not grow with the clip (see docs/long_videos.md). The forward state is carried across chunk
  // borders and the backward branch of each chunk starts `lookahead_frames` beyond its end.
  // A clip of at most chunk_frames + lookahead_frames frames is restored exactly as a whole.
  int64_t chunk_frames = 32;
  int64_t lookahead_frames = 16;
  // Upstream's `max_seq_len` mode instead: chunks of chunk_frames processed independently (no
  // state across borders, no look-ahead; RealBasicVSR's cleaning statistic per chunk).
  bool independent_chunks = false;
};

class Model {
 public:
  // Loads a file written by weights_converter/convert.py. Only Device::CPU runs today;
  // Device::CUDA throws unless a CUDA device is present.
  static Model load(const std::string& path, Device device = Device::CPU);

  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  ~Model();

  const ModelInfo& info() const;

  // The upstream module's forward, exactly: e.g. EDVR (N, T, 3, H, W) -> (N, 3, 4H, 4W) centre
  // frame. Inputs whose size the upstream module rejects are rejected here too.
  Tensor forward(const Tensor& input) const;

  // Restores a whole clip, RGB in [0, 1]: one output frame per input frame, handed to `sink` in
  // order. Frames of any H, W are accepted (padded internally and cropped back).
  void restore(const FrameSource& source, const FrameSink& sink, const RestoreOptions& options = {}) const;
  // The same for an in-memory clip (T, 3, H, W).
  void restore(const Tensor& clip, const FrameSink& sink, const RestoreOptions& options = {}) const;
  // Convenience: collects the frames into (T, 3, sH, sW).
  Tensor restore(const Tensor& clip, const RestoreOptions& options = {}) const;

 private:
  struct Impl;
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Threads used by the CPU backend (0 = OpenMP's default).
void set_num_threads(int n);

// Whether this build has the CUDA backend and a device is present; `reason` says why not.
bool cuda_available(std::string* reason = nullptr);

}  // namespace vrestore
