// Issue 6 (hardening) on the library side: every number from outside is checked at the edge,
// nothing non-finite passes silently, the thread setting holds in every thread, files are
// written atomically and a loaded model does not depend on its file. Each instance of
// ../shared/cases/hardening that concerns the library is a test here (the CLI ones are in
// tests/cli/test_cli.sh).
#include <omp.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <thread>
#include <tuple>

#include "core/checked_math.h"
#include "core/finite.h"
#include "models/network.h"
#include "models/sequence.h"
#include "support/fixtures.h"
#include "support/models.h"
#include "vrestore/vrestore.h"
#include "vrestore/vrestore_c.h"
#include "weights/safetensors.h"
#include "weights/weights.h"

using namespace vrestore;
using Catch::Matchers::Contains;

namespace {

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

std::string hardening_case(const std::string& name) { return test::fixtures_dir() + "/../cases/hardening/" + name; }

// The message of the vrestore::Error that fn throws (fails the test for any other exception type).
template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  FAIL("expected a vrestore::Error");
  return {};
}

// Writes `header` (JSON text) and `data_bytes` zero bytes as a safetensors file.
std::string write_raw(const std::string& name, const std::string& header, size_t data_bytes) {
  std::string path = test::scratch_dir() + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>((n >> (8 * i)) & 0xff));
  out << header << std::string(data_bytes, '\0');
  return path;
}

std::string weights_with_config(const std::string& name, const std::string& arch, const std::string& config) {
  std::string path = test::scratch_dir() + "/" + name;
  save_safetensors(path, {{"x", Tensor::zeros({1})}},
                   {{"vrestore.format_version", "1"}, {"vrestore.arch", arch}, {"vrestore.config", config}});
  return path;
}

// The EDVR fixture's basicsr config with one entry replaced (raw JSON text of the value).
std::string edvr_config_with(const std::string& key, const std::string& value) {
  std::map<std::string, std::string> c = {
      {"num_feat", "16"}, {"num_frame", "5"},       {"deformable_groups", "4"}, {"num_extract_block", "2"},
      {"num_reconstruct_block", "2"}, {"hr_in", "false"}, {"with_predeblur", "false"}, {"with_tsa", "true"}};
  c[key] = value;
  std::string text = "{";
  for (const auto& [k, v] : c) text += (text.size() > 1 ? ", \"" : "\"") + k + "\": " + v;
  return text + "}";
}

std::string load_error(const std::string& file_name, const std::string& config) {
  const std::string path = weights_with_config(file_name, "basicsr.EDVR", config);
  return error_of([&] { Model::load(path); });
}

Tensor edvr_clip() { return test::load_fixture("edvr_x4_tsa/io.safetensors").at("input").select0(0); }  // (5, 3, 32, 32)

Tensor restore_collect(const Model& model, const Tensor& clip, const RestoreOptions& options) {
  return model.restore(clip, options);
}

}  // namespace

// ---- config values from a weights file ------------------------------------------------------

TEST_CASE("hardening case config_wrong_type: a mistyped config value is a vrestore::Error naming file and key",
          "[hardening][weights]") {
  const std::string path = hardening_case("config_wrong_type.safetensors");
  REQUIRE(std::filesystem::exists(path));
  CHECK_THROWS_AS(Model::load(path), Error);  // never a foreign (JSON library) exception
  CHECK(error_of([&] { Model::load(path); }) ==
        "weights '" + path + "': config 'center_frame_idx' is the string \"two\", expected an integer");
  // The C API reports it as status + the same message.
  vrestore_model* m = nullptr;
  CHECK(vrestore_model_load(path.c_str(), VRESTORE_DEVICE_CPU, &m) == VRESTORE_ERROR);
  CHECK_THAT(std::string(vrestore_last_error()), Contains("config 'center_frame_idx' is the string \"two\""));
  CHECK(m == nullptr);
}

TEST_CASE("config values are checked for type and range, naming the key and what was expected",
          "[hardening][weights]") {
  CHECK_THAT(load_error("cfg_center_range.safetensors", edvr_config_with("center_frame_idx", "5")),
             Contains("config 'center_frame_idx' is 5, expected an integer from 0 to 4"));
  CHECK_THAT(load_error("cfg_center_neg.safetensors", edvr_config_with("center_frame_idx", "-1")),
             Contains("config 'center_frame_idx' is -1, expected an integer from 0 to 4"));
  CHECK_THAT(load_error("cfg_feat_zero.safetensors", edvr_config_with("num_feat", "0")),
             Contains("config 'num_feat' is 0, expected an integer from 1 to 4096"));
  CHECK_THAT(load_error("cfg_feat_huge.safetensors", edvr_config_with("num_feat", "18446744073709551615")),
             Contains("config 'num_feat' is 18446744073709551615, expected an integer from 1 to 4096"));
  CHECK_THAT(load_error("cfg_frames_float.safetensors", edvr_config_with("num_frame", "5.0")),
             Contains("config 'num_frame' is the number 5.0, expected an integer"));
  CHECK_THAT(load_error("cfg_tsa_string.safetensors", edvr_config_with("with_tsa", "\"yes\"")),
             Contains("config 'with_tsa' is the string \"yes\", expected a boolean"));
  CHECK_THAT(load_error("cfg_groups.safetensors", edvr_config_with("deformable_groups", "32")),
             Contains("config 'deformable_groups' is 32, expected an integer from 1 to 16"));
  CHECK_THAT(load_error("cfg_blocks.safetensors", edvr_config_with("num_extract_block", "-3")),
             Contains("config 'num_extract_block' is -3, expected an integer from 0 to 1000"));
  // A null centre is upstream's None (the middle frame): the config is accepted and loading goes
  // on to the tensors.
  CHECK_THAT(load_error("cfg_center_null.safetensors", edvr_config_with("center_frame_idx", "null")),
             Contains("tensor 'conv_first.weight' is missing"));

  const std::string rbv = weights_with_config(
      "cfg_thres.safetensors", "mmedit.RealBasicVSRNet",
      R"({"mid_channels": 8, "num_propagation_blocks": 1, "num_cleaning_blocks": 1, "dynamic_refine_thres": "5"})");
  Weights rbv_weights = Weights::open(rbv);
  CHECK_THAT(error_of([&] { rbv_weights.config_number("dynamic_refine_thres"); }),
             Contains("config 'dynamic_refine_thres' is the string \"5\", expected a number"));
  const std::string dup = weights_with_config("cfg_dup.safetensors", "basicsr.EDVR", R"({"num_feat": 16, "num_feat": 8})");
  CHECK_THAT(error_of([&] { Model::load(dup); }), Contains("metadata vrestore.config has the key 'num_feat' twice"));
  const std::string list = weights_with_config("cfg_list.safetensors", "basicsr.EDVR", "[1, 2]");
  CHECK_THAT(error_of([&] { Model::load(list); }), Contains("vrestore.config is a JSON array, expected an object"));
}

// ---- safetensors headers ---------------------------------------------------------------------

TEST_CASE("the safetensors reader accepts exactly valid JSON headers only", "[hardening][weights]") {
  const std::string entry = R"("t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  SECTION("duplicate tensor names") {
    const std::string h = "{" + entry + "," + entry + "}";
    CHECK_THAT(error_of([&] { SafeTensorsFile::open(write_raw("dup_tensor.safetensors", h, 8)); }),
               Contains("header has the key 't' twice"));
  }
  SECTION("duplicate keys inside an entry") {
    const std::string h = R"({"t":{"dtype":"F32","shape":[2],"shape":[1],"data_offsets":[0,8]}})";
    CHECK_THAT(error_of([&] { SafeTensorsFile::open(write_raw("dup_key.safetensors", h, 8)); }),
               Contains("header has the key 'shape' twice"));
  }
  SECTION("duplicate metadata keys") {
    const std::string h = R"({"__metadata__":{"a":"1","a":"2"},)" + entry + "}";
    CHECK_THAT(error_of([&] { SafeTensorsFile::open(write_raw("dup_meta.safetensors", h, 8)); }),
               Contains("header has the key 'a' twice"));
  }
  SECTION("trailing garbage after the JSON object") {
    CHECK_THAT(error_of([&] { SafeTensorsFile::open(write_raw("trailing.safetensors", "{" + entry + "}xx", 8)); }),
               Contains("header is not valid JSON"));
  }
  SECTION("a second JSON value") {
    CHECK_THAT(error_of([&] { SafeTensorsFile::open(write_raw("two_values.safetensors", "{" + entry + "}{}", 8)); }),
               Contains("header is not valid JSON"));
  }
  SECTION("a comment") {
    CHECK_THAT(error_of([&] { SafeTensorsFile::open(write_raw("comment.safetensors", "{" + entry + "}/**/", 8)); }),
               Contains("header is not valid JSON"));
  }
  SECTION("a byte-order mark") {
    CHECK_THAT(error_of([&] { SafeTensorsFile::open(write_raw("bom.safetensors", "\xef\xbb\xbf{" + entry + "}", 8)); }),
               Contains("header starts with a byte-order mark"));
  }
  SECTION("not an object") {
    CHECK_THAT(error_of([&] { SafeTensorsFile::open(write_raw("array.safetensors", "[1, 2]", 0)); }),
               Contains("header is a JSON array, expected an object"));
  }
  SECTION("metadata that is not a string") {
    const std::string h = R"({"__metadata__":{"a":1},)" + entry + "}";
    CHECK_THAT(error_of([&] { SafeTensorsFile::open(write_raw("meta_int.safetensors", h, 8)); }),
               Contains("metadata 'a' is not a string"));
  }
  SECTION("a shape whose element count overflows") {
    const std::string h = R"({"t":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}})";
    CHECK_THAT(error_of([&] { SafeTensorsFile::open(write_raw("huge_shape.safetensors", h, 8)); }),
               Contains("tensor 't' is too large"));
  }
  SECTION("negative or fractional shape entries") {
    const std::string h = R"({"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})";
    CHECK_THAT(error_of([&] { SafeTensorsFile::open(write_raw("neg_shape.safetensors", h, 8)); }),
               Contains("tensor 't' has shape entry -2, expected a non-negative integer"));
  }
  SECTION("space padding after the object is the format's own and stays valid") {
    SafeTensorsFile f = SafeTensorsFile::open(write_raw("padded.safetensors", "{" + entry + "}      ", 8));
    CHECK(f.tensors().size() == 1);
  }
}

// ---- size arithmetic -------------------------------------------------------------------------

TEST_CASE("size arithmetic: huge values are 'too large' errors, never overflow", "[hardening][tensor]") {
  CHECK(checked_mul<int64_t>(3, 4, "x") == 12);
  CHECK_THROWS_WITH(checked_mul<int64_t>(int64_t{1} << 32, int64_t{1} << 31, "here"),
                    "here: size 4294967296 * 2147483648 is too large");
  CHECK_THROWS_WITH(checked_add<uint64_t>(~uint64_t{0}, 1, "there"), "there: size 18446744073709551615 + 1 is too large");
  CHECK(saturating_add(kInt64Max, 1) == kInt64Max);
  CHECK(saturating_add(2, 3) == 5);
  CHECK(round_up(33, 32, "r") == 64);
  CHECK(round_up(64, 32, "r") == 64);
  CHECK_THROWS_WITH(round_up(kInt64Max - 2, 32, "pad"), Contains("pad: size"));
  CHECK(chunk_end(4, kInt64Max, 10) == 10);
  CHECK(chunk_end(4, 3, 10) == 7);

  CHECK_THAT(error_of([] { Tensor::empty({int64_t{1} << 31, int64_t{1} << 31, 4}); }),
             Contains("tensor: shape (2147483648, 2147483648, 4) is too large"));
  CHECK_THAT(error_of([] { Tensor::empty({kInt64Max, kInt64Max}); }), Contains("is too large"));
  CHECK_THAT(error_of([] { Tensor::wrap({kInt64Max / 2, 3}, nullptr, nullptr); }), Contains("is too large"));
  CHECK_THAT(error_of([] { Tensor::wrap({2, 3}, nullptr, nullptr); }), Contains("given NULL data"));
  Tensor t = Tensor::zeros({3, 2});
  CHECK_THAT(error_of([&] { t.narrow0(1, kInt64Max); }), Contains("narrow0(1, 9223372036854775807) out of range"));
  CHECK_THAT(error_of([&] { t.select0(-1); }), Contains("index -1 out of range for dimension 0 of shape (3, 2)"));
  CHECK_THAT(error_of([&] { t.select0(3); }), Contains("index 3 out of range"));
}

// ---- restore options and the chunk arithmetic -----------------------------------------------

TEST_CASE("hardening case: a look-ahead of INT64_MAX restores exactly the whole clip", "[hardening][basicvsr]") {
  Model model = Model::load(test::converted_weights("basicvsr_x4"));
  Tensor io = test::load_fixture("basicvsr_x4/io.safetensors").at("input");  // (2, 4, 3, 36, 40)
  Tensor clip = io.reshape({8, 3, 36, 40});  // both samples as one 8-frame clip
  RestoreOptions whole;
  whole.chunk_frames = 8;
  whole.lookahead_frames = 0;
  const Tensor reference = restore_collect(model, clip, whole);
  RestoreOptions huge;
  huge.chunk_frames = 4;
  huge.lookahead_frames = kInt64Max;
  CHECK(test::compare(restore_collect(model, clip, huge), reference).max_abs == 0.0);
  RestoreOptions huge_chunk;
  huge_chunk.chunk_frames = kInt64Max;
  huge_chunk.lookahead_frames = kInt64Max;
  CHECK(test::compare(restore_collect(model, clip, huge_chunk), reference).max_abs == 0.0);
  huge_chunk.independent_chunks = true;  // one independent chunk of everything is the whole clip too
  CHECK(test::compare(restore_collect(model, clip, huge_chunk), reference).max_abs == 0.0);
}

TEST_CASE("RealBasicVSR: huge chunk options take the whole-clip path without overflow", "[hardening][realbasicvsr]") {
  Model model = Model::load(test::converted_weights("realbasicvsr_x4"));
  Tensor clip = test::load_fixture("realbasicvsr_x4/io.safetensors").at("input").select0(0);
  const Tensor reference = model.restore(clip);
  RestoreOptions huge;
  huge.chunk_frames = kInt64Max;
  huge.lookahead_frames = kInt64Max;
  CHECK(test::compare(model.restore(clip, huge), reference).max_abs == 0.0);
  huge.chunk_frames = 1;
  CHECK(test::compare(model.restore(clip, huge), reference).max_abs == 0.0);
}

TEST_CASE("RestoreOptions are checked for every model", "[hardening][api]") {
  Model model = Model::load(test::converted_weights("edvr_x4_tsa"));
  Tensor clip = Tensor::full({2, 3, 8, 8}, 0.5f);
  RestoreOptions o;
  o.chunk_frames = 0;
  CHECK(error_of([&] { model.restore(clip, o); }) == "restore: RestoreOptions::chunk_frames is 0, expected >= 1");
  o.chunk_frames = 4;
  o.lookahead_frames = -1;
  CHECK(error_of([&] { model.restore(clip, o); }) == "restore: RestoreOptions::lookahead_frames is -1, expected >= 0");
}

// ---- non-finite values -----------------------------------------------------------------------

TEST_CASE("finite checks find NaN and both infinities", "[hardening][tensor]") {
  float v[6] = {0.f, 1.f, -2.f, 3.f, 4.f, 5.f};
  CHECK(all_finite(v, 6));
  v[4] = -INFINITY;
  v[5] = NAN;
  CHECK_FALSE(all_finite(v, 6));
  NonFiniteValues nf = find_non_finite(v, 6);
  CHECK(nf.count == 2);
  CHECK(nf.first == 4);
  CHECK(non_finite_name(nf.first_value) == "-inf");
  CHECK(non_finite_name(NAN) == "nan");
  CHECK(non_finite_name(INFINITY) == "inf");
}

TEST_CASE("hardening case: a NaN input pixel is an error naming the frame unless the caller opts in",
          "[hardening][api]") {
  Model model = Model::load(test::converted_weights("edvr_x4_tsa"));
  Tensor clip = edvr_clip().clone();
  clip.data()[3 * (3 * 32 * 32) + 1 * (32 * 32) + 2 * 32 + 5] = NAN;  // frame 3, channel 1, row 2, column 5
  int64_t frames_out = 0;
  auto count = [&](int64_t, const Tensor&) { ++frames_out; };
  CHECK(error_of([&] { model.restore(clip, count); }) ==
        "restore: input frame 3 holds 1 non-finite value (first: nan at channel 1, row 2, column 5); "
        "pass RestoreOptions::allow_non_finite_input to restore it anyway");
  RestoreOptions allow;
  allow.allow_non_finite_input = true;
  frames_out = 0;
  Tensor out = model.restore(clip, allow);
  CHECK(out.shape() == Shape{5, 3, 128, 128});
  CHECK_FALSE(all_finite(out.data(), out.numel()));  // passed through, as asked

  // forward names the frame as [n, t]; infinities count too.
  Tensor input = clip.reshape({1, 5, 3, 32, 32}).clone();
  input.data()[3 * (3 * 32 * 32) + 1 * (32 * 32) + 2 * 32 + 5] = 0.5f;
  input.data()[1 * (3 * 32 * 32)] = -INFINITY;
  CHECK(error_of([&] { model.forward(input); }) ==
        "forward: input frame [0, 1] of (1, 5, 3, 32, 32) holds 1 non-finite value (first: -inf at channel 0, row 0, "
        "column 0); pass ForwardOptions::allow_non_finite_input to run it anyway");
  ForwardOptions fallow;
  fallow.allow_non_finite_input = true;
  CHECK(model.forward(input, fallow).shape() == Shape{1, 3, 128, 128});

  // The C API reports the same error.
  vrestore_model* m = nullptr;
  REQUIRE(vrestore_model_load(test::converted_weights("edvr_x4_tsa").c_str(), VRESTORE_DEVICE_CPU, &m) == VRESTORE_OK);
  Tensor c_out = Tensor::empty({5, 3, 128, 128});
  CHECK(vrestore_restore(m, clip.data(), 5, 32, 32, c_out.data(), nullptr, nullptr) == VRESTORE_ERROR);
  CHECK_THAT(std::string(vrestore_last_error()), Contains("restore: input frame 3 holds 1 non-finite value"));
  vrestore_model_free(m);
}

TEST_CASE("a non-finite output from finite input is an error naming the frame, before the sink sees it",
          "[hardening][api]") {
  // Damaged weights: one bias of the last convolution is infinite.
  const std::string good = test::converted_weights("edvr_x4_tsa");
  SafeTensorsFile file = SafeTensorsFile::open(good);
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const TensorInfo& info : file.tensors()) tensors.emplace_back(info.name, file.load_f32(info));
  for (auto& [name, t] : tensors)
    if (name == "conv_last.bias") t.data()[1] = INFINITY;
  const std::string damaged = test::scratch_dir() + "/edvr_damaged.safetensors";
  save_safetensors(damaged, tensors, file.metadata());
  Model model = Model::load(damaged);
  int64_t frames_out = 0;
  CHECK_THAT(error_of([&] { model.restore(edvr_clip(), [&](int64_t, const Tensor&) { ++frames_out; }); }),
             Contains("restore: output frame 0 holds 16384 non-finite values (first: inf at channel 1, row 0, column 0) "
                      "although every input frame is finite"));
  CHECK(frames_out == 0);
  CHECK_THAT(error_of([&] { model.forward(edvr_clip().reshape({1, 5, 3, 32, 32})); }),
             Contains("forward: output frame [0] of (1, 3, 128, 128) holds 16384 non-finite values"));
}

// ---- API arguments ---------------------------------------------------------------------------

TEST_CASE("C API arguments: counts, sizes, devices and NULLs are checked", "[hardening][api]") {
  // (An out-of-range vrestore_device cannot be made in C++ without undefined behaviour; the C API
  // checks it all the same, and Model::load checks its enum class.)
  CHECK_THAT(error_of([] { Model::load(test::converted_weights("edvr_x4_tsa"), static_cast<Device>(7)); }),
             Contains("device 7 is neither Device::CPU nor Device::CUDA"));
  vrestore_model* m = nullptr;
  CHECK(vrestore_model_load(nullptr, VRESTORE_DEVICE_CPU, &m) == VRESTORE_ERROR);
  REQUIRE(vrestore_model_load(test::converted_weights("edvr_x4_tsa").c_str(), VRESTORE_DEVICE_CPU, &m) == VRESTORE_OK);
  float pixel = 0, out = 0;
  for (auto [t, h, w] : {std::tuple<int64_t, int64_t, int64_t>{0, 8, 8}, {2, -8, 8}, {2, 8, 0}}) {
    CHECK(vrestore_restore(m, &pixel, t, h, w, &out, nullptr, nullptr) == VRESTORE_ERROR);
    CHECK_THAT(std::string(vrestore_last_error()), Contains("must all be >= 1"));
  }
  CHECK(vrestore_restore(m, &pixel, 1, int64_t{1} << 40, int64_t{1} << 40, &out, nullptr, nullptr) == VRESTORE_ERROR);
  CHECK_THAT(std::string(vrestore_last_error()), Contains("is too large"));
  CHECK(vrestore_model_scale(nullptr) == 0);
  CHECK(std::string(vrestore_model_arch(nullptr)).empty());
  vrestore_model_free(m);
  vrestore_model_free(nullptr);

  Model moved = Model::load(test::converted_weights("edvr_x4_tsa"));
  Model target = std::move(moved);
  CHECK_THAT(error_of([&] { moved.info(); }), Contains("used after it was moved from"));
  CHECK(target.info().scale == 4);
}

TEST_CASE("exceptions from the caller's callbacks pass through unchanged", "[hardening][api]") {
  struct Stop {};
  Model model = Model::load(test::converted_weights("edvr_x4_tsa"));
  Tensor clip = Tensor::full({3, 3, 8, 8}, 0.5f);
  CHECK_THROWS_AS(model.restore(clip, [](int64_t, const Tensor&) { throw Stop{}; }), Stop);
  FrameSource source{3, [](int64_t) -> Tensor { throw std::out_of_range("my source"); }};
  CHECK_THROWS_AS(model.restore(source, [](int64_t, const Tensor&) {}), std::out_of_range);
}

// ---- threads ---------------------------------------------------------------------------------

TEST_CASE("hardening case: set_num_threads applies in every thread that runs vrestore", "[hardening][api]") {
  Model model = Model::load(test::converted_weights("edvr_x4_tsa"));
  Tensor clip = Tensor::full({2, 3, 8, 8}, 0.5f);
  CHECK_THROWS_WITH(set_num_threads(-1), "set_num_threads: n is -1, expected 0 (OpenMP's default) to 1024");
  CHECK_THROWS_AS(set_num_threads(kMaxThreads + 1), Error);

  // In another thread: the setting made on this one applies inside restore (checked in the sink,
  // which runs inside the call, and by the team size of a parallel region there), and the
  // thread's own OpenMP setting is back afterwards.
  auto run_in_thread = [&](int* max_inside, int* team_inside, int* before, int* after) {
    std::thread worker([&] {
      omp_set_num_threads(3);  // the worker's own setting, which vrestore must not keep changed
      *before = omp_get_max_threads();
      model.restore(clip, [&](int64_t, const Tensor&) {
        *max_inside = omp_get_max_threads();
#pragma omp parallel
        {
#pragma omp single
          *team_inside = omp_get_num_threads();
        }
      });
      *after = omp_get_max_threads();
    });
    worker.join();
  };
  int max_inside = 0, team_inside = 0, before = 0, after = 0;
  set_num_threads(1);
  CHECK(num_threads() == 1);
  run_in_thread(&max_inside, &team_inside, &before, &after);
  CHECK(max_inside == 1);
  CHECK(team_inside == 1);
  CHECK(before == 3);
  CHECK(after == 3);

  set_num_threads(2);
  run_in_thread(&max_inside, &team_inside, &before, &after);
  CHECK(max_inside == 2);
  CHECK(after == 3);

  set_num_threads(0);  // back to OpenMP's default: vrestore leaves the thread's setting alone
  run_in_thread(&max_inside, &team_inside, &before, &after);
  CHECK(max_inside == 3);
}

// ---- files -----------------------------------------------------------------------------------

TEST_CASE("a loaded model does not depend on its weights file any more", "[hardening][weights]") {
  const std::string copy = test::scratch_dir() + "/edvr_replaced_in_place.safetensors";
  std::filesystem::copy_file(test::converted_weights("edvr_x4_tsa"), copy,
                             std::filesystem::copy_options::overwrite_existing);
  Model model = Model::load(copy);
  Tensor input = test::load_fixture("edvr_x4_tsa/io.safetensors").at("input");
  const Tensor before = model.forward(input);
  {
    // Overwritten in place (same inode) and truncated: a model still reading a mapping would see
    // other weights or die of SIGBUS.
    std::ofstream overwrite(copy, std::ios::binary | std::ios::trunc);
    overwrite << "garbage";
  }
  CHECK(test::compare(model.forward(input), before).max_abs == 0.0);
}

TEST_CASE("save_safetensors writes a temporary file and renames it; failures leave nothing behind",
          "[hardening][weights]") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(test::scratch_dir()) / "atomic_save";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string path = (dir / "out.safetensors").string();
  save_safetensors(path, {{"a", Tensor::full({4}, 1.0f)}});
  // A reader that has the file open keeps seeing the old contents when it is replaced.
  SafeTensorsFile old_file = SafeTensorsFile::open(path);
  save_safetensors(path, {{"a", Tensor::full({4}, 2.0f)}});
  CHECK(old_file.load_f32(*old_file.find("a")).data()[0] == 1.0f);
  CHECK(load_safetensors(path).at("a").data()[0] == 2.0f);

  CHECK_THAT(error_of([&] { save_safetensors(path, {{"a", Tensor::zeros({1})}, {"a", Tensor::zeros({1})}}); }),
             Contains("tensor name 'a' is given twice"));
  CHECK_THAT(error_of([&] { save_safetensors(path, {{"__metadata__", Tensor::zeros({1})}}); }),
             Contains("is reserved"));
  CHECK_THAT(error_of([&] { save_safetensors((dir / "missing" / "x.safetensors").string(), {{"a", Tensor::zeros({1})}}); }),
             Contains("cannot open for writing"));
  // A directory in the way: the rename fails, the temporary file is removed.
  fs::create_directories(dir / "taken.safetensors");
  CHECK_THAT(error_of([&] { save_safetensors((dir / "taken.safetensors").string(), {{"a", Tensor::zeros({1})}}); }),
             Contains("cannot replace it"));
  CHECK(load_safetensors(path).at("a").data()[0] == 2.0f);  // untouched by the failures
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"out.safetensors", "taken.safetensors"});
}
