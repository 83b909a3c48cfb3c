// SpyNet, BasicVSR and RealBasicVSR against the upstream golden cases.
#include <catch2/catch.hpp>
#include <cstdio>

#include "models/basicvsr.h"
#include "models/sequence.h"
#include "models/spynet.h"
#include "support/fixtures.h"
#include "support/models.h"

using namespace vrestore;

namespace {

constexpr double kModelTol = 1e-4;  // images (issue tolerance; a correct port lands near 1e-6)
constexpr double kFlowTol = 5e-4;   // pixels

// Stacks per-pair flows [(N, 2, H, W)] into (N, P, 2, H, W) like upstream's view().
Tensor stack_flows(const std::vector<Tensor>& flows) {
  const Tensor& f0 = flows.at(0);
  const int64_t n = f0.size(0), p = static_cast<int64_t>(flows.size()), inner = f0.numel() / n;
  Tensor out = Tensor::empty({n, p, 2, f0.size(2), f0.size(3)});
  for (int64_t i = 0; i < p; ++i)
    for (int64_t b = 0; b < n; ++b)
      std::copy(flows[static_cast<size_t>(i)].data() + b * inner, flows[static_cast<size_t>(i)].data() + (b + 1) * inner,
                out.data() + (b * p + i) * inner);
  return out;
}

double report(const char* name, const char* stage, const Tensor& got, const Tensor& want) {
  test::Diff d = test::compare(got, want);
  std::printf("  %-16s %-24s max_abs %.3e (ref max %.3f)\n", name, stage, d.max_abs, d.ref_abs_max);
  return d.max_abs;
}

}  // namespace

TEST_CASE("SpyNet matches upstream flows, also at the internal multiple-of-32 size", "[spynet][model]") {
  Weights w = Weights::open(test::converted_weights("basicvsr_x4"));
  SpyNet spynet = SpyNet::load(w, "spynet.", false);
  auto io = test::load_fixture("spynet/io.safetensors");
  const Tensor& input = io.at("input");  // (2, 2, 3, 40, 56)
  Tensor frames = input.reshape({4, 3, 40, 56});
  Tensor at32;
  Tensor flow = spynet(gather0(frames, {0, 2}), gather0(frames, {1, 3}), &at32);
  CHECK(report("spynet", "flow_at_multiple_of_32", at32, io.at("flow_at_multiple_of_32")) <= kFlowTol);
  CHECK(report("spynet", "expected", flow, io.at("expected")) <= kFlowTol);
}

TEST_CASE("SpyNet runs at sizes upstream BasicSR cannot (down to 1 pixel)", "[spynet][model]") {
  Weights w = Weights::open(test::converted_weights("basicvsr_x4"));
  SpyNet spynet = SpyNet::load(w, "spynet.", false);
  for (auto [h, w2] : {std::pair<int64_t, int64_t>{1, 1}, {5, 70}, {33, 31}}) {
    Tensor a = Tensor::full({1, 3, h, w2}, 0.3f), b = Tensor::full({1, 3, h, w2}, 0.6f);
    Tensor flow = spynet(a, b);
    REQUIRE(flow.shape() == Shape{1, 2, h, w2});
    for (int64_t i = 0; i < flow.numel(); ++i) REQUIRE(std::isfinite(flow.data()[i]));
  }
}

TEST_CASE("BasicVSR matches upstream, flows and frames", "[basicvsr][model]") {
  Weights w = Weights::open(test::converted_weights("basicvsr_x4"));
  BasicVsr model = BasicVsr::load(w);
  w.finish();
  auto io = test::load_fixture("basicvsr_x4/io.safetensors");
  BasicVsrTrace trace;
  Tensor out = model.forward(io.at("input"), &trace);
  CHECK(report("basicvsr_x4", "flows_forward", stack_flows(trace.flows_forward), io.at("flows_forward")) <= kFlowTol);
  CHECK(report("basicvsr_x4", "flows_backward", stack_flows(trace.flows_backward), io.at("flows_backward")) <=
        kFlowTol);
  CHECK(report("basicvsr_x4", "expected", out, io.at("expected")) <= kModelTol);
}

TEST_CASE("RealBasicVSR matches upstream: cleaning passes, cleaned frames, output", "[realbasicvsr][model]") {
  Weights w = Weights::open(test::converted_weights("realbasicvsr_x4"));
  RealBasicVsr model(w);
  w.finish();
  auto io = test::load_fixture("realbasicvsr_x4/io.safetensors");
  RealBasicVsrTrace trace;
  Tensor out = model.forward(io.at("input"), &trace);
  const Tensor& means = io.at("cleaning_residue_mean");
  REQUIRE(static_cast<int64_t>(trace.residue_means.size()) == means.numel());  // 2 passes
  for (int64_t i = 0; i < means.numel(); ++i)
    CHECK(std::fabs(trace.residue_means[static_cast<size_t>(i)] - means.data()[i]) <= 1e-6);
  CHECK(report("realbasicvsr_x4", "cleaned", trace.cleaned, io.at("cleaned")) <= kModelTol);
  CHECK(report("realbasicvsr_x4", "expected", out, io.at("expected")) <= kModelTol);
}

namespace {

// A synthetic clip: a textured pattern panning by a fraction of a pixel per frame plus noise-free
// colour drift, so flows are non-zero and frames differ.
Tensor moving_clip(int64_t frames, int64_t h, int64_t w) {
  Tensor clip = Tensor::empty({frames, 3, h, w});
  float* p = clip.data();
  for (int64_t t = 0; t < frames; ++t)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x) {
          const double u = x + 0.7 * static_cast<double>(t), v = y + 0.3 * static_cast<double>(t);
          *p++ = static_cast<float>(0.5 + 0.25 * std::sin(0.45 * u + c) * std::cos(0.37 * v) +
                                    0.1 * std::sin(0.05 * static_cast<double>(t) + 0.2 * static_cast<double>(c)));
        }
  return clip;
}

Tensor restore_all(const Network& model, const Tensor& clip, const RestoreOptions& options) {
  Tensor out;
  model.restore(FrameSource::from_tensor(clip), [&](int64_t i, const Tensor& f) {
    if (!out.defined()) out = Tensor::empty({clip.size(0), f.size(0), f.size(1), f.size(2)});
    std::copy(f.data(), f.data() + f.numel(), out.data() + i * f.numel());
  }, options);
  return out;
}

}  // namespace

TEST_CASE("BasicVSR restore: one chunk is the whole-clip forward; independent chunks are upstream's max_seq_len",
          "[basicvsr][model]") {
  Weights w = Weights::open(test::converted_weights("basicvsr_x4"));
  BasicVsr model = BasicVsr::load(w);
  Tensor clip = moving_clip(7, 20, 24);
  Tensor whole = model.forward(clip.reshape({1, 7, 3, 20, 24})).select0(0);  // (7, 3, 80, 96)

  RestoreOptions one_chunk;
  one_chunk.chunk_frames = 4;
  one_chunk.lookahead_frames = 3;  // 4 + 3 >= 7: every backward chain reaches the clip end
  CHECK(test::compare(restore_all(model, clip, one_chunk), whole).max_abs <= 1e-6);

  RestoreOptions independent;
  independent.chunk_frames = 3;
  independent.independent_chunks = true;
  Tensor chunked = restore_all(model, clip, independent);
  for (int64_t begin = 0; begin < 7; begin += 3) {
    const int64_t len = std::min<int64_t>(3, 7 - begin);
    Tensor part = model.forward(clip.narrow0(begin, len).reshape({1, len, 3, 20, 24})).select0(0);
    CHECK(test::compare(chunked.narrow0(begin, len), part).max_abs <= 1e-6);
  }
}

TEST_CASE("BasicVSR restore with carried state: the error shrinks with the look-ahead", "[basicvsr][model]") {
  Weights w = Weights::open(test::converted_weights("basicvsr_x4"));
  BasicVsr model = BasicVsr::load(w);
  Tensor clip = moving_clip(24, 16, 20);
  Tensor whole = model.forward(clip.reshape({1, 24, 3, 16, 20})).select0(0);
  auto error = [&](int64_t lookahead, bool independent) {
    RestoreOptions o;
    o.chunk_frames = 5;
    o.lookahead_frames = lookahead;
    o.independent_chunks = independent;
    return test::compare(restore_all(model, clip, o), whole).max_abs;
  };
  const double independent = error(0, true), l4 = error(4, false), l8 = error(8, false), l19 = error(19, false);
  std::printf("  24 frames, chunks of 5 vs whole clip (max_abs): independent %.3e, look-ahead 4: %.3e, "
              "8: %.3e, 19: %.3e\n", independent, l4, l8, l19);
  CHECK(l4 < independent);
  CHECK(l8 < l4);
  CHECK(l19 <= 1e-6);  // every backward chain reaches the clip end: exact
}

TEST_CASE("RealBasicVSR restore decides the cleaning passes over the whole clip", "[realbasicvsr][model]") {
  Weights w = Weights::open(test::converted_weights("realbasicvsr_x4"));
  RealBasicVsr model(w);
  auto io = test::load_fixture("realbasicvsr_x4/io.safetensors");
  Tensor clip = io.at("input").select0(0);  // (3, 3, 64, 72); 2 cleaning passes upstream
  RestoreOptions chunked;
  chunked.chunk_frames = 1;
  chunked.lookahead_frames = 2;  // exact for 3 frames; the pass count must still come out as 2
  Tensor out = restore_all(model, clip, chunked);
  test::Diff d = test::compare(out, io.at("expected").select0(0));
  std::printf("  realbasicvsr restore (chunks of 1, look-ahead 2) vs upstream: max_abs %.3e\n", d.max_abs);
  CHECK(d.max_abs <= 1e-4);
}
