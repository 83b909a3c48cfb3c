// Every EDVR / BasicVSR / RealBasicVSR / VRT golden case through the public API on each backend this
// binary can reach: the CPU, and the CUDA backend in f32 and f16 when a device is present (a real
// GPU, or the emulator in the vrestore_emulated_model_tests binary, which runs the CUDA sections only).
// Tolerances of issue 7: CUDA f32 <= 1e-4 max-abs against upstream, f16 <= 1e-2; of issue 8 for VRT
// (whose fp32 reference itself moves by up to 1.4e-4 in fp64): f32 <= 1e-3 max-abs and 2e-5 mean-abs,
// f16 <= 2e-2 max-abs where upstream's own fp16 can reach it (see kVrtF16 below).
#include <catch2/catch.hpp>
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "support/fixtures.h"
#include "support/models.h"
#include "vrestore/vrestore.h"
#include "vrestore/vrestore_c.h"

using namespace vrestore;

namespace {

struct Backend {
  const char* name;
  ModelOptions options;
  double tolerance;
  bool device_input;  // hand the model a device tensor (in its precision) instead of a host one
};

// CPU (unless VRESTORE_TEST_ONLY_CUDA) and, when a CUDA device is present, CUDA f32 (fed a device
// tensor) and f16 (fed a host tensor); with f16_device_input also f16 fed an f16 device tensor
// (the same kernels: once per family is enough, which keeps the emulated run short).
std::vector<Backend> backends(bool f16_device_input = false) {
  std::vector<Backend> out;
#ifndef VRESTORE_TEST_ONLY_CUDA
  out.push_back({"cpu f32", {}, 1e-4, false});
#endif
  if (cuda_available()) {
    out.push_back({"cuda f32", {Device::CUDA, DType::F32}, 1e-4, true});
    out.push_back({"cuda f16", {Device::CUDA, DType::F16}, 1e-2, false});
    if (f16_device_input) out.push_back({"cuda f16, device input", {Device::CUDA, DType::F16}, 1e-2, true});
  }
  return out;
}

// forward() of the case's input on `b`, the output brought back as host f32.
Tensor forward_on(const Backend& b, const Model& model, const Tensor& input) {
  if (!b.device_input) {
    Tensor out = model.forward(input);
    CHECK(out.device() == Device::CPU);
    CHECK(out.dtype() == DType::F32);
    return out;
  }
  Tensor device_input = input.to(Device::CUDA, b.options.precision);
  Tensor out = model.forward(device_input);
  CHECK(out.device() == Device::CUDA);  // device in, device out: nothing through the host
  CHECK(out.dtype() == b.options.precision);
  return out.to(Device::CPU, DType::F32);
}

struct Tolerance {
  double f32_max_abs = 1e-4, f16_max_abs = 1e-2;
  double f32_mean_abs = 1.0, f16_mean_abs = 1.0;  // not checked unless given
};

// VRT in f16. These tiny random networks amplify rounding a few hundred times (their fp32 outputs
// move by up to 1.4e-4 in fp64), and rounding their weights to f16 alone moves the restoration
// cases by 0.10-0.31: no f16 implementation reaches issue 8's 2e-2 on them. Upstream itself under
// fp16 autocast (AMP), measured by benchmarks/vrt_fp16_upstream.py (torch 2.15, CPU; max / mean):
// SR 0.1166 / 6.1e-3, deblur 0.1446 / 9.4e-3, denoise 0.3528 / 1.6e-2, VFI 0.01446 / 1.4e-3.
// So frame interpolation is held to 2e-2, and every case to upstream's own fp16 error with 25 %
// headroom (max-abs of these chaotic nets moves by about that much with the order of rounding: the
// two fp16 variants of the script differ by up to 30 %).
constexpr double kF16Headroom = 1.25;
Tolerance vrt_tolerance(double upstream_f16_max_abs, double upstream_f16_mean_abs, double issue_f16_max_abs = 1.0) {
  return {1e-3, std::min(issue_f16_max_abs, kF16Headroom * upstream_f16_max_abs), 2e-5,
          kF16Headroom * upstream_f16_mean_abs};
}

void check_case(const std::string& name, bool f16_device_input = false, const Tolerance& tolerance = {}) {
  auto io = test::load_fixture(name + "/io.safetensors");
  for (Backend b : backends(f16_device_input)) {
    const bool f16 = b.options.precision == DType::F16;
    b.tolerance = f16 ? tolerance.f16_max_abs : tolerance.f32_max_abs;
    DYNAMIC_SECTION(name << " on " << b.name) {
      Model model = Model::load(test::converted_weights(name), b.options);
      const Tensor out = forward_on(b, model, io.at("input"));
      const test::Diff d = test::compare(out, io.at("expected"));
      const DeviceMemoryStats mem = model.device_memory();
      std::printf("  %-22s %-24s max_abs %.3e (tolerance %.2e) mean_abs %.2e  device peak %.2f MiB, weights %.2f MiB\n",
                  name.c_str(), b.name, d.max_abs, b.tolerance, d.mean_abs, mem.peak_bytes / 1048576.0,
                  mem.weights_bytes / 1048576.0);
      INFO(name << " on " << b.name << ": max_abs " << d.max_abs << ", mean_abs " << d.mean_abs);
      CHECK(d.max_abs <= b.tolerance);
      CHECK(d.mean_abs <= (f16 ? tolerance.f16_mean_abs : tolerance.f32_mean_abs));
      if (b.options.device == Device::CUDA) {
        CHECK(mem.weights_bytes > 0);
        CHECK(mem.peak_bytes > mem.weights_bytes);
        CHECK(mem.current_bytes >= mem.weights_bytes);
      } else {
        CHECK(mem.peak_bytes == 0);
      }
    }
  }
}

}  // namespace

TEST_CASE("Models match upstream on every backend: EDVR", "[model][devices][cuda]") {
  check_case("edvr_x4_tsa", /*f16_device_input=*/true);
  for (const char* name :
       {"edvr_x4_notsa", "edvr_x4_predeblur", "edvr_deblur_hrin", "edvrnet_mmedit_x4_tsa", "edvr_m_official_x4"})
    check_case(name);
}

TEST_CASE("Models match upstream on every backend: BasicVSR and RealBasicVSR", "[model][devices][cuda]") {
  check_case("basicvsr_x4", /*f16_device_input=*/true);
  check_case("realbasicvsr_x4");
}

// One test case per VRT fixture: under the single-threaded CUDA emulator each takes minutes, and
// as separate CTest tests they run side by side (`ctest -j`).
TEST_CASE("Models match upstream on every backend: VRT video SR x4", "[model][devices][cuda][vrt]") {
  check_case("vrt_sr_x4_pa2", false, vrt_tolerance(0.1166, 6.1e-3));
}

TEST_CASE("Models match upstream on every backend: VRT deblurring", "[model][devices][cuda][vrt]") {
  check_case("vrt_deblur_pa2", false, vrt_tolerance(0.1446, 9.4e-3));
}

TEST_CASE("Models match upstream on every backend: VRT denoising", "[model][devices][cuda][vrt]") {
  check_case("vrt_denoise_pa4", false, vrt_tolerance(0.3528, 1.6e-2));
}

TEST_CASE("Models match upstream on every backend: VRT frame interpolation", "[model][devices][cuda][vrt]") {
  check_case("vrt_vfi", false, vrt_tolerance(0.01446, 1.4e-3, /*issue_f16_max_abs=*/2e-2));
}

TEST_CASE("Restore on every backend equals forward, with frames where the source's are", "[model][devices][cuda]") {
  auto io = test::load_fixture("basicvsr_x4/io.safetensors");
  const Tensor clip = io.at("input").select0(0);  // (T, 3, H, W)
  for (const Backend& b : backends(/*f16_device_input=*/true)) {
    DYNAMIC_SECTION("basicvsr_x4 restore on " << b.name) {
      Model model = Model::load(test::converted_weights("basicvsr_x4"), b.options);
      const Tensor source = b.device_input ? clip.to(Device::CUDA, b.options.precision) : clip;
      int64_t frames = 0;
      model.restore(source, [&](int64_t i, const Tensor& frame) {
        CHECK(frame.device() == source.device());
        CHECK(frame.dtype() == source.dtype());
        const test::Diff d = test::compare(frame.to(Device::CPU, DType::F32), io.at("expected").select0(0).select0(i));
        INFO("frame " << i << " max_abs " << d.max_abs);
        CHECK(d.max_abs <= b.tolerance);
        ++frames;
      });
      CHECK(frames == clip.size(0));
    }
  }
}

TEST_CASE("C API on every backend: device buffers in and out, device memory reported", "[model][devices][cuda]") {
  auto io = test::load_fixture("edvr_x4_tsa/io.safetensors");
  const Tensor clip = io.at("input").select0(0);  // (5, 3, H, W)
  const int64_t t = clip.size(0), h = clip.size(2), w = clip.size(3);
  for (const Backend& b : backends()) {
    DYNAMIC_SECTION("edvr_x4_tsa vrestore_restore_clip on " << b.name) {
      vrestore_load_options lo;
      vrestore_load_options_init(&lo);
      lo.device = b.options.device == Device::CUDA ? VRESTORE_DEVICE_CUDA : VRESTORE_DEVICE_CPU;
      lo.precision = b.options.precision == DType::F16 ? VRESTORE_PRECISION_F16 : VRESTORE_PRECISION_F32;
      vrestore_model* m = nullptr;
      REQUIRE(vrestore_model_load_with_options(test::converted_weights("edvr_x4_tsa").c_str(), &lo, &m) == VRESTORE_OK);
      vrestore_restore_options ro;
      vrestore_restore_options_init(&ro);
      const Device where = b.device_input ? Device::CUDA : Device::CPU;
      ro.memory = where == Device::CUDA ? VRESTORE_MEMORY_DEVICE : VRESTORE_MEMORY_HOST;
      Tensor in = clip.to(where, DType::F32);
      Tensor out = Tensor::empty({t, 3, 4 * h, 4 * w}, DType::F32, where);
      REQUIRE(vrestore_restore_clip(m, in.data<float>(where), t, w, h, out.data<float>(where), &ro) == VRESTORE_OK);
      // Frame 2's window is exactly the fixture's five frames.
      const test::Diff d = test::compare(out.to(Device::CPU, DType::F32).select0(2), io.at("expected").select0(0));
      INFO(b.name << ": max_abs " << d.max_abs);
      CHECK(d.max_abs <= b.tolerance);
      size_t weights = 1, peak = 1;
      REQUIRE(vrestore_model_device_memory(m, &weights, nullptr, &peak) == VRESTORE_OK);
      CHECK((b.options.device == Device::CUDA) == (weights > 0 && peak > weights));
      vrestore_model_free(m);
    }
  }
}

TEST_CASE("C API: device buffers need a CUDA model; streams take host frames", "[model][devices]") {
  vrestore_model* m = nullptr;
  REQUIRE(vrestore_model_load(test::converted_weights("edvr_x4_tsa").c_str(), VRESTORE_DEVICE_CPU, &m) == VRESTORE_OK);
  vrestore_restore_options ro;
  vrestore_restore_options_init(&ro);
  ro.memory = VRESTORE_MEMORY_DEVICE;
  std::vector<float> in(3 * 8 * 8), out(3 * 32 * 32);
  CHECK(vrestore_restore_clip(m, in.data(), 1, 8, 8, out.data(), &ro) == VRESTORE_ERROR);
  CHECK_THAT(std::string(vrestore_last_error()), Catch::Contains("the model runs on the CPU"));
  vrestore_stream* s = nullptr;
  CHECK(vrestore_stream_create(m, 8, 8, &ro, &s) == VRESTORE_ERROR);
  CHECK_THAT(std::string(vrestore_last_error()), Catch::Contains("whole clips only"));
  ro.memory = static_cast<vrestore_memory>(7);
  CHECK(vrestore_restore_clip(m, in.data(), 1, 8, 8, out.data(), &ro) == VRESTORE_ERROR);
  CHECK_THAT(std::string(vrestore_last_error()), Catch::Contains("memory 7 is neither"));
  vrestore_model_free(m);
}
