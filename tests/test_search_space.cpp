// Search spaces: the shipped spaces, sampling (valid, contained, deterministic, covering every
// choice), JSON round trips, and errors that name the JSON path.
#include <cstdio>
#include <functional>
#include <random>
#include <set>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "core/arch_spec.h"
#include "core/error.h"
#include "core/io.h"
#include "core/search_space.h"
#include "fixtures.h"

using nlohmann::json;
using namespace vitnas;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

std::string space_path(const std::string& name) {
  return std::string(VITNAS_SOURCE_DIR) + "/experiments/spaces/" + name + ".json";
}

using vitnas::test::input_error;

json small_json() { return read_json_file(space_path("small")); }
std::string parse_error(const json& j) {
  return input_error([&] { space_from_json(j); });
}

// Everything a set of samples chose, as strings, to check coverage against the space.
struct Seen {
  std::set<std::string> items;
  void add(const std::string& what, const std::string& value) { items.insert(what + "=" + value); }
  bool has(const std::string& what, const std::string& value) const {
    return items.count(what + "=" + value) > 0;
  }
};

void record(const ArchSpec& a, Seen& seen) {
  seen.add("img_size", std::to_string(a.img_size));
  const auto& stages = a.efficientvit.stages;
  for (size_t i = 0; i < stages.size(); ++i) {
    const std::string s = "s" + std::to_string(i) + ".";
    const StageSpec& st = stages[i];
    seen.add(s + "embed_dim", std::to_string(st.embed_dim));
    seen.add(s + "depth", std::to_string(st.blocks.size()));
    if (st.downsample) {
      seen.add(s + "ds_hidden", std::to_string(st.downsample->hidden));
      seen.add(s + "ds_ffn_before", std::to_string(st.downsample->ffn_before.size()));
    }
    for (const BlockSpec& b : st.blocks) {
      seen.add(s + "ffn_before", std::to_string(b.ffn_before.size()));
      for (int h : b.ffn_before) seen.add(s + "ratio", std::to_string(h / st.embed_dim));
      seen.add(s + "attention", b.attention ? "true" : "false");
      if (!b.attention) continue;
      seen.add(s + "cascade", b.attention->cascade ? "true" : "false");
      seen.add(s + "heads", std::to_string(b.attention->heads.size()));
      for (const HeadSpec& h : b.attention->heads) {
        seen.add(s + "key_dim", std::to_string(h.key_dim));
        seen.add(s + "kernel", std::to_string(h.kernel));
        seen.add(s + "kind", to_string(h.kind));
      }
    }
  }
}

}  // namespace

// ---- the shipped spaces ----------------------------------------------------------------

TEST_CASE("efficientvit_m.json contains the six official presets", "[space]") {
  const SearchSpace s = load_space(space_path("efficientvit_m"));
  CHECK(s.name == "efficientvit_m");
  for (const char* name : {"m0", "m1", "m2", "m3", "m4", "m5"}) {
    INFO(name);
    CHECK(contains(s, preset(name)));
  }
  CHECK_FALSE(contains(s, preset("vit_7_4_32")));
  CHECK(space_size_log10(s) > 10);
}

TEST_CASE("contains rejects specs outside the space", "[space]") {
  const SearchSpace s = load_space(space_path("efficientvit_m"));
  const ArchSpec m0 = preset("m0");
  REQUIRE(contains(s, m0));

  ArchSpec wide = m0;  // 160 is not a stage-2 width choice (4 heads of 40 would be valid)
  wide.efficientvit.stages[1].embed_dim = 160;
  for (auto& b : wide.efficientvit.stages[1].blocks) {
    b.ffn_before = b.ffn_after = {320};
    for (auto& h : b.attention->heads) h.v_dim = 40;
  }
  wide.efficientvit.stages[1].downsample->ffn_after = {320};
  wide.efficientvit.stages[2].downsample->ffn_before = {320};
  wide.efficientvit.stages[2].downsample->hidden = 640;
  REQUIRE_NOTHROW(validate(wide));
  CHECK_FALSE(contains(s, wide));

  ArchSpec key = m0;
  key.efficientvit.stages[2].blocks[1].attention->heads[0].key_dim = 32;
  CHECK_FALSE(contains(s, key));
  ArchSpec res = m0;
  res.img_size = 256;
  CHECK_FALSE(contains(s, res));
  ArchSpec deep = m0;
  deep.efficientvit.stages[0].blocks.push_back(deep.efficientvit.stages[0].blocks[0]);
  CHECK_FALSE(contains(s, deep));
  ArchSpec ffn = m0;
  ffn.efficientvit.stages[1].blocks[0].ffn_after = {384};  // ratio 3
  CHECK_FALSE(contains(s, ffn));
  ArchSpec stem = m0;
  stem.efficientvit.stem = {16, 32, 64};
  CHECK_FALSE(contains(s, stem));
  ArchSpec distilled = m0;
  distilled.distillation = true;
  CHECK_FALSE(contains(s, distilled));
  ArchSpec no_attention = m0;  // the space allows attention-free blocks
  no_attention.efficientvit.stages[2].blocks[0].attention.reset();
  CHECK(contains(s, no_attention));

  CHECK_FALSE(contains(load_space(space_path("small")), m0));
}

// ---- sampling --------------------------------------------------------------------------

TEST_CASE("samples are valid and contained in their space", "[space]") {
  for (const char* name : {"efficientvit_m", "small"}) {
    INFO(name);
    const SearchSpace s = load_space(space_path(name));
    std::mt19937_64 rng(7);
    for (int i = 0; i < 500; ++i) {
      const ArchSpec a = sample(s, rng);
      CHECK(a.name == "sample");
      REQUIRE_NOTHROW(validate(a));
      REQUIRE(contains(s, a));
      REQUIRE(arch_from_json(arch_to_json(a)) == a);
    }
  }
}

TEST_CASE("the same seed gives the same samples, different seeds differ", "[space]") {
  const SearchSpace s = load_space(space_path("small"));
  std::mt19937_64 a(123), b(123), c(124);
  int differ = 0;
  for (int i = 0; i < 50; ++i) {
    const ArchSpec x = sample(s, a);
    CHECK(sample(s, b) == x);
    differ += sample(s, c) != x;
  }
  CHECK(differ > 40);
}

TEST_CASE("the draw order is fixed (golden sample)", "[space]") {
  // If this fails, the draw order changed: every seed now names different networks. Update the
  // documentation in search_space.h together with these values.
  const SearchSpace s = load_space(space_path("efficientvit_m"));
  std::mt19937_64 rng(42);
  const ArchSpec a = sample(s, rng);
  std::vector<int> widths, depths;
  for (const auto& st : a.efficientvit.stages) {
    widths.push_back(st.embed_dim);
    depths.push_back(static_cast<int>(st.blocks.size()));
  }
  CHECK(widths == std::vector<int>{192, 288, 192});
  CHECK(depths == std::vector<int>{1, 3, 4});
  const auto& first = a.efficientvit.stages[0].blocks[0].attention;
  REQUIRE(first.has_value());
  REQUIRE(first->heads.size() == 3);
  CHECK(first->heads[0] == HeadSpec{16, 64, 3, AttentionKind::Softmax});
  CHECK(first->heads[1] == HeadSpec{16, 64, 3, AttentionKind::Scaling});
  CHECK(first->heads[2] == HeadSpec{16, 64, 7, AttentionKind::ReluSoftmax});
  for (const auto& b : a.efficientvit.stages[1].blocks) CHECK_FALSE(b.attention.has_value());
}

TEST_CASE("samples cover every choice of small.json", "[space]") {
  const SearchSpace s = load_space(space_path("small"));
  std::mt19937_64 rng(1);
  Seen seen;
  for (int i = 0; i < 500; ++i) record(sample(s, rng), seen);
  for (size_t i = 0; i < s.stages.size(); ++i) {
    const StageChoices& c = s.stages[i];
    const std::string p = "s" + std::to_string(i) + ".";
    INFO("stage " << i);
    for (int w : c.embed_dim) CHECK(seen.has(p + "embed_dim", std::to_string(w)));
    for (int d : c.depth) CHECK(seen.has(p + "depth", std::to_string(d)));
    for (int h : c.heads) CHECK(seen.has(p + "heads", std::to_string(h)));
    for (int k : c.key_dim) CHECK(seen.has(p + "key_dim", std::to_string(k)));
    for (int k : c.kernel) CHECK(seen.has(p + "kernel", std::to_string(k)));
    for (AttentionKind k : c.kinds) CHECK(seen.has(p + "kind", to_string(k)));
    for (bool b : c.cascade) CHECK(seen.has(p + "cascade", b ? "true" : "false"));
    for (bool b : c.attention) CHECK(seen.has(p + "attention", b ? "true" : "false"));
    for (int n : c.ffn_before) CHECK(seen.has(p + "ffn_before", std::to_string(n)));
    for (double r : c.ffn_ratio) CHECK(seen.has(p + "ratio", std::to_string(static_cast<int>(r))));
    if (i == 0) continue;
    for (int n : c.downsample_ffn_before) CHECK(seen.has(p + "ds_ffn_before", std::to_string(n)));
    for (double r : c.downsample_ratio) {
      for (int prev : s.stages[i - 1].embed_dim)
        CHECK(seen.has(p + "ds_hidden", std::to_string(scaled_width(r, prev))));
    }
  }
}

TEST_CASE("efficientvit_m samples use every width, head count and kind", "[space]") {
  const SearchSpace s = load_space(space_path("efficientvit_m"));
  std::mt19937_64 rng(3);
  Seen seen;
  for (int i = 0; i < 500; ++i) record(sample(s, rng), seen);
  for (size_t i = 0; i < s.stages.size(); ++i) {
    const std::string p = "s" + std::to_string(i) + ".";
    for (int w : s.stages[i].embed_dim) CHECK(seen.has(p + "embed_dim", std::to_string(w)));
    for (const char* h : {"2", "3", "4"}) CHECK(seen.has(p + "heads", h));
    for (const char* k : {"softmax", "relu_softmax", "scaling"}) CHECK(seen.has(p + "kind", k));
    for (const char* k : {"3", "5", "7"}) CHECK(seen.has(p + "kernel", k));
  }
}

TEST_CASE("only head counts that divide the width are drawn", "[space]") {
  StageChoices c;
  c.heads = {2, 3, 4, 5};
  CHECK(head_choices(c, 64) == std::vector<int>{2, 4});
  CHECK(head_choices(c, 60) == std::vector<int>{2, 3, 4, 5});
  CHECK(head_choices(c, 7).empty());
  CHECK(hidden_choices({2, 1.5, 2.0}, 30) == std::vector<int>{45, 60});
  CHECK(scaled_width(1.5, 5) == 8);  // halves round away from zero
}

TEST_CASE("stage sides follow the stem and the downsamples", "[space]") {
  CHECK(stage_sides(load_space(space_path("efficientvit_m")), 224) == std::vector<int>{14, 7, 4});
  CHECK(stage_sides(load_space(space_path("small")), 32) == std::vector<int>{8, 4, 2});
}

// ---- JSON ------------------------------------------------------------------------------

TEST_CASE("spaces survive a JSON round trip", "[space]") {
  for (const char* name : {"efficientvit_m", "small"}) {
    INFO(name);
    const SearchSpace s = load_space(space_path(name));
    const json j = space_to_json(s);
    CHECK(space_to_json(space_from_json(j)) == j);
    CHECK(space_to_json(space_from_json(json::parse(j.dump()))) == j);
    CHECK_FALSE(j["stages"][0].contains("downsample_ratio"));
  }
}

TEST_CASE("single values stand for one-element lists, defaults apply", "[space]") {
  json j = small_json();
  j["img_size"] = 64;
  j["stages"][0]["depth"] = 2;
  j["stages"][0]["window"] = json::array({5});
  j["stages"][1]["kinds"] = "scaling";
  j["stages"][1]["cascade"] = false;
  j["stages"][2]["ffn_ratio"] = 1.5;
  j.erase("in_chans");
  j.erase("num_classes");
  const SearchSpace s = space_from_json(j);
  CHECK(s.img_size == std::vector<int>{64});
  CHECK(s.stages[0].depth == std::vector<int>{2});
  CHECK(s.stages[0].window == 5);
  CHECK((s.stages[1].kinds == std::vector<AttentionKind>{AttentionKind::Scaling}));
  CHECK(s.stages[1].cascade == std::vector<bool>{false});
  CHECK(s.stages[2].ffn_ratio == std::vector<double>{1.5});
  CHECK(s.in_chans == 3);
  CHECK(s.num_classes == 1000);
  std::mt19937_64 rng(0);
  for (int i = 0; i < 50; ++i) CHECK(contains(s, sample(s, rng)));
}

TEST_CASE("bad spaces are refused with the JSON path", "[space]") {
  json j = small_json();
  REQUIRE_NOTHROW(space_from_json(j));

  SECTION("no heads choice divides a width") {
    j["stages"][1]["heads"] = {5, 7};
    CHECK_THAT(parse_error(j), StartsWith("stages[1].heads:") && Contains("32"));
  }
  SECTION("even kernel") {
    j["stages"][0]["kernel"] = {3, 4};
    CHECK_THAT(parse_error(j), StartsWith("stages[0].kernel[1]:") && Contains("odd"));
  }
  SECTION("unknown key") {
    j["stages"][2]["kernels"] = {3};
    CHECK_THAT(parse_error(j), StartsWith("stages[2].kernels:") && Contains("unknown key"));
    json top = small_json();
    top["seed"] = 1;
    CHECK_THAT(parse_error(top), StartsWith("seed:") && Contains("unknown key"));
  }
  SECTION("empty list") {
    j["stages"][1]["depth"] = json::array();
    CHECK_THAT(parse_error(j), StartsWith("stages[1].depth:") && Contains("empty"));
    json k = small_json();
    k["img_size"] = json::array();
    CHECK_THAT(parse_error(k), StartsWith("img_size:"));
  }
  SECTION("non-numeric value") {
    j["stages"][0]["embed_dim"] = {16, "32"};
    CHECK_THAT(parse_error(j), StartsWith("stages[0].embed_dim[1]:") && Contains("integer"));
    json r = small_json();
    r["stages"][2]["ffn_ratio"] = {1, "two"};
    CHECK_THAT(parse_error(r), StartsWith("stages[2].ffn_ratio[1]:") && Contains("number"));
    json f = small_json();
    f["stages"][2]["depth"] = 1.5;
    CHECK_THAT(parse_error(f), StartsWith("stages[2].depth:") && Contains("integer"));
  }
  SECTION("unknown kind") {
    j["stages"][1]["kinds"] = {"softmax", "linear"};
    CHECK_THAT(parse_error(j), StartsWith("stages[1].kinds[1]:") && Contains("relu_softmax"));
  }
  SECTION("non-positive and repeated values") {
    j["stages"][1]["embed_dim"] = {32, 0};
    CHECK_THAT(parse_error(j), StartsWith("stages[1].embed_dim[1]:"));
    json r = small_json();
    r["stages"][0]["key_dim"] = {8, 8};
    CHECK_THAT(parse_error(r), StartsWith("stages[0].key_dim[1]:") && Contains("repeats"));
    json n = small_json();
    n["stages"][0]["ffn_before"] = {-1};
    CHECK_THAT(parse_error(n), StartsWith("stages[0].ffn_before[0]:"));
    json z = small_json();
    z["stages"][0]["ffn_ratio"] = {0.01};
    CHECK_THAT(parse_error(z), StartsWith("stages[0].ffn_ratio[0]:"));
  }
  SECTION("downsample fields on the first stage, missing on a later one") {
    j["stages"][0]["downsample_ratio"] = {4};
    CHECK_THAT(parse_error(j), StartsWith("stages[0].downsample_ratio:") && Contains("first"));
    json m = small_json();
    m["stages"][2].erase("downsample_ffn_after");
    CHECK_THAT(parse_error(m),
               StartsWith("stages[2].downsample_ffn_after:") && Contains("missing"));
  }
  SECTION("stem divisors") {
    j["stem_divisors"] = {3, 1};
    CHECK_THAT(parse_error(j), StartsWith("stem_divisors[0]:") && Contains("16"));
    json l = small_json();
    l["stem_divisors"] = {1, 2};
    CHECK_THAT(parse_error(l), StartsWith("stem_divisors[1]:"));
  }
  SECTION("window") {
    j["stages"][1]["window"] = {4, 7};
    CHECK_THAT(parse_error(j), StartsWith("stages[1].window:"));
    json w = small_json();
    w["stages"][1]["window"] = 0;
    CHECK_THAT(parse_error(w), StartsWith("stages[1].window:"));
  }
  SECTION("no stages") {
    j["stages"] = json::array();
    CHECK_THAT(parse_error(j), StartsWith("stages:"));
  }
}

TEST_CASE("validate checks a space built in code", "[space]") {
  SearchSpace s = space_from_json(small_json());
  s.stages[0].downsample_ratio = {2};
  CHECK_THAT(input_error([&] { validate(s); }), StartsWith("stages[0].downsample_ratio:"));
  s = space_from_json(small_json());
  s.stages[2].kinds.clear();
  CHECK_THAT(input_error([&] { validate(s); }), StartsWith("stages[2].kinds:"));
  std::mt19937_64 rng(0);
  CHECK_THAT(input_error([&] { sample(s, rng); }), StartsWith("stages[2].kinds:"));
}

TEST_CASE("load_space names the file, then the path", "[space]") {
  const std::string path = vitnas::test::scratch_path("space_bad.json");
  json j = small_json();
  j["stages"][0]["kernel"] = 2;  // a lone value is read as [2], so the path has [0]
  write_json_file_atomic(path, j);
  CHECK_THAT(input_error([&] { load_space(path); }), StartsWith(path + ": stages[0].kernel[0]:"));
  std::remove(path.c_str());
  CHECK_THAT(input_error([&] { load_space(path); }), StartsWith(path));
}

TEST_CASE("sample_distinct skips excluded networks whatever their names", "[space]") {
  const SearchSpace s = load_space(space_path("small"));
  const std::vector<ArchSpec> first = sample_distinct(s, 5, 11, {}, "n");
  REQUIRE(first.size() == 5);
  CHECK(first[0].name == "n0");
  CHECK(first[4].name == "n4");
  for (size_t i = 0; i < first.size(); ++i)
    for (size_t j = i + 1; j < first.size(); ++j) CHECK_FALSE(same_network(first[i], first[j]));
  // The same seed with the first draw excluded (under another name) starts from the second.
  ArchSpec excluded = first[0];
  excluded.name = "renamed";
  const std::vector<ArchSpec> rest = sample_distinct(s, 4, 11, {excluded}, "n");
  REQUIRE(rest.size() == 4);
  for (size_t i = 0; i < rest.size(); ++i) {
    CHECK_FALSE(same_network(rest[i], excluded));
    CHECK(same_network(rest[i], first[i + 1]));
  }
}
