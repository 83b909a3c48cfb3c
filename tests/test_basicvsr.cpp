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
