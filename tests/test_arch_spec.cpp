// ArchSpec: JSON round trips, presets, strict parsing, and one test per validation rule.
// Every error test checks the exception type and that the message starts with the JSON path.
#include <cstdio>
#include <functional>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "core/arch_spec.h"
#include "core/error.h"
#include "core/io.h"
#include "fixtures.h"

using nlohmann::json;
using namespace vitnas;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

using vitnas::test::input_error;

std::string parse_error(const json& j) {
  return input_error([&] { arch_from_json(j); });
}

json m0_json() { return arch_to_json(preset("m0")); }
json vit_json() { return arch_to_json(preset("vit_7_4_32")); }

std::string temp_path(const std::string& stem) {
  return vitnas::test::scratch_path("arch_" + stem + ".json");
}

}  // namespace

// ---- presets and round trips -----------------------------------------------------------

TEST_CASE("every preset survives a JSON round trip exactly", "[arch]") {
  REQUIRE(preset_names().size() == 9);
  for (const auto& name : preset_names()) {
    SECTION(name) {
      REQUIRE(is_preset(name));
      const ArchSpec spec = preset(name);
      CHECK(spec.name == name);
      const json j = arch_to_json(spec);
      CHECK(arch_from_json(j) == spec);                // spec -> json -> spec
      CHECK(arch_to_json(arch_from_json(j)) == j);     // canonical json -> spec -> json
      CHECK(arch_from_json(json::parse(j.dump())) == spec);  // through text
    }
  }
}

TEST_CASE("save_arch and load_arch round trip through a file", "[arch]") {
  const std::string path = temp_path("save");
  for (const auto& name : preset_names()) {
    save_arch(preset(name), path);
    CHECK(load_arch(path) == preset(name));
    CHECK(load_arch(name) == preset(name));
  }
  std::remove(path.c_str());
}

TEST_CASE("m0 expands to the official network", "[arch]") {
  const ArchSpec m0 = preset("m0");
  REQUIRE(m0.family == Family::EfficientViT);
  CHECK(m0.img_size == 224);
  CHECK(m0.in_chans == 3);
  CHECK(m0.num_classes == 1000);
  CHECK_FALSE(m0.distillation);
  CHECK(m0.efficientvit.stem == std::vector<int>{8, 16, 32, 64});
  const auto& stages = m0.efficientvit.stages;
  REQUIRE(stages.size() == 3);
  CHECK_FALSE(stages[0].downsample.has_value());
  REQUIRE(stages[1].downsample.has_value());
  CHECK(*stages[1].downsample == DownsampleSpec{{128}, 256, {256}});
  CHECK(*stages[2].downsample == DownsampleSpec{{256}, 512, {384}});
  CHECK(stages[0].blocks.size() == 1);
  CHECK(stages[1].blocks.size() == 2);
  CHECK(stages[2].blocks.size() == 3);
  const BlockSpec& b = stages[2].blocks[0];
  CHECK(b.ffn_before == std::vector<int>{384});
  CHECK(b.ffn_after == std::vector<int>{384});
  REQUIRE(b.attention.has_value());
  CHECK(b.attention->cascade);
  REQUIRE(b.attention->heads.size() == 4);
  for (const auto& h : b.attention->heads) {
    CHECK(h == HeadSpec{16, 48, 5, AttentionKind::Softmax});
  }
  for (const auto& s : stages) CHECK(s.window == 7);
  CHECK(stem_stride(m0) == 16);
  CHECK(stage_resolutions(m0) == std::vector<int>{14, 7, 4});
}

TEST_CASE("m5 uses per-head kernels and its own depths", "[arch]") {
  const ArchSpec m5 = preset("m5");
  const auto& stages = m5.efficientvit.stages;
  CHECK(m5.efficientvit.stem == std::vector<int>{24, 48, 96, 192});
  CHECK(stages[1].blocks.size() == 3);
  CHECK(stages[2].blocks.size() == 4);
  const auto& heads = stages[0].blocks[0].attention->heads;  // 3 heads of 64 on 192
  REQUIRE(heads.size() == 3);
  CHECK(heads[0] == HeadSpec{16, 64, 7, AttentionKind::Softmax});
  CHECK(heads[1] == HeadSpec{16, 64, 5, AttentionKind::Softmax});
  CHECK(heads[2] == HeadSpec{16, 64, 3, AttentionKind::Softmax});
  CHECK(*stages[2].downsample == DownsampleSpec{{576}, 1152, {768}});
}

TEST_CASE("vit presets", "[arch]") {
  const ArchSpec v = preset("vit_9_12_64");
  REQUIRE(v.family == Family::ViT);
  CHECK(v.img_size == 64);
  CHECK(v.num_classes == 200);
  CHECK(v.vit.patch_size == 4);
  CHECK(v.vit.embed_dim == 192);
  CHECK_FALSE(v.vit.qkv_bias);
  CHECK(v.vit.style == LayerStyle::CCT);
  REQUIRE(v.vit.layers.size() == 9);
  CHECK(v.vit.layers[8].heads.size() == 12);
  CHECK(v.vit.layers[8].heads[11] == ViTHeadSpec{16, 16, AttentionKind::Softmax});
  CHECK(v.vit.layers[8].mlp_hidden == 384);
  CHECK(v.vit.layers[8].act == Activation::GELU);

  const ArchSpec d = preset("deit_tiny");
  CHECK(d.vit.qkv_bias);
  CHECK(d.vit.style == LayerStyle::DeiT);
  CHECK(d.vit.layers.size() == 12);
  CHECK(d.vit.layers[0].heads.size() == 3);
}

TEST_CASE("unknown names are refused with the list of presets", "[arch]") {
  const std::string p = input_error([] { preset("m9"); });
  CHECK_THAT(p, Contains("m9") && Contains("m0") && Contains("deit_tiny"));
  CHECK_FALSE(is_preset("m9"));
  const std::string l = input_error([] { load_arch("no_such_arch"); });
  CHECK_THAT(l, Contains("no_such_arch") && Contains("m5") && Contains("vit_7_4_32"));
}

TEST_CASE("load_arch names the file and the JSON path", "[arch]") {
  const std::string path = temp_path("bad");
  json j = m0_json();
  j["stages"][0]["window"] = 0;
  write_json_file_atomic(path, j);
  const std::string msg = input_error([&] { load_arch(path); });
  CHECK_THAT(msg, StartsWith(path + ": stages[0].window:"));
  std::remove(path.c_str());
}

TEST_CASE("enum names", "[arch]") {
  CHECK(to_string(Family::EfficientViT) == "efficientvit");
  CHECK(to_string(Family::ViT) == "vit");
  CHECK(to_string(AttentionKind::Softmax) == "softmax");
  CHECK(to_string(AttentionKind::ReluSoftmax) == "relu_softmax");
  CHECK(to_string(AttentionKind::Scaling) == "scaling");
  CHECK(to_string(Activation::GELU) == "gelu");
  CHECK(to_string(Activation::ReLU) == "relu");
  CHECK(to_string(Activation::Identity) == "identity");
  CHECK(to_string(LayerStyle::DeiT) == "deit");
  CHECK(to_string(LayerStyle::CCT) == "cct");
}

// ---- the hand-written custom spec ------------------------------------------------------

TEST_CASE("a custom spec with non-preset features parses and round trips", "[arch]") {
  const json j = json::parse(test::kCustomSpec);
  const ArchSpec spec = arch_from_json(j);
  CHECK(spec.distillation);
  CHECK(stem_stride(spec) == 4);
  CHECK(stage_resolutions(spec) == std::vector<int>{8, 4, 2});
  const auto& stages = spec.efficientvit.stages;
  CHECK(stages[0].blocks[0].ffn_before == std::vector<int>{64, 48});
  CHECK_FALSE(stages[0].blocks[0].attention->cascade);
  CHECK(stages[0].blocks[0].attention->heads[0] == HeadSpec{8, 24, 3, AttentionKind::Softmax});
  CHECK(stages[0].blocks[0].attention->heads[1] ==
        HeadSpec{8, 8, 1, AttentionKind::ReluSoftmax});
  CHECK_FALSE(stages[0].blocks[1].attention.has_value());
  CHECK(stages[1].blocks[0].attention->heads[0].kind == AttentionKind::Scaling);
  CHECK(stages[2].blocks.empty());  // a stage that is only its downsample is allowed
  CHECK(arch_to_json(spec) == j);
  CHECK(arch_from_json(arch_to_json(spec)) == spec);
}

// ---- strict parsing --------------------------------------------------------------------

TEST_CASE("optional keys take their documented defaults", "[arch]") {
  json e = m0_json();
  e.erase("distillation");
  CHECK_FALSE(arch_from_json(e).distillation);
  json v = vit_json();
  v.erase("distillation");
  v.erase("qkv_bias");
  v.erase("style");
  const ArchSpec spec = arch_from_json(v);
  CHECK_FALSE(spec.distillation);
  CHECK(spec.vit.qkv_bias);
  CHECK(spec.vit.style == LayerStyle::DeiT);
}

TEST_CASE("a missing required key names its path", "[arch]") {
  json j = m0_json();
  j["stages"][0].erase("embed_dim");
  CHECK(parse_error(j) == "stages[0].embed_dim: missing");
  json k = m0_json();
  k["stages"][1]["blocks"][0].erase("attention");  // null is allowed, absence is not
  CHECK(parse_error(k) == "stages[1].blocks[0].attention: missing");
  json f = m0_json();
  f.erase("family");
  CHECK(parse_error(f) == "family: missing");
  json v = vit_json();
  v["layers"][2]["heads"][1].erase("qk_dim");
  CHECK(parse_error(v) == "layers[2].heads[1].qk_dim: missing");
}

TEST_CASE("a value of the wrong JSON type names its path", "[arch]") {
  json j = m0_json();
  j["img_size"] = "224";
  CHECK(parse_error(j) == "img_size: expected an integer, got \"224\"");
  json f = m0_json();
  f["stages"][0]["window"] = 7.5;
  CHECK(parse_error(f) == "stages[0].window: expected an integer, got 7.5");
  json b = m0_json();
  b["stages"][0]["blocks"][0]["attention"]["cascade"] = 1;
  CHECK(parse_error(b) == "stages[0].blocks[0].attention.cascade: expected true or false, got 1");
  json a = m0_json();
  a["stages"][0]["blocks"][0]["ffn_before"] = 128;
  CHECK(parse_error(a) == "stages[0].blocks[0].ffn_before: expected an array, got 128");
  json o = m0_json();
  o["stages"][1]["downsample"] = json::array();
  CHECK(parse_error(o) == "stages[1].downsample: expected an object, got an array");
  json big = m0_json();
  big["num_classes"] = 5000000000LL;
  CHECK_THAT(parse_error(big), StartsWith("num_classes: integer out of range"));
  CHECK_THAT(parse_error(json::array()), StartsWith("(root): expected an object"));
}

TEST_CASE("unknown keys are rejected, not ignored", "[arch]") {
  json j = m0_json();
  j["stages"][0]["blocks"][0]["ffn"] = json::array({128});
  CHECK_THAT(parse_error(j), StartsWith("stages[0].blocks[0].ffn: unknown key"));
  json top = m0_json();
  top["patch_size"] = 16;  // a vit key in an efficientvit spec
  CHECK_THAT(parse_error(top), StartsWith("patch_size: unknown key"));
  json head = vit_json();
  head["layers"][0]["heads"][0]["key_dim"] = 16;  // efficientvit's name in a vit head
  CHECK_THAT(parse_error(head), StartsWith("layers[0].heads[0].key_dim: unknown key"));
}

TEST_CASE("unknown enum names list the valid values", "[arch]") {
  json f = m0_json();
  f["family"] = "levit";
  CHECK(parse_error(f) == "family: unknown family \"levit\" (valid: efficientvit, vit)");
  json k = m0_json();
  k["stages"][0]["blocks"][0]["attention"]["heads"][1]["kind"] = "linear";
  CHECK(parse_error(k) == "stages[0].blocks[0].attention.heads[1].kind: unknown kind \"linear\" "
                          "(valid: softmax, relu_softmax, scaling)");
  json a = vit_json();
  a["layers"][3]["act"] = "silu";
  CHECK(parse_error(a) == "layers[3].act: unknown act \"silu\" (valid: gelu, relu, identity)");
  json s = vit_json();
  s["style"] = "swin";
  CHECK(parse_error(s) == "style: unknown style \"swin\" (valid: deit, cct)");
}

// ---- validation rules: one test each ---------------------------------------------------

TEST_CASE("rule: img_size, in_chans and num_classes are positive", "[arch]") {
  for (const char* key : {"img_size", "in_chans", "num_classes"}) {
    json j = m0_json();
    j[key] = 0;
    CHECK(parse_error(j) == std::string(key) + ": must be positive, got 0");
    json v = vit_json();
    v[key] = -1;
    CHECK_THAT(parse_error(v), StartsWith(std::string(key) + ": must be positive"));
  }
}

TEST_CASE("rule: stem widths are positive", "[arch]") {
  json j = m0_json();
  j["stem"][1] = 0;
  CHECK(parse_error(j) == "stem[1]: must be positive, got 0");
}

TEST_CASE("rule: the stem is not empty", "[arch]") {
  json j = m0_json();
  j["stem"] = json::array();
  CHECK_THAT(parse_error(j), StartsWith("stem: "));
}

TEST_CASE("rule: the stem ends at stages[0].embed_dim", "[arch]") {
  json j = m0_json();
  j["stem"][3] = 32;
  CHECK(parse_error(j) == "stem[3]: the last stem width must equal stages[0].embed_dim = 64, got 32");
}

TEST_CASE("rule: at least one stage", "[arch]") {
  json j = m0_json();
  j["stages"] = json::array();
  CHECK_THAT(parse_error(j), StartsWith("stages: needs at least one stage"));
}

TEST_CASE("rule: stage embed_dim is positive", "[arch]") {
  json j = m0_json();
  j["stages"][2]["embed_dim"] = -192;
  CHECK(parse_error(j) == "stages[2].embed_dim: must be positive, got -192");
}

TEST_CASE("rule: window >= 1", "[arch]") {
  json j = m0_json();
  j["stages"][1]["window"] = 0;
  CHECK_THAT(parse_error(j), StartsWith("stages[1].window: must be >= 1"));
}

TEST_CASE("rule: the first stage has no downsample", "[arch]") {
  json j = m0_json();
  j["stages"][0]["downsample"] = {{"ffn_before", json::array({128})},
                                  {"hidden", 256},
                                  {"ffn_after", json::array({128})}};
  CHECK_THAT(parse_error(j), StartsWith("stages[0].downsample: must be null"));
}

TEST_CASE("rule: every later stage has a downsample", "[arch]") {
  json j = m0_json();
  j["stages"][2]["downsample"] = nullptr;
  CHECK_THAT(parse_error(j), StartsWith("stages[2].downsample: must not be null"));
}

TEST_CASE("rule: downsample widths are positive", "[arch]") {
  json h = m0_json();
  h["stages"][1]["downsample"]["hidden"] = 0;
  CHECK(parse_error(h) == "stages[1].downsample.hidden: must be positive, got 0");
  json b = m0_json();
  b["stages"][1]["downsample"]["ffn_before"][0] = -5;
  CHECK(parse_error(b) == "stages[1].downsample.ffn_before[0]: must be positive, got -5");
  json a = m0_json();
  a["stages"][2]["downsample"]["ffn_after"][0] = 0;
  CHECK(parse_error(a) == "stages[2].downsample.ffn_after[0]: must be positive, got 0");
}

TEST_CASE("rule: block FFN widths are positive", "[arch]") {
  json b = m0_json();
  b["stages"][1]["blocks"][1]["ffn_before"][0] = 0;
  CHECK(parse_error(b) == "stages[1].blocks[1].ffn_before[0]: must be positive, got 0");
  json a = m0_json();
  a["stages"][0]["blocks"][0]["ffn_after"] = {128, -1};
  CHECK(parse_error(a) == "stages[0].blocks[0].ffn_after[1]: must be positive, got -1");
}

TEST_CASE("rule: attention has at least one head", "[arch]") {
  json j = m0_json();
  j["stages"][0]["blocks"][0]["attention"]["heads"] = json::array();
  CHECK_THAT(parse_error(j), StartsWith("stages[0].blocks[0].attention.heads: needs at least one"));
}

TEST_CASE("rule: the head count divides embed_dim", "[arch]") {
  json j = m0_json();
  auto& heads = j["stages"][0]["blocks"][0]["attention"]["heads"];
  heads.erase(heads.size() - 1);  // 3 heads on 64 channels
  CHECK(parse_error(j) == "stages[0].blocks[0].attention.heads: 3 heads do not divide embed_dim 64");
}

TEST_CASE("rule: cascade needs v_dim == embed_dim / heads", "[arch]") {
  json j = m0_json();
  j["stages"][1]["blocks"][0]["attention"]["heads"][2]["v_dim"] = 16;
  CHECK(parse_error(j) == "stages[1].blocks[0].attention.heads[2].v_dim: cascade needs v_dim == "
                          "embed_dim / heads = 32, got 16");
  // Independent heads take any v_dim.
  j["stages"][1]["blocks"][0]["attention"]["cascade"] = false;
  CHECK_NOTHROW(arch_from_json(j));
}

TEST_CASE("rule: key_dim and v_dim are positive", "[arch]") {
  json k = m0_json();
  k["stages"][0]["blocks"][0]["attention"]["heads"][3]["key_dim"] = 0;
  CHECK(parse_error(k) == "stages[0].blocks[0].attention.heads[3].key_dim: must be positive, got 0");
  json v = m0_json();
  v["stages"][0]["blocks"][0]["attention"]["cascade"] = false;
  v["stages"][0]["blocks"][0]["attention"]["heads"][0]["v_dim"] = -16;
  CHECK(parse_error(v) == "stages[0].blocks[0].attention.heads[0].v_dim: must be positive, got -16");
}

TEST_CASE("rule: the q kernel is odd and >= 1", "[arch]") {
  for (int kernel : {4, 0, -3}) {
    json j = m0_json();
    j["stages"][2]["blocks"][1]["attention"]["heads"][0]["kernel"] = kernel;
    CHECK_THAT(parse_error(j),
               StartsWith("stages[2].blocks[1].attention.heads[0].kernel: must be odd and >= 1"));
  }
  json one = m0_json();
  one["stages"][2]["blocks"][1]["attention"]["heads"][0]["kernel"] = 1;
  CHECK_NOTHROW(arch_from_json(one));
}

// (r - 1) / 2 + 1 never reaches 0 from a positive side, so the ">= 1 feature map" rule is met by
// every positive img_size: the smallest image shrinks to 1x1 maps and still validates.
TEST_CASE("rule: feature maps stay >= 1 even for the smallest image", "[arch]") {
  ArchSpec spec = preset("m0");
  spec.img_size = 1;
  CHECK_NOTHROW(validate(spec));
  CHECK(stage_resolutions(spec) == std::vector<int>{1, 1, 1});
  spec.img_size = 0;
  CHECK_THAT(input_error([&] { validate(spec); }), StartsWith("img_size: must be positive"));
  spec.img_size = 31;  // 16, 8, 4, 2 | 1, 1
  CHECK(stage_resolutions(spec) == std::vector<int>{2, 1, 1});
}

TEST_CASE("rule: an efficientvit stage may have no blocks", "[arch]") {
  json j = m0_json();
  j["stages"][2]["blocks"] = json::array();
  CHECK(arch_from_json(j).efficientvit.stages[2].blocks.empty());
}

TEST_CASE("rule: vit img_size is divisible by patch_size", "[arch]") {
  json j = vit_json();
  j["img_size"] = 30;
  CHECK(parse_error(j) == "img_size: 30 is not divisible by patch_size 4");
}

TEST_CASE("rule: vit widths are positive", "[arch]") {
  json p = vit_json();
  p["patch_size"] = 0;
  CHECK(parse_error(p) == "patch_size: must be positive, got 0");
  json e = vit_json();
  e["embed_dim"] = 0;
  CHECK(parse_error(e) == "embed_dim: must be positive, got 0");
  json q = vit_json();
  q["layers"][1]["heads"][2]["qk_dim"] = 0;
  CHECK(parse_error(q) == "layers[1].heads[2].qk_dim: must be positive, got 0");
  json v = vit_json();
  v["layers"][1]["heads"][3]["v_dim"] = -64;
  CHECK(parse_error(v) == "layers[1].heads[3].v_dim: must be positive, got -64");
  json m = vit_json();
  m["layers"][6]["mlp_hidden"] = 0;
  CHECK(parse_error(m) == "layers[6].mlp_hidden: must be positive, got 0");
}

TEST_CASE("rule: vit layers have at least one head", "[arch]") {
  json j = vit_json();
  j["layers"][4]["heads"] = json::array();
  CHECK_THAT(parse_error(j), StartsWith("layers[4].heads: needs at least one head"));
}

TEST_CASE("rule: vit has at least one layer", "[arch]") {
  json j = vit_json();
  j["layers"] = json::array();
  CHECK_THAT(parse_error(j), StartsWith("layers: needs at least one layer"));
}

TEST_CASE("validate catches edits made after parsing", "[arch]") {
  ArchSpec spec = preset("m1");
  spec.efficientvit.stages[1].blocks[0].attention->heads[0].kernel = 2;
  CHECK_THAT(input_error([&] { validate(spec); }),
             StartsWith("stages[1].blocks[0].attention.heads[0].kernel:"));
  CHECK_THROWS_AS(save_arch(spec, temp_path("never")), InputError);
}
