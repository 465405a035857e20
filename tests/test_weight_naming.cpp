// timm naming: vitnas's (official) EfficientViT keys renamed to timm's efficientvit_msra layout.
// The expected pairs are written from timm's module tree (timm/models/efficientvit_msra.py:
// PatchEmbedding conv1..conv4, EfficientVitStage downsample res1/patchmerge/res2 then blocks,
// ConvNorm.conv, NormLinear.linear, attention_bias_idxs non-persistent).
#include <filesystem>
#include <set>

#include <catch2/catch.hpp>

#include "cli_runner.h"
#include "core/arch_spec.h"
#include "export/weight_naming.h"
#include "models/classifier.h"
#include "models/weights.h"

using namespace vitnas;
using namespace vitnas::test;

TEST_CASE("timm naming: official keys map to timm's efficientvit_msra names", "[export]") {
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"patch_embed.0.c.weight", "patch_embed.conv1.conv.weight"},
      {"patch_embed.6.bn.running_var", "patch_embed.conv4.bn.running_var"},
      {"blocks1.0.dw0.m.c.weight", "stages.0.blocks.0.dw0.m.conv.weight"},
      {"blocks1.0.mixer.m.attn.qkvs.0.c.weight", "stages.0.blocks.0.mixer.m.attn.qkvs.0.conv.weight"},
      {"blocks1.0.mixer.m.attn.proj.1.bn.bias", "stages.0.blocks.0.mixer.m.attn.proj.1.bn.bias"},
      {"blocks1.0.mixer.m.attn.attention_biases", "stages.0.blocks.0.mixer.m.attn.attention_biases"},
      {"blocks1.0.mixer.m.attn.attention_bias_idxs", ""},
      {"blocks2.0.1.m.pw1.c.weight", "stages.1.downsample.res1.1.m.pw1.conv.weight"},
      {"blocks2.1.conv1.c.weight", "stages.1.downsample.patchmerge.conv1.conv.weight"},
      {"blocks2.1.se.fc1.bias", "stages.1.downsample.patchmerge.se.fc1.bias"},
      {"blocks2.2.0.m.c.weight", "stages.1.downsample.res2.0.m.conv.weight"},
      {"blocks3.5.ffn1.m.pw2.bn.num_batches_tracked", "stages.2.blocks.2.ffn1.m.pw2.bn.num_batches_tracked"},
      {"head.bn.running_mean", "head.bn.running_mean"},
      {"head.l.weight", "head.linear.weight"}};
  for (const auto& [official, timm] : pairs) {
    INFO(official);
    CHECK(timm_key(official) == timm);
  }
}

TEST_CASE("timm naming: every m0..m5 key renamed once, bias indices dropped, order kept", "[export]") {
  for (const char* name : {"m0", "m1", "m2", "m3", "m4", "m5"}) {
    INFO(name);
    const ArchSpec spec = preset(name);
    auto model = build_model(spec);
    const auto official = state_dict(*model);
    const auto timm = rename_weights(spec, official, WeightNaming::Timm);
    int attention_blocks = 0;
    for (const auto& st : spec.efficientvit.stages)
      for (const auto& b : st.blocks) attention_blocks += b.attention.has_value();
    CHECK(timm.size() == official.size() - size_t(attention_blocks));
    std::set<std::string> keys;
    for (const auto& [k, t] : timm) keys.insert(k);
    CHECK(keys.size() == timm.size());
    CHECK(timm.front().first == "patch_embed.conv1.conv.weight");
    CHECK(timm.back().first == "head.linear.bias");
  }
}

TEST_CASE("cli export weights: timm names, distillation refused, bad naming", "[export]") {
  const std::string w = scratch_path("m0_naming.safetensors"), out = scratch_path("m0_timm.safetensors");
  save_weights(*build_model(preset("m0")), w);
  REQUIRE(run_cli("export weights --arch m0 --weights " + q(w) + " --naming timm --out " + q(out)).code == 0);
  const auto file = safetensors::load(out);
  CHECK(file.tensors.size() == state_dict(*build_model(preset("m0"))).size() - 6);
  CHECK(file.tensors[0].first == "patch_embed.conv1.conv.weight");

  const std::string never = scratch_path("never_timm.safetensors");
  ArchSpec distilled = preset("m0");
  distilled.distillation = true;
  const std::string arch = scratch_path("m0_distilled.json"), dw = scratch_path("m0_distilled.safetensors");
  write_text(arch, arch_to_json(distilled).dump());
  save_weights(*build_model(distilled), dw);
  for (const std::string& args :
       {"--arch " + q(arch) + " --weights " + q(dw) + " --naming timm --out " + q(never),
        "--arch m0 --weights " + q(w) + " --naming keras --out " + q(never),
        "--arch m1 --weights " + q(w) + " --naming timm --out " + q(never)}) {
    INFO(args);
    CHECK(run_cli("export weights " + args).is_input_error());
    CHECK_FALSE(std::filesystem::exists(never));
  }
}
