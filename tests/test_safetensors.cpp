#include <catch2/catch.hpp>

#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <fstream>
#include <string>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/arch_spec.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "fixtures.h"
#include "models/classifier.h"
#include "models/weights.h"

namespace st = vitnas::safetensors;
namespace fs = std::filesystem;
using Catch::Contains;

namespace {

std::string temp_path(const std::string& name) { return vitnas::test::scratch_path("st_" + name); }

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string le64(std::uint64_t v) {
  std::string s;
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return s;
}

// A raw file: length field, the given header text, then data_size zero bytes.
std::string raw_file(const std::string& path, const std::string& header, std::size_t data_size) {
  write_bytes(path, le64(header.size()) + header + std::string(data_size, '\0'));
  return path;
}

}  // namespace

TEST_CASE("safetensors round trip keeps dtypes, shapes, values and order", "[safetensors]") {
  torch::manual_seed(0);
  const st::TensorList tensors = {
      {"w.f32", torch::randn({3, 4})},
      {"a.f64", torch::randn({2, 2, 2}, torch::kFloat64)},
      {"h.f16", torch::randn({5}).to(torch::kFloat16)},
      {"b.bf16", torch::randn({2, 3}).to(torch::kBFloat16)},
      {"step", torch::tensor(int64_t{12345})},  // 0-dim scalar
      {"i32", torch::arange(6, torch::kInt32).reshape({2, 3})},
      {"i16", torch::arange(-3, 3, torch::kInt16)},
      {"i8", torch::arange(-4, 4, torch::kInt8)},
      {"u8", torch::arange(250, 256, torch::kInt32).to(torch::kUInt8)},
      {"mask", torch::tensor({true, false, true})},
      {"empty", torch::empty({0, 7})},
      {"transposed", torch::randn({3, 5}).t()},  // non-contiguous
  };
  const std::map<std::string, std::string> meta = {{"format", "pt"}, {"model", "test"}};
  const std::string path = temp_path("roundtrip.safetensors");
  st::save(path, tensors, meta);

  // The header is padded so the data starts on an 8-byte boundary.
  std::ifstream in(path, std::ios::binary);
  unsigned char len[8];
  in.read(reinterpret_cast<char*>(len), 8);
  std::uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len[i];
  CHECK(header_len % 8 == 0);

  const st::File f = st::load(path);
  CHECK(f.metadata == meta);
  REQUIRE(f.tensors.size() == tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    INFO(tensors[i].first);
    CHECK(f.tensors[i].first == tensors[i].first);
    const auto& got = f.tensors[i].second;
    CHECK(got.scalar_type() == tensors[i].second.scalar_type());
    CHECK(got.sizes() == tensors[i].second.sizes());
    CHECK(got.is_contiguous());
    CHECK(torch::equal(got, tensors[i].second));
  }
  CHECK(f.tensors[4].second.dim() == 0);
  CHECK(f.tensors[4].second.item<int64_t>() == 12345);
}

TEST_CASE("safetensors save rejects duplicate names", "[safetensors]") {
  const std::string path = temp_path("dup.safetensors");
  REQUIRE_THROWS_AS(st::save(path, {{"x", torch::zeros({1})}, {"x", torch::ones({1})}}),
                    vitnas::InputError);
  REQUIRE_THROWS_WITH(st::save(path, {{"x", torch::zeros({1})}, {"x", torch::ones({1})}}),
                      Contains("duplicate") && Contains("'x'"));
}

TEST_CASE("safetensors loads the official EfficientViT-M0 reference vectors", "[safetensors]") {
  const std::string path = std::string(VITNAS_REFERENCE_DIR) + "/efficientvit/vec_m0.safetensors";
  const st::File f = st::load(path);
  CHECK(f.metadata.at("model") == "EfficientViT-M0");
  const torch::Tensor* input = nullptr;
  const torch::Tensor* logits = nullptr;
  for (const auto& [name, t] : f.tensors) {
    if (name == "__input__") input = &t;
    if (name == "__logits__") logits = &t;
  }
  REQUIRE(input != nullptr);
  REQUIRE(logits != nullptr);
  CHECK(input->sizes() == torch::IntArrayRef({2, 3, 224, 224}));
  CHECK(logits->sizes() == torch::IntArrayRef({2, 1000}));
  CHECK(input->scalar_type() == torch::kFloat32);
}

// ---- corrupt files: each must raise a one-line InputError that names the problem ------------

#define REQUIRE_LOAD_FAILS(path, matcher)                       \
  do {                                                          \
    REQUIRE_THROWS_AS(st::load(path), vitnas::InputError);      \
    REQUIRE_THROWS_WITH(st::load(path), Contains(path) && matcher); \
  } while (0)

TEST_CASE("safetensors: missing file", "[safetensors]") {
  const std::string path = temp_path("does_not_exist.safetensors");
  REQUIRE_LOAD_FAILS(path, Contains("cannot open"));
}

TEST_CASE("safetensors: file of 3 bytes", "[safetensors]") {
  const std::string path = temp_path("tiny.safetensors");
  write_bytes(path, "abc");
  REQUIRE_LOAD_FAILS(path, Contains("too short"));
}

TEST_CASE("safetensors: header length larger than the file", "[safetensors]") {
  const std::string path = temp_path("long_header.safetensors");
  write_bytes(path, le64(1000) + "{}");
  REQUIRE_LOAD_FAILS(path, Contains("larger than the file"));
}

TEST_CASE("safetensors: header length of 2^62", "[safetensors]") {
  const std::string path = temp_path("huge_header.safetensors");
  write_bytes(path, le64(std::uint64_t{1} << 62) + "{}");
  REQUIRE_LOAD_FAILS(path, Contains("16 MiB"));
}

TEST_CASE("safetensors: truncated data", "[safetensors]") {
  const std::string path = temp_path("truncated.safetensors");
  st::save(path, {{"a", torch::ones({4})}, {"b", torch::ones({8})}});
  const auto size = fs::file_size(path);
  fs::resize_file(path, size - 5);
  REQUIRE_LOAD_FAILS(path, Contains("'b'") && Contains("truncated"));
}

TEST_CASE("safetensors: malformed JSON", "[safetensors]") {
  const std::string path =
      raw_file(temp_path("bad_json.safetensors"), R"({"a": {"dtype": "F32",)", 0);
  REQUIRE_LOAD_FAILS(path, Contains("malformed JSON"));
}

TEST_CASE("safetensors: offsets out of range", "[safetensors]") {
  const std::string path = raw_file(
      temp_path("out_of_range.safetensors"),
      R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [16, 32]}})", 16);
  REQUIRE_LOAD_FAILS(path, Contains("'a'") && Contains("out of range"));
}

TEST_CASE("safetensors: offsets length mismatch with shape", "[safetensors]") {
  const std::string path = raw_file(
      temp_path("mismatch.safetensors"),
      R"({"a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 16]}})", 16);
  REQUIRE_LOAD_FAILS(path, Contains("'a'") && Contains("needs 24"));
}

TEST_CASE("safetensors: overlapping tensors", "[safetensors]") {
  const std::string path = raw_file(
      temp_path("overlap.safetensors"),
      R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
          "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}})",
      24);
  REQUIRE_LOAD_FAILS(path, Contains("'b' overlaps tensor 'a'"));
}

TEST_CASE("safetensors: gap between tensors", "[safetensors]") {
  const std::string path = raw_file(
      temp_path("gap.safetensors"),
      R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
          "b": {"dtype": "F32", "shape": [2], "data_offsets": [16, 24]}})",
      24);
  REQUIRE_LOAD_FAILS(path, Contains("gap") && Contains("'b'"));
}

TEST_CASE("safetensors: unknown dtype", "[safetensors]") {
  const std::string path = raw_file(
      temp_path("dtype.safetensors"),
      R"({"a": {"dtype": "F8_E4M3", "shape": [4], "data_offsets": [0, 4]}})", 4);
  REQUIRE_LOAD_FAILS(path, Contains("'a'") && Contains("dtype 'F8_E4M3'"));
}

TEST_CASE("safetensors: negative shape entry", "[safetensors]") {
  const std::string path = raw_file(
      temp_path("negative.safetensors"),
      R"({"a": {"dtype": "F32", "shape": [-1, 4], "data_offsets": [0, 16]}})", 16);
  REQUIRE_LOAD_FAILS(path, Contains("'a'") && Contains("negative shape"));
}

TEST_CASE("safetensors: overflowing shape", "[safetensors]") {
  const std::string path = raw_file(
      temp_path("overflow.safetensors"),
      R"({"a": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 0]}})",
      0);
  REQUIRE_LOAD_FAILS(path, Contains("'a'") && Contains("overflows"));
}

TEST_CASE("safetensors: non-string metadata", "[safetensors]") {
  const std::string path =
      raw_file(temp_path("meta.safetensors"), R"({"__metadata__": {"epoch": 3}})", 0);
  REQUIRE_LOAD_FAILS(path, Contains("'epoch'") && Contains("not a string"));
}

TEST_CASE("safetensors: duplicate key in the header", "[safetensors]") {
  const std::string path = raw_file(
      temp_path("dup_key.safetensors"),
      R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
          "b": {"dtype": "F32", "shape": [], "data_offsets": [4, 8]},
          "a": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}})",
      12);
  REQUIRE_LOAD_FAILS(path, Contains("duplicate tensor key 'a'"));
}

TEST_CASE("safetensors: header that is not an object, or an entry too large", "[safetensors]") {
  REQUIRE_LOAD_FAILS(raw_file(temp_path("array.safetensors"), "[1, 2]", 0),
                     Contains("not an object"));
  REQUIRE_LOAD_FAILS(raw_file(temp_path("scalar.safetensors"), "3", 0), Contains("not an object"));
  REQUIRE_LOAD_FAILS(raw_file(temp_path("entry.safetensors"), R"({"a": 3})", 0),
                     Contains("'a'") && Contains("not an object"));
  // A shape of 2,000 zeros describes an empty tensor, but no tensor needs that many dimensions.
  std::string zeros = "0";
  for (int i = 1; i < 2000; ++i) zeros += ",0";
  REQUIRE_LOAD_FAILS(
      raw_file(temp_path("rank.safetensors"),
               R"({"a": {"dtype": "F32", "shape": [)" + zeros + R"(], "data_offsets": [0, 0]}})", 0),
      Contains("'a'") && Contains("more than 1024 JSON values"));
}

namespace {

// A header of n zero-size tensors "t0000000".."t{n-1}" (and optionally a repeat of the first).
std::string many_entries(int n, bool repeat_first) {
  std::string h = "{";
  for (int i = 0; i <= n; ++i) {
    if (i == n && !repeat_first) break;
    char name[16];
    std::snprintf(name, sizeof(name), "t%07d", i == n ? 0 : i);
    h += std::string(i ? "," : "") + "\"" + name +
         R"(":{"dtype":"F32","shape":[0],"data_offsets":[0,0]})";
  }
  return h + "}";
}

double seconds_of(const std::function<void()>& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

long max_rss_kb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

}  // namespace

// Duplicate keys used to be caught by a json::parse callback, which rescans the top-level object
// after each entry: > 100 s for these 80,000 entries (5 MB). Linear parsing takes ~0.2 s; the
// bound is 20x that, far below the quadratic time.
TEST_CASE("safetensors: a header of 80,000 entries parses in linear time", "[safetensors]") {
  const int n = 80000;
  const std::string path = raw_file(temp_path("many.safetensors"), many_entries(n, false), 0);
  st::File f;
  CHECK(seconds_of([&] { f = st::load(path); }) < 5.0);
  REQUIRE(f.tensors.size() == std::size_t(n));
  CHECK(f.tensors.back().second.sizes() == torch::IntArrayRef({0}));

  const std::string dup = raw_file(temp_path("many_dup.safetensors"), many_entries(n, true), 0);
  std::string message;
  CHECK(seconds_of([&] { message = vitnas::test::input_error([&] { st::load(dup); }); }) < 5.0);
  CHECK_THAT(message, Contains("duplicate tensor key 't0000000'"));
}

// A valid-looking header of more entries than the tensor cap is refused at the first entry past
// it: before the cap, a 100 MB header of 1.45 M such entries cost 18 s and 906 MB to load.
TEST_CASE("safetensors: more than 100,000 tensors are refused", "[safetensors]") {
  const std::string path =
      raw_file(temp_path("too_many.safetensors"), many_entries(100'001, false), 0);
  REQUIRE_LOAD_FAILS(path, Contains("more than 100000 tensors"));
}

// A 1 GiB tensor declared in the header of a sparse file (no disk used): the caller's checks
// see the header before any data is read or allocated. Reading it would grow the peak RSS by
// 1 GiB, so the criterion is the peak, not the time.
TEST_CASE("safetensors: checks run on the header before the data is read", "[safetensors]") {
  const std::uint64_t big = std::uint64_t{1} << 30;
  const std::string header = R"({"small": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
      "huge": {"dtype": "F32", "shape": [268435456], "data_offsets": [8, )" +
                             std::to_string(8 + big) + "]}}";
  const std::string path = raw_file(temp_path("sparse.safetensors"), header, 8);
  fs::resize_file(path, 8 + header.size() + 8 + big);
  const long rss_before = max_rss_kb();

  std::vector<std::string> seen;
  st::Checks checks;
  checks.each = [&](const st::TensorInfo& t) {
    seen.push_back(t.name);
    vitnas::require(t.name != "huge", path + ": unexpected tensor '" + t.name + "'");
  };
  REQUIRE_THROWS_WITH(st::load(path, checks), Contains("unexpected tensor 'huge'"));
  CHECK(seen == std::vector<std::string>({"small", "huge"}));

  const st::Header h = st::read_header(path);
  REQUIRE(h.tensors.size() == 2);
  CHECK(h.tensors[1].name == "huge");
  CHECK(h.tensors[1].dtype == torch::kFloat32);
  CHECK(h.tensors[1].shape == std::vector<std::int64_t>{268435456});

  bool all_ran = false;
  checks.each = nullptr;
  checks.all = [&](const st::Header& header) {
    all_ran = header.tensors.size() == 2;
    throw vitnas::InputError(path + ": rejected after the whole header");
  };
  REQUIRE_THROWS_WITH(st::load(path, checks), Contains("rejected after the whole header"));
  CHECK(all_ran);
  CHECK(max_rss_kb() - rss_before < 100 * 1024);
}

// Weights: a file naming a tensor the model lacks fails on its header, not after reading it.
TEST_CASE("load_weights rejects an unexpected key before reading its data", "[safetensors]") {
  auto model = vitnas::build_model(
      vitnas::arch_from_json(nlohmann::json::parse(vitnas::test::kTinyViTSpec)));
  const std::string path = temp_path("weights_plus_huge.safetensors");
  vitnas::save_weights(*model, path);
  // Add a 1 GiB "extra.weight" to the header, stored sparsely after the real data.
  std::ifstream in(path, std::ios::binary);
  unsigned char len[8];
  in.read(reinterpret_cast<char*>(len), 8);
  std::uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len[i];
  std::string header(header_len, ' ');
  in.read(header.data(), static_cast<std::streamsize>(header_len));
  const std::uint64_t data_size = fs::file_size(path) - 8 - header_len;
  std::string data(data_size, '\0');
  in.read(data.data(), static_cast<std::streamsize>(data_size));
  in.close();
  const std::uint64_t big = std::uint64_t{1} << 30;
  auto j = nlohmann::json::parse(header);
  j["extra.weight"] = {
      {"dtype", "F32"}, {"shape", {big / 4}}, {"data_offsets", {data_size, data_size + big}}};
  const std::string text = j.dump();
  write_bytes(path, le64(text.size()) + text + data);
  fs::resize_file(path, 8 + text.size() + data_size + big);

  const long rss_before = max_rss_kb();
  const std::string message = vitnas::test::input_error([&] { vitnas::load_weights(*model, path); });
  CHECK_THAT(message, Contains(path) && Contains("unexpected weight 'extra.weight'"));
  CHECK(max_rss_kb() - rss_before < 100 * 1024);
}
