#include "export/weight_naming.h"

#include <regex>

#include "core/error.h"

namespace vitnas {

WeightNaming parse_weight_naming(const std::string& name) {
  if (name == "official") return WeightNaming::Official;
  if (name == "timm") return WeightNaming::Timm;
  throw InputError("--naming '" + name + "': choose official or timm");
}

std::string timm_key(const std::string& official) {
  static const std::regex bias_idxs(R"(.*\.attention_bias_idxs$)");
  static const std::regex stem(R"(^patch_embed\.(\d+)\.(.*)$)");
  static const std::regex stage(R"(^blocks(\d+)\.(\d+)\.(.*)$)");
  static const std::regex leaf(R"(\.(c|l)\.(\w+)$)");  // Conv2d_BN.c, BN_Linear.l
  if (std::regex_match(official, bias_idxs)) return "";
  std::string key = official;
  std::smatch m;
  if (std::regex_match(official, m, stem)) {
    key = "patch_embed.conv" + std::to_string(std::stoi(m[1]) / 2 + 1) + "." + m[2].str();
  } else if (std::regex_match(official, m, stage)) {
    const int K = std::stoi(m[1]), p = std::stoi(m[2]);
    static const char* kDownsample[] = {"res1", "patchmerge", "res2"};
    const std::string where = K == 1  ? "blocks." + std::to_string(p)
                              : p < 3 ? std::string("downsample.") + kDownsample[p]
                                      : "blocks." + std::to_string(p - 3);
    key = "stages." + std::to_string(K - 1) + "." + where + "." + m[3].str();
  }
  if (std::regex_search(key, m, leaf))
    key = m.prefix().str() + (m[1] == "c" ? ".conv." : ".linear.") + m[2].str();
  return key;
}

safetensors::TensorList rename_weights(const ArchSpec& spec, const safetensors::TensorList& official,
                                       WeightNaming naming) {
  if (naming == WeightNaming::Official) return official;
  require(!spec.distillation,
          spec.name + " has a distillation head, which timm's " +
              (spec.family == Family::EfficientViT ? "efficientvit_msra" : "VisionTransformer") +
              " does not hold: use --naming official");
  if (spec.family == Family::ViT) return official;  // vitnas's ViT names are timm's
  safetensors::TensorList out;
  for (const auto& [key, tensor] : official)
    if (std::string k = timm_key(key); !k.empty()) out.emplace_back(k, tensor);
  return out;
}

}  // namespace vitnas
