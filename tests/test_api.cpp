// The public C++ and C APIs on a converted fixture model.
#include <catch2/catch.hpp>
#include <thread>

#include "support/fixtures.h"
#include "support/models.h"
#include "vrestore/vrestore.h"
#include "vrestore/vrestore_c.h"

using namespace vrestore;
using Catch::Matchers::Contains;

TEST_CASE("Model loads, reports its info and runs forward like upstream", "[api]") {
  Model model = Model::load(test::converted_weights("edvr_x4_tsa"));
  CHECK(model.info().arch == "basicsr.EDVR");
  CHECK(model.info().scale == 4);
  CHECK(model.info().num_frames == 5);
  CHECK_THAT(model.info().config_json, Contains("\"num_feat\":16"));
  auto io = test::load_fixture("edvr_x4_tsa/io.safetensors");
  CHECK(test::compare(model.forward(io.at("input")), io.at("expected")).max_abs <= 1e-4);
}

TEST_CASE("restore from a lazy source equals restore from a tensor; bad frames are named", "[api]") {
  Model model = Model::load(test::converted_weights("edvr_x4_tsa"));
  Tensor clip = test::load_fixture("edvr_x4_tsa/io.safetensors").at("input").select0(0);  // (5, 3, 32, 32)
  Tensor whole = model.restore(clip);
  REQUIRE(whole.shape() == Shape{5, 3, 128, 128});
  int64_t requests = 0;
  FrameSource lazy{5, [&](int64_t i) {
                     ++requests;
                     return clip.select0(i).clone();
                   }};
  model.restore(lazy, [&](int64_t i, const Tensor& f) {
    CHECK(test::compare(f, whole.select0(i)).max_abs == 0.0);
  });
  CHECK(requests == 5);  // each frame read once thanks to the window cache

  FrameSource uneven{5, [&](int64_t i) { return i == 3 ? Tensor::zeros({3, 30, 32}) : clip.select0(i); }};
  CHECK_THROWS_WITH(model.restore(uneven, [](int64_t, const Tensor&) {}),
                    "EDVR restore: frame 3 has shape (3, 30, 32), expected (3, 32, 32)");
  CHECK_THROWS_WITH(model.restore(Tensor::zeros({2, 1, 8, 8})),
                    Contains("frame 0 has shape (1, 8, 8), expected (3, H, W)"));
}

TEST_CASE("restore can be cancelled from the progress callback", "[api]") {
  Model model = Model::load(test::converted_weights("edvr_x4_tsa"));
  Tensor clip = Tensor::full({4, 3, 16, 16}, 0.5f);
  RestoreOptions options;
  int64_t frames_out = 0;
  options.progress = [](int64_t done, int64_t) { return done < 2; };
  CHECK_THROWS_WITH(model.restore(clip, [&](int64_t, const Tensor&) { ++frames_out; }, options),
                    "restore: cancelled");
  CHECK(frames_out == 2);
}

TEST_CASE("one Model serves several threads at once with identical results", "[api]") {
  Model model = Model::load(test::converted_weights("edvr_x4_notsa"));
  Tensor input = test::load_fixture("edvr_x4_notsa/io.safetensors").at("input");
  Tensor reference = model.forward(input);
  Tensor results[2];
  std::thread a([&] { results[0] = model.forward(input); });
  std::thread b([&] { results[1] = model.forward(input); });
  a.join();
  b.join();
  CHECK(test::compare(results[0], reference).max_abs == 0.0);
  CHECK(test::compare(results[1], reference).max_abs == 0.0);
}

TEST_CASE("CUDA is refused with the reason when no device is present", "[api]") {
  std::string reason;
  if (cuda_available(&reason)) SUCCEED("a CUDA device is present; nothing to check here");
  else CHECK_THROWS_WITH(Model::load(test::converted_weights("edvr_x4_tsa"), Device::CUDA), Contains("device cuda: "));
}

TEST_CASE("C API: load, restore, errors as status + message", "[api]") {
  vrestore_model* m = nullptr;
  CHECK(vrestore_model_load("/nonexistent.safetensors", VRESTORE_DEVICE_CPU, &m) == VRESTORE_ERROR);
  CHECK_THAT(std::string(vrestore_last_error()), Contains("cannot open"));
  CHECK(m == nullptr);
  REQUIRE(vrestore_model_load(test::converted_weights("edvr_x4_tsa").c_str(), VRESTORE_DEVICE_CPU, &m) == VRESTORE_OK);
  CHECK(vrestore_model_scale(m) == 4);
  CHECK(std::string(vrestore_model_arch(m)) == "basicsr.EDVR");
  Tensor clip = test::load_fixture("edvr_x4_tsa/io.safetensors").at("input").select0(0);
  Tensor out = Tensor::empty({5, 3, 128, 128});
  REQUIRE(vrestore_restore(m, clip.data(), 5, 32, 32, out.data(), nullptr, nullptr) == VRESTORE_OK);
  Tensor expected = test::load_fixture("edvr_x4_tsa/io.safetensors").at("expected");
  CHECK(test::compare(out.select0(2), expected.select0(0)).max_abs <= 1e-4);
  auto cancel = [](int64_t, int64_t, void*) { return 0; };
  CHECK(vrestore_restore(m, clip.data(), 5, 32, 32, out.data(), cancel, nullptr) == VRESTORE_ERROR_CANCELLED);
  CHECK(vrestore_restore(m, nullptr, 5, 32, 32, out.data(), nullptr, nullptr) == VRESTORE_ERROR);
  vrestore_model_free(m);
}

TEST_CASE("float32 matmul precision: set and read back; the C call refuses unknown values", "[api]") {
  const MatmulPrecision saved = float32_matmul_precision();
  set_float32_matmul_precision(MatmulPrecision::High);
  CHECK(float32_matmul_precision() == MatmulPrecision::High);
  REQUIRE(vrestore_set_float32_matmul_precision(VRESTORE_MATMUL_PRECISION_HIGHEST) == VRESTORE_OK);
  CHECK(float32_matmul_precision() == MatmulPrecision::Highest);
  CHECK(vrestore_set_float32_matmul_precision(static_cast<vrestore_matmul_precision>(7)) == VRESTORE_ERROR);
  CHECK_THAT(vrestore_last_error(), Contains("precision is 7, expected VRESTORE_MATMUL_PRECISION_HIGHEST"));
  CHECK(float32_matmul_precision() == MatmulPrecision::Highest);  // unchanged by the refused call
  CHECK_THROWS_WITH(set_float32_matmul_precision(static_cast<MatmulPrecision>(5)),
                    Contains("set_float32_matmul_precision: unknown precision 5"));
  set_float32_matmul_precision(saved);
}
