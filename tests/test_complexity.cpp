// complexity(): pinned to REFERENCE.md (params exact, MACs within 0.5%), to the official
// state-dict key lists, and to hand arithmetic on a custom spec.
#include <cstdint>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "core/arch_spec.h"
#include "core/complexity.h"
#include "fixtures.h"

using namespace vitnas;

namespace {

const BlockCost& row(const Complexity& c, const std::string& name) {
  for (const auto& b : c.blocks)
    if (b.name == name) return b;
  FAIL("no row named " << name);
  throw std::logic_error("unreachable");
}

// "blocks2.3.mixer.m.attn.qkvs.0.c.weight" -> "blocks2.3"; "patch_embed.0..." -> "patch_embed".
std::string module_prefix(const std::string& key) {
  const auto first = key.find('.');
  const std::string top = key.substr(0, first);
  if (top.rfind("blocks", 0) != 0) return top;
  return key.substr(0, key.find('.', first + 1));
}

int64_t numel(const std::string& shape) {
  if (shape == "scalar") return 1;
  int64_t n = 1;
  std::stringstream ss(shape);
  std::string dim;
  while (std::getline(ss, dim, 'x')) n *= std::stoll(dim);
  return n;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Trainable parameter count per module prefix in the official state dict: float32 keys minus
// BatchNorm's running statistics (buffers, not parameters).
std::map<std::string, int64_t> official_params(const std::string& preset_name) {
  const std::string path =
      std::string(VITNAS_REFERENCE_DIR) + "/efficientvit/keys_" + preset_name + ".tsv";
  std::ifstream in(path);
  REQUIRE(in.good());
  std::map<std::string, int64_t> params;
  std::string line;
  std::getline(in, line);  // header: key, shape, dtype
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    std::string key, shape, dtype;
    std::getline(ss, key, '\t');
    std::getline(ss, shape, '\t');
    std::getline(ss, dtype, '\t');
    const std::string prefix = module_prefix(key);
    params[prefix];  // every module appears, even one with only buffers
    if (dtype != "float32" || ends_with(key, "running_mean") || ends_with(key, "running_var"))
      continue;
    params[prefix] += numel(shape);
  }
  return params;
}

}  // namespace

TEST_CASE("EfficientViT presets match the paper's params and MACs", "[complexity]") {
  struct Expected {
    const char* name;
    int64_t params;
    double mmacs;
  };
  const Expected expected[] = {
      {"m0", 2349436, 79.19},  {"m1", 2980560, 167.05}, {"m2", 4187554, 201.04},
      {"m3", 6900722, 262.66}, {"m4", 8804228, 299.31}, {"m5", 12473772, 521.58},
  };
  for (const auto& e : expected) {
    SECTION(e.name) {
      const Complexity c = complexity(preset(e.name));
      CHECK(c.params == e.params);
      CHECK(c.macs / 1e6 == Approx(e.mmacs).epsilon(0.005));
      // In fact this convention reproduces the paper's figures to their last digit (0.01M).
      CHECK(c.macs / 1e6 == Approx(e.mmacs).epsilon(0).margin(0.005));
    }
  }
}

TEST_CASE("EfficientViT params match the official state-dict keys, module by module",
          "[complexity]") {
  for (const char* name : {"m0", "m1", "m2", "m3", "m4", "m5"}) {
    SECTION(name) {
      const auto official = official_params(name);
      const Complexity c = complexity(preset(name));
      int64_t total = 0;
      for (const auto& kv : official) total += kv.second;
      CHECK(c.params == total);

      std::set<std::string> ours, theirs;
      for (const auto& b : c.blocks) ours.insert(b.name);
      for (const auto& kv : official) theirs.insert(kv.first);
      CHECK(ours == theirs);
      for (const auto& b : c.blocks) {
        INFO(b.name);
        CHECK(b.params == official.at(b.name));
      }
    }
  }
}

TEST_CASE("rows come in forward order and sum to the totals", "[complexity]") {
  for (const auto& name : preset_names()) {
    const Complexity c = complexity(preset(name));
    int64_t params = 0, macs = 0;
    for (const auto& b : c.blocks) {
      params += b.params;
      macs += b.macs;
    }
    CHECK(params == c.params);
    CHECK(macs == c.macs);
    CHECK(c.blocks.front().name == "patch_embed");
    CHECK(c.blocks.back().name == "head");
  }
  const Complexity m0 = complexity(preset("m0"));
  std::vector<std::string> names;
  for (const auto& b : m0.blocks) names.push_back(b.name);
  CHECK(names == std::vector<std::string>{"patch_embed", "blocks1.0", "blocks2.0", "blocks2.1",
                                          "blocks2.2", "blocks2.3", "blocks2.4", "blocks3.0",
                                          "blocks3.1", "blocks3.2", "blocks3.3", "blocks3.4",
                                          "blocks3.5", "head"});
  CHECK(row(m0, "blocks2.1").type == "patch_merging");
  CHECK(row(m0, "patch_embed").resolution == 224);  // rows report their input side
  CHECK(row(m0, "blocks2.1").resolution == 14);
  CHECK(row(m0, "blocks2.2").resolution == 7);
  CHECK(row(m0, "blocks3.0").type == "subsample_ffn");
  CHECK(row(m0, "blocks3.3").type == "block");
  CHECK(row(m0, "blocks3.3").resolution == 4);
  CHECK(row(m0, "blocks1.0").detail == "ffn 1+1 attn 4h cascade softmax");
}

TEST_CASE("ViT presets: deit_tiny matches timm, the ViT-Lites match hand counts", "[complexity]") {
  const Complexity deit = complexity(preset("deit_tiny"));
  CHECK(deit.params == 5717416);
  CHECK(deit.macs == 1253683200);  // 12 layers x 102,049,152 + patch conv + classifier

  // vit_7_4_32: D 256, 64 patches + CLS = 65 tokens, 4 heads of 64, MLP 512, qkv without bias.
  const int64_t d = 256, t = 65, mlp = 512;
  const int64_t layer_params = 2 * d + d * 3 * d + (d * d + d) + 2 * d + (d * mlp + mlp) +
                               (mlp * d + d);
  const int64_t embed_params = (3 * 4 * 4 * d + d) + d + t * d;
  const int64_t head_params = 2 * d + d * 10 + 10;
  const int64_t layer_macs = t * d * 3 * d + t * t * (64 + 64) * 4 + t * d * d + 2 * t * d * mlp;
  const int64_t macs = 3 * 4 * 4 * d * 64 + 7 * layer_macs + d * 10;
  const Complexity c = complexity(preset("vit_7_4_32"));
  CHECK(c.params == embed_params + 7 * layer_params + head_params);
  CHECK(c.params == 3716874);
  CHECK(c.macs == macs);
  CHECK(c.macs == 254482432);
  CHECK(row(c, "blocks.6").params == layer_params);
  CHECK(row(c, "blocks.6").resolution == 65);
  CHECK(row(c, "patch_embed").params == embed_params);

  const Complexity vit9 = complexity(preset("vit_9_12_64"));
  CHECK(vit9.params == 2765960);
  CHECK(vit9.macs == 912794496);
  CHECK(row(vit9, "blocks.0").resolution == 257);
}

TEST_CASE("distillation doubles the classifier head", "[complexity]") {
  ArchSpec m0 = preset("m0");
  const int64_t head = row(complexity(m0), "head").params;
  CHECK(head == 2 * 192 + 192 * 1000 + 1000);
  m0.distillation = true;
  CHECK(row(complexity(m0), "head").params == 2 * head);
  CHECK(row(complexity(m0), "head").macs == 2 * 192 * 1000);

  // ViT: one final LayerNorm, then two classifiers on the same token.
  ArchSpec deit = preset("deit_tiny");
  deit.distillation = true;
  CHECK(row(complexity(deit), "head").params == 2 * 192 + 2 * (192 * 1000 + 1000));
}

// The shared custom spec (tests/fixtures.h), checked term by term.
TEST_CASE("a custom spec's rows match hand arithmetic", "[complexity]") {
  const Complexity c = complexity(arch_from_json(nlohmann::json::parse(test::kCustomSpec)));

  std::vector<std::string> names;
  for (const auto& b : c.blocks) names.push_back(b.name);
  CHECK(names == std::vector<std::string>{"patch_embed", "blocks1.0", "blocks1.1", "blocks2.0",
                                          "blocks2.1", "blocks2.2", "blocks2.3", "blocks3.0",
                                          "blocks3.1", "blocks3.2", "head"});

  // Stem: 3->16 at 16x16, 16->32 at 8x8 (conv weights + BN weight and bias).
  const BlockCost& stem = row(c, "patch_embed");
  CHECK(stem.params == (3 * 16 * 9 + 32) + (16 * 32 * 9 + 64));
  CHECK(stem.macs == 3 * 16 * 9 * 256 + 16 * 32 * 9 * 64);

  // blocks1.0 on C = 32 at 8x8 (64 points). Window 4 -> padded side 8, 4 windows of 16 tokens.
  const int64_t pts = 64;
  const int64_t dw_p = 32 * 9 + 64, dw_m = 32 * 9 * pts;
  auto ffn_p = [](int64_t h) { return (32 * h + 2 * h) + (h * 32 + 64); };
  auto ffn_m = [&](int64_t h) { return 2 * 32 * h * pts; };
  // Head 0: chunk 16 -> q 8, k 8, v 24; q dw 3x3. Head 1: 16 -> 8+8+8; q dw 1x1.
  const int64_t attn_p = (16 * 40 + 80) + (8 * 9 + 16)   // head 0 qkv, q dw
                         + (16 * 24 + 48) + (8 * 1 + 16)  // head 1 qkv, q dw
                         + 2 * 16                         // bias tables, 16 offsets each
                         + (32 * 32 + 64);                // projection 24 + 8 -> 32
  const int64_t attn_m = 16 * 40 * pts + 8 * 9 * pts + 4 * 16 * 16 * (8 + 24) +
                         16 * 24 * pts + 8 * 1 * pts + 4 * 16 * 16 * (8 + 8) + 32 * 32 * pts;
  const BlockCost& b10 = row(c, "blocks1.0");
  CHECK(b10.type == "block");
  CHECK(b10.resolution == 8);
  CHECK(b10.detail == "ffn 2+1 attn 2h independent softmax/relu_softmax");
  CHECK(b10.params == (dw_p + ffn_p(64)) + (dw_p + ffn_p(48)) + attn_p + (dw_p + ffn_p(64)));
  CHECK(b10.params == 15248);
  CHECK(b10.macs == (dw_m + ffn_m(64)) + (dw_m + ffn_m(48)) + attn_m + (dw_m + ffn_m(64)));
  CHECK(b10.macs == 961536);

  // blocks1.1: attention-free, one DW+FFN(64).
  CHECK(row(c, "blocks1.1").params == dw_p + ffn_p(64));
  CHECK(row(c, "blocks1.1").detail == "ffn 1+0 no attn");

  // PatchMerging 32 -> 96 -> 48 from 8x8 to 4x4; SE width make_divisible(24, 8) = 24.
  const BlockCost& pm = row(c, "blocks2.1");
  CHECK(pm.params == (32 * 96 + 192) + (96 * 9 + 192) + (96 * 24 + 24) + (24 * 96 + 96) +
                         (96 * 48 + 96));
  CHECK(pm.macs == 32 * 96 * 64 + 96 * 9 * 16 + 96 * 24 * 2 + 96 * 48 * 16);
  CHECK(row(c, "blocks2.2").params == 0);  // empty ffn_after: the module exists, but is empty

  // blocks2.3 at 4x4 with window 4: one window, no padding; cascade, 3 heads of 16 on 48.
  const BlockCost& b23 = row(c, "blocks2.3");
  CHECK(b23.resolution == 4);
  CHECK(b23.params == 3 * (16 * 48 + 96) + (16 * 9 + 32) + (16 * 25 + 32) + (16 * 9 + 32) +
                          3 * 16 + (48 * 48 + 96) + (48 * 9 + 96) + (48 * 96 + 192) +
                          (96 * 48 + 96));

  // Stage 3 at 2x2 is only its downsample: blocks3.0 empty, PatchMerging, DW+FFN(128) on 64.
  CHECK(row(c, "blocks3.0").params == 0);
  CHECK(row(c, "blocks3.2").resolution == 2);
  CHECK(row(c, "blocks3.2").macs == 64 * 9 * 4 + 2 * 64 * 128 * 4);

  // Head: distillation doubles BN1d + Linear(64 -> 10).
  CHECK(row(c, "head").params == 2 * (2 * 64 + 64 * 10 + 10));
  CHECK(row(c, "head").macs == 2 * 64 * 10);
}

TEST_CASE("window larger than the map is capped, a smaller one pads", "[complexity]") {
  // m0 stage 3 runs at 4x4: window 7 is capped to 4, so bias tables hold 16 entries per head.
  const Complexity c = complexity(preset("m0"));
  ArchSpec padded = preset("m0");
  for (auto& s : padded.efficientvit.stages) s.window = 5;  // 14 -> 15 (9 windows), 7 -> 10, 4
  const Complexity p = complexity(padded);
  CHECK(row(p, "blocks3.3").params == row(c, "blocks3.3").params);  // both capped at 4
  CHECK(row(p, "blocks3.3").macs == row(c, "blocks3.3").macs);
  // Stage 1 at 14: 7x7 windows need no padding; 5x5 windows pad to 15, and tables shrink to 25.
  CHECK(row(p, "blocks1.0").params == row(c, "blocks1.0").params - 4 * (49 - 25));
  const int64_t attn_convs = (16 * 48 + 16 * 25) * 4 + 64 * 64;  // qkv, q dw, proj (per point)
  const int64_t mm = 4 * 32;                                     // per token pair, 4 heads
  const int64_t ffns = 2 * (64 * 9 + 2 * 64 * 128);
  CHECK(row(c, "blocks1.0").macs == attn_convs * 196 + mm * 4 * 49 * 49 + ffns * 196);
  CHECK(row(p, "blocks1.0").macs == attn_convs * 225 + mm * 9 * 25 * 25 + ffns * 196);
}
