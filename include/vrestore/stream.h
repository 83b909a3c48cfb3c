// vrestore::Stream — restore frames as they arrive: push input frames one at a time (e.g. as an
// engine decodes them), pull restored frames as they become ready. Usable from C++17.
//
//   vrestore::Stream stream(model, height, width);
//   for each decoded frame f (3, H, W), RGB in [0, 1]:
//     while (!stream.push(f)) drain(stream);    // false: pull restored frames first
//     drain(stream);                            // optional: take what is ready without waiting
//   stream.end();
//   vrestore::Tensor out; int64_t index;
//   while (stream.pull(&out, &index) == vrestore::StreamStatus::Ok) write(index, out);
//
// where drain() pulls with timeout 0 until it returns something other than Ok.
//
// A Stream runs Model::restore on its own worker thread over a frame source of unknown length
// (FrameSource::kUnknownLength), so its outputs equal Model::restore on the whole clip exactly,
// with the same RestoreOptions. Memory is bounded: the stream holds only the input frames the
// restoration may still read (a window model's window, a recurrent model's chunk plus look-ahead)
// plus StreamOptions::input_queue_frames, and at most StreamOptions::output_queue_frames restored
// frames; see docs/embedding.md.
// Threads: push/end and pull may be called from different threads at once (one producer, one
// consumer). The Model must outlive the Stream. Destroying the Stream at any time is safe: it
// cancels the restoration and joins the worker (which stops at its next frame boundary).
// Errors: a failure on the worker thread (a bad frame, an exhausted memory, a cancel) is thrown by
// the next push, end or pull, and by every later one, as the vrestore::Error it was.
#pragma once

#include <cstdint>
#include <memory>

#include "vrestore/vrestore.h"

namespace vrestore {

struct StreamOptions {
  // Chunking, non-finite policy and threads as for Model::restore. progress, if set, runs on the
  // worker thread with a total of FrameSource::kUnknownLength; returning false cancels.
  RestoreOptions restore;
  // Input frames accepted beyond those the restoration is waiting for (>= 0): lets the producer
  // run ahead of the worker a little. Each costs one input frame of memory.
  int64_t input_queue_frames = 2;
  // Restored frames held for pull (>= 1); when full, the worker waits for a pull.
  int64_t output_queue_frames = 2;
};

enum class StreamStatus {
  Ok,         // a restored frame was pulled
  NeedInput,  // no restored frame is ready, and none will be until more frames are pushed (or end())
  Again,      // no restored frame is ready yet (the timeout ran out while the worker computes)
  End,        // end() was called and every restored frame has been pulled
};

class Stream {
 public:
  // Starts the worker. height, width: the size of every input frame (>= 1). Throws vrestore::Error
  // for sizes < 1 or bad options (naming the option).
  Stream(const Model& model, int64_t height, int64_t width, const StreamOptions& options = {});
  ~Stream();  // cancels and joins the worker; never throws
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // Hands over the next input frame, (C, H, W) float32 RGB in [0, 1] with the stream's H, W
  // (C = ModelInfo::in_channels). The stream keeps the tensor itself (copies share storage): do
  // not write into it afterwards (push frame.clone() if you reuse the buffer).
  // Returns true when the frame was taken. Returns false, taking nothing, when the stream holds
  // as many frames as it may and the worker waits for you to pull a restored frame: pull, then
  // push the same frame again. Otherwise it waits while the worker computes (back-pressure).
  // Throws for a frame of the wrong shape, after end(), and for a worker failure.
  bool push(const Tensor& frame);
  // No more input frames: the restoration finishes the clip. Further calls do nothing.
  void end();
  // Takes the next restored frame, (3, sH, sW) float32 RGB, not clamped, into *frame and its index
  // (0, 1, 2, ... in order) into *index. timeout_ms < 0 waits as long as needed; 0 only looks.
  // Returns Ok, NeedInput, Again (only when the timeout ran out) or End; throws a worker failure.
  StreamStatus pull(Tensor* frame, int64_t* index, int64_t timeout_ms = -1);
  // Stops the worker at its next frame boundary; later calls throw Error (ErrorCode::Cancelled).
  void cancel();

  int64_t frames_pushed() const;
  int64_t frames_pulled() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace vrestore
