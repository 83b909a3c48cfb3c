// vrestore::Stream and the C API's streams and pixel formats: a clip pushed one frame at a time
// (pulled interleaved) restores exactly as Model::restore on the whole clip, with bounded memory;
// errors, cancellation and freeing at any time.
#include <catch2/catch.hpp>

#include <omp.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <thread>
#include <vector>

#include "support/fixtures.h"
#include "support/models.h"
#include "vrestore/stream.h"
#include "vrestore/vrestore.h"
#include "vrestore/vrestore_c.h"

using namespace vrestore;
using Catch::Matchers::Contains;

namespace {

// A textured pattern panning by a fraction of a pixel per frame, so frames and flows differ.
Tensor moving_clip(int64_t frames, int64_t h, int64_t w) {
  Tensor clip = Tensor::empty({frames, 3, h, w});
  float* p = clip.data();
  for (int64_t t = 0; t < frames; ++t)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x) {
          const double u = x + 0.7 * static_cast<double>(t), v = y + 0.3 * static_cast<double>(t);
          *p++ = static_cast<float>(0.5 + 0.3 * std::sin(0.45 * u + c) * std::cos(0.37 * v) +
                                    0.1 * std::sin(0.4 * static_cast<double>(t) + c));
        }
  return clip;
}

// Pushes the clip one frame at a time, pulling whatever is ready after each push (timeout 0),
// then ends and pulls the rest. Checks indices arrive in order; returns (T, 3, sH, sW).
Tensor stream_clip(const Model& model, const Tensor& clip, const StreamOptions& options, int64_t* interleaved = nullptr) {
  const int64_t frames = clip.size(0);
  Stream stream(model, clip.size(2), clip.size(3), options);
  std::vector<Tensor> out;
  auto take = [&](int64_t timeout_ms) {
    Tensor f;
    int64_t index = -1;
    const StreamStatus status = stream.pull(&f, &index, timeout_ms);
    if (status == StreamStatus::Ok) {
      REQUIRE(index == static_cast<int64_t>(out.size()));
      out.push_back(f);
    }
    return status;
  };
  for (int64_t i = 0; i < frames; ++i) {
    while (!stream.push(clip.select0(i).clone())) REQUIRE(take(-1) == StreamStatus::Ok);
    while (take(0) == StreamStatus::Ok) {
      if (interleaved) ++*interleaved;
    }
  }
  stream.end();
  StreamStatus status;
  while ((status = take(-1)) == StreamStatus::Ok) {
  }
  CHECK(status == StreamStatus::End);
  REQUIRE(static_cast<int64_t>(out.size()) == frames);
  Tensor all = Tensor::empty({frames, out[0].size(0), out[0].size(1), out[0].size(2)});
  for (int64_t i = 0; i < frames; ++i)
    std::memcpy(all.data() + i * out[0].numel(), out[static_cast<size_t>(i)].data(),
                static_cast<size_t>(out[0].numel()) * sizeof(float));
  return all;
}

void check_stream_equals_restore(const std::string& weights, int64_t frames, int64_t h, int64_t w,
                                 const RestoreOptions& restore_options) {
  Model model = Model::load(test::converted_weights(weights));
  const Tensor clip = moving_clip(frames, h, w);
  const Tensor whole = model.restore(clip, restore_options);
  StreamOptions options;
  options.restore = restore_options;
  int64_t interleaved = 0;
  const Tensor streamed = stream_clip(model, clip, options, &interleaved);
  INFO(weights << ", " << frames << " frames: " << interleaved << " pulled before end()");
  CHECK(test::compare(streamed, whole).max_abs == 0.0);
}

}  // namespace

TEST_CASE("Stream equals Model::restore exactly: EDVR windows at both clip ends", "[stream]") {
  RestoreOptions defaults;
  check_stream_equals_restore("edvr_x4_tsa", 9, 20, 24, defaults);       // reflection, padded size
  check_stream_equals_restore("edvr_x4_tsa", 3, 16, 16, defaults);       // a clip shorter than the window
  check_stream_equals_restore("edvr_x4_tsa", 1, 16, 16, defaults);
  check_stream_equals_restore("edvr_x4_predeblur", 7, 16, 16, defaults);  // replicate border
}

TEST_CASE("Stream equals Model::restore exactly: BasicVSR chunks, look-ahead and independent chunks", "[stream]") {
  RestoreOptions chunked;
  chunked.chunk_frames = 3;
  chunked.lookahead_frames = 2;
  check_stream_equals_restore("basicvsr_x4", 8, 16, 20, chunked);
  check_stream_equals_restore("basicvsr_x4", 4, 16, 20, chunked);  // fits one chunk + look-ahead
  RestoreOptions independent = chunked;
  independent.independent_chunks = true;
  check_stream_equals_restore("basicvsr_x4", 7, 16, 20, independent);
  check_stream_equals_restore("basicvsr_x4", 5, 16, 20, RestoreOptions{});  // default chunking
}

TEST_CASE("Stream equals Model::restore exactly: RealBasicVSR; a long clip needs independent chunks", "[stream]") {
  RestoreOptions options;
  options.chunk_frames = 2;
  options.lookahead_frames = 2;
  check_stream_equals_restore("realbasicvsr_x4", 4, 16, 16, options);  // fits: cleaned as a whole
  RestoreOptions independent = options;
  independent.independent_chunks = true;
  check_stream_equals_restore("realbasicvsr_x4", 5, 16, 16, independent);

  Model model = Model::load(test::converted_weights("realbasicvsr_x4"));
  StreamOptions stream_options;
  stream_options.restore = options;
  Stream stream(model, 16, 16, stream_options);
  const Tensor clip = moving_clip(5, 16, 16);
  try {
    for (int64_t i = 0; i < 5; ++i) stream.push(clip.select0(i));
    stream.end();
    Tensor f;
    int64_t index;
    while (stream.pull(&f, &index) == StreamStatus::Ok) {
    }
    FAIL("a RealBasicVSR stream longer than chunk + look-ahead did not fail");
  } catch (const Error& e) {
    CHECK_THAT(e.what(), Contains("RealBasicVSR restore: the clip is longer than chunk_frames + lookahead_frames (4)"));
    CHECK_THAT(e.what(), Contains("RestoreOptions::independent_chunks"));
  }
}

TEST_CASE("Stream memory is bounded: without pulls, push stops at the working set plus the queue", "[stream]") {
  // BasicVSR reads chunk + look-ahead frames before its first output; EDVR (window 5) reads 5.
  struct Case {
    const char* weights;
    int64_t working_set;
  };
  for (const Case& c : {Case{"basicvsr_x4", 3 + 2}, Case{"edvr_x4_tsa", 5}}) {
    Model model = Model::load(test::converted_weights(c.weights));
    StreamOptions options;
    options.restore.chunk_frames = 3;
    options.restore.lookahead_frames = 2;
    options.input_queue_frames = 2;
    options.output_queue_frames = 2;
    Stream stream(model, 16, 16, options);
    const Tensor clip = moving_clip(12, 16, 16);
    int64_t taken = 0;
    while (taken < 12 && stream.push(clip.select0(taken))) ++taken;
    INFO(c.weights);
    CHECK(taken == c.working_set + options.input_queue_frames);
    CHECK(stream.frames_pushed() == taken);
    // The outputs wait in the queue; after pulling one, the stream takes more again.
    Tensor f;
    int64_t index = -1;
    REQUIRE(stream.pull(&f, &index, 0) == StreamStatus::Ok);
    CHECK(index == 0);
    CHECK(f.shape() == Shape{3, 64, 64});
    while (!stream.push(clip.select0(taken))) REQUIRE(stream.pull(&f, &index) == StreamStatus::Ok);
  }  // freed with frames and outputs pending: cancels and joins
}

TEST_CASE("Stream pull says when it needs input, and ends an empty clip", "[stream]") {
  Model model = Model::load(test::converted_weights("edvr_x4_tsa"));
  {
    Stream stream(model, 16, 16);
    Tensor f;
    int64_t index;
    CHECK(stream.pull(&f, &index) == StreamStatus::NeedInput);  // waits for frame 0, never blocks
    const Tensor clip = moving_clip(2, 16, 16);
    REQUIRE(stream.push(clip.select0(0)));
    CHECK(stream.pull(&f, &index) == StreamStatus::NeedInput);  // a window of 5 needs more (or end)
    REQUIRE(stream.push(clip.select0(1)));
    stream.end();
    CHECK(stream.pull(&f, &index) == StreamStatus::Ok);
    CHECK(stream.pull(&f, &index) == StreamStatus::Ok);
    CHECK(index == 1);
    CHECK(stream.pull(&f, &index) == StreamStatus::End);
    CHECK(stream.pull(&f, &index, 0) == StreamStatus::End);
    CHECK(stream.frames_pulled() == 2);
  }
  {
    Stream stream(model, 16, 16);
    stream.end();
    stream.end();  // no-op
    Tensor f;
    int64_t index;
    CHECK(stream.pull(&f, &index) == StreamStatus::End);
  }
}

TEST_CASE("Stream errors: bad pushes at once, worker failures at the next call", "[stream]") {
  Model model = Model::load(test::converted_weights("edvr_x4_tsa"));
  CHECK_THROWS_WITH(Stream(model, 0, 16), Contains("stream: frame size 0 x 16"));
  StreamOptions bad;
  bad.output_queue_frames = 0;
  CHECK_THROWS_WITH(Stream(model, 16, 16, bad), Contains("StreamOptions::output_queue_frames is 0"));

  Stream stream(model, 16, 16);
  CHECK_THROWS_WITH(stream.push(Tensor::zeros({3, 16, 20})),
                    "stream push: frame 0 has shape (3, 16, 20), expected (3, 16, 16)");
  Tensor clip = moving_clip(4, 16, 16);
  clip.data()[2 * 3 * 16 * 16 + 5] = std::nanf("");
  for (int64_t i = 0; i < 4; ++i) REQUIRE(stream.push(clip.select0(i)));
  stream.end();
  CHECK_THROWS_WITH(stream.push(clip.select0(0)), "stream push: frame 4 pushed after end()");
  Tensor f;
  int64_t index;
  auto drain = [&] {
    while (stream.pull(&f, &index) == StreamStatus::Ok) {
    }
  };
  CHECK_THROWS_WITH(drain(), Contains("restore: input frame 2 holds 1 non-finite value"));
  CHECK_THROWS_WITH(stream.pull(&f, &index), Contains("restore: input frame 2"));  // sticky
  CHECK_THROWS_WITH(stream.end(), Contains("restore: input frame 2"));
}

TEST_CASE("Stream cancel and free at any time; progress runs with an unknown total", "[stream]") {
  Model model = Model::load(test::converted_weights("basicvsr_x4"));
  const Tensor clip = moving_clip(6, 16, 16);
  {
    Stream idle(model, 16, 16);  // worker waiting for frame 0
  }
  {
    Stream busy(model, 16, 16);
    for (int64_t i = 0; i < 3; ++i) busy.push(clip.select0(i));
    busy.end();  // the worker computes while the stream is freed
  }
  {
    Stream stream(model, 16, 16);
    stream.push(clip.select0(0));
    stream.cancel();
    Tensor f;
    int64_t index;
    try {
      stream.pull(&f, &index);
      FAIL("pull after cancel() did not throw");
    } catch (const Error& e) {
      CHECK(e.code() == ErrorCode::Cancelled);
      CHECK(std::string(e.what()) == "stream: cancelled");
    }
  }
  {
    StreamOptions options;
    std::atomic<int64_t> seen_total{0};
    options.restore.progress = [&](int64_t done, int64_t total) {
      seen_total = total;
      return done < 2;
    };
    Stream stream(model, 16, 16, options);
    for (int64_t i = 0; i < 6; ++i) stream.push(clip.select0(i));
    stream.end();
    Tensor f;
    int64_t index;
    int64_t pulled = 0;
    try {
      while (stream.pull(&f, &index) == StreamStatus::Ok) ++pulled;
      FAIL("a progress callback returning false did not cancel the stream");
    } catch (const Error& e) {
      CHECK(e.code() == ErrorCode::Cancelled);
      CHECK(std::string(e.what()) == "restore: cancelled");
    }
    CHECK(pulled <= 2);
    CHECK(seen_total == FrameSource::kUnknownLength);
  }
}

TEST_CASE("A producer thread and a consumer thread share a stream", "[stream]") {
  Model model = Model::load(test::converted_weights("edvr_x4_tsa"));
  const Tensor clip = moving_clip(8, 16, 16);
  const Tensor whole = model.restore(clip);
  Stream stream(model, 16, 16);
  std::thread producer([&] {
    for (int64_t i = 0; i < 8; ++i)
      while (!stream.push(clip.select0(i))) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    stream.end();
  });
  Tensor f;
  int64_t index;
  int64_t count = 0;
  StreamStatus status;
  while ((status = stream.pull(&f, &index, 5)) != StreamStatus::End) {
    if (status != StreamStatus::Ok) {  // NeedInput / Again: the producer is behind
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    CHECK(index == count);
    CHECK(test::compare(f, whole.select0(index)).max_abs == 0.0);
    ++count;
  }
  producer.join();
  CHECK(count == 8);
}

TEST_CASE("Model::restore reads an unknown-length FrameSource only as far as it needs", "[stream]") {
  Model model = Model::load(test::converted_weights("basicvsr_x4"));
  const Tensor clip = moving_clip(7, 16, 16);
  RestoreOptions options;
  options.chunk_frames = 2;
  options.lookahead_frames = 1;
  const Tensor whole = model.restore(clip, options);
  int64_t furthest = 0;
  FrameSource source{FrameSource::kUnknownLength, [&](int64_t i) { return clip.select0(i); },
                     [&](int64_t n) {
                       furthest = std::max(furthest, std::min<int64_t>(n, 7));
                       return std::min<int64_t>(n, 7);
                     }};
  model.restore(source, [&](int64_t i, const Tensor& f) {
    CHECK(test::compare(f, whole.select0(i)).max_abs == 0.0);
    // Output i needs its chunk and one frame of look-ahead: the source was asked no further.
    CHECK(furthest <= std::min<int64_t>((i / 2 + 1) * 2 + 1, 7));
  }, options);
  CHECK_THROWS_WITH(model.restore(FrameSource{FrameSource::kUnknownLength, source.frame}, [](int64_t, const Tensor&) {}),
                    Contains("needs both frame and count_up_to"));
  FrameSource empty{FrameSource::kUnknownLength, source.frame, [](int64_t) { return int64_t{0}; }};
  CHECK_THROWS_WITH(model.restore(empty, [](int64_t, const Tensor&) {}), Contains("the frame source is empty"));
}

// ---- C API ------------------------------------------------------------------------------------

namespace {

uint8_t to_u8(float x) {  // the rule stated in vrestore_c.h
  if (!(x > 0.0f)) return 0;
  if (x >= 1.0f) return 255;
  return static_cast<uint8_t>(std::floor(x * 255.0f + 0.5f));
}

struct CModel {
  vrestore_model* m = nullptr;
  explicit CModel(const std::string& weights) {
    REQUIRE(vrestore_model_load(test::converted_weights(weights).c_str(), VRESTORE_DEVICE_CPU, &m) == VRESTORE_OK);
  }
  ~CModel() { vrestore_model_free(m); }
};

}  // namespace

TEST_CASE("C API: model queries", "[stream][capi]") {
  CModel edvr("edvr_x4_tsa"), basicvsr("basicvsr_x4");
  CHECK(vrestore_model_num_frames(edvr.m) == 5);
  CHECK(vrestore_model_num_frames(basicvsr.m) == 0);
  CHECK(vrestore_model_is_recurrent(edvr.m) == 0);
  CHECK(vrestore_model_is_recurrent(basicvsr.m) == 1);
  CHECK(vrestore_model_input_channels(edvr.m) == 3);
  CHECK(vrestore_model_num_frames(nullptr) == 0);
  CHECK(vrestore_model_input_channels(nullptr) == 0);
  CHECK(vrestore_model_is_recurrent(nullptr) == 0);
}

TEST_CASE("C API: load options, their checks and the struct_size rule", "[stream][capi]") {
  const std::string path = test::converted_weights("edvr_x4_tsa");
  vrestore_load_options o;
  vrestore_load_options_init(&o);
  CHECK(o.struct_size == sizeof o);
  vrestore_model* m = nullptr;

  o.precision = VRESTORE_PRECISION_F16;
  CHECK(vrestore_model_load_with_options(path.c_str(), &o, &m) == VRESTORE_ERROR_UNSUPPORTED);
  CHECK_THAT(std::string(vrestore_last_error()), Contains("precision f16 runs on cuda only"));
  CHECK(m == nullptr);

  vrestore_load_options_init(&o);
  int engine_stream = 0;
  o.cuda_stream = &engine_stream;  // a stream is meaningless for a CPU model
  CHECK(vrestore_model_load_with_options(path.c_str(), &o, &m) == VRESTORE_ERROR);
  CHECK_THAT(std::string(vrestore_last_error()), Contains("cuda_stream is set for a model on the CPU"));
  CHECK(m == nullptr);

  vrestore_load_options_init(&o);
  o.device = VRESTORE_DEVICE_CUDA;
  if (!cuda_available()) {
    CHECK(vrestore_model_load_with_options(path.c_str(), &o, &m) == VRESTORE_ERROR_UNSUPPORTED);
    CHECK_THAT(std::string(vrestore_last_error()), Contains("device cuda: "));
  }

  vrestore_load_options_init(&o);
  o.device_index = 1;
  CHECK(vrestore_model_load_with_options(path.c_str(), &o, &m) == VRESTORE_ERROR);
  CHECK_THAT(std::string(vrestore_last_error()), Contains("device_index 1, expected 0 for the CPU"));

  vrestore_load_options_init(&o);
  o.num_threads = 5000;
  CHECK(vrestore_model_load_with_options(path.c_str(), &o, &m) == VRESTORE_ERROR);
  CHECK_THAT(std::string(vrestore_last_error()), Contains("num_threads 5000"));

  vrestore_load_options_init(&o);
  o.struct_size = sizeof(size_t);
  CHECK(vrestore_model_load_with_options(path.c_str(), &o, &m) == VRESTORE_ERROR);
  CHECK_THAT(std::string(vrestore_last_error()), Contains("call vrestore_load_options_init first"));

  // A struct from a newer header: accepted when the fields unknown here are zero.
  struct Newer {
    vrestore_load_options v1;
    int64_t future_field;
  } newer;
  std::memset(&newer, 0, sizeof newer);
  vrestore_load_options_init(&newer.v1);
  newer.v1.struct_size = sizeof newer;
  newer.v1.num_threads = 1;
  REQUIRE(vrestore_model_load_with_options(path.c_str(), &newer.v1, &m) == VRESTORE_OK);
  vrestore_model_free(m);
  m = nullptr;
  newer.future_field = 7;
  CHECK(vrestore_model_load_with_options(path.c_str(), &newer.v1, &m) == VRESTORE_ERROR);
  CHECK_THAT(std::string(vrestore_last_error()), Contains("from a newer vrestore_c.h"));
  CHECK(vrestore_model_load_with_options(path.c_str(), nullptr, &m) == VRESTORE_OK);  // defaults
  vrestore_model_free(m);
}

TEST_CASE("C API: RGB8 and float layouts restore like the C++ API, by the stated rounding rule", "[stream][capi]") {
  CModel model("edvr_x4_tsa");
  Model cpp = Model::load(test::converted_weights("edvr_x4_tsa"));
  const int64_t t = 4, h = 12, w = 16, sh = 48, sw = 64;
  // 8-bit interleaved input, and the float clip it stands for.
  std::vector<uint8_t> rgb8(static_cast<size_t>(t * h * w * 3));
  Tensor as_float = Tensor::empty({t, 3, h, w});
  for (int64_t f = 0; f < t; ++f)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x)
        for (int64_t c = 0; c < 3; ++c) {
          const uint8_t v = static_cast<uint8_t>((x * 13 + y * 7 + c * 50 + f * 9) % 256);
          rgb8[static_cast<size_t>(((f * h + y) * w + x) * 3 + c)] = v;
          as_float.data()[((f * 3 + c) * h + y) * w + x] = static_cast<float>(v) / 255.0f;
        }
  const Tensor expected = cpp.restore(as_float);  // (T, 3, sh, sw)

  vrestore_restore_options o;
  vrestore_restore_options_init(&o);
  o.pixel_type = VRESTORE_PIXEL_U8;
  o.layout = VRESTORE_LAYOUT_INTERLEAVED;
  std::vector<uint8_t> out8(static_cast<size_t>(t * sh * sw * 3));
  REQUIRE(vrestore_restore_clip(model.m, rgb8.data(), t, w, h, out8.data(), &o) == VRESTORE_OK);
  int64_t mismatches = 0, clamped = 0;
  for (int64_t f = 0; f < t; ++f)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t p = 0; p < sh * sw; ++p) {
        const float x = expected.data()[(f * 3 + c) * sh * sw + p];
        clamped += x < 0.0f || x > 1.0f;
        mismatches += out8[static_cast<size_t>((f * sh * sw + p) * 3 + c)] != to_u8(x);
      }
  CHECK(mismatches == 0);
  INFO("output samples outside [0, 1] before clamping: " << clamped);

  // Float, interleaved: the same numbers as the C++ planar output.
  o.pixel_type = VRESTORE_PIXEL_F32;
  std::vector<float> in_f(static_cast<size_t>(t * h * w * 3)), out_f(static_cast<size_t>(t * sh * sw * 3));
  for (size_t i = 0; i < rgb8.size(); ++i) in_f[i] = static_cast<float>(rgb8[i]) / 255.0f;
  REQUIRE(vrestore_restore_clip(model.m, in_f.data(), t, w, h, out_f.data(), &o) == VRESTORE_OK);
  double max_abs = 0;
  for (int64_t f = 0; f < t; ++f)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t p = 0; p < sh * sw; ++p)
        max_abs = std::max<double>(max_abs, std::fabs(out_f[static_cast<size_t>((f * sh * sw + p) * 3 + c)] -
                                                      expected.data()[(f * 3 + c) * sh * sw + p]));
  CHECK(max_abs == 0.0);

  // Bad options are named.
  o.layout = static_cast<vrestore_layout>(7);
  CHECK(vrestore_restore_clip(model.m, in_f.data(), t, w, h, out_f.data(), &o) == VRESTORE_ERROR);
  CHECK_THAT(std::string(vrestore_last_error()), Contains("layout 7 is neither"));
  vrestore_restore_options_init(&o);
  o.chunk_frames = 0;
  CHECK(vrestore_restore_clip(model.m, in_f.data(), t, w, h, out_f.data(), &o) == VRESTORE_ERROR);
  CHECK_THAT(std::string(vrestore_last_error()), Contains("chunk_frames is 0"));
}

TEST_CASE("C API stream: RGB8 frames pushed one at a time equal the whole-clip restore", "[stream][capi]") {
  CModel model("basicvsr_x4");
  const int64_t t = 6, h = 12, w = 16, sh = 48, sw = 64, in_size = h * w * 3, out_size = sh * sw * 3;
  std::vector<uint8_t> clip(static_cast<size_t>(t * in_size));
  for (size_t i = 0; i < clip.size(); ++i) clip[i] = static_cast<uint8_t>((i * 31 + i / 97) % 256);
  vrestore_restore_options o;
  vrestore_restore_options_init(&o);
  o.pixel_type = VRESTORE_PIXEL_U8;
  o.layout = VRESTORE_LAYOUT_INTERLEAVED;
  o.chunk_frames = 2;
  o.lookahead_frames = 1;
  std::vector<uint8_t> whole(static_cast<size_t>(t * out_size)), streamed(whole.size());
  REQUIRE(vrestore_restore_clip(model.m, clip.data(), t, w, h, whole.data(), &o) == VRESTORE_OK);

  vrestore_stream* s = nullptr;
  REQUIRE(vrestore_stream_create(model.m, w, h, &o, &s) == VRESTORE_OK);
  int64_t index = -1, next = 0;
  CHECK(vrestore_stream_pull(s, streamed.data(), &index, -1) == VRESTORE_NEED_INPUT);
  for (int64_t i = 0; i < t; ++i) {
    vrestore_status st;
    while ((st = vrestore_stream_push(s, clip.data() + i * in_size)) == VRESTORE_AGAIN) {
      REQUIRE(vrestore_stream_pull(s, streamed.data() + next * out_size, &index, -1) == VRESTORE_OK);
      CHECK(index == next++);
    }
    REQUIRE(st == VRESTORE_OK);
    while (vrestore_stream_pull(s, streamed.data() + next * out_size, &index, 0) == VRESTORE_OK) CHECK(index == next++);
  }
  REQUIRE(vrestore_stream_end(s) == VRESTORE_OK);
  vrestore_status st;
  while (next < t && (st = vrestore_stream_pull(s, streamed.data() + next * out_size, &index, -1)) == VRESTORE_OK)
    CHECK(index == next++);
  CHECK(next == t);
  std::vector<uint8_t> scratch(static_cast<size_t>(out_size));
  CHECK(vrestore_stream_pull(s, scratch.data(), &index, -1) == VRESTORE_END);
  CHECK(streamed == whole);
  vrestore_stream_free(s);
  vrestore_stream_free(nullptr);

  // Errors come back as a status and a message, never an exception.
  CHECK(vrestore_stream_create(model.m, 0, h, &o, &s) == VRESTORE_ERROR);
  CHECK_THAT(std::string(vrestore_last_error()), Contains("width 0, height 12 must both be >= 1"));
  o.struct_size = 12345678;  // never initialised
  CHECK(vrestore_stream_create(model.m, w, h, &o, &s) == VRESTORE_ERROR);
  CHECK_THAT(std::string(vrestore_last_error()), Contains("call vrestore_restore_options_init first"));
  o.struct_size = sizeof o;
  CHECK(vrestore_stream_push(nullptr, clip.data()) == VRESTORE_ERROR);
  REQUIRE(vrestore_stream_create(model.m, w, h, &o, &s) == VRESTORE_OK);
  REQUIRE(vrestore_stream_end(s) == VRESTORE_OK);
  CHECK(vrestore_stream_push(s, clip.data()) == VRESTORE_ERROR);
  CHECK_THAT(std::string(vrestore_last_error()), Contains("pushed after end()"));
  vrestore_stream_free(s);
}

TEST_CASE("C API: a model's num_threads applies to its restorations and its streams' workers", "[stream][capi]") {
  const int caller_threads = omp_get_max_threads();
  const int wanted = caller_threads == 3 ? 2 : 3;  // differs from what the call would get anyway
  vrestore_load_options lo;
  vrestore_load_options_init(&lo);
  lo.num_threads = wanted;
  vrestore_model* m = nullptr;
  REQUIRE(vrestore_model_load_with_options(test::converted_weights("edvr_x4_tsa").c_str(), &lo, &m) == VRESTORE_OK);
  // The progress callback runs inside the call, so it sees the OpenMP setting the call applies.
  auto record = [](int64_t, int64_t, void* user) {
    static_cast<std::atomic<int>*>(user)->store(omp_get_max_threads());
    return 1;
  };
  std::atomic<int> threads{0};
  vrestore_restore_options o;
  vrestore_restore_options_init(&o);
  o.progress = record;
  o.progress_user = &threads;
  std::vector<float> in(2 * 3 * 8 * 8, 0.5f), out(2 * 3 * 32 * 32);
  REQUIRE(vrestore_restore_clip(m, in.data(), 2, 8, 8, out.data(), &o) == VRESTORE_OK);
  CHECK(threads == wanted);
  CHECK(omp_get_max_threads() == caller_threads);  // the caller's own setting is restored
  threads = 0;
  vrestore_stream* s = nullptr;
  REQUIRE(vrestore_stream_create(m, 8, 8, &o, &s) == VRESTORE_OK);
  REQUIRE(vrestore_stream_push(s, in.data()) == VRESTORE_OK);
  REQUIRE(vrestore_stream_end(s) == VRESTORE_OK);
  int64_t index;
  CHECK(vrestore_stream_pull(s, out.data(), &index, -1) == VRESTORE_OK);
  CHECK(vrestore_stream_pull(s, out.data(), &index, -1) == VRESTORE_END);
  CHECK(threads == wanted);  // on the worker thread
  vrestore_stream_free(s);
  vrestore_model_free(m);
}
