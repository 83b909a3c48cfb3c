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
// Errors: every function throws vrestore::Error (see error.h); nothing aborts, and no other
// exception type leaves the library, except one thrown by a callback of yours (FrameSource::frame,
// FrameSink, RestoreOptions::progress), which reaches you unchanged.
// Non-finite values: a NaN or infinite input pixel is an error naming the frame, unless you opt in
// with allow_non_finite_input; a NaN or infinite output from finite input is an error naming the
// output frame (it means damaged weights or a bug, and the frame is never handed to the sink).
// Threads: a loaded Model is immutable. forward() and restore() may be called concurrently on the
// same Model from several threads; each call uses its own buffers. Intra-op parallelism uses
// OpenMP: set_num_threads() applies to every call from any thread; without it, OpenMP's default
// (OMP_NUM_THREADS, else one thread per core) applies; RestoreOptions::num_threads overrides it
// for one call.
// Frames that arrive over time (an engine decoding a video): vrestore::Stream in stream.h.
// Embedding rules (threads, streams, memory, errors): docs/embedding.md.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "vrestore/error.h"
#include "vrestore/tensor.h"

namespace vrestore {

struct ModelInfo {
  std::string arch;         // "<source>.<UpstreamClass>", e.g. "basicsr.EDVR"
  std::string config_json;  // upstream constructor arguments
  int scale = 1;            // output size / input size
  int num_frames = 0;       // input frames per forward (EDVR's window; VRT frame interpolation's
                            // exact count, giving one frame); 0 = any
  int in_channels = 3;      // channels of each input frame (3: RGB)
  bool recurrent = false;   // propagates state along the whole clip (BasicVSR, RealBasicVSR)
};

// Receives each restored frame (3, sH, sW) in order. May throw to abort the restoration.
using FrameSink = std::function<void(int64_t index, const Tensor& frame)>;

// The input frames of a clip, read on demand: frame(i) returns frame i as (C, H, W); all frames
// have one shape. Restoration keeps only a bounded number of frames in memory and asks for each
// frame a bounded number of times, so a source may decode a long video lazily.
// Order of reads: once the sink has received output frame i, restoration asks only for frames
// >= i + 1 - max(ModelInfo::num_frames - 1, 0) (a window model's margin; a recurrent model never
// goes back). A source may drop older frames; vrestore::Stream (stream.h) relies on this.
struct FrameSource {
  // num_frames of a source whose length is not known up front (frames still arriving, e.g. from a
  // decoder or a vrestore::Stream); such a source must set count_up_to.
  static constexpr int64_t kUnknownLength = -1;

  int64_t num_frames = 0;
  std::function<Tensor(int64_t index)> frame;
  // Only for num_frames == kUnknownLength: returns min(n, the clip's length) for n >= 1, waiting as
  // long as it takes to know it (until n frames exist or the clip has ended). Restoration calls it
  // before frame(i) with some n > i, and never asks for more than the frames it needs next (a
  // model's window, or a recurrent model's chunk plus look-ahead). Progress then reports a total of
  // kUnknownLength. RealBasicVSR's cleaning statistic spans the whole clip, so an unknown-length
  // clip longer than chunk_frames + lookahead_frames needs RestoreOptions::independent_chunks.
  std::function<int64_t(int64_t n)> count_up_to = {};

  // Frames of an in-memory clip (T, C, H, W); the clip must outlive the restoration.
  static FrameSource from_tensor(const Tensor& clip);
};

struct ForwardOptions {
  // Run inputs holding NaN or +-Inf (they then propagate into the output, which is not checked).
  // By default such an input is an error naming the frame [n, t], and a non-finite output from a
  // finite input is an error too.
  bool allow_non_finite_input = false;
};

struct RestoreOptions {
  // Called after each output frame with (frames done, total); total is
  // FrameSource::kUnknownLength for a source of unknown length. Return false to cancel: restore
  // then throws vrestore::Error("restore: cancelled") (ErrorCode::Cancelled).
  std::function<bool(int64_t done, int64_t total)> progress;

  // Recurrent models (BasicVSR, RealBasicVSR) process long clips in chunks so that memory does
  // not grow with the clip (see docs/long_videos.md). The forward state is carried across chunk
  // borders and the backward branch of each chunk starts `lookahead_frames` beyond its end.
  // A clip of at most chunk_frames + lookahead_frames frames is restored exactly as a whole.
  // chunk_frames must be >= 1 and lookahead_frames >= 0 (else restore throws); values beyond the
  // clip length are clamped to it, so a huge look-ahead (even INT64_MAX) restores the clip exactly
  // as a whole.
  int64_t chunk_frames = 32;
  int64_t lookahead_frames = 16;
  // Upstream's `max_seq_len` mode instead: chunks of chunk_frames processed independently (no
  // state across borders, no look-ahead; RealBasicVSR's cleaning statistic per chunk).
  bool independent_chunks = false;

  // Restore frames holding NaN or +-Inf (they spread into the outputs, which are then not checked).
  // By default restore throws "restore: input frame i holds ... non-finite value(s) ..." when it
  // reads such a frame, and "restore: output frame i holds ..." (before the sink sees it) when a
  // finite clip gives a non-finite output.
  bool allow_non_finite_input = false;

  // Clip models (VRT) restore with upstream's test-time tiling (main_test_vrt.py --tile /
  // --tile_overlap; rules in docs/tiling.md): temporal clips of `frames` frames and spatial tiles of
  // height x width input pixels, overlapping by the overlaps, blended as upstream does. A size of
  // 0 is chosen for memory_budget_bytes: the whole axis when it fits, else the largest tile that
  // does. Spatial tiles must be multiples of the model's window (8 for the VRT releases).
  struct Tiling {
    int64_t frames = 0, height = 0, width = 0;
    int64_t overlap_frames = 2, overlap_height = 20, overlap_width = 20;
  };
  Tiling tile;
  // The memory one restore call of a clip model plans for, in bytes, on the model's device (host
  // memory on the CPU); 0 = 8 GiB. restore throws, naming the smallest tile's estimate, when
  // nothing fits.
  size_t memory_budget_bytes = 0;

  // CPU threads for this call (0 = the process-wide set_num_threads value, else OpenMP's
  // default); at most kMaxThreads. Lets two models in one process use different thread counts.
  int num_threads = 0;
};

// Where and how a model runs; fixed at load.
struct ModelOptions {
  Device device = Device::CPU;
  // Element type of weights and features. F32: full fp32 (TF32 off on CUDA). F16 (CUDA only): fp16
  // storage with fp32 accumulation; optical flows, deformable-conv offsets and masks stay f32.
  DType precision = DType::F32;
  // CUDA device ordinal (0 for the CPU).
  int device_index = 0;
  // CUDA only: the caller's cudaStream_t, as void* (this header includes no CUDA header). Every
  // kernel and copy of this model is ordered on it, and forward/restore return without waiting for
  // the device only when they return device tensors (see Model::forward). nullptr: the model creates
  // its own stream. A caller's stream must outlive the model and every device tensor it returned.
  void* stream = nullptr;
};

// Device memory of a CUDA model, in bytes (all zero on the CPU). Counts what the model allocates
// through its stream-ordered pool: weights, activations, kernel workspaces and device tensors it
// returned (until they are released); not cuBLAS's own workspace or the CUDA context.
struct DeviceMemoryStats {
  size_t weights_bytes = 0;  // uploaded once at load (converted to the model's precision)
  size_t current_bytes = 0;  // held now
  size_t peak_bytes = 0;     // the most held at once since load or reset_peak_device_memory()
};

// Host memory of a CPU model's calls, in bytes (all zero for a CUDA model). Counts the tensors the
// model's calls allocate on the calling thread — weights (at load), activations, outputs — from the
// model's host buffer pool; not kernels' small per-thread scratch, the C library's own overhead or
// the caller's tensors. A peak covers the last call (or the calls running now, from the first).
struct HostMemoryStats {
  size_t current_bytes = 0;        // tensors alive now: the weights and any outputs the caller holds
  size_t pool_bytes = 0;           // freed blocks the pool keeps for reuse now (0 between calls)
  size_t peak_bytes = 0;           // the most tensor bytes alive at once (weights included)
  size_t peak_reserved_bytes = 0;  // the most of alive tensors + kept blocks at once: the model's resident share
};

class Model {
 public:
  // Loads a file written by weights_converter/convert.py to run as `options` say. Device::CUDA
  // throws vrestore::Error (ErrorCode::Unsupported, one line saying why) when this build has no
  // CUDA backend or no device is present; F16 on the CPU is an error too.
  // The file is memory-mapped only while load() runs: every weight is copied into the model's own
  // memory (the same resident size as keeping the mapping, as mapped pages count too) and the file
  // is closed before load() returns. A loaded model therefore never reads the file again, and
  // replacing, truncating or deleting it afterwards is safe; changing it in place *during* load()
  // is not (the read may see a mix of old and new bytes, or fail with SIGBUS if it is truncated).
  // Errors name the file, and for a bad config value the key, what was found and what was expected.
  static Model load(const std::string& path, const ModelOptions& options);
  // The same with default options on `device`.
  static Model load(const std::string& path, Device device = Device::CPU);

  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  ~Model();

  const ModelInfo& info() const;
  const ModelOptions& options() const;
  DeviceMemoryStats device_memory() const;
  // A CPU model's host memory (HostMemoryStats); between calls the pool keeps nothing.
  HostMemoryStats host_memory() const;
  // Starts a new peak: peak_bytes becomes current_bytes.
  void reset_peak_device_memory() const;
  // Waits until the device has finished all work this model queued (on its stream); returns at once
  // on the CPU. Needed only before reading device outputs from another stream or the host.
  void synchronize() const;

  // The upstream module's forward, exactly: e.g. EDVR (N, T, 3, H, W) -> (N, 3, 4H, 4W) centre
  // frame. Inputs whose size the upstream module rejects are rejected here too, and so are
  // non-finite inputs unless options.allow_non_finite_input.
  // Devices: the input may be on the CPU (f32) or, for a CUDA model, on its device (f32 or f16,
  // e.g. an engine's buffer wrapped with Tensor::wrap); the output is on the input's device with
  // the input's dtype. Device data never passes through the host. A device output is ready when its
  // stream (ModelOptions::stream or the model's own) reaches this point; a host output is complete.
  Tensor forward(const Tensor& input) const;
  Tensor forward(const Tensor& input, const ForwardOptions& options) const;

  // Restores a whole clip, RGB in [0, 1]: one output frame per input frame (a frame-interpolation
  // model, VRT 009: its one interpolated frame of a clip of exactly num_frames), handed to `sink` in
  // order. Frames of any H, W are accepted (padded internally and cropped back). The source, sink
  // and progress callbacks run on the calling thread. Devices as for forward(): each output frame
  // is on the device, and of the dtype, of the source's frames.
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

inline constexpr int kMaxThreads = 1024;

// Threads used by the CPU backend in every later call of this process, from whichever thread it is
// made (0 = OpenMP's default). It does not change the OpenMP setting of your own threads outside
// vrestore calls. Throws vrestore::Error unless 0 <= n <= kMaxThreads.
void set_num_threads(int n);
// The value last given to set_num_threads (0 = OpenMP's default).
int num_threads();

// How the CPU backend may compute fp32 matrix products: PyTorch's
// torch.set_float32_matmul_precision for the convolutions vrestore runs.
//   Highest (the default): fp32 throughout.
//   High: where the CPU has AMX-BF16 (Intel Xeon 4th generation and later), the convolutions of
//     EDVR, BasicVSR and RealBasicVSR (all but the deformable ones and those with at most 4
//     output channels) treat each fp32 value as the sum of two bf16 values and multiply on the
//     tile unit ("bf16x3", src/cpu/amx_bf16.h): a product is off by ~1e-5 of its size instead of
//     ~6e-8, and their golden cases still match upstream within 1.1e-5 (tolerance 1e-4; flows
//     within 8.7e-5 px, tolerance 5e-4; ctest -R cpu_matmul_precision_high). VRT keeps fp32
//     products (its golden cases do not hold with bf16x3). Without AMX, High computes as Highest.
//     Inputs and outputs stay fp32.
enum class MatmulPrecision { Highest = 0, High = 1 };
// Applies to every later call of this process, from whichever thread it is made. Until it is called,
// the environment variable VRESTORE_FLOAT32_MATMUL_PRECISION=highest|high sets the precision
// (another value makes float32_matmul_precision() and Model::load throw vrestore::Error).
void set_float32_matmul_precision(MatmulPrecision precision);
MatmulPrecision float32_matmul_precision();

// Whether this build has the CUDA backend and a device is present; `reason` says why not.
bool cuda_available(std::string* reason = nullptr);

}  // namespace vrestore
