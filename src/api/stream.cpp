// vrestore::Stream: Model::restore on a worker thread, reading a FrameSource of unknown length
// that push() feeds and writing into a queue that pull() drains. One mutex guards the state and
// one condition variable announces every change; each waiter re-checks what it waits for.
#include "vrestore/stream.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>

#include "core/check.h"
#include "core/checked_math.h"

namespace vrestore {

struct Stream::State {
  State(const Model& m, int64_t h, int64_t w, const StreamOptions& o)
      : model(m), channels(m.info().in_channels), height(h), width(w), options(o),
        reread_margin(std::max(m.info().num_frames - 1, 0)) {}

  const Model& model;
  const int64_t channels, height, width;
  const StreamOptions options;
  // After output i, restore reads only frames >= i + 1 - reread_margin (FrameSource's contract).
  const int64_t reread_margin;

  mutable std::mutex mutex;
  std::condition_variable changed;

  std::deque<Tensor> inputs;  // frames [released, pushed)
  int64_t released = 0, pushed = 0;
  bool ended = false;
  int64_t requested = 0;    // frames the worker has asked about so far (it may read any of them)
  int64_t waiting_for = 0;  // while the worker waits for input: the frame count it waits for
  bool waiting_for_output = false;
  std::deque<std::pair<int64_t, Tensor>> outputs;
  int64_t pulled = 0;
  bool finished = false, cancelled = false;
  std::exception_ptr failure;
  std::thread worker;

  // Called with the mutex held: what push, end and pull report before anything else.
  void throw_if_failed() const {
    if (cancelled) throw Error("stream: cancelled", ErrorCode::Cancelled);
    if (failure) std::rethrow_exception(failure);
  }

  // Worker side: waits until n frames exist or the clip has ended; returns min(n, pushed).
  int64_t wait_for_frames(std::unique_lock<std::mutex>& lock, int64_t n) {
    requested = std::max(requested, n);
    changed.notify_all();  // a blocked push may now take a frame
    while (pushed < n && !ended && !cancelled) {
      waiting_for = n;
      changed.notify_all();  // a blocked pull may now report NeedInput
      changed.wait(lock);
    }
    waiting_for = 0;
    if (cancelled) throw Error("stream: cancelled", ErrorCode::Cancelled);
    return std::min(n, pushed);
  }

  Tensor frame(int64_t i) {
    std::unique_lock lock(mutex);
    VR_CHECK(wait_for_frames(lock, i + 1) > i, "stream: restore asked for frame ", i, " of a clip of ", pushed,
             " frames");
    VR_CHECK(i >= released, "stream: restore asked again for frame ", i, ", which the stream released after frame ",
             released - 1, " (FrameSource's read-order contract is broken: a library bug)");
    return inputs[static_cast<size_t>(i - released)];
  }

  int64_t count_up_to(int64_t n) {
    std::unique_lock lock(mutex);
    return wait_for_frames(lock, n);
  }

  void emit(int64_t i, const Tensor& restored) {
    Tensor copy = restored.clone();  // the sink's frame is lent for the call only
    std::unique_lock lock(mutex);
    while (static_cast<int64_t>(outputs.size()) >= options.output_queue_frames && !cancelled) {
      waiting_for_output = true;
      changed.notify_all();  // a blocked push returns false: the caller must pull
      changed.wait(lock);
    }
    waiting_for_output = false;
    if (cancelled) throw Error("stream: cancelled", ErrorCode::Cancelled);
    outputs.emplace_back(i, std::move(copy));
    const int64_t keep_from = i + 1 - reread_margin;
    while (released < keep_from && !inputs.empty()) {
      inputs.pop_front();
      ++released;
    }
    changed.notify_all();
  }

  void run() {
    try {
      {
        // end() before any push: an empty clip, restored as nothing.
        std::unique_lock lock(mutex);
        if (wait_for_frames(lock, 1) == 0) {
          finished = true;
          changed.notify_all();
          return;
        }
      }
      const FrameSource source{FrameSource::kUnknownLength, [this](int64_t i) { return frame(i); },
                               [this](int64_t n) { return count_up_to(n); }};
      RestoreOptions restore_options = options.restore;
      // Also a cancellation point between frames, for free() during a long computation.
      restore_options.progress = [this](int64_t done, int64_t total) {
        {
          std::lock_guard lock(mutex);
          if (cancelled) return false;
        }
        return !options.restore.progress || options.restore.progress(done, total);
      };
      model.restore(source, [this](int64_t i, const Tensor& f) { emit(i, f); }, restore_options);
      std::lock_guard lock(mutex);
      finished = true;
    } catch (...) {
      std::lock_guard lock(mutex);
      failure = std::current_exception();
    }
    changed.notify_all();
  }
};

Stream::Stream(const Model& model, int64_t height, int64_t width, const StreamOptions& options) {
  VR_CHECK(height > 0 && width > 0, "stream: frame size ", height, " x ", width, " (H x W), expected >= 1 each");
  VR_CHECK(options.input_queue_frames >= 0, "stream: StreamOptions::input_queue_frames is ",
           options.input_queue_frames, ", expected >= 0");
  VR_CHECK(options.output_queue_frames >= 1, "stream: StreamOptions::output_queue_frames is ",
           options.output_queue_frames, ", expected >= 1");
  const RestoreOptions& r = options.restore;
  VR_CHECK(r.chunk_frames > 0, "stream: RestoreOptions::chunk_frames is ", r.chunk_frames, ", expected >= 1");
  VR_CHECK(r.lookahead_frames >= 0, "stream: RestoreOptions::lookahead_frames is ", r.lookahead_frames,
           ", expected >= 0");
  VR_CHECK(r.num_threads >= 0 && r.num_threads <= kMaxThreads, "stream: RestoreOptions::num_threads is ",
           r.num_threads, ", expected 0 to ", kMaxThreads);
  state_ = std::make_unique<State>(model, height, width, options);
  try {
    state_->worker = std::thread([s = state_.get()] { s->run(); });
  } catch (const std::system_error& e) {
    fail("stream: cannot start the worker thread: ", e.what());
  }
}

Stream::~Stream() {
  cancel();
  if (state_->worker.joinable()) state_->worker.join();
}

bool Stream::push(const Tensor& frame) {
  State& s = *state_;
  VR_CHECK(frame.defined() && frame.dim() == 3 && frame.size(0) == s.channels && frame.size(1) == s.height &&
               frame.size(2) == s.width,
           "stream push: frame ", frames_pushed(), " has shape ", frame.shape_str(), ", expected (", s.channels, ", ",
           s.height, ", ", s.width, ")");
  std::unique_lock lock(s.mutex);
  // A push after end() is the caller's mistake, reported as such even if the worker failed too.
  VR_CHECK(!s.ended, "stream push: frame ", s.pushed, " pushed after end()");
  for (;;) {
    s.throw_if_failed();
    // Frames the worker has asked about are its working set; beyond them, a short queue.
    if (s.pushed < saturating_add(s.requested, s.options.input_queue_frames)) {
      s.inputs.push_back(frame);
      ++s.pushed;
      s.changed.notify_all();
      return true;
    }
    if (s.waiting_for_output) return false;
    s.changed.wait(lock);
  }
}

void Stream::end() {
  State& s = *state_;
  std::lock_guard lock(s.mutex);
  s.throw_if_failed();
  s.ended = true;
  s.changed.notify_all();
}

StreamStatus Stream::pull(Tensor* frame, int64_t* index, int64_t timeout_ms) {
  VR_CHECK(frame && index, "stream pull: frame and index must not be null");
  State& s = *state_;
  // Beyond a year the wait is as good as unbounded (and the deadline cannot overflow).
  constexpr int64_t kMaxTimeoutMs = int64_t{366} * 24 * 3600 * 1000;
  if (timeout_ms > kMaxTimeoutMs) timeout_ms = -1;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max<int64_t>(timeout_ms, 0));
  std::unique_lock lock(s.mutex);
  for (;;) {
    s.throw_if_failed();
    if (!s.outputs.empty()) {
      *index = s.outputs.front().first;
      *frame = std::move(s.outputs.front().second);
      s.outputs.pop_front();
      ++s.pulled;
      s.changed.notify_all();
      return StreamStatus::Ok;
    }
    if (s.finished) return StreamStatus::End;
    if (s.waiting_for > s.pushed && !s.ended) return StreamStatus::NeedInput;
    if (timeout_ms < 0) {
      s.changed.wait(lock);
    } else if (s.changed.wait_until(lock, deadline) == std::cv_status::timeout) {
      // One last look: the state may have changed just as the time ran out.
      s.throw_if_failed();
      if (s.outputs.empty() && !s.finished && !(s.waiting_for > s.pushed && !s.ended)) return StreamStatus::Again;
    }
  }
}

void Stream::cancel() {
  std::lock_guard lock(state_->mutex);
  state_->cancelled = true;
  state_->changed.notify_all();
}

int64_t Stream::frames_pushed() const {
  std::lock_guard lock(state_->mutex);
  return state_->pushed;
}

int64_t Stream::frames_pulled() const {
  std::lock_guard lock(state_->mutex);
  return state_->pulled;
}

}  // namespace vrestore
