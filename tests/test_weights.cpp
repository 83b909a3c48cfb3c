// The safetensors reader and the strict Weights loader: malformed files give clear errors.
#include <catch2/catch.hpp>
#include <cstring>
#include <fstream>

#include "models/network.h"
#include "support/fixtures.h"
#include "weights/weights.h"

using namespace vrestore;
using Catch::Matchers::Contains;

namespace {

// Writes `header` (JSON text) and `data_bytes` zero bytes as a safetensors file; `declared_len`
// overrides the 8-byte header length when >= 0.
std::string write_raw(const std::string& name, const std::string& header, size_t data_bytes,
                      int64_t declared_len = -1) {
  std::string path = test::scratch_dir() + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  uint64_t n = declared_len >= 0 ? static_cast<uint64_t>(declared_len) : header.size();
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>((n >> (8 * i)) & 0xff));
  out << header;
  out << std::string(data_bytes, '\0');
  return path;
}

std::string weights_with(const std::string& name, const std::string& arch, const std::string& config,
                         const std::vector<std::pair<std::string, Tensor>>& tensors) {
  std::string path = test::scratch_dir() + "/" + name;
  save_safetensors(path, tensors,
                   {{"vrestore.format_version", "1"}, {"vrestore.arch", arch}, {"vrestore.config", config}});
  return path;
}

}  // namespace

TEST_CASE("safetensors round trip keeps names, shapes, values and metadata", "[weights]") {
  Tensor a = Tensor::full({2, 3}, 1.5f), b = Tensor::full({4}, -2.0f);
  std::string path = test::scratch_dir() + "/roundtrip.safetensors";
  save_safetensors(path, {{"a", a}, {"b", b}}, {{"k", "v"}});
  SafeTensorsFile f = SafeTensorsFile::open(path);
  REQUIRE(f.tensors().size() == 2);
  CHECK(f.meta("k") == "v");
  Tensor a2 = f.load_f32(*f.find("a"));
  CHECK(a2.shape() == Shape{2, 3});
  CHECK(a2.data()[5] == 1.5f);
  CHECK(f.load_f32(*f.find("b")).data()[3] == -2.0f);
}

TEST_CASE("malformed safetensors files are rejected with the reason", "[weights]") {
  const std::string ok_entry = R"("t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  SECTION("missing file") {
    CHECK_THROWS_WITH(SafeTensorsFile::open("/nonexistent/x.safetensors"), Contains("cannot open"));
  }
  SECTION("shorter than the length prefix") {
    std::string path = test::scratch_dir() + "/tiny.safetensors";
    std::ofstream(path) << "abc";
    CHECK_THROWS_WITH(SafeTensorsFile::open(path), Contains("too short"));
  }
  SECTION("header length beyond the file") {
    CHECK_THROWS_WITH(SafeTensorsFile::open(write_raw("hl.safetensors", "{" + ok_entry + "}", 8, 1 << 20)),
                      Contains("header length 1048576 exceeds the file"));
  }
  SECTION("a PyTorch checkpoint (zip or legacy pickle) is named as such") {
    // The starts torch.save writes: a zip archive (PyTorch >= 1.6) and a protocol-2 pickle.
    const std::pair<const char*, std::string> starts[] = {
        {"zip.pth", std::string("PK\x03\x04\x00\x00\x08\x08\x00\x00", 10)},
        {"pickle.pth", std::string("\x80\x02\x8a\x0a" "l\xfc\x9c" "F\xf9 j\xa8", 12)}};
    for (const auto& [name, start] : starts) {
      std::string path = test::scratch_dir() + "/" + name;
      std::ofstream(path, std::ios::binary | std::ios::trunc) << start << std::string(200, 'x');
      CHECK_THROWS_WITH(SafeTensorsFile::open(path),
                        Contains("'" + path + "' looks like a PyTorch checkpoint (.pth), not a safetensors file: "
                                 "convert it first with weights_converter/convert.py (or vrestore-convert)"));
    }
  }
  SECTION("a real header length whose bytes look like a pickle start still opens") {
    // 640 = 0x0280: the file starts 0x80 0x02 like a protocol-2 pickle, but the length fits.
    std::string header = "{" + ok_entry + "}";
    header.resize(640, ' ');
    SafeTensorsFile f = SafeTensorsFile::open(write_raw("pickle_like.safetensors", header, 8));
    CHECK(f.find("t") != nullptr);
  }
  SECTION("bad JSON") {
    CHECK_THROWS_WITH(SafeTensorsFile::open(write_raw("json.safetensors", "{\"t\": [1, 2", 0)),
                      Contains("not valid JSON"));
  }
  SECTION("truncated data") {
    std::string good = test::scratch_dir() + "/good.safetensors";
    save_safetensors(good, {{"w", Tensor::zeros({16})}});
    std::ifstream in(good, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::string path = test::scratch_dir() + "/truncated.safetensors";
    std::ofstream(path, std::ios::binary) << bytes.substr(0, bytes.size() - 10);
    CHECK_THROWS_WITH(SafeTensorsFile::open(path), Contains("tensor 'w' data_offsets [0, 64) lie outside"));
  }
  SECTION("overlapping offsets") {
    std::string h = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                    R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})";
    CHECK_THROWS_WITH(SafeTensorsFile::open(write_raw("overlap.safetensors", h, 12)), Contains("overlap"));
  }
  SECTION("unsupported dtype") {
    std::string h = R"({"t":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})";
    CHECK_THROWS_WITH(SafeTensorsFile::open(write_raw("dtype.safetensors", h, 2)),
                      Contains("tensor 't' has unsupported dtype 'U8'"));
  }
  SECTION("byte count disagrees with dtype and shape") {
    std::string h = R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})";
    CHECK_THROWS_WITH(SafeTensorsFile::open(write_raw("count.safetensors", h, 8)),
                      Contains("has 8 bytes, expected 12 for F32 (3)"));
  }
  SECTION("integer tensor where floats are needed") {
    std::string h = R"({"t":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})";
    SafeTensorsFile f = SafeTensorsFile::open(write_raw("int.safetensors", h, 8));
    CHECK_THROWS_WITH(f.load_f32(*f.find("t")), Contains("dtype I64, expected a floating-point dtype"));
  }
}

TEST_CASE("Weights loading is strict: missing, mis-shaped and unused tensors fail", "[weights]") {
  std::string path = weights_with("strict.safetensors", "test.Arch", "{}",
                                  {{"a.weight", Tensor::zeros({2, 3})}, {"b.weight", Tensor::zeros({4})}});
  Weights w = Weights::open(path);
  CHECK_THROWS_WITH(w.take("c.weight", {1}), Contains("tensor 'c.weight' is missing"));
  CHECK_THROWS_WITH(w.take("a.weight", {3, 2}), Contains("tensor 'a.weight' has shape (2, 3), expected (3, 2)"));
  w.take("a.weight", {2, 3});
  CHECK_THROWS_WITH(w.finish(), Contains("1 tensor(s) not used by the model: 'b.weight'"));
  w.take("b.weight", {4});
  CHECK_NOTHROW(w.finish());
}

TEST_CASE("Weights need vrestore metadata and a known architecture", "[weights]") {
  std::string plain = test::scratch_dir() + "/plain.safetensors";
  save_safetensors(plain, {{"x", Tensor::zeros({1})}});
  CHECK_THROWS_WITH(Weights::open(plain), Contains("no vrestore metadata"));
  std::string other = weights_with("other.safetensors", "acme.Unknown", "{}", {{"x", Tensor::zeros({1})}});
  Weights w = Weights::open(other);
  CHECK_THROWS_WITH(load_network(w), Contains("architecture 'acme.Unknown' is not supported"));
  std::string bad_cfg = weights_with("badcfg.safetensors", "basicsr.EDVR", "{not json", {{"x", Tensor::zeros({1})}});
  CHECK_THROWS_WITH(Weights::open(bad_cfg), Contains("vrestore.config is not valid JSON"));
  std::string missing_arg = weights_with("noarg.safetensors", "basicsr.EDVR", R"({"num_feat": 8})",
                                         {{"x", Tensor::zeros({1})}});
  Weights w2 = Weights::open(missing_arg);
  CHECK_THROWS_WITH(load_network(w2), Contains("config 'num_frame' is missing, expected an integer"));
}
